"""Build the atlas's ``patients``, ``samples`` and ``treatments`` tables and write them with the manifest.

The whole atlas directory is replaced all-or-nothing (:func:`unlock_atlas.atomic.atomic_dir`):
a crash while writing leaves the previous atlas untouched. Rows are sorted on output values
only (pseudonymised IDs, days, types), so the same inputs give identical table content
whatever the order of the sheets. No raw ID, name, calendar date or file path reaches a table
or the manifest: dates are carried as days from treatment start (``treatment_start`` itself is
dropped), BAM/FASTQ paths and raw IDs stay in ``results/private``.
"""

from __future__ import annotations

import copy
import json
import logging
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

import unlock_atlas

from ..atomic import atomic_dir
from ..contract.parts import assemble, conform
from ..contract.schema import (
    COMPUTED_TABLES,
    PATIENTS,
    SAMPLES,
    SCHEMA_VERSION,
    TABLES,
    TREATMENTS,
    manifest_column_docs,
)
from ..contract.vocab import SAMPLE_TYPES
from ..domain import resistance_type
from ..errors import InputError, Problem, UnlockError
from .privacy import Pseudonymiser, resolve_key, write_id_map
from .provenance import knowledge_versions, tool_versions
from .summary import cohort_summary

logger = logging.getLogger(__name__)

#: Defaults of config ``qc`` (workflow/schemas/config.schema.yaml): mean deduplicated depth a
#: sample type needs for the panel's reported sensitivity, and the minimum on-target fraction.
DEFAULT_QC_THRESHOLDS: dict[str, Any] = {
    "min_mean_depth": {"tissue": 150, "plasma": 500, "normal": 100},
    "min_on_target_fraction": 0.2,
}
#: A sample fails when a metric is below this fraction of its minimum (see :func:`qc_status`).
FAIL_FRACTION_OF_MINIMUM = 0.5
#: ... or when more than this fraction of targets has no coverage at all.
MAX_ZERO_COVERAGE_TARGET_FRACTION = 0.10

PATIENT_COLUMNS = ["patient_id", "tumour_type", "drug", "progression_day", "best_response",
                   "early_trial_after", "drug_class", "targets"]
SAMPLE_COLUMNS = ["patient_id", "sample_id", "sample_type", "timepoint", "collection_day", "bam",
                  "fastq_1", "scrna", "purity", "histology"]


def _val(x: Any) -> Any:
    """A cell as a plain Python value, with pandas/numpy missing values as ``None``."""
    if x is None or (not isinstance(x, (list, tuple, dict)) and pd.isna(x)):
        return None
    return x.item() if hasattr(x, "item") else x


def qc_status(sample_type: str, metrics: dict[str, Any], thresholds: dict[str, Any]) -> tuple[str, list[str]]:
    """QC status of one sample and the checks behind it.

    * ``fail`` when mean target depth < 50 % of the sample type's minimum, or on-target
      fraction < 50 % of the minimum, or more than 10 % of targets have no coverage at all.
      Reasons: the number of alt reads at a given VAF scales with depth, so at half the
      required depth the assay's limit of detection is about doubled and a negative result no
      longer means what the panel claims; an on-target fraction under half the minimum means a
      failed capture (the library is mostly off-target); > 10 % of targets with no read is a
      systematic dropout that makes negatives at whole genes uninformative.
    * ``warn`` when a metric is below its minimum but not that far: usable, with reduced
      sensitivity that analysts should see.
    * ``pass`` otherwise.

    Returns
    -------
    tuple
        ``(status, reasons)``; reasons list failing checks first, then warnings.
    """
    try:
        min_depth = float(thresholds["min_mean_depth"][sample_type])
        min_ot = float(thresholds["min_on_target_fraction"])
    except KeyError as exc:
        raise UnlockError(f"config qc thresholds have no value for {exc} (sample type {sample_type!r}) "
                          "-> set qc.min_mean_depth.<type> and qc.min_on_target_fraction") from exc
    fails: list[str] = []
    warns: list[str] = []
    depth = metrics.get("mean_target_depth")
    if depth is None or depth < FAIL_FRACTION_OF_MINIMUM * min_depth:
        fails.append(f"mean depth {depth or 0:.1f} < 50% of the {sample_type} minimum {min_depth:g}")
    elif depth < min_depth:
        warns.append(f"mean depth {depth:.1f} < {sample_type} minimum {min_depth:g}")
    ot = metrics.get("on_target_fraction")
    if ot is None:
        fails.append("no mapped non-duplicate reads (on-target fraction undefined)")
    elif ot < FAIL_FRACTION_OF_MINIMUM * min_ot:
        fails.append(f"on-target fraction {ot:.3f} < 50% of the minimum {min_ot:g}")
    elif ot < min_ot:
        warns.append(f"on-target fraction {ot:.3f} < minimum {min_ot:g}")
    zero, n_targets = metrics.get("zero_coverage_targets") or 0, metrics.get("n_targets") or 0
    if n_targets and zero > MAX_ZERO_COVERAGE_TARGET_FRACTION * n_targets:
        fails.append(f"{zero} of {n_targets} targets without coverage (> 10%)")
    return ("fail" if fails else "warn" if warns else "pass"), fails + warns


def _check_columns(df: pd.DataFrame, required: list[str], name: str) -> None:
    missing = [c for c in required if c not in df.columns]
    if missing:
        raise InputError([Problem(name, f"column '{c}' is missing", "load the sheets with "
                                  "unlock_atlas.inputs.load_run", column=c) for c in missing])


def _to_table(rows: list[dict[str, Any]], schema: pa.Schema, name: str) -> pa.Table:
    arrays = [pa.array([r[f.name] for r in rows], type=f.type) for f in schema]
    table = pa.Table.from_arrays(arrays, schema=schema)
    for f in schema:
        if not f.nullable and table.column(f.name).null_count:
            raise UnlockError(f"atlas table {name}: column {f.name} has missing values -> fill it in the sheets")
    return table.replace_schema_metadata({"unlock_atlas.table": name, "unlock_atlas.schema_version": SCHEMA_VERSION})


def _patient_rows(patients: pd.DataFrame, samples: pd.DataFrame, pid: dict[str, str]) -> list[dict[str, Any]]:
    rows = []
    for r in patients.to_dict("records"):
        own = samples[samples["patient_id"].astype(str) == str(r["patient_id"])]
        types = own["sample_type"].astype(str).tolist()
        prog = _val(r["progression_day"])
        rows.append({
            "patient_id": pid[str(r["patient_id"])],
            "tumour_type": _val(r["tumour_type"]),
            "drug": _val(r["drug"]),
            "drug_class": _val(r["drug_class"]),
            "targets": _val(r["targets"]),
            "progression_day": None if prog is None else int(prog),
            "best_response": _val(r["best_response"]),
            "resistance_type": resistance_type(None if prog is None else int(prog), _val(r["best_response"])),
            "early_trial_after": None if _val(r["early_trial_after"]) is None else bool(r["early_trial_after"]),
            "n_samples": len(types),
            "n_tissue": types.count("tissue"),
            "n_plasma": types.count("plasma"),
            "has_normal": "normal" in types,
        })
    return sorted(rows, key=lambda x: x["patient_id"])


def _treatment_rows(patients: pd.DataFrame, samples: pd.DataFrame, treatments: pd.DataFrame | None,
                    pid: dict[str, str]) -> list[dict[str, Any]]:
    """One row per patient x line: ``treatments`` (``Run.treatments``), else each patient's one line of patients.tsv."""
    if treatments is None:
        treatments = pd.DataFrame({"patient_id": patients["patient_id"], "line": 1, "drug": patients["drug"],
                                   "drug_class": patients["drug_class"], "targets": patients["targets"], "start_day": 0,
                                   "end_day": None, "progression_day": patients["progression_day"],
                                   "best_response": patients["best_response"]})
    tumour = samples[samples["sample_type"].isin(["tissue", "plasma"])]
    line_of = tumour["line"] if "line" in tumour.columns else pd.Series(1, index=tumour.index)
    counts = pd.Series(1, index=tumour.index).groupby([tumour["patient_id"].astype(str),
                                                       line_of.fillna(1).astype(int)]).sum().to_dict()
    rows = []
    for r in treatments.to_dict("records"):
        p, line = str(r["patient_id"]), int(r["line"])
        start, prog = int(r["start_day"]), _val(r["progression_day"])
        end = _val(r["end_day"])
        rows.append({
            "patient_id": pid[p], "line": line, "drug": _val(r["drug"]), "drug_class": _val(r["drug_class"]),
            "targets": _val(r["targets"]), "start_day": start, "end_day": None if end is None else int(end),
            "progression_day": None if prog is None else int(prog), "best_response": _val(r["best_response"]),
            "resistance_type": resistance_type(None if prog is None else int(prog) - start, _val(r["best_response"])),
            "n_tumour_samples": int(counts.get((p, line), 0)),
        })
    return sorted(rows, key=lambda x: (x["patient_id"], x["line"]))


def _sample_line(r: dict[str, Any]) -> int | None:
    """The treatment line of a tumour sample (``Run.samples.line``; 1 when the frame has none), null for normals."""
    if r.get("sample_type") not in ("tissue", "plasma"):
        return None
    line = _val(r.get("line"))
    return 1 if line is None else int(line)


def _sample_rows(samples: pd.DataFrame, qc: dict[str, dict], thresholds: dict[str, Any],
                 pid: dict[str, str], sid: dict[str, str],
                 tumour_fraction: dict[str, float] | None = None,
                 identity: dict[str, bool | None] | None = None) -> list[dict[str, Any]]:
    rows = []
    tumour_fraction = tumour_fraction or {}
    identity = identity or {}
    for r in samples.to_dict("records"):
        raw = str(r["sample_id"])
        if raw not in qc:
            raise UnlockError(f"no QC metrics for sample {raw} (patient {r['patient_id']}) -> run "
                              f"`unlock-atlas qc` for it (results/qc/{r['patient_id']}/{raw}.json)")
        m = qc[raw]
        status, reasons = qc_status(str(r["sample_type"]), m, thresholds)
        purity = _val(r["purity"])
        rows.append({
            "patient_id": pid[str(r["patient_id"])],
            "sample_id": sid[raw],
            "sample_type": _val(r["sample_type"]),
            "timepoint": _val(r["timepoint"]),
            "collection_day": int(r["collection_day"]),
            "mean_depth": m.get("mean_target_depth"),
            "median_depth": m.get("median_target_depth"),
            "on_target_fraction": m.get("on_target_fraction"),
            "duplicate_rate": m.get("duplicate_rate"),
            "insert_size_median": m.get("insert_size_median"),
            "n_reads": m.get("n_reads"),
            "qc_status": status,
            "qc_reasons": "; ".join(reasons) or None,
            "tumour_fraction": tumour_fraction.get(raw),   # from the classify stage's ctdna parts
            "identity_ok": identity.get(raw),   # from the identity stage (null until it has run)
            "purity": None if purity is None else float(purity),
            "histology": _val(r["histology"]),
            "has_scrna": _val(r["scrna"]) is not None and str(r["scrna"]) != "",
            "line": _sample_line(r),
        })
    type_order = {t: i for i, t in enumerate(SAMPLE_TYPES)}
    return sorted(rows, key=lambda x: (x["patient_id"], x["collection_day"],
                                       type_order.get(x["sample_type"], 99), x["sample_id"]))


def _tumour_fractions(parts_dir: Path | None) -> dict[str, float]:
    """Raw sample ID -> estimated tumour fraction from the ``ctdna`` parts (raw IDs; none -> {})."""
    d = Path(parts_dir) / "ctdna" if parts_dir is not None else None
    if d is None or not d.is_dir():
        return {}
    out: dict[str, float] = {}
    for path in sorted(d.glob("*.parquet")):
        if path.name.startswith("."):
            continue   # a temporary file a killed job left behind (atomic_path), never a part
        part = pq.read_table(path, columns=["sample_id", "tumour_fraction"]).to_pydict()
        out.update({s: float(f) for s, f in zip(part["sample_id"], part["tumour_fraction"]) if f is not None})
    return out


def _identity(parts_dir: Path | None) -> dict[str, bool | None]:
    """Raw sample ID -> identity_ok from the identity stage's ``<parts_dir>/identity/samples.parquet``.

    No file (the stage did not run) -> {} and ``identity_ok`` stays null, never a placeholder.
    """
    path = Path(parts_dir) / "identity" / "samples.parquet" if parts_dir is not None else None
    if path is None or not path.is_file():
        return {}
    from ..identity.stage import read_identity_part

    return {s: v["identity_ok"] for s, v in read_identity_part(path).items()}


def _cohort_summary(atlas_dir: Path) -> pa.Table:
    """The ``cohort_summary`` table computed from the tables already written in ``atlas_dir``."""
    def read(name: str) -> pd.DataFrame:
        return pq.read_table(atlas_dir / f"{name}.parquet").to_pandas()

    df = cohort_summary(read("patients"), read("samples"), read("mechanisms"), read("ctdna"), read("treatments"))
    return conform(df, "cohort_summary")


def _write_parquet(table: pa.Table, path: Path) -> None:
    """Write one atlas table (zstd-compressed Parquet; schema and column docs travel with it)."""
    pq.write_table(table, path, compression="zstd")


def _parts_of(table: str, parts_dir: Path | None, samples: pd.DataFrame, pid: dict[str, str],
              sid: dict[str, str]) -> list[tuple[tuple[str, str], Path]]:
    """The parts of ``table`` that belong to this run, keyed by (patient pseudonym, sample pseudonym)."""
    if parts_dir is None or not (Path(parts_dir) / table).is_dir():
        return []
    patient_of = dict(zip(samples["sample_id"].astype(str), samples["patient_id"].astype(str)))
    out = []
    for path in sorted((Path(parts_dir) / table).glob("*.parquet")):
        stem = path.name[: -len(".parquet")]
        if stem in pid:
            out.append(((pid[stem], ""), path))
        elif stem in sid:
            out.append(((pid[patient_of[stem]], sid[stem]), path))
        # parts of patients no longer in the sheets are not part of this run's atlas
    return out


_ID_CHARS = "A-Za-z0-9._-"


def _free_text_mapper(pid: dict[str, str], sid: dict[str, str], samples_of: dict[str, list[str]]):
    """Replace raw IDs inside the OTHER string columns of a part (free text such as ``evidence``,
    ``acquisition_basis``, or ``matched_tissue_sample_id``) by their pseudonyms.

    The atlas is the privacy boundary: stages write raw IDs into explanations, and every one of
    them must leave pseudonymised. Only the IDs of the part's own patient(s) are searched (a part
    is one patient's or one sample's), as whole words of the ID alphabet so that an ID inside a
    longer token is not touched. A C++ regex pre-check skips columns that mention none.
    """
    import re

    import pyarrow.compute as pc

    def _map(part: pa.Table) -> pa.Table:
        if "patient_id" not in part.column_names:
            return part
        pats = {r for r in part.column("patient_id").to_pylist() if r is not None}
        pairs = {r: pid[r] for r in pats if r in pid and pid[r] != r}
        pairs.update({s: sid[s] for p in pats for s in samples_of.get(p, []) if s in sid and sid[s] != s})
        if not pairs:
            return part
        keys = sorted(pairs, key=len, reverse=True)
        alt = "|".join(re.escape(k) for k in keys)
        rx = re.compile(rf"(?<![{_ID_CHARS}])(?:{alt})(?![{_ID_CHARS}])")
        for i, field in enumerate(part.schema):
            if field.name in ("patient_id", "sample_id") or not pa.types.is_string(field.type):
                continue
            col = part.column(i)
            if not pc.any(pc.match_substring_regex(col, alt)).as_py():
                continue
            vals = [None if v is None else rx.sub(lambda m: pairs[m.group(0)], v) for v in col.to_pylist()]
            part = part.set_column(i, field, pa.array(vals, pa.string()))
        return part

    return _map


def _id_mapper(pid: dict[str, str], sid: dict[str, str], samples_of: dict[str, list[str]] | None = None):
    """Replace raw patient/sample IDs in a part by their pseudonyms; an unknown ID is an error.

    With ``samples_of`` (patient -> its sample IDs), raw IDs in the part's other string columns
    are replaced too (:func:`_free_text_mapper`).
    """
    text = _free_text_mapper(pid, sid, samples_of) if samples_of is not None else None

    def _map(part: pa.Table) -> pa.Table:
        if text is not None:
            part = text(part)
        for col, mapping in (("patient_id", pid), ("sample_id", sid)):
            if col not in part.column_names:
                continue
            raw = part.column(col).to_pylist()
            unknown = sorted({r for r in raw if r is not None and r not in mapping})
            if unknown:
                raise UnlockError(f"table part mentions {col} {', '.join(unknown[:5])} not in the sheets; "
                                  "rerun the workflow so stale parts are rebuilt")
            idx = part.schema.get_field_index(col)
            part = part.set_column(idx, part.schema.field(col),
                                   pa.array([mapping.get(r) if r is not None else None for r in raw], pa.string()))
        return part

    return _map


def build_atlas(patients: pd.DataFrame, samples: pd.DataFrame, qc: dict[str, dict], out_dir: Path,
                private_dir: Path, *, reference_build: str, config_hash: str, qc_thresholds: dict,
                pseudonymise: bool = True, key_file: Path | None = None,
                pipeline_version: str = unlock_atlas.__version__, parts_dir: Path | None = None,
                treatments: pd.DataFrame | None = None) -> None:
    """Write ``patients.parquet``, ``samples.parquet`` and ``manifest.json`` into ``out_dir``.

    Parameters
    ----------
    patients, samples
        The validated sheets (``unlock_atlas.inputs.load_run``): patients with ``drug_class`` and
        ``targets`` from the knowledge base; samples with ``bam``/``fastq_1``/``scrna`` paths.
    qc
        Raw sample ID → metrics from :func:`unlock_atlas.qc.bam_qc` (every sample needs one).
    out_dir
        The atlas directory (``results/atlas``), replaced all-or-nothing.
    private_dir
        ``results/private``: the pseudonymisation key (if generated) and ``id_map.tsv``.
    reference_build, config_hash, pipeline_version
        Provenance recorded in the manifest.
    qc_thresholds
        Config ``qc`` block; missing keys take :data:`DEFAULT_QC_THRESHOLDS`.
    pseudonymise, key_file
        Replace IDs by keyed pseudonyms (see :mod:`unlock_atlas.atlas.privacy`).
    parts_dir
        ``results/tables``: the stages' per-patient / per-sample parts of every other registered
        table (``<parts_dir>/<table>/<raw id>.parquet``; see :mod:`unlock_atlas.contract.parts`). A
        registered table without parts is written empty, with its full schema.
    treatments
        ``Run.treatments`` (one row per patient x line); default: each patient's one line of patients.tsv.
    """
    _check_columns(patients, PATIENT_COLUMNS, "patients.tsv")
    _check_columns(samples, SAMPLE_COLUMNS, "samples.tsv")
    unknown = sorted(set(samples["patient_id"].astype(str)) - set(patients["patient_id"].astype(str)))
    if unknown:
        raise InputError([Problem("samples.tsv", f"patient {p} is not in patients.tsv", "add the patient or fix the ID",
                                  column="patient_id") for p in unknown])
    thresholds = copy.deepcopy(DEFAULT_QC_THRESHOLDS)
    thresholds["min_mean_depth"].update((qc_thresholds or {}).get("min_mean_depth") or {})
    if (qc_thresholds or {}).get("min_on_target_fraction") is not None:
        thresholds["min_on_target_fraction"] = qc_thresholds["min_on_target_fraction"]

    key = None
    if pseudonymise:
        key, source = resolve_key(Path(private_dir), key_file)
        logger.info("pseudonymising IDs with the key from %s", source)
    pseud = Pseudonymiser(key)
    pid = pseud.map_ids("patient", patients["patient_id"].astype(str))
    sid = pseud.map_ids("sample", samples["sample_id"].astype(str))

    tables = {
        "patients": _to_table(_patient_rows(patients, samples, pid), PATIENTS, "patients"),
        "samples": _to_table(_sample_rows(samples, qc, thresholds, pid, sid, _tumour_fractions(parts_dir),
                                          _identity(parts_dir)),
                             SAMPLES, "samples"),
        "treatments": _to_table(_treatment_rows(patients, samples, treatments, pid), TREATMENTS, "treatments"),
    }
    part_tables = [t for t in TABLES if t not in tables and t not in COMPUTED_TABLES]
    samples_of: dict[str, list[str]] = {}
    for p_raw, s_raw in zip(samples["patient_id"].astype(str), samples["sample_id"].astype(str)):
        samples_of.setdefault(p_raw, []).append(s_raw)
    manifest = {
        "schema_version": SCHEMA_VERSION,
        "pipeline_version": pipeline_version,
        "reference_build": reference_build,
        "config_hash": config_hash,
        "created_utc": datetime.now(UTC).isoformat(timespec="seconds"),
        "pseudonymised": bool(pseudonymise),
        "tables": list(TABLES),
        "files": {name: f"{name}.parquet" for name in TABLES},
        "row_counts": {name: t.num_rows for name, t in tables.items()},  # part tables added below
        "qc_thresholds": thresholds,
        "tools": tool_versions(),
        "knowledge_base": knowledge_versions(),
        "columns": manifest_column_docs(),
    }
    with atomic_dir(out_dir) as tmp:
        for name, table in tables.items():
            _write_parquet(table, tmp / f"{name}.parquet")
        for name in part_tables:
            manifest["row_counts"][name] = assemble(
                name, _parts_of(name, parts_dir, samples, pid, sid), tmp / f"{name}.parquet",
                _id_mapper(pid, sid, samples_of))
        summary = _cohort_summary(tmp)   # computed from the tables just written, never copied
        _write_parquet(summary, tmp / "cohort_summary.parquet")
        manifest["row_counts"]["cohort_summary"] = summary.num_rows
        manifest["row_counts"] = {n: manifest["row_counts"][n] for n in TABLES}
        (tmp / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
        if pseudonymise:
            write_id_map(pseud.rows(), Path(private_dir))
    logger.info("atlas written to %s: %s", out_dir,
                ", ".join(f"{n} {c} rows" for n, c in manifest["row_counts"].items()))
