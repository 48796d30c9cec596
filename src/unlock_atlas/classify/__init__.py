"""Classification: alterations across timepoints, ctDNA tumour fraction and concordance,
drug-aware resistance mechanisms, and the cohort summary (docs/classification.md)."""

from __future__ import annotations

from .stage import PatientResult, classify, write_parts

__all__ = ["PatientResult", "classify", "write_parts"]
