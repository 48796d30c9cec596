"""Knowledge base: the one loader of the tables in ``resources/`` (drugs → class and targets)."""

from __future__ import annotations

from .drugs import DRUG_COLUMNS, Drug, Regimen, default_drug_table, load_drugs, resolve_regimen

__all__ = ["DRUG_COLUMNS", "Drug", "Regimen", "default_drug_table", "load_drugs", "resolve_regimen"]
