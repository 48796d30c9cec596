"""``unlock-atlas import``: one patient's existing calls (VCF / MAF) -> the calling stage's VCF + variants part."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from ..errors import UnlockError

logger = logging.getLogger(__name__)


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "import", help="build one patient's calls from existing per-sample VCFs / a MAF (any caller)",
        description="Read existing calls (per-sample VCF with FORMAT AD, or a GDC/vcf2maf MAF), write every "
        "allele in every sample of the patient, and write the joint VCF and atlas variants part that "
        "`unlock-atlas call` writes, so annotation, classification, atlas and report run as usual "
        "(docs/import.md).")
    p.add_argument("--patient", required=True, help="patient ID")
    p.add_argument("--samples", nargs="+", required=True, metavar="SAMPLE=TYPE",
                   help="every sample of the patient with its sample_type (tissue, plasma, normal)")
    p.add_argument("--calls", nargs="*", default=[], metavar="SAMPLE=VCF", help="per-sample VCFs")
    p.add_argument("--calls-sample", nargs="*", default=[], metavar="SAMPLE=COLUMN",
                   help="VCF column (or MAF Tumor_Sample_Barcode) of a sample when it is not the sample ID")
    p.add_argument("--maf", type=Path, help="a MAF holding (some of) the patient's calls")
    p.add_argument("--sheet-samples", type=Path,
                   help="samples.tsv: sample IDs of the whole cohort (MAF rows of other patients are skipped, "
                   "barcodes in no sheet row are errors); default: the --samples")
    p.add_argument("--calls-origin", nargs="*", default=[], metavar="SAMPLE=ORIGIN",
                   help="origin (somatic or germline) of the calls of SAMPLE's file whose caller states none")
    p.add_argument("--fasta", type=Path, help="indexed GRCh38 FASTA (results/reference/genome.fa.gz), or "
                   "results/reference/reference.json naming it; needed with --maf (indel anchor bases, "
                   "Reference_Allele check)")
    p.add_argument("-o", "--output", type=Path, required=True, help="output VCF (.vcf.gz; .tbi beside)")
    p.add_argument("--table", type=Path, required=True, help="output atlas variants part (.parquet)")
    p.set_defaults(func=handler)


def _pairs(items: list[str], flag: str) -> dict[str, str]:
    out = {}
    for item in items:
        key, sep, val = item.partition("=")
        if not sep or not key or not val:
            raise UnlockError(f"{flag}: {item!r} is not KEY=VALUE")
        out[key] = val
    return out


def _fasta(path: Path) -> Path:
    """The FASTA itself, or the ``genome`` entry of ``results/reference/reference.json``."""
    if path.suffix == ".json":
        import json

        return Path(json.loads(path.read_text())["genome"])
    return path


def handler(args: argparse.Namespace) -> int:
    import pandas as pd

    from ..contract import parts
    from .joint import patient_variants
    from .maf import read_maf_calls
    from .vcf import read_vcf_calls
    from .write import write_import_vcf

    types = _pairs(args.samples, "--samples")
    calls, columns = _pairs(args.calls, "--calls"), _pairs(args.calls_sample, "--calls-sample")
    origins = _pairs(args.calls_origin, "--calls-origin")
    bad = {k: v for k, v in origins.items() if v not in ("somatic", "germline")}
    if bad:
        raise UnlockError(f"--calls-origin: {bad} — use somatic or germline")
    sheet = set(types)
    if args.sheet_samples:
        sheet |= set(pd.read_csv(args.sheet_samples, sep="\t", dtype=str, comment="#")["sample_id"])
    if not calls and not args.maf:
        raise UnlockError("unlock-atlas import: give --calls SAMPLE=VCF and/or --maf")
    tables = []
    for sample, path in calls.items():
        t = read_vcf_calls(path, sample, sheet, columns.get(sample))
        tables.append(t.assign(stated_origin=t["stated_origin"].replace("", origins.get(sample, ""))))
    if args.maf:
        if not args.fasta:
            raise UnlockError("unlock-atlas import --maf needs --fasta (the GRCh38 reference)")
        import pysam

        with pysam.FastaFile(str(_fasta(args.fasta))) as fa:
            maf = read_maf_calls(args.maf, sheet, fa, {v: k for k, v in columns.items()})
        maf = maf[maf["sample_id"].isin(set(types))]
        fill = maf["sample_id"].map(origins).fillna("")
        tables.append(maf.assign(stated_origin=maf["stated_origin"].where(maf["stated_origin"] != "", fill)))
    imported = pd.concat(tables, ignore_index=True)
    variants = patient_variants(imported, args.patient, types)
    write_import_vcf(variants, list(types), args.output, args.patient,
                     [str(p) for p in calls.values()] + ([str(args.maf)] if args.maf else []))
    parts.write_part(variants, "variants", args.table)
    n = variants[["chrom", "pos", "ref", "alt"]].drop_duplicates().shape[0] if len(variants) else 0
    logger.info("%s: %d imported alleles x %d samples -> %s", args.patient, n, len(types), args.output)
    return 0
