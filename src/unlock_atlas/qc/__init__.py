"""Per-sample BAM QC: target depth, on-target fraction, duplicate rate, insert size.

See :mod:`unlock_atlas.qc.metrics` for the definitions of every metric.
"""

from __future__ import annotations

from .._lazy import lazy_exports

#: public names, imported on first use (unlock_atlas._lazy)
_EXPORTS = {
    "BamError": ".metrics",
    "BamIndexError": ".metrics",
    "BamNotFoundError": ".metrics",
    "BamNotSortedError": ".metrics",
    "BamUnreadableError": ".metrics",
    "bam_qc": ".metrics",
    "read_qc_json": ".metrics",
    "write_qc_json": ".metrics",
}
__getattr__, __dir__ = lazy_exports(globals(), _EXPORTS)


__all__ = [
    "BamError", "BamIndexError", "BamNotFoundError", "BamNotSortedError", "BamUnreadableError",
    "bam_qc", "read_qc_json", "write_qc_json",
]
