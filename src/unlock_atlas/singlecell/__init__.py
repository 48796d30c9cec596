"""Single-cell RNA stage: per-sample QC, clustering, marker annotation, malignant calls from inferred
copy number, resistance-programme scores, a count simulator, and the atlas parts ``sc_composition``
and ``sc_programs``. See docs/singlecell.md.
"""

from .gene_sets import load_markers, load_programmes
from .pipeline import annotate, annotate_file

__all__ = ["annotate", "annotate_file", "load_markers", "load_programmes"]
