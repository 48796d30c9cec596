"""Variant annotation on MANE Select transcripts (consequence, HGVS c./p., VEP-style CSQ)."""

from __future__ import annotations

from .annotator import Annotator, minimal
from .consequence import SEVERITY, Csq, annotate_tx
from .vcfio import CSQ_FIELDS, CSQ_HEADER, annotate_vcf

__all__ = ["Annotator", "CSQ_FIELDS", "CSQ_HEADER", "Csq", "SEVERITY", "annotate_tx", "annotate_vcf", "minimal"]
