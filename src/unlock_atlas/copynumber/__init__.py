"""Copy number from panel depth (issue 5): per-target fragment depth, GC / target-size / flank
bias correction against a panel of normals, gene-level log2 ratios, tumour copy number adjusted
for tumour content, calls with a per-gene confidence. See docs/copynumber.md."""

from .._lazy import lazy_exports

#: public names, imported on first use (unlock_atlas._lazy)
_EXPORTS = {
    "target_coverage": ".coverage",
    "call_gene": ".genes",
    "copy_number_from_ratio": ".genes",
    "AMP_CN": ".genes",
    "DEEP_CN": ".genes",
    "gene_table": ".genes",
    "build_reference": ".normalise",
    "log2_ratios": ".normalise",
    "call_sample": ".sample",
}
__getattr__, __dir__ = lazy_exports(globals(), _EXPORTS)


__all__ = ["AMP_CN", "DEEP_CN", "build_reference", "call_gene", "call_sample", "copy_number_from_ratio", "gene_table",
           "log2_ratios", "target_coverage"]
