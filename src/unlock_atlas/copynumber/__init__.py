"""Copy number from panel depth (issue 5): per-target fragment depth, GC / target-size / flank
bias correction against a panel of normals, gene-level log2 ratios, tumour copy number adjusted
for tumour content, calls with a per-gene confidence. See docs/copynumber.md."""

from .._lazy import lazy_exports

#: public names, imported on first use (unlock_atlas._lazy)
_EXPORTS = {
    "target_coverage": ".coverage",
    "call_gene": ".genes",
    "gene_table": ".genes",
    "build_reference": ".normalise",
    "log2_ratios": ".normalise",
    "call_sample": ".sample",
}
__getattr__, __dir__ = lazy_exports(globals(), _EXPORTS)


__all__ = ["target_coverage", "build_reference", "log2_ratios", "gene_table", "call_gene", "call_sample"]
