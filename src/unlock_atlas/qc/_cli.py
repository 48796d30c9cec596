"""``unlock-atlas qc BAM --panel BED --sample-id S -o OUT.json``."""

from __future__ import annotations

import argparse
import logging
import time
from pathlib import Path

logger = logging.getLogger(__name__)


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "qc",
        help="per-sample BAM QC metrics (depth, on-target, duplicates, insert size) as JSON",
        description="Compute per-sample QC metrics of a coordinate-sorted, duplicate-marked, "
        "indexed BAM over the panel's target intervals, in one pass, and write them as JSON.",
    )
    p.add_argument("bam", type=Path, help="coordinate-sorted, indexed BAM")
    p.add_argument("--panel", type=Path, required=True, help="panel BED (e.g. results/reference/panel.bed)")
    p.add_argument("--sample-id", required=True, help="sample ID recorded in the output")
    p.add_argument("-o", "--output", type=Path, required=True, help="output JSON")
    p.set_defaults(func=handler)


def handler(args: argparse.Namespace) -> int:
    from .metrics import bam_qc, write_qc_json

    t0 = time.monotonic()
    metrics = bam_qc(args.bam, args.panel, args.sample_id)
    write_qc_json(metrics, args.output)
    logger.info(
        "%s: %d reads, mean target depth %.1f, on-target %.3f, duplicates %.3f (%.1f s) -> %s",
        args.sample_id, metrics["n_reads"], metrics["mean_target_depth"],
        metrics["on_target_fraction"] or 0.0, metrics["duplicate_rate"] or 0.0,
        time.monotonic() - t0, args.output,
    )
    return 0
