"""The identity stage's files (docs/identity.md).

::

    results/identity/sites.tsv                      cohort site list (sites.py)
    results/identity/<patient>/<sample>.fp.tsv      one fingerprint per sample (fingerprint.py)
    results/identity/samples.tsv                    per-sample verdicts (verdict.py SAMPLE_COLUMNS)
    results/identity/patients.tsv                   per-patient verdict + classify run/withheld/override
    results/identity/concordance.tsv                pairs: all within a patient, across patients when matching
    results/tables/identity/samples.parquet         patient_id, sample_id, identity_ok, identity_status,
                                                    contamination (raw IDs; the atlas fills samples.identity_ok)

Each file is written atomically; the atlas part is written after the three TSVs.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd

from ..atomic import atomic_path
from ..errors import InputError, Problem
from .compare import stack
from .fingerprint import read_fingerprint
from .verdict import IdentityResult, judge

logger = logging.getLogger(__name__)

FP_SUFFIX = ".fp.tsv"
PART_COLUMNS = ["patient_id", "sample_id", "identity_ok", "identity_status", "contamination"]


def check_run(fp_paths: list[Path], samples: pd.DataFrame, settings: dict | None) -> IdentityResult:
    """Read the fingerprints (``<dir>/<patient>/<sample>.fp.tsv``) of a run's samples and judge them.

    Raises
    ------
    InputError
        A fingerprint of a sample not in the sheet, a sample without fingerprint, or
        fingerprints made from different site lists.
    """
    known = dict(zip(samples["sample_id"].astype(str), samples["patient_id"].astype(str)))
    fps: dict[str, pd.DataFrame] = {}
    for path in fp_paths:
        path = Path(path)
        sid = path.name[: -len(FP_SUFFIX)] if path.name.endswith(FP_SUFFIX) else path.stem
        if known.get(sid) != path.parent.name:
            raise InputError(Problem(str(path), f"fingerprint of sample {sid!r} (patient {path.parent.name!r}) "
                                     "that is not in samples.tsv", "remove it or fix the sheet"))
        fps[sid] = read_fingerprint(path)
    missing = [s for s in known if s not in fps]
    if missing:
        raise InputError(Problem("samples.tsv", f"no fingerprint for sample(s) {', '.join(missing[:5])}",
                                 "run `unlock-atlas identity fingerprint` for them"))
    order = samples["sample_id"].astype(str).tolist()
    try:
        m = stack({s: fps[s] for s in order})
    except ValueError as exc:
        raise InputError(Problem(str(fp_paths[0]) if fp_paths else "fingerprints", str(exc),
                                 "rerun the fingerprints against the current results/identity/sites.tsv")) from None
    return judge(m, samples[["patient_id", "sample_id", "sample_type"]].astype(str), settings)


def _tsv(df: pd.DataFrame, path: Path) -> None:
    with atomic_path(path) as tmp:
        df.to_csv(tmp, sep="\t", index=False, na_rep="")


def write_results(res: IdentityResult, out_dir: str | Path, part: str | Path | None) -> None:
    """Write the verdict TSVs into ``out_dir`` and the atlas part (raw IDs)."""
    out_dir = Path(out_dir)
    _tsv(res.pairs, out_dir / "concordance.tsv")
    _tsv(res.samples, out_dir / "samples.tsv")
    _tsv(res.patients, out_dir / "patients.tsv")
    if part is not None:
        df = res.samples.rename(columns={"status": "identity_status"})[PART_COLUMNS]
        with atomic_path(part) as tmp:
            df.to_parquet(tmp, index=False)


def read_patient_verdicts(path: str | Path) -> pd.DataFrame:
    """``results/identity/patients.tsv`` (columns :data:`.verdict.PATIENT_COLUMNS`)."""
    try:
        df = pd.read_csv(path, sep="\t", dtype={"patient_id": str, "classify": str}, keep_default_na=False)
    except (OSError, ValueError) as exc:
        raise InputError(Problem(str(path), f"cannot read the identity verdicts ({exc})",
                                 "rerun `unlock-atlas identity check`")) from None
    if not {"patient_id", "classify", "failed_samples"} <= set(df.columns):
        raise InputError(Problem(str(path), "not an identity verdict table (needs patient_id, classify, failed_samples)",
                                 "rerun `unlock-atlas identity check`"))
    return df


def read_identity_part(path: str | Path) -> dict[str, dict]:
    """Raw sample ID -> ``{identity_ok, identity_status, contamination}`` from the atlas part."""
    df = pd.read_parquet(path)
    out = {}
    for r in df.to_dict("records"):
        ok = r["identity_ok"]
        out[str(r["sample_id"])] = {"identity_ok": None if ok is None or pd.isna(ok) else bool(ok),
                                    "identity_status": r["identity_status"],
                                    "contamination": None if pd.isna(r["contamination"]) else float(r["contamination"])}
    return out
