"""Copy number from panel depth (issue 5): per-target fragment depth, GC / target-size / flank
bias correction against a panel of normals, gene-level log2 ratios, tumour copy number adjusted
for tumour content, calls with a per-gene confidence. See docs/copynumber.md."""

from .coverage import target_coverage
from .genes import call_gene, gene_table
from .normalise import build_reference, log2_ratios
from .sample import call_sample

__all__ = ["target_coverage", "build_reference", "log2_ratios", "gene_table", "call_gene", "call_sample"]
