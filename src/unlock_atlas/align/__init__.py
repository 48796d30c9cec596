"""FASTQ → duplicate-marked BAM in GRCh38 chromosome coordinates (bwa mem via pybwa).

* :func:`build_bwa_index` — atomic, idempotent bwa index of the region-contig (or ordinary) FASTA.
* :func:`align_fastq` — paired FASTQ → lifted, fixmate'd, sorted, duplicate-marked, indexed BAM.
* :class:`RecordLifter` / :func:`plan_lift` — the exact offset lift of records and SA/XA tags.
"""

from __future__ import annotations

from .bwa import AlignStats, align_fastq
from .index import build_bwa_index
from .lift import LiftPlan, RecordLifter, lift_record, plan_lift

__all__ = ["AlignStats", "LiftPlan", "RecordLifter", "align_fastq", "build_bwa_index",
           "lift_record", "plan_lift"]
