"""``unlock-atlas export maf|cbioportal``: analyst formats built from the (pseudonymised) atlas."""

from __future__ import annotations

import argparse
import logging

from ..contract.vocab import VARIANT_ORIGINS as _ORIGINS
from ..contract.vocab import VARIANT_STATUSES as _STATUSES
from ..errors import UnlockError

logger = logging.getLogger(__name__)



def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("export", help="export the atlas as a MAF or a cBioPortal study folder",
                              description="Build analyst formats from an atlas directory (results/ or results/atlas/).")
    sub = p.add_subparsers(dest="export_format", metavar="FORMAT", required=True)
    m = sub.add_parser("maf", help="MAF (GDC columns + HGVS and read counts) of the variants table",
                       description="One row per variant x tumour sample; by default only called somatic variants.")
    m.add_argument("atlas", help="atlas directory (results/ or results/atlas/)")
    m.add_argument("-o", "--output", required=True, help="output .maf")
    m.add_argument("--status", default="called",
                   help=f"comma-separated per-sample statuses to keep (default: called; any of {', '.join(_STATUSES)})")
    m.add_argument("--origin", default="somatic",
                   help=f"comma-separated origins to keep (default: somatic; any of {', '.join(_ORIGINS)})")
    m.set_defaults(func=run_maf)
    c = sub.add_parser("cbioportal", help="cBioPortal study folder (clinical, mutations, discrete CNA, timeline, "
                       "case lists)", description="Write a cBioPortal study folder following its file-format rules.")
    c.add_argument("atlas", help="atlas directory (results/ or results/atlas/)")
    c.add_argument("-o", "--output", required=True, help="output study directory (replaced whole)")
    c.add_argument("--study-id", default="unlock_atlas", help="cancer_study_identifier (default: unlock_atlas)")
    c.add_argument("--name", help="study name shown in cBioPortal")
    c.add_argument("--cancer-type", default="mixed",
                   help="type_of_cancer (an OncoTree code known to the portal, e.g. nsclc; default: mixed)")
    c.set_defaults(func=run_cbioportal)


def _choices(text: str, allowed: list[str], flag: str) -> tuple[str, ...]:
    vals = tuple(v.strip() for v in text.split(",") if v.strip())
    bad = [v for v in vals if v not in allowed]
    if bad or not vals:
        raise UnlockError(f"{flag}: {', '.join(bad) or 'nothing given'} not allowed; use any of {', '.join(allowed)}")
    return vals


def run_maf(args: argparse.Namespace) -> int:
    from .. import load_atlas
    from .maf import build_maf, write_maf

    atlas = load_atlas(args.atlas)
    df = build_maf(atlas.table("variants"), atlas.table("samples"),
                   statuses=_choices(args.status, _STATUSES, "--status"),
                   origins=_choices(args.origin, _ORIGINS, "--origin"))
    write_maf(df, args.output)
    logger.info("%s: %d MAF rows", args.output, len(df))
    return 0


def run_cbioportal(args: argparse.Namespace) -> int:
    from .. import load_atlas
    from .cbioportal import write_study

    counts = write_study(load_atlas(args.atlas), args.output, study_id=args.study_id, name=args.name,
                         cancer_type=args.cancer_type)
    logger.info("%s: %s", args.output, counts)
    return 0
