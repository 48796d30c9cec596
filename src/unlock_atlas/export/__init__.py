"""Exports of the atlas for other tools: a GDC-style MAF and a cBioPortal study folder (docs/export.md)."""

from __future__ import annotations

from .._lazy import lazy_exports

#: public names, imported on first use (unlock_atlas._lazy)
_EXPORTS = {
    "write_study": ".cbioportal",
    "MAF_COLUMNS": ".maf",
    "build_maf": ".maf",
    "maf_alleles": ".maf",
    "variant_classification": ".maf",
    "write_maf": ".maf",
}
__getattr__, __dir__ = lazy_exports(globals(), _EXPORTS)


__all__ = ["MAF_COLUMNS", "build_maf", "maf_alleles", "variant_classification", "write_maf", "write_study"]
