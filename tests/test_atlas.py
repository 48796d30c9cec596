"""Atlas tables, manifest, pseudonymisation and load_atlas.

Expected values come from the contract (design.md §4 columns, the documented QC/resistance
rules applied by hand to the rows written here) and from an independent HMAC computation.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import stat
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import unlock_atlas
from unlock_atlas.atlas import (
    AtlasError,
    build_atlas,
    load_atlas,
    qc_status,
)
from unlock_atlas.atlas import build as build_mod
from unlock_atlas.atlas.privacy import PseudonymError, Pseudonymiser
from unlock_atlas.domain import resistance_type

KEY_HEX = "00112233445566778899aabbccddeeff" * 2
THRESHOLDS = {"min_mean_depth": {"tissue": 150, "plasma": 500, "normal": 100}, "min_on_target_fraction": 0.2}
RAW_PATIENTS = ["HOSP-PAT-0001", "HOSP-PAT-0002", "HOSP-PAT-0003"]


def _patients() -> pd.DataFrame:
    return pd.DataFrame({
        "patient_id": RAW_PATIENTS,
        "tumour_type": ["NSCLC", "melanoma", "colorectal"],
        "drug": ["osimertinib", "dabrafenib+trametinib", "cetuximab"],
        "treatment_start": ["2021-03-15", "2020-11-02", "2022-01-20"],
        "progression_day": pd.array([300, 60, None], dtype="Int64"),
        "best_response": ["PR", "PD", None],
        "early_trial_after": pd.array([True, None, False], dtype="boolean"),
        "drug_class": ["EGFR TKI gen 3", "BRAF inhibitor+MEK inhibitor", "anti-EGFR mAb"],
        "targets": ["EGFR", "BRAF,MAP2K1,MAP2K2", "EGFR"],
    })


def _samples() -> pd.DataFrame:
    rows = [
        # patient, sample, type, timepoint, day, purity, histology, scrna
        ("HOSP-PAT-0001", "BX-0001-BASE", "tissue", "baseline", -5, 0.6, "adenocarcinoma", "/data/sc/bx1.h5ad"),
        ("HOSP-PAT-0001", "CF-0001-D0", "plasma", "baseline", 0, None, None, None),
        ("HOSP-PAT-0001", "CF-0001-D300", "plasma", "progression", 300, None, None, None),
        ("HOSP-PAT-0001", "WBC-0001", "normal", None, 0, None, None, None),
        ("HOSP-PAT-0002", "BX-0002-PROG", "tissue", "progression", 62, 0.3, "melanoma", None),
        ("HOSP-PAT-0003", "CF-0003-D0", "plasma", "baseline", 0, None, None, None),
    ]
    df = pd.DataFrame(rows, columns=["patient_id", "sample_id", "sample_type", "timepoint", "collection_day",
                                     "purity", "histology", "scrna"])
    df["collection_day"] = df["collection_day"].astype("Int64")
    df["purity"] = df["purity"].astype("Float64")
    df["bam"] = [f"/secure/hospital/bams/{s}.bam" for s in df["sample_id"]]
    df["fastq_1"] = None
    df["fastq_2"] = None
    return df


def _qc(depth, ot=0.6, zero=0, n_targets=20, dup=0.1, insert=167.0, n_reads=1_000_000):
    return {"mean_target_depth": depth, "median_target_depth": depth * 0.95, "on_target_fraction": ot,
            "duplicate_rate": dup, "insert_size_median": insert, "n_reads": n_reads,
            "zero_coverage_targets": zero, "n_targets": n_targets}


QC = {
    "BX-0001-BASE": _qc(400.0),                        # tissue >= 150                 -> pass
    "CF-0001-D0": _qc(450.0),                          # plasma < 500, >= 250           -> warn
    "CF-0001-D300": _qc(2000.0, ot=0.05),              # on-target < 0.1                -> fail
    "WBC-0001": _qc(120.0, zero=3),                    # 3 of 20 targets empty (> 10%)  -> fail
    "BX-0002-PROG": _qc(70.0),                         # tissue < 75 (50% of 150)       -> fail
    "CF-0003-D0": _qc(800.0, ot=0.15, insert=None),    # on-target < 0.2, >= 0.1        -> warn
}
EXPECTED_QC = {"BX-0001-BASE": "pass", "CF-0001-D0": "warn", "CF-0001-D300": "fail", "WBC-0001": "fail",
               "BX-0002-PROG": "fail", "CF-0003-D0": "warn"}


def _hmac_pseudonym(key_hex: str, kind: str, raw: str) -> str:
    """Independent implementation of the documented pseudonym (issue: 12 hex characters of HMAC-SHA256)."""
    return hmac.new(bytes.fromhex(key_hex), f"{kind}:{raw}".encode(), hashlib.sha256).hexdigest()[:12]


def _build(tmp: Path, key_hex: str = KEY_HEX, patients=None, samples=None, **kw) -> Path:
    key = tmp / "key.txt"
    tmp.mkdir(parents=True, exist_ok=True)
    key.write_text(key_hex + "\n")
    kw.setdefault("pseudonymise", True)
    build_atlas(_patients() if patients is None else patients, _samples() if samples is None else samples, QC,
                tmp / "results" / "atlas", tmp / "results" / "private", reference_build="GRCh38",
                config_hash="abc123", qc_thresholds=THRESHOLDS, key_file=key, **kw)
    return tmp / "results"


@pytest.fixture()
def results(tmp_path: Path) -> Path:
    return _build(tmp_path)


def test_documented_columns_and_types(results):
    pat = pq.read_schema(results / "atlas" / "patients.parquet")
    smp = pq.read_schema(results / "atlas" / "samples.parquet")
    assert [(f.name, f.type) for f in pat] == [
        ("patient_id", pa.string()), ("tumour_type", pa.string()), ("drug", pa.string()),
        ("drug_class", pa.string()), ("targets", pa.string()), ("progression_day", pa.int32()),
        ("best_response", pa.string()), ("resistance_type", pa.string()), ("early_trial_after", pa.bool_()),
        ("n_samples", pa.int32()), ("n_tissue", pa.int32()), ("n_plasma", pa.int32()), ("has_normal", pa.bool_())]
    assert [(f.name, f.type) for f in smp] == [
        ("patient_id", pa.string()), ("sample_id", pa.string()), ("sample_type", pa.string()),
        ("timepoint", pa.string()), ("collection_day", pa.int32()), ("mean_depth", pa.float64()),
        ("median_depth", pa.float64()), ("on_target_fraction", pa.float64()), ("duplicate_rate", pa.float64()),
        ("insert_size_median", pa.float64()), ("n_reads", pa.int64()), ("qc_status", pa.string()),
        ("qc_reasons", pa.string()), ("tumour_fraction", pa.float64()), ("identity_ok", pa.bool_()),
        ("purity", pa.float64()), ("histology", pa.string()), ("has_scrna", pa.bool_())]
    # every column documented in the file and in the manifest; categorical columns list allowed values
    manifest = json.loads((results / "atlas" / "manifest.json").read_text())
    for name, schema in (("patients", pat), ("samples", smp)):
        assert all(f.metadata and f.metadata[b"description"] for f in schema)
        docs = {d["name"]: d for d in manifest["columns"][name]}
        assert list(docs) == schema.names and all(d["description"] for d in docs.values())
    assert json.loads(pat.field("resistance_type").metadata[b"allowed"]) == [
        "primary", "acquired", "not_progressed", "unknown"]
    assert {d["name"]: d for d in manifest["columns"]["samples"]}["qc_status"]["allowed"] == ["pass", "warn", "fail"]
    assert manifest["schema_version"] == "1.3" and manifest["reference_build"] == "GRCh38"
    assert manifest["config_hash"] == "abc123" and manifest["pipeline_version"] == unlock_atlas.__version__
    assert manifest["tables"][:2] == ["patients", "samples"]
    # tables built from stage parts exist (full schema) even when no stage wrote a part
    from unlock_atlas.contract.schema import COMPUTED_TABLES

    parts = [t for t in manifest["tables"][2:] if t not in COMPUTED_TABLES]
    assert {t: manifest["row_counts"][t] for t in ["patients", "samples", *parts]} == {
        "patients": 3, "samples": 6, **{t: 0 for t in parts}}
    # cohort_summary is computed from the patients/samples tables themselves (3 patients included)
    assert manifest["row_counts"]["cohort_summary"] > 0
    assert re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00$", manifest["created_utc"])


def test_later_stage_columns_all_null(results):
    t = pq.read_table(results / "atlas" / "samples.parquet")
    assert t.column("tumour_fraction").null_count == t.num_rows == 6
    assert t.column("identity_ok").null_count == 6


@pytest.mark.parametrize("day, response, expected", [
    (None, "PR", "not_progressed"), (None, None, "not_progressed"),
    (300, "PR", "acquired"), (100, "CR", "acquired"), (168, "SD", "acquired"),   # MATCH-R: SD >= 24 weeks
    (167, "SD", "unknown"), (60, "PD", "primary"), (30, "PD", "unknown"),       # < 6 weeks exposure
    (70, None, "primary"), (70, "NE", "primary"), (84, None, "unknown"), (200, None, "unknown"),
])
def test_resistance_type_rules(day, response, expected):
    assert resistance_type(day, response) == expected


def test_atlas_rows_values_and_qc_status(results):
    key = KEY_HEX
    pat = pq.read_table(results / "atlas" / "patients.parquet").to_pylist()
    smp = pq.read_table(results / "atlas" / "samples.parquet").to_pylist()
    by_pid = {r["patient_id"]: r for r in pat}
    p1 = by_pid[_hmac_pseudonym(key, "patient", "HOSP-PAT-0001")]
    assert (p1["resistance_type"], p1["n_samples"], p1["n_tissue"], p1["n_plasma"], p1["has_normal"]) == (
        "acquired", 4, 1, 2, True)
    assert p1["progression_day"] == 300 and p1["early_trial_after"] is True and p1["targets"] == "EGFR"
    p2 = by_pid[_hmac_pseudonym(key, "patient", "HOSP-PAT-0002")]
    assert (p2["resistance_type"], p2["early_trial_after"], p2["has_normal"]) == ("primary", None, False)
    assert by_pid[_hmac_pseudonym(key, "patient", "HOSP-PAT-0003")]["resistance_type"] == "not_progressed"
    by_sid = {r["sample_id"]: r for r in smp}
    for raw, status in EXPECTED_QC.items():
        row = by_sid[_hmac_pseudonym(key, "sample", raw)]
        assert row["qc_status"] == status, raw
        assert (row["qc_reasons"] is None) == (status == "pass")
        assert row["mean_depth"] == QC[raw]["mean_target_depth"]
    bx1 = by_sid[_hmac_pseudonym(key, "sample", "BX-0001-BASE")]
    assert bx1["has_scrna"] is True and bx1["purity"] == 0.6 and bx1["collection_day"] == -5
    assert by_sid[_hmac_pseudonym(key, "sample", "WBC-0001")]["timepoint"] is None
    assert "targets without coverage" in by_sid[_hmac_pseudonym(key, "sample", "WBC-0001")]["qc_reasons"]
    # rows sorted by patient_id, then collection_day
    keys = [(r["patient_id"], r["collection_day"]) for r in smp]
    assert keys == sorted(keys) and [r["patient_id"] for r in pat] == sorted(by_pid)


def test_qc_status_boundaries():
    assert qc_status("tissue", _qc(150.0), THRESHOLDS) == ("pass", [])
    assert qc_status("tissue", _qc(75.0), THRESHOLDS)[0] == "warn"     # exactly 50% -> not a fail
    assert qc_status("tissue", _qc(74.9), THRESHOLDS)[0] == "fail"
    assert qc_status("normal", _qc(120.0, zero=2), THRESHOLDS)[0] == "pass"   # 2 of 20 = 10%, not > 10%
    status, reasons = qc_status("plasma", _qc(100.0, ot=0.05), THRESHOLDS)
    assert status == "fail" and len(reasons) == 2


def _all_text(results: Path) -> tuple[bytes, str]:
    atlas = results / "atlas"
    raw = b"".join(p.read_bytes() for p in sorted(atlas.iterdir()))
    decoded = "".join(pq.read_table(p).to_pandas().to_csv() + str(pq.read_schema(p))
                      for p in sorted(atlas.glob("*.parquet")))
    return raw, decoded + (atlas / "manifest.json").read_text()


def test_no_raw_ids_paths_or_dates_in_atlas(results):
    raw_bytes, text = _all_text(results)
    forbidden = RAW_PATIENTS + list(QC) + ["/secure/hospital", "bx1.h5ad", "2021-03-15", "2020-11-02", "2022-01-20",
                                           "HOSP", "key.txt"]
    for s in forbidden:
        assert s not in text, s
        assert s.encode() not in raw_bytes, s


def test_pseudonyms_stable_per_key_and_id_map(tmp_path, results):
    ids = pq.read_table(results / "atlas" / "samples.parquet").column("sample_id").to_pylist()
    assert all(re.fullmatch(r"[0-9a-f]{12}", s) for s in ids)
    assert set(ids) == {_hmac_pseudonym(KEY_HEX, "sample", s) for s in QC}
    again = _build(tmp_path / "again")
    assert pq.read_table(again / "atlas" / "samples.parquet").column("sample_id").to_pylist() == ids
    other = _build(tmp_path / "other", key_hex="ff" * 32)
    assert not set(pq.read_table(other / "atlas" / "samples.parquet").column("sample_id").to_pylist()) & set(ids)
    id_map = pd.read_csv(results / "private" / "id_map.tsv", sep="\t")
    assert list(id_map.columns) == ["kind", "raw_id", "pseudonym"]
    assert len(id_map) == 3 + 6
    for r in id_map.itertuples():
        assert r.pseudonym == _hmac_pseudonym(KEY_HEX, r.kind, r.raw_id)
    assert stat.S_IMODE((results / "private" / "id_map.tsv").stat().st_mode) == 0o600


def test_generated_key_made_once_and_env_key(tmp_path, monkeypatch):
    monkeypatch.delenv("UNLOCK_ATLAS_KEY", raising=False)
    args = dict(reference_build="GRCh38", config_hash="h", qc_thresholds=THRESHOLDS)
    priv = tmp_path / "private"
    build_atlas(_patients(), _samples(), QC, tmp_path / "a1", priv, **args)
    keyfile = priv / "pseudonym.key"
    key = keyfile.read_text().strip()
    assert re.fullmatch(r"[0-9a-f]{64}", key) and stat.S_IMODE(keyfile.stat().st_mode) == 0o600
    build_atlas(_patients(), _samples(), QC, tmp_path / "a2", priv, **args)
    assert keyfile.read_text().strip() == key
    first = pq.read_table(tmp_path / "a1" / "patients.parquet")
    assert first.equals(pq.read_table(tmp_path / "a2" / "patients.parquet"))
    assert set(first.column("patient_id").to_pylist()) == {_hmac_pseudonym(key, "patient", p) for p in RAW_PATIENTS}
    monkeypatch.setenv("UNLOCK_ATLAS_KEY", "ab" * 32)
    build_atlas(_patients(), _samples(), QC, tmp_path / "a3", tmp_path / "p3", **args)
    assert set(pq.read_table(tmp_path / "a3" / "patients.parquet").column("patient_id").to_pylist()) == {
        _hmac_pseudonym("ab" * 32, "patient", p) for p in RAW_PATIENTS}
    monkeypatch.setenv("UNLOCK_ATLAS_KEY", "short")
    with pytest.raises(PseudonymError, match="at least 16"):
        build_atlas(_patients(), _samples(), QC, tmp_path / "a4", tmp_path / "p4", **args)


def test_pseudonym_collision_refused(monkeypatch):
    monkeypatch.setattr("unlock_atlas.atlas.privacy.pseudonym", lambda key, kind, raw: "0123456789ab")
    with pytest.raises(PseudonymError, match="same pseudonym"):
        Pseudonymiser(b"k" * 32).map_ids("patient", ["A", "B"])


def test_without_pseudonymisation_ids_unchanged(tmp_path, monkeypatch):
    monkeypatch.delenv("UNLOCK_ATLAS_KEY", raising=False)
    res = _build(tmp_path, pseudonymise=False)
    assert set(pq.read_table(res / "atlas" / "patients.parquet").column("patient_id").to_pylist()) == set(RAW_PATIENTS)
    assert not (res / "private" / "id_map.tsv").exists() and not (res / "private" / "pseudonym.key").exists()
    assert json.loads((res / "atlas" / "manifest.json").read_text())["pseudonymised"] is False


def test_load_atlas_results_or_atlas_dir(results):
    a, b = load_atlas(results), unlock_atlas.load_atlas(results / "atlas")
    assert a.tables == b.tables and a.tables[:2] == ["patients", "samples"]
    pd.testing.assert_frame_equal(a.samples, b.samples)
    pd.testing.assert_frame_equal(a.patients, b["patients"])
    assert len(a.samples) == 6 and a.manifest["row_counts"]["samples"] == 6
    assert str(a.patients["progression_day"].dtype) == "Int32" and a.samples["identity_ok"].isna().all()
    assert "patients: 3 rows" in repr(a) and "samples: 6 rows" in repr(a)
    with pytest.raises(AttributeError):
        _ = a.no_such_table


def test_load_atlas_errors(tmp_path, results):
    with pytest.raises(AtlasError, match="unlock-atlas atlas"):
        load_atlas(tmp_path / "empty")
    m = results / "atlas" / "manifest.json"
    data = json.loads(m.read_text())
    data["schema_version"] = "1.7"
    m.write_text(json.dumps(data))
    with pytest.raises(AtlasError, match="schema_version 1.7"):
        load_atlas(results)
    data["schema_version"] = "2.0"
    m.write_text(json.dumps(data))
    with pytest.raises(AtlasError, match="upgrade"):
        load_atlas(results)


def test_deterministic_content_whatever_input_order(tmp_path):
    one = _build(tmp_path / "one")
    shuffled = _samples().sample(frac=1.0, random_state=3).reset_index(drop=True)
    two = _build(tmp_path / "two", patients=_patients().iloc[::-1].reset_index(drop=True), samples=shuffled)
    for name in ("patients", "samples"):
        t1, t2 = (pq.read_table(r / "atlas" / f"{name}.parquet") for r in (one, two))
        assert t1.equals(t2, check_metadata=True)
    assert (one / "private" / "id_map.tsv").read_text() == (two / "private" / "id_map.tsv").read_text()


def test_failed_build_leaves_previous_atlas(tmp_path, results, monkeypatch):
    atlas = results / "atlas"
    before = {p.name: p.read_bytes() for p in atlas.iterdir()}
    real = build_mod._write_parquet

    def crash(table, path):
        if path.name == "samples.parquet":
            raise OSError("disk full")
        real(table, path)

    monkeypatch.setattr(build_mod, "_write_parquet", crash)
    with pytest.raises(OSError, match="disk full"):
        _build(tmp_path)
    assert {p.name: p.read_bytes() for p in atlas.iterdir()} == before
    assert sorted(p.name for p in results.iterdir()) == ["atlas", "private"]  # no temp dirs left


def test_missing_qc_is_an_actionable_error(tmp_path):
    qc = dict(QC)
    del qc["WBC-0001"]
    with pytest.raises(unlock_atlas.errors.UnlockError, match="unlock-atlas qc"):
        build_atlas(_patients(), _samples(), qc, tmp_path / "atlas", tmp_path / "private", reference_build="GRCh38",
                    config_hash="h", qc_thresholds=THRESHOLDS, pseudonymise=False)


def test_cli_reads_qc_jsons(tmp_path, monkeypatch):
    """The handler wires load_run + <qc-dir>/<patient>/<sample>.json into build_atlas."""
    import types

    import unlock_atlas.inputs
    from unlock_atlas.cli import main
    from unlock_atlas.qc import write_qc_json

    run = types.SimpleNamespace(patients=_patients(), samples=_samples(), config_hash=lambda: "cfg42",
                                config={"reference": {"build": "GRCh38"}, "qc": THRESHOLDS,
                                        "privacy": {"pseudonymise": True, "key_file": None}})
    monkeypatch.setattr(unlock_atlas.inputs, "load_run", lambda *a, **k: run, raising=False)
    monkeypatch.setenv("UNLOCK_ATLAS_KEY", KEY_HEX)
    for r in _samples().itertuples():
        write_qc_json(QC[r.sample_id], tmp_path / "results" / "qc" / r.patient_id / f"{r.sample_id}.json")
    rc = main(["atlas", "--config", "config.yaml", "--directory", str(tmp_path), "--qc-dir", "results/qc",
               "--out", "results/atlas", "--private", "results/private"])
    assert rc == 0
    a = load_atlas(tmp_path / "results")
    assert a.manifest["config_hash"] == "cfg42"
    assert dict(zip(a.samples["sample_id"], a.samples["qc_status"])) == {
        _hmac_pseudonym(KEY_HEX, "sample", s): st for s, st in EXPECTED_QC.items()}
    os.remove(tmp_path / "results" / "qc" / "HOSP-PAT-0002" / "BX-0002-PROG.json")
    assert main(["atlas", "--config", "c", "--directory", str(tmp_path)]) == 2


def test_stage_parts_are_assembled_pseudonymised_and_sorted(tmp_path: Path, monkeypatch) -> None:
    """A part-built table: parts keyed by raw patient ID, IDs pseudonymised, rows sorted, nulls kept."""
    import pyarrow as pa

    from unlock_atlas.contract import parts, schema

    demo = pa.schema([schema.field_doc("patient_id", pa.string(), "patient", nullable=False),
                      schema.field_doc("sample_id", pa.string(), "sample"),
                      schema.field_doc("pos", pa.int64(), "position"),
                      schema.field_doc("later", pa.float64(), "filled by a later stage")])
    monkeypatch.setitem(schema.TABLES, "demo_part", demo)
    monkeypatch.setitem(schema.SORT_KEYS, "demo_part", ["pos"])
    pdir = tmp_path / "results" / "tables" / "demo_part"
    parts.write_part(pd.DataFrame({"patient_id": ["HOSP-PAT-0001"] * 2, "sample_id": ["CF-0001-D0", "WBC-0001"],
                                   "pos": [20, 10]}), "demo_part", pdir / "HOSP-PAT-0001.parquet")
    parts.write_part(pd.DataFrame({"patient_id": ["HOSP-PAT-0002"], "sample_id": ["BX-0002-PROG"], "pos": [5]}),
                     "demo_part", pdir / "HOSP-PAT-0002.parquet")
    parts.write_part(pd.DataFrame({"patient_id": ["GONE"], "pos": [1]}), "demo_part", pdir / "GONE.parquet")
    res = _build(tmp_path, parts_dir=tmp_path / "results" / "tables")
    got = pq.read_table(res / "atlas" / "demo_part.parquet").to_pandas()
    key = bytes.fromhex(KEY_HEX)
    want_p = {r: hmac.new(key, f"patient:{r}".encode(), hashlib.sha256).hexdigest()[:12]
              for r in ("HOSP-PAT-0001", "HOSP-PAT-0002")}
    assert len(got) == 3  # the part of a patient not in the sheets is not included
    assert set(got.patient_id) == set(want_p.values())
    p1 = got[got.patient_id == want_p["HOSP-PAT-0001"]]
    assert list(p1.pos) == [10, 20] and got.later.isna().all()
    assert json.loads((res / "atlas" / "manifest.json").read_text())["row_counts"]["demo_part"] == 3
    with pytest.raises(parts.PartError, match="not in the 'demo_part' schema: extra"):
        parts.write_part(pd.DataFrame({"patient_id": ["x"], "extra": [1]}), "demo_part", pdir / "x.parquet")
