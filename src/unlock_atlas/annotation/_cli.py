"""``unlock-atlas annotate``: consequence + HGVS on MANE transcripts, VEP-style CSQ."""

from __future__ import annotations

import argparse
import logging

from ..errors import UnlockError

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
    p.add_argument("--no-normalise", action="store_true", help="write records as given (default: split "
                   "multi-allelic records per ALT and left-normalise indels, as bcftools norm -m -any -f)")
    p.add_argument("--variants-table", help="an atlas variants part (from `unlock-atlas call --table`) whose "
                   "gene/transcript/HGVS/consequence columns are filled ...")
    p.add_argument("--variants-out", help="... and written here (required with --variants-table)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from .annotator import Annotator
    from .vcfio import annotate_vcf

    ann = Annotator(args.fasta, args.gtf)
    stats = annotate_vcf(args.vcf, args.output, ann, tsv=args.tsv, parquet=args.parquet,
                         normalise=not args.no_normalise)
    if args.variants_table:
        from .table import annotate_variants_table

        if not args.variants_out:
            raise UnlockError("--variants-table needs --variants-out (where the filled part is written)")
        annotate_variants_table(args.variants_table, args.variants_out, ann)
    logger.info("%s: %d records, %.0f records/s", args.output, stats["records"], stats["per_second"])
    return 0
