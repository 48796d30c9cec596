"""Per-sample BAM QC: target depth, on-target fraction, duplicate rate, insert size.

See :mod:`unlock_atlas.qc.metrics` for the definitions of every metric.
"""

from __future__ import annotations

from .metrics import (
    BamError,
    BamIndexError,
    BamNotFoundError,
    BamNotSortedError,
    BamUnreadableError,
    bam_qc,
    read_qc_json,
    write_qc_json,
)

__all__ = [
    "BamError", "BamIndexError", "BamNotFoundError", "BamNotSortedError", "BamUnreadableError",
    "bam_qc", "read_qc_json", "write_qc_json",
]
