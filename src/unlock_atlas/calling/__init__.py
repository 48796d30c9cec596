"""Variant calling for tissue and ctDNA: fragment-level counting, per-sample candidate discovery,
joint per-patient genotyping with a background error model, filters and origin (docs/calling.md)."""

from .._lazy import lazy_exports

#: public names, imported on first use (unlock_atlas._lazy)
_EXPORTS = {
    "TI_ALPHA": ".model",
    "betabinom_sum_sf": ".model",
    "call_patient": ".caller",
    "genotype_patient": ".caller",
    "read_panel": ".caller",
    "variants_table": ".caller",
    "write_vcf": ".caller",
}
__getattr__, __dir__ = lazy_exports(globals(), _EXPORTS)


__all__ = ["TI_ALPHA", "betabinom_sum_sf", "call_patient", "genotype_patient", "read_panel", "variants_table", "write_vcf"]
