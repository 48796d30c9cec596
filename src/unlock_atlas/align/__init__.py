"""FASTQ → duplicate-marked BAM in GRCh38 chromosome coordinates (bwa mem via pybwa).

* :func:`build_bwa_index` — atomic, idempotent bwa index of the region-contig (or ordinary) FASTA.
* :func:`align_fastq` — paired FASTQ → lifted, fixmate'd, sorted, duplicate-marked, indexed BAM.
* :class:`RecordLifter` / :func:`plan_lift` — the exact offset lift of records and SA/XA tags.
"""

from __future__ import annotations

from .._lazy import lazy_exports

#: public names, imported on first use (unlock_atlas._lazy)
_EXPORTS = {
    "AlignStats": ".bwa",
    "align_fastq": ".bwa",
    "build_bwa_index": ".index",
    "LiftPlan": ".lift",
    "RecordLifter": ".lift",
    "lift_record": ".lift",
    "plan_lift": ".lift",
}
__getattr__, __dir__ = lazy_exports(globals(), _EXPORTS)


__all__ = ["AlignStats", "LiftPlan", "RecordLifter", "align_fastq", "build_bwa_index",
           "lift_record", "plan_lift"]
