"""``unlock-atlas umi-consensus BAM --mode single|duplex [--params JSON] -o OUT.bam [--metrics OUT.json]``."""

from __future__ import annotations

import argparse
import json
import logging
import time
from pathlib import Path

from ..errors import InputError, Problem

logger = logging.getLogger(__name__)


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "umi-consensus", help="group read pairs by UMI and position; write single-strand or duplex consensus reads",
        description="Group the read pairs of a coordinate-sorted BAM into molecules (both unclipped 5' ends, "
        "orientation, UMI within one mismatch by the UMI-tools directional rule) and write one consensus pair "
        "per molecule (fgbio likelihood model; duplex = agreement of both strands) as a sorted, indexed BAM "
        "with MI and cD/cM/cE tags (docs/umi.md).")
    p.add_argument("bam", type=Path, help="coordinate-sorted, indexed BAM whose reads carry UMIs")
    p.add_argument("--mode", choices=["single", "duplex"], required=True)
    p.add_argument("--sample-id", default="", help="sample ID (consensus read-name prefix, metrics)")
    p.add_argument("--params", default="{}", metavar="JSON", help="the run config's `umi:` section as JSON")
    p.add_argument("-o", "--output", type=Path, required=True, help="consensus BAM (.bai written beside)")
    p.add_argument("--metrics", type=Path, help="metrics JSON (family sizes, counts)")
    p.set_defaults(func=handler)


def handler(args: argparse.Namespace) -> int:
    from .stage import umi_consensus

    try:
        params = json.loads(args.params)
    except json.JSONDecodeError as exc:
        raise InputError(Problem("--params", f"not JSON ({exc})", "pass the umi: section as a JSON object")) from None
    if not args.bam.is_file():
        raise InputError(Problem(str(args.bam), "file not found", "check the path"))
    t0 = time.monotonic()
    m = umi_consensus(args.bam, args.output, args.mode, params, args.metrics, args.sample_id)
    logger.info("%s: %d consensus pairs from %d templates (%.1f s) -> %s", args.sample_id or args.bam,
                m["consensus_pairs"], m["templates"], time.monotonic() - t0, args.output)
    return 0
