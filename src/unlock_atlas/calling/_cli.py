"""``unlock-atlas call --patient P --bams S=BAM ... [--normal S] [--plasma S ...] --panel BED
--fasta FA -o OUT.vcf.gz [--table OUT.parquet]``.

One sub-command does discovery and joint genotyping: the union of a patient's candidates is
needed before any sample can be genotyped, and counting each BAM once and keeping the counts in
memory is cheaper than a second pass (a split discovery/genotyping would re-read every BAM).
"""

from __future__ import annotations

import argparse
import logging
import time
from pathlib import Path

from ..errors import InputError, Problem

logger = logging.getLogger(__name__)


def _pairs(items: list[str], flag: str) -> dict[str, str]:
    out = {}
    for it in items:
        if "=" not in it:
            raise InputError(Problem(flag, f"{it!r} is not SAMPLE=VALUE", f"write e.g. {flag} S1=path/S1.bam"))
        k, v = it.split("=", 1)
        out[k] = v
    return out


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "call", help="joint per-patient variant calling of tissue, plasma and normal BAMs (VCF + atlas part)",
        description="Count alleles per fragment over the panel in every sample of one patient, discover "
        "SNV/MNV/indel candidates per sample, genotype their union in all samples against a per-position "
        "background error model, filter, assign origin, and write a bgzipped indexed VCF and the atlas "
        "variants part.")
    p.add_argument("--patient", required=True, help="patient ID")
    p.add_argument("--bams", nargs="+", required=True, metavar="SAMPLE=BAM", help="the patient's BAMs")
    p.add_argument("--normal", help="sample ID of the matched white-cell normal")
    p.add_argument("--plasma", nargs="*", default=[], metavar="SAMPLE", help="sample IDs that are plasma cfDNA")
    p.add_argument("--panel", type=Path, required=True, help="panel BED (results/reference/panel.bed)")
    p.add_argument("--fasta", type=Path, required=True, help="indexed reference FASTA (results/reference/genome.fa.gz), or results/reference/reference.json "
                   "whose 'genome' entry names it (paths relative to the working directory)")
    p.add_argument("--pon", nargs="*", default=[], metavar="BAM", help="panel-of-normals BAMs (optional)")
    p.add_argument("--min-mapq", type=int, default=20)
    p.add_argument("--min-baseq", type=int, default=20)
    p.add_argument("-o", "--output", type=Path, required=True, help="output VCF (.vcf.gz; .tbi written beside)")
    p.add_argument("--table", type=Path, help="output atlas part (results/tables/variants/<patient>.parquet)")
    p.set_defaults(func=handler)


def handler(args: argparse.Namespace) -> int:
    from ..atlas import parts
    from .caller import call_patient, variants_table, write_vcf

    t0 = time.monotonic()
    if args.fasta.suffix == ".json":
        import json

        try:
            args.fasta = Path(json.loads(args.fasta.read_text())["genome"])
        except (OSError, ValueError, KeyError) as exc:
            raise InputError(Problem(str(args.fasta), f"cannot read the genome path from it: {exc}",
                                     "rerun prepare-reference")) from None
    bams = _pairs(args.bams, "--bams")
    types = {s: ("normal" if s == args.normal else "plasma" if s in args.plasma else "tissue") for s in bams}
    calls = call_patient(args.patient, bams, args.normal, types, args.panel, args.fasta,
                         args.min_mapq, args.min_baseq, args.pon)
    write_vcf(calls, list(bams), args.fasta, args.output, args.patient)
    if args.table:
        parts.write_part(variants_table(calls, args.patient, types), "variants", args.table)
    logger.info("%s: %d rows in %.1f s -> %s", args.patient, len(calls), time.monotonic() - t0, args.output)
    return 0
