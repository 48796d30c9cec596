"""Single-cell RNA stage: per-sample QC, clustering, marker annotation, malignant calls from inferred
copy number, resistance-programme scores, a count simulator, and the atlas parts ``sc_composition``
and ``sc_programs``. See docs/singlecell.md.
"""

from .._lazy import lazy_exports

#: public names, imported on first use (unlock_atlas._lazy)
_EXPORTS = {
    "load_markers": ".gene_sets",
    "load_programmes": ".gene_sets",
    "annotate": ".pipeline",
    "annotate_file": ".pipeline",
    "simulate_sample": ".simulate",
}
__getattr__, __dir__ = lazy_exports(globals(), _EXPORTS)


__all__ = [
    "annotate", "annotate_file", "load_markers", "load_programmes", "simulate_sample"
]
