"""``unlock-atlas identity sites|fingerprint|check``: germline SNP fingerprints and sample-identity verdicts.

::

    unlock-atlas identity sites --config C --directory . --variants results/tables/variants/*.parquet \
        -o results/identity/sites.tsv
    unlock-atlas identity fingerprint BAM --sites results/identity/sites.tsv -o results/identity/P/S.fp.tsv
    unlock-atlas identity check --config C --directory . --fingerprints results/identity/*/*.fp.tsv \
        --out-dir results/identity --part results/tables/identity/samples.parquet
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

logger = logging.getLogger(__name__)


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "identity", help="sample identity: germline SNP fingerprints, concordance, swaps and contamination",
        description="Fingerprint every sample at the germline SNVs called in the run's normals, compare all pairs "
        "(discordance and a same-individual LOD), flag swapped or mixed samples and withhold classification of "
        "their patients (docs/identity.md).")
    sub = p.add_subparsers(dest="identity_command", metavar="STEP", required=True)

    s = sub.add_parser("sites", help="cohort site list from the variants parts (germline SNVs of the normals)")
    s.add_argument("--config", type=Path, required=True, help="run config (config.yaml or run_config.json)")
    s.add_argument("--directory", type=Path, default=Path("."), help="run directory (default: .)")
    s.add_argument("--variants", type=Path, nargs="+", required=True, help="variants parts of all patients")
    s.add_argument("-o", "--output", type=Path, required=True, help="site list TSV")
    s.set_defaults(func=_sites)

    f = sub.add_parser("fingerprint", help="ref/alt fragment counts of one BAM at the site list")
    f.add_argument("bam", type=Path)
    f.add_argument("--sites", type=Path, required=True, help="results/identity/sites.tsv")
    f.add_argument("-o", "--output", type=Path, required=True, help="results/identity/<patient>/<sample>.fp.tsv")
    f.set_defaults(func=_fingerprint)

    c = sub.add_parser("check", help="pairwise concordance and per-sample / per-patient verdicts")
    c.add_argument("--config", type=Path, required=True, help="run config (config.yaml or run_config.json)")
    c.add_argument("--directory", type=Path, default=Path("."), help="run directory (default: .)")
    c.add_argument("--fingerprints", type=Path, nargs="+", required=True,
                   help="every sample's <patient>/<sample>.fp.tsv")
    c.add_argument("--out-dir", type=Path, required=True, help="writes samples.tsv, patients.tsv, concordance.tsv")
    c.add_argument("--part", type=Path, help="atlas hook: results/tables/identity/samples.parquet")
    c.set_defaults(func=_check)


def _run(args: argparse.Namespace):
    from ..inputs import load_run

    run_dir = args.directory.resolve()
    config = args.config if args.config.is_absolute() else run_dir / args.config
    return load_run(config, run_dir, check_files=False)


def _sites(args: argparse.Namespace) -> int:
    from .sites import cohort_sites, write_sites

    run = _run(args)
    normals = set(run.samples.loc[run.samples["sample_type"] == "normal", "sample_id"].astype(str))
    sites = cohort_sites(args.variants, normals)
    write_sites(sites, args.output)
    logger.info("%d fingerprint sites from %d normals -> %s", len(sites), len(normals), args.output)
    return 0


def _fingerprint(args: argparse.Namespace) -> int:
    from .fingerprint import fingerprint, write_fingerprint
    from .sites import read_sites

    fp = fingerprint(args.bam, read_sites(args.sites))
    write_fingerprint(fp, args.output)
    logger.info("%s: %d sites, %d covered >= 20x -> %s", args.bam.name, len(fp), int((fp["depth"] >= 20).sum()), args.output)
    return 0


def _check(args: argparse.Namespace) -> int:
    from .stage import check_run, write_results

    run = _run(args)
    res = check_run(args.fingerprints, run.samples, run.config.get("identity") or {})
    write_results(res, args.out_dir, args.part)
    counts = res.samples["status"].value_counts().to_dict()
    logger.info("identity: %s; patients withheld from classification: %s", counts,
                ", ".join(res.patients.loc[res.patients["classify"] == "withheld", "patient_id"]) or "none")
    return 0
