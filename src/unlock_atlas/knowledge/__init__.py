"""Knowledge base: the one loader of the tables in ``resources/`` (drugs → class and targets; the
resistance knowledge base)."""

from __future__ import annotations

from .._lazy import lazy_exports

#: public names, imported on first use (unlock_atlas._lazy)
_EXPORTS = {
    "DRUG_COLUMNS": ".drugs",
    "Drug": ".drugs",
    "Regimen": ".drugs",
    "default_drug_table": ".drugs",
    "load_drugs": ".drugs",
    "resolve_regimen": ".drugs",
    "Alteration": ".resistance",
    "KBMatch": ".resistance",
    "PROTEIN_ALTERING": ".resistance",
    "ResistanceKB": ".resistance",
    "load_kb": ".resistance",
    "read_kb_table": ".resistance",
}
__getattr__, __dir__ = lazy_exports(globals(), _EXPORTS)


__all__ = [
    "DRUG_COLUMNS",
    "PROTEIN_ALTERING",
    "Alteration",
    "Drug",
    "KBMatch",
    "Regimen",
    "ResistanceKB",
    "default_drug_table",
    "load_drugs",
    "load_kb",
    "read_kb_table",
    "resolve_regimen"
]
