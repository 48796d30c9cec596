"""``unlock-atlas prepare-reference``: genome + index, panel BED, transcript index, gene table."""

from __future__ import annotations

import argparse
import logging
import time
from pathlib import Path

logger = logging.getLogger(__name__)


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``prepare-reference`` sub-command."""
    p = subparsers.add_parser(
        "prepare-reference",
        help="prepare the reference directory (sparse GRCh38 or linked FASTA, panel BED, transcript index)",
        description=(
            "Write DIR/genome.fa.gz (+.fai/.gzi; a sparse full-length GRCh38 when FASTA holds region "
            "contigs like chr7_55014032_55258620, else a link to FASTA as genome.fa[.gz]), DIR/panel.bed, "
            "DIR/transcripts.tsv and DIR/genes.tsv."
        ),
    )
    p.add_argument("--fasta", required=True, type=Path, help="reference FASTA (region contigs or chromosomes; plain or bgzip)")
    p.add_argument("--gtf", required=True, type=Path, help="MANE Select GTF in chromosome coordinates")
    p.add_argument("--outdir", required=True, type=Path, help="output directory (e.g. results/reference)")
    panel = p.add_mutually_exclusive_group()
    panel.add_argument("--panel-bed", type=Path, help="panel BED in GRCh38 chromosome coordinates")
    panel.add_argument("--panel-genes", help="comma-separated genes: panel = their MANE coding exons ± padding "
                                             "(default without --panel-bed: every gene with a CDS in the GTF)")
    p.add_argument("--padding", type=int, default=20, help="bases added to each side of a coding exon (default 20)")
    p.add_argument("--panel-extra-bed", type=Path, default=None,
                   help="extra bait intervals added to the panel (BED, 4th column = gene), e.g. tiled "
                        "fusion-breakpoint introns")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Handler: run :func:`~unlock_atlas.reference.prepare.prepare_reference` and log what it wrote."""
    t0 = time.perf_counter()
    genes = [g.strip() for g in args.panel_genes.split(",") if g.strip()] if args.panel_genes else None
    from .prepare import prepare_reference

    ref = prepare_reference(args.fasta, args.gtf, args.outdir, panel_bed=args.panel_bed,
                            panel_genes=genes, padding=args.padding,
                            panel_extra_bed=args.panel_extra_bed)
    for label, path in (("genome", ref.genome), ("genome index", ref.genome_fai), ("genome gzi", ref.genome_gzi),
                        ("panel BED", ref.panel_bed), ("transcript index", ref.transcripts), ("gene table", ref.genes)):
        if path is not None:
            logger.info("wrote %s: %s", label, path)
    logger.info("prepare-reference done in %.1f s (%d genes, %d targets, %s bp)", time.perf_counter() - t0,
                len(ref.panel_genes), ref.n_targets, f"{ref.target_bp:,}")
    return 0
