"""``unlock-atlas atlas --config CONFIG [--directory RUN_DIR] --qc-dir results/qc --out results/atlas
--private results/private``."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

logger = logging.getLogger(__name__)


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "atlas",
        help="write the atlas (Parquet tables + manifest) from the sheets and per-sample QC",
        description="Build results/atlas/ (patients, samples tables + manifest.json) all-or-nothing, "
        "pseudonymising IDs unless privacy.pseudonymise is false. Relative paths resolve against "
        "--directory.",
    )
    p.add_argument("--config", type=Path, required=True, help="run config (config.yaml or the validated run_config.json)")
    p.add_argument("--directory", type=Path, default=Path("."), help="run directory (default: .)")
    p.add_argument("--qc-dir", type=Path, default=Path("results/qc"),
                   help="per-sample QC JSONs: <qc-dir>/<patient>/<sample>.json")
    p.add_argument("--out", type=Path, default=Path("results/atlas"), help="atlas directory to (re)write")
    p.add_argument("--parts", type=Path, default=Path("results/tables"),
                   help="stage table parts: <parts>/<table>/<patient or sample>.parquet")
    p.add_argument("--private", type=Path, default=Path("results/private"), help="private directory (key, id_map.tsv)")
    p.set_defaults(func=handler)


def _under(base: Path, p: Path | str | None) -> Path | None:
    if p is None or str(p) == "":
        return None
    p = Path(p)
    return p if p.is_absolute() else base / p


def _given(value: object) -> bool:
    """A sheet cell holds a value (not None/NaN/NA/empty)."""
    import pandas as pd

    return value is not None and not (not isinstance(value, str) and pd.isna(value)) and str(value) != ""


def handler(args: argparse.Namespace) -> int:
    from unlock_atlas.inputs import load_run

    from ..qc.metrics import read_qc_json
    from .build import build_atlas

    run_dir = args.directory.resolve()
    run = load_run(_under(run_dir, args.config), run_dir, check_files=False)
    qc_dir = _under(run_dir, args.qc_dir)
    qc = {}
    for r in run.samples.itertuples():
        has_reads = any(_given(getattr(r, col, None)) for col in ("bam", "fastq_1"))
        if has_reads:
            qc[str(r.sample_id)] = read_qc_json(qc_dir / str(r.patient_id) / f"{r.sample_id}.json")
    cfg = run.config
    privacy = cfg.get("privacy") or {}
    build_atlas(
        run.patients, run.samples, qc, _under(run_dir, args.out), _under(run_dir, args.private),
        reference_build=str((cfg.get("reference") or {}).get("build", "GRCh38")),
        config_hash=run.config_hash(),
        qc_thresholds=cfg.get("qc") or {},
        pseudonymise=bool(privacy.get("pseudonymise", True)),
        key_file=_under(run_dir, privacy.get("key_file")),
        parts_dir=_under(run_dir, args.parts),
        treatments=getattr(run, "treatments", None),
    )
    return 0
