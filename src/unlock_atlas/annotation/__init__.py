"""Variant annotation on MANE Select transcripts (consequence, HGVS c./p., VEP-style CSQ)."""

from __future__ import annotations

from .._lazy import lazy_exports

#: public names, imported on first use (unlock_atlas._lazy)
_EXPORTS = {
    "Annotator": ".annotator",
    "minimal": ".annotator",
    "SEVERITY": ".consequence",
    "Csq": ".consequence",
    "annotate_tx": ".consequence",
    "CSQ_FIELDS": ".vcfio",
    "CSQ_HEADER": ".vcfio",
    "annotate_vcf": ".vcfio",
}
__getattr__, __dir__ = lazy_exports(globals(), _EXPORTS)


__all__ = ["CSQ_FIELDS", "CSQ_HEADER", "SEVERITY", "Annotator", "Csq", "annotate_tx", "annotate_vcf", "minimal"]
