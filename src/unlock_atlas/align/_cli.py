"""``unlock-atlas align-index`` and ``unlock-atlas align``."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

logger = logging.getLogger(__name__)


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "align-index",
        help="build the bwa index of the reference FASTA (region contigs or chromosomes)",
        description="Build the bwa index (pybwa, in-process) of a FASTA of region contigs "
        "(chr12_25205246_25250929, ...) or an ordinary FASTA. Atomic; skipped when the index is "
        "complete and newer than the FASTA.",
    )
    p.add_argument("--fasta", type=Path, required=True, help="reference FASTA (plain or gzipped)")
    p.add_argument("--prefix", type=Path, required=True, help="index prefix (files <prefix>.bwt, ...)")
    p.add_argument("--force", action="store_true", help="rebuild even if the index is complete")
    p.set_defaults(func=index_handler)

    a = subparsers.add_parser(
        "align",
        help="FASTQ pair -> duplicate-marked, sorted, indexed BAM in GRCh38 chromosome coordinates",
        description="Align paired FASTQs with bwa mem (pybwa), lift region-contig coordinates to "
        "GRCh38 chromosomes, then fixmate, sort, mark duplicates and index (samtools via pysam).",
    )
    a.add_argument("--fastq1", type=Path, required=True, help="R1 FASTQ (plain or gzipped)")
    a.add_argument("--fastq2", type=Path, required=True, help="R2 FASTQ (plain or gzipped)")
    a.add_argument("--index", type=Path, required=True, help="bwa index prefix (from align-index)")
    a.add_argument("--sample-id", required=True, help="sample ID (@RG ID and SM)")
    a.add_argument("--library", default=None, help="@RG LB (default: the sample ID)")
    a.add_argument("--platform", default="ILLUMINA", help="@RG PL (default: ILLUMINA)")
    a.add_argument("-o", "--output", type=Path, required=True, help="output BAM (index: OUTPUT.bai)")
    a.add_argument("--threads", type=int, default=2, help="threads for bwa and samtools (default 2)")
    a.add_argument("--chunk-pairs", type=int, default=100_000,
                   help="read pairs held in memory at a time (default 100000)")
    a.set_defaults(func=align_handler)


def index_handler(args: argparse.Namespace) -> int:
    from .index import build_bwa_index

    build_bwa_index(args.fasta, args.prefix, force=args.force)
    return 0


def align_handler(args: argparse.Namespace) -> int:
    from .bwa import align_fastq

    stats = align_fastq(args.fastq1, args.fastq2, args.index, args.output, args.sample_id,
                        library=args.library, platform=args.platform, threads=args.threads,
                        chunk_pairs=max(1, args.chunk_pairs))
    logger.info("%s: %d pairs, %.2f%% of reads mapped, %d duplicate reads, %.1f s -> %s",
                args.sample_id, stats.pairs, 100 * stats.mapped_fraction, stats.duplicate_reads,
                stats.total_seconds, args.output)
    return 0
