"""The analyst's side of the atlas (issue 11): data dictionary, load_atlas, query, diff, notebooks.

Expected values come from the rows written by hand below (a two-patient atlas built through the
real writer, ``build_atlas`` with stage parts) and from the contract (design.md §4), never from
the code under test.
"""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest
from conftest import REPO

from unlock_atlas.atlas import AtlasError, build_atlas, load_atlas
from unlock_atlas.atlas.query import QueryError
from unlock_atlas.cli import main
from unlock_atlas.contract.parts import write_part
from unlock_atlas.contract.schema import SCHEMA_VERSION, TABLES, field_doc

NOTEBOOKS = ["first_look.ipynb", "ctdna_kinetics.ipynb", "singlecell_programmes.ipynb"]
SC_NOTEBOOK = "singlecell_programmes.ipynb"   # single-cell programmes by mechanism (issue 11 c)
C797S = ("chr7", 55181398, "T", "A")      # EGFR p.C797S (GRCh38), the planted resistance mutation
P72R = ("chr17", 7676154, "G", "C")       # TP53 p.P72R, a common germline polymorphism


def _patients() -> pd.DataFrame:
    return pd.DataFrame({
        "patient_id": ["PAT-1", "PAT-2"], "tumour_type": ["NSCLC", "melanoma"],
        "drug": ["osimertinib", "dabrafenib+trametinib"],
        "progression_day": pd.array([300, None], dtype="Int64"), "best_response": ["PR", "SD"],
        "early_trial_after": pd.array([True, None], dtype="boolean"),
        "drug_class": ["EGFR TKI", "BRAF inhibitor+MEK inhibitor"], "targets": ["EGFR", "BRAF,MAP2K1,MAP2K2"],
    })


SAMPLES = [  # patient, sample, type, timepoint, day
    ("PAT-1", "N1", "normal", None, 0), ("PAT-1", "T1-BL", "tissue", "baseline", -7),
    ("PAT-1", "P1-BL", "plasma", "baseline", 0), ("PAT-1", "P1-OT", "plasma", "on_treatment", 84),
    ("PAT-1", "P1-PD", "plasma", "progression", 300), ("PAT-1", "T1-PD", "tissue", "progression", 300),
    ("PAT-2", "N2", "normal", None, 0), ("PAT-2", "P2-BL", "plasma", "baseline", 0),
]


def _samples() -> pd.DataFrame:
    df = pd.DataFrame(SAMPLES, columns=["patient_id", "sample_id", "sample_type", "timepoint", "collection_day"])
    df["collection_day"] = df["collection_day"].astype("Int64")
    for col in ("purity", "histology", "scrna", "fastq_1", "fastq_2"):
        df[col] = None
    df["bam"] = [f"/bams/{s}.bam" for s in df["sample_id"]]
    return df


QC = {s[1]: {"mean_target_depth": 800.0, "median_target_depth": 780.0, "on_target_fraction": 0.6,
             "duplicate_rate": 0.1, "insert_size_median": 167.0, "n_reads": 10**6, "zero_coverage_targets": 0,
             "n_targets": 20} for s in SAMPLES}

#: PAT-1's C797S by sample: (status, alt reads, depth). Called at progression only; a trace on treatment.
C797S_CALLS = {"T1-BL": ("not_detected", 0, 400), "P1-BL": ("not_detected", 0, 1000),
               "P1-OT": ("detected_below_threshold", 4, 1000), "P1-PD": ("called", 50, 1000),
               "T1-PD": ("called", 80, 400), "N1": ("not_detected", 0, 300)}


def _variant_rows(changed_vaf: bool = False, drop_normal: bool = False) -> pd.DataFrame:
    rows = []
    for sid, (status, alt, depth) in C797S_CALLS.items():
        if drop_normal and sid == "N1":
            continue
        stype = next(s[2] for s in SAMPLES if s[1] == sid)
        vaf = alt / depth if not (changed_vaf and sid == "P1-PD") else 0.07
        rows.append(dict(zip(("chrom", "pos", "ref", "alt"), C797S), sample_id=sid, sample_type=stype, kind="snv",
                         gene="EGFR", hgvsp="p.Cys797Ser", hgvsp_short="p.C797S", alt_reads=alt, depth=depth,
                         vaf=vaf, status=status, filter="PASS", origin="somatic"))
        # germline P72R: called everywhere, must never reach plasma_kinetics
        rows.append(dict(zip(("chrom", "pos", "ref", "alt"), P72R), sample_id=sid, sample_type=stype, kind="snv",
                         gene="TP53", hgvsp_short="p.P72R", alt_reads=depth // 2, depth=depth, vaf=0.5,
                         status="called", filter="PASS", origin="germline"))
    df = pd.DataFrame(rows)
    df["patient_id"] = "PAT-1"
    return df


def _alterations() -> pd.DataFrame:
    return pd.DataFrame([dict(
        patient_id="PAT-1", alteration_id="chr7:55181398:T>A", kind="snv", gene="EGFR", chrom="chr7",
        pos=55181398, ref="T", alt="A", hgvsp="p.Cys797Ser", hgvsp_short="p.C797S", acquisition="acquired",
        acquisition_p=0.0012, acquisition_basis="0 of 1000 fragments at baseline", at_progression=True,
        first_detected_day=300, first_plasma_day=300, seen_in_tissue=True, seen_in_plasma=True,
        n_samples_called=2, resistance_relevance="mechanism")])


def _mechanisms(extra: bool = False) -> pd.DataFrame:
    rows = [dict(patient_id="PAT-1", regimen="osimertinib", drug="osimertinib", **{"class": "on_target"},
                 subclass="ON_TARGET_MUT", gene="EGFR", alteration="p.C797S", alteration_id="chr7:55181398:T>A",
                 kind="snv", acquisition="acquired", phase="na", multiple_mechanisms=extra, rule="kb_alteration",
                 evidence="EGFR C797S on osimertinib (test row)", progression_day=300, first_plasma_day=300,
                 lead_time_days=0)]
    if extra:
        rows.append(dict(rows[0], **{"class": "bypass"}, subclass="BYPASS_RTK", gene="MET", alteration="amplification",
                         alteration_id="MET:amplification", kind="amplification"))
    return pd.DataFrame(rows)


def build(tmp: Path, *, parts: bool = True, changed: bool = False) -> Path:
    """A two-patient atlas under ``tmp/results`` (raw IDs, pseudonymisation off); ``changed``:
    one VAF changed, the normal's two variant rows removed, one mechanism added."""
    parts_dir = tmp / "tables"
    if parts:
        write_part(_variant_rows(changed_vaf=changed, drop_normal=changed), "variants", parts_dir / "variants" / "PAT-1.parquet")
        write_part(_alterations(), "alterations", parts_dir / "alterations" / "PAT-1.parquet")
        write_part(_mechanisms(extra=changed), "mechanisms", parts_dir / "mechanisms" / "PAT-1.parquet")
    build_atlas(_patients(), _samples(), QC, tmp / "results" / "atlas", tmp / "results" / "private",
                reference_build="GRCh38", config_hash="t11", qc_thresholds={}, pseudonymise=False, parts_dir=parts_dir)
    return tmp / "results"


@pytest.fixture(scope="module")
def atlas_dir(tmp_path_factory) -> Path:
    return build(tmp_path_factory.mktemp("analyst"))


def cli(args: list[str], capsys) -> tuple[int, str, str]:
    rc = main([str(a) for a in args])
    out = capsys.readouterr()
    return rc, out.out, out.err


# --- data dictionary -------------------------------------------------------------------------

def test_docs_atlas_md_is_current():
    from unlock_atlas.atlas.dictionary import render_dictionary

    doc = REPO / "docs" / "atlas.md"
    assert doc.is_file() and doc.read_text() == render_dictionary(), (
        "docs/atlas.md is stale -> run `unlock-atlas dictionary --out docs/atlas.md`")


def test_every_registered_column_is_documented_and_listed():
    from unlock_atlas.atlas.dictionary import render_dictionary, undocumented_columns

    assert undocumented_columns() == []
    text = render_dictionary()
    for name, schema in TABLES.items():
        section = text.split(f"## `{name}`\n", 1)[1].split("\n## ", 1)[0]
        for field in schema:
            assert f"| `{field.name}` | {field.type} |" in section, f"{name}.{field.name} missing from docs"
    # design.md §4 allowed values appear verbatim
    assert "`called`, `detected_below_threshold`, `not_detected`, `not_covered`" in text
    assert "`primary`, `acquired`, `not_progressed`, `unknown`" in text


def test_undocumented_column_is_caught_and_new_tables_are_picked_up(monkeypatch):
    from unlock_atlas.atlas.dictionary import render_dictionary, undocumented_columns
    from unlock_atlas.contract import schema

    extra = pa.schema([field_doc("patient_id", pa.string(), "patient identifier", nullable=False),
                       pa.field("mystery", pa.float64()),
                       field_doc("score", pa.float64(), "a documented score", unit="score")])
    monkeypatch.setitem(schema.TABLES, "t11_extra", extra)
    assert undocumented_columns() == ["t11_extra.mystery"]
    text = render_dictionary()
    assert "## `t11_extra`" in text and "| `score` | double | yes | score |" in text


def test_dictionary_cli_check(tmp_path, capsys):
    out = tmp_path / "atlas.md"
    assert cli(["dictionary", "--out", out], capsys)[0] == 0
    assert cli(["dictionary", "--out", out, "--check"], capsys)[0] == 0
    out.write_text(out.read_text() + "edited\n")
    rc, _, err = cli(["dictionary", "--out", out, "--check"], capsys)
    assert rc == 1 and "out of date" in err


# --- load_atlas ---------------------------------------------------------------------------

def test_load_atlas_tables_and_polars(atlas_dir):
    a = load_atlas(atlas_dir)
    assert a.tables == list(TABLES)
    assert len(a.variants) == 12 and len(a.mechanisms) == 1 and len(a.alterations) == 1
    assert a.mechanisms.loc[0, "class"] == "on_target" and a.alterations.loc[0, "acquisition_p"] == 0.0012
    assert str(a.variants["alt_reads"].dtype) == "Int32"
    polars = pytest.importorskip("polars")
    pl_atlas = a.to_polars()
    assert isinstance(pl_atlas.variants, polars.DataFrame) and pl_atlas.variants.shape == (12, len(TABLES["variants"]))
    assert pl_atlas.sql("SELECT count(*) AS n FROM mechanisms")["n"].to_list() == [1]


def test_to_polars_without_polars_says_what_to_do(atlas_dir, monkeypatch):
    monkeypatch.setitem(sys.modules, "polars", None)
    with pytest.raises(AtlasError, match="pip install polars"):
        load_atlas(atlas_dir).to_polars()


def test_schema_version_messages(tmp_path):
    res = build(tmp_path, parts=False)
    manifest = res / "atlas" / "manifest.json"
    data = json.loads(manifest.read_text())
    major = int(SCHEMA_VERSION.split(".")[0])
    for version, words in ((f"{major - 1}.9", ["older", "rebuild", "read it with unlock-atlas"]),
                           (f"{major}.{int(SCHEMA_VERSION.split('.')[1]) + 1}", ["newer", "upgrade"]),
                           (f"{major + 1}.0", ["newer", "upgrade"])):
        manifest.write_text(json.dumps(dict(data, schema_version=version)))
        with pytest.raises(AtlasError) as err:
            load_atlas(res)
        assert f"schema_version {version}" in str(err.value) and all(w in str(err.value) for w in words)


def test_table_missing_from_an_older_atlas(tmp_path):
    res = build(tmp_path, parts=False)
    manifest = res / "atlas" / "manifest.json"
    data = json.loads(manifest.read_text())
    data["tables"] = [t for t in data["tables"] if t != "mechanisms"]
    manifest.write_text(json.dumps(data))
    a = load_atlas(res)
    assert not hasattr(a, "mechanisms")
    with pytest.raises(AtlasError, match="before that table existed -> rebuild"):
        a.table("mechanisms")
    with pytest.raises(QueryError, match="resistance_events is not available"):
        a.sql("SELECT * FROM resistance_events")


# --- query ----------------------------------------------------------------------------------

def test_query_must_show_prints_a_table(atlas_dir, capsys):
    rc, out, _ = cli(["query", atlas_dir, "select class, count(*) from mechanisms group by 1"], capsys)
    assert rc == 0
    lines = out.strip().splitlines()
    assert lines[0].split() == ["class", "count_star()"] and lines[1].split() == ["on_target", "1"]
    assert lines[-1] == "(1 row)"


def test_query_csv_json_and_atlas_dir(atlas_dir, capsys):
    sql = "SELECT sample_id, collection_day FROM samples WHERE patient_id = 'PAT-1' ORDER BY collection_day, sample_id"
    rc, out, _ = cli(["query", atlas_dir / "atlas", sql, "--csv"], capsys)
    got = pd.read_csv(io.StringIO(out))
    assert rc == 0 and got["collection_day"].tolist() == [-7, 0, 0, 84, 300, 300]
    rc, out, _ = cli(["query", atlas_dir, sql, "--json"], capsys)
    assert json.loads(out)[0] == {"sample_id": "T1-BL", "collection_day": -7}


def test_query_error_is_a_message_not_a_traceback(atlas_dir, capsys):
    rc, _, err = cli(["query", atlas_dir, "select nope from mechanisms"], capsys)
    assert rc == 2 and "query failed" in err and "resistance_events" in err and "Traceback" not in err


def test_resistance_events_view(atlas_dir):
    ev = load_atlas(atlas_dir).sql("SELECT * FROM resistance_events")
    assert len(ev) == 1
    row = ev.iloc[0]
    assert (row["gene"], row["alteration"], row["subclass"]) == ("EGFR", "p.C797S", "ON_TARGET_MUT")
    assert row["acquisition_p"] == 0.0012 and row["alteration_acquisition"] == "acquired"   # from alterations
    assert row["tumour_type"] == "NSCLC" and row["patient_drug"] == "osimertinib"           # from patients
    assert row["resistance_type"] == "acquired"  # PR then progression (MATCH-R), design.md §4


def test_plasma_kinetics_view(atlas_dir):
    k = load_atlas(atlas_dir).sql("SELECT * FROM plasma_kinetics")
    # only the somatic C797S (called in the patient), one row per plasma sample; the germline P72R never
    assert k["alteration"].unique().tolist() == ["EGFR p.C797S"]
    assert k["day"].tolist() == [0, 84, 300] and k["days_to_progression"].tolist() == [-300, -216, 0]
    assert k["vaf"].tolist() == [0.0, 0.004, 0.05] and k["detected"].tolist() == [False, True, True]
    assert k["acquisition"].tolist() == ["acquired"] * 3


def test_named_views_work_on_empty_tables(tmp_path, capsys):
    res = build(tmp_path, parts=False)
    for view in ("resistance_events", "plasma_kinetics"):
        rc, out, _ = cli(["query", res, f"SELECT count(*) AS n FROM {view}"], capsys)
        assert rc == 0 and out.splitlines()[1].strip() == "0"


# --- diff -----------------------------------------------------------------------------------

def test_diff_same_and_changed(tmp_path, atlas_dir, capsys):
    same = build(tmp_path / "same")
    rc, out, _ = cli(["diff", atlas_dir, same], capsys)
    assert rc == 0 and "same content" in out
    changed = build(tmp_path / "changed", changed=True)
    rc, out, _ = cli(["diff", atlas_dir, changed, "--json"], capsys)
    assert rc == 1
    tables = {t["table"]: t for t in json.loads(out)["tables"]}
    v, m = tables["variants"], tables["mechanisms"]
    assert (v["added"], v["removed"], v["changed"]) == (0, 2, 1) and v["changed_columns"] == "vaf (1)"
    # the extra bypass row; the existing row's multiple_mechanisms flips to True
    assert (m["added"], m["removed"], m["changed"]) == (1, 0, 1) and m["changed_columns"] == "multiple_mechanisms (1)"
    assert (tables["patients"]["changed"], tables["samples"]["changed"]) == (0, 0)


# --- notebooks ------------------------------------------------------------------------------

@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebooks_are_stored_without_outputs(name):
    import nbformat

    nb = nbformat.read(REPO / "notebooks" / name, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code and all(not c.outputs and c.execution_count is None for c in code), \
        f"strip outputs: jupyter nbconvert --clear-output --inplace notebooks/{name}"


def _execute(name: str, results: Path, monkeypatch, tmp_path: Path):
    import nbclient  # test extra (with nbformat and ipykernel)
    import nbformat

    monkeypatch.setenv("UNLOCK_ATLAS_RESULTS", str(results))
    nb = nbformat.read(REPO / "notebooks" / name, as_version=4)
    nbclient.NotebookClient(nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    return nb


def _images(nb) -> int:
    return sum("image/png" in o.get("data", {}) for c in nb.cells if c.cell_type == "code" for o in c.outputs)


@pytest.mark.slow
@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebooks_run_on_the_demo_atlas(name, demo_run, monkeypatch, tmp_path):
    nb = _execute(name, demo_run / "results", monkeypatch, tmp_path)
    assert _images(nb) >= 1  # at least the cohort / kinetics figure, whatever stages have landed


@pytest.mark.slow
@pytest.mark.parametrize("name", [n for n in NOTEBOOKS if n != SC_NOTEBOOK])
def test_notebooks_show_mechanisms_and_kinetics(name, atlas_dir, monkeypatch, tmp_path):
    nb = _execute(name, atlas_dir, monkeypatch, tmp_path)
    text = "\n".join(o.get("text", "") + str(o.get("data", {}).get("text/plain", ""))
                     for c in nb.cells if c.cell_type == "code" for o in c.outputs)
    assert "EGFR p.C797S" in text and _images(nb) >= 2


def _text(nb) -> str:
    return "\n".join(o.get("text", "") + str(o.get("data", {}).get("text/plain", ""))
                     for c in nb.cells if c.cell_type == "code" for o in c.outputs)


@pytest.mark.slow
def test_singlecell_notebook_says_when_there_is_no_single_cell_data(atlas_dir, monkeypatch, tmp_path):
    # the two-patient test atlas has no sc_composition / sc_programs rows
    nb = _execute(SC_NOTEBOOK, atlas_dir, monkeypatch, tmp_path)
    assert "no single-cell data in this atlas" in _text(nb) and _images(nb) == 0


@pytest.mark.slow
def test_singlecell_notebook_shows_the_planted_programme_shift(demo_run, monkeypatch, tmp_path):
    """The demo's NON_GENETIC patient has the persister / partial-EMT shift planted in its progression
    biopsy's malignant cells (simulator: PROGRAMME_FOLD = 3 on those genes); the other single-cell
    patient has none, so its change must be smaller."""
    import re

    nb = _execute(SC_NOTEBOOK, demo_run / "results", monkeypatch, tmp_path)
    changes = {cls: (float(p), float(e)) for cls, p, e in re.findall(
        r"(\S+) patient \w+: change at progression persister ([+-][\d.]+), emt_partial ([+-][\d.]+)", _text(nb))}
    assert "NON_GENETIC" in changes and len(changes) >= 2, changes
    persister, emt = changes.pop("NON_GENETIC")
    assert persister > 0 and emt > 0
    assert all(persister > p and emt > e for p, e in changes.values()), changes
