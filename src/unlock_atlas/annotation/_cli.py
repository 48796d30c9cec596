"""``unlock-atlas annotate``: consequence + HGVS on MANE transcripts, VEP-style CSQ."""

from __future__ import annotations

import argparse
import logging

logger = logging.getLogger(__name__)


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "annotate", help="annotate a VCF on MANE Select transcripts (INFO/CSQ, VEP format)",
        description="Annotate every ALT allele of a VCF with gene, MANE transcript, SO consequence, HGVS c./p. "
                    "(long and short), exon/intron and protein position, written as INFO/CSQ (VEP's format). "
                    "The FASTA may be a full/sparse GRCh38 or the region-contig FASTA (lifted by contig name).")
    p.add_argument("vcf", help="input VCF (plain or gzip/bgzip)")
    p.add_argument("-o", "--output", required=True, help="output VCF.gz (bgzip, tabix-indexed)")
    p.add_argument("--fasta", required=True, help="indexed GRCh38 FASTA (chromosome or region-contig names)")
    p.add_argument("--gtf", required=True, help="GTF with MANE Select transcripts")
    p.add_argument("--tsv", help="also write one row per allele x transcript as TSV")
    p.add_argument("--parquet", help="also write one row per allele x transcript as Parquet")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from .annotator import Annotator
    from .vcfio import annotate_vcf

    ann = Annotator(args.fasta, args.gtf)
    stats = annotate_vcf(args.vcf, args.output, ann, tsv=args.tsv, parquet=args.parquet)
    logger.info("%s: %d records, %.0f records/s", args.output, stats["records"], stats["per_second"])
    return 0
