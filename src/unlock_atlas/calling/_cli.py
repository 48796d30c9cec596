"""``unlock-atlas call --patient P --bams S=BAM ... [--normal S] [--plasma S ...] --panel BED
--fasta FA [--pon PREFIX] [--params JSON] -o OUT.vcf.gz [--table OUT.parquet]`` and
``unlock-atlas pon --bams S=BAM ... --panel BED --fasta FA -o PREFIX`` (panel of normals).

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
    p.add_argument("--fasta", type=Path, required=True,
                   help="indexed reference FASTA (results/reference/genome.fa.gz), or results/reference/reference.json "
                   "whose 'genome' entry names it (paths relative to the working directory)")
    p.add_argument("--pon", metavar="PREFIX", help="panel of normals built by `unlock-atlas pon` "
                   "(PREFIX.sites.parquet + PREFIX.alleles.parquet); default: the matched normal alone")
    p.add_argument("--params", default="{}", metavar="JSON",
                   help="calling thresholds as a JSON object (the run config's `calling:` section; docs/calling.md)")
    p.add_argument("--min-mapq", type=int, default=20)
    p.add_argument("--min-baseq", type=int, default=20)
    p.add_argument("-o", "--output", type=Path, required=True, help="output VCF (.vcf.gz; .tbi written beside)")
    p.add_argument("--table", type=Path, help="output atlas part (results/tables/variants/<patient>.parquet)")
    p.set_defaults(func=handler)

    q = subparsers.add_parser(
        "pon", help="build the panel of normals (per position x allele background sums) from normal BAMs",
        description="Count every normal BAM once over the panel and write the sufficient statistics of the "
        "beta-binomial background error per position and allele (docs/calling.md).")
    q.add_argument("--bams", nargs="+", required=True, metavar="SAMPLE=BAM", help="the normals' BAMs")
    q.add_argument("--panel", type=Path, required=True, help="panel BED (results/reference/panel.bed)")
    q.add_argument("--fasta", type=Path, required=True, help="indexed reference FASTA or results/reference/reference.json")
    q.add_argument("--params", default="{}", metavar="JSON", help="calling thresholds as a JSON object")
    q.add_argument("--min-mapq", type=int, default=20)
    q.add_argument("--min-baseq", type=int, default=20)
    q.add_argument("-o", "--output", required=True, metavar="PREFIX",
                   help="output prefix: PREFIX.sites.parquet and PREFIX.alleles.parquet")
    q.set_defaults(func=pon_handler)


def _params(text: str):
    import json

    from .model import CallingParams

    try:
        return CallingParams.from_mapping(json.loads(text))
    except (ValueError, KeyError, TypeError) as exc:
        raise InputError(Problem("--params", f"not valid calling parameters: {exc}",
                                 "give the config's `calling:` section as a JSON object")) from None


def _fasta(path: Path) -> Path:
    if path.suffix == ".json":
        import json

        try:
            return Path(json.loads(path.read_text())["genome"])
        except (OSError, ValueError, KeyError) as exc:
            raise InputError(Problem(str(path), f"cannot read the genome path from it: {exc}",
                                     "rerun prepare-reference")) from None
    return path


def pon_handler(args: argparse.Namespace) -> int:
    from . import pon
    from .caller import read_panel

    t0 = time.monotonic()
    params = _params(args.params)
    bams = _pairs(args.bams, "--bams")

    def progress(i: int, n: int, sid: str) -> None:
        logger.info("panel of normals: counted %s (%d/%d, %.0f s)", sid, i, n, time.monotonic() - t0)

    panel = pon.build_from_bams(bams, _fasta(args.fasta), read_panel(args.panel), params,
                                args.min_mapq, args.min_baseq, progress)
    pon.write(panel, args.output)
    for c, m in sorted(panel.classes.items()):
        logger.info("class %s: mean rate %.2e, prior weight %.0f fragments, between-sample CV^2 %.2f (%d sites)",
                    c, m["mu"], m["a"], m["cv2"], m["sites"])
    logger.info("panel of normals of %d normals: %d positions, %d alleles seen -> %s.*.parquet",
                len(bams), len(panel.sites), len(panel.alleles), args.output)
    return 0


def handler(args: argparse.Namespace) -> int:
    from ..contract import parts
    from .caller import call_patient, variants_table, write_vcf
    from .pon import PanelOfNormals

    t0 = time.monotonic()
    args.fasta = _fasta(args.fasta)
    params = _params(args.params)
    panel_of_normals = PanelOfNormals.read(args.pon) if args.pon else None
    bams = _pairs(args.bams, "--bams")
    types = {s: ("normal" if s == args.normal else "plasma" if s in args.plasma else "tissue") for s in bams}
    calls = call_patient(args.patient, bams, args.normal, types, args.panel, args.fasta,
                         args.min_mapq, args.min_baseq, panel_of_normals, params)
    write_vcf(calls, list(bams), args.fasta, args.output, args.patient, params)
    if args.table:
        parts.write_part(variants_table(calls, args.patient, types), "variants", args.table)
    logger.info("%s: %d rows in %.1f s -> %s", args.patient, len(calls), time.monotonic() - t0, args.output)
    return 0
