"""Import existing variant calls (per-sample VCF or a MAF from any caller) into the atlas (docs/import.md)."""

from .._lazy import lazy_exports

#: public names, imported on first use (unlock_atlas._lazy)
_EXPORTS = {
    "IMPORT_COLUMNS": ".vcf",
    "patient_variants": ".joint",
    "read_maf_calls": ".maf",
    "vcf_alleles": ".maf",
    "read_vcf_calls": ".vcf",
    "ucsc_chrom": ".vcf",
}
__getattr__, __dir__ = lazy_exports(globals(), _EXPORTS)


__all__ = ["IMPORT_COLUMNS", "patient_variants", "read_maf_calls", "read_vcf_calls", "ucsc_chrom", "vcf_alleles"]
