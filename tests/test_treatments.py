"""Treatment lines (issue 17 item 1): ``treatments.tsv`` validation and sample attachment.

Sheets are written by hand in tmp_path (dry runs: no BAM is opened); every expected line number,
file, row and column below is read off the hand-written sheets.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from unlock_atlas.errors import InputError
from unlock_atlas.inputs import load_run
from unlock_atlas.inputs.treatments import Line, attach_line
from unlock_atlas.knowledge.drugs import resolve_regimen

PATIENTS = [
    ["patient_id", "tumour_type", "drug", "treatment_start", "progression_day", "best_response"],
    ["P01", "NSCLC", "erlotinib", "0", "300", "PR"],
    ["P02", "NSCLC", "osimertinib", "0", "", ""],
]
SAMPLES = [
    ["patient_id", "sample_id", "sample_type", "timepoint", "collection_day", "bam"],
    ["P01", "P01-N", "normal", "", "0", "bams/P01-N.bam"],
    ["P01", "P01-T-BL", "tissue", "baseline", "-7", "bams/P01-T-BL.bam"],       # sheet line 3
    ["P01", "P01-P-OT", "plasma", "on_treatment", "84", "bams/P01-P-OT.bam"],    # 4
    ["P01", "P01-T-PD", "tissue", "progression", "300", "bams/P01-T-PD.bam"],   # 5
    ["P01", "P01-P-OT2", "plasma", "on_treatment", "400", "bams/P01-P-OT2.bam"],  # 6
    ["P01", "P01-T-PD2", "tissue", "progression", "600", "bams/P01-T-PD2.bam"],  # 7
    ["P02", "P02-N", "normal", "", "0", "bams/P02-N.bam"],
    ["P02", "P02-P-OT", "plasma", "on_treatment", "28", "bams/P02-P-OT.bam"],
]
TREATMENTS = [
    ["patient_id", "line", "drug", "start_day", "end_day", "progression_day", "best_response"],
    ["P01", "1", "erlotinib", "0", "", "300", "PR"],          # sheet line 2
    ["P01", "2", "osimertinib", "314", "", "600", "PR"],      # sheet line 3
]
CONFIG = """\
patients: config/patients.tsv
samples: config/samples.tsv
treatments: config/treatments.tsv
reference:
  fasta: /nonexistent/panel.fa
  gtf: /nonexistent/panel.gtf
  panel_genes: [EGFR]
"""


def _write(path: Path, rows: list[list[str]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join("\t".join(r) for r in rows) + "\n")


def _run_dir(tmp_path: Path, treatments=TREATMENTS, samples=SAMPLES, patients=PATIENTS, config=CONFIG) -> Path:
    d = tmp_path / "run"
    _write(d / "config" / "patients.tsv", patients)
    _write(d / "config" / "samples.tsv", samples)
    if treatments is not None:
        _write(d / "config" / "treatments.tsv", treatments)
    (d / "config" / "config.yaml").write_text(config)
    return d


def _load(d: Path):
    return load_run(d / "config" / "config.yaml", d, check_files=False)


def _problems(d: Path) -> list:
    with pytest.raises(InputError) as exc:
        _load(d)
    return exc.value.problems


def _edit(rows: list[list[str]], row: int, col: str, value: str) -> list[list[str]]:
    out = [list(r) for r in rows]
    out[row][out[0].index(col)] = value
    return out


def test_two_lines_attach_samples_by_day(tmp_path: Path) -> None:
    run = _load(_run_dir(tmp_path))
    line = dict(zip(run.samples["sample_id"], run.samples["line"]))
    # baseline before line 1 -> 1; day 84 and the day-300 progression biopsy -> 1; day 400, 600 -> 2
    assert [line[s] for s in ("P01-T-BL", "P01-P-OT", "P01-T-PD", "P01-P-OT2", "P01-T-PD2")] == [1, 1, 1, 2, 2]
    assert line["P02-P-OT"] == 1
    assert run.samples.loc[run.samples["sample_type"] == "normal", "line"].isna().all()
    t = run.treatments.set_index(["patient_id", "line"])
    assert list(t.index) == [("P01", 1), ("P01", 2), ("P02", 1)]
    assert t.loc[("P01", 2), "drug"] == "osimertinib" and t.loc[("P01", 2), "start_day"] == 314
    assert t.loc[("P01", 2), "progression_day"] == 600 and t.loc[("P01", 1), "drug_class"] == "EGFR TKI"
    # P02 is not in treatments.tsv: its one line is patients.tsv's drug from day 0, not progressed
    assert t.loc[("P02", 1), "drug"] == "osimertinib" and t.loc[("P02", 1), "start_day"] == 0
    assert [ln.regimen.name for ln in run.lines_of("P01")] == ["erlotinib", "osimertinib"]


def test_without_treatments_every_patient_has_the_line_of_patients_tsv(tmp_path: Path) -> None:
    config = CONFIG.replace("treatments: config/treatments.tsv\n", "")
    d = _run_dir(tmp_path, treatments=None, config=config)
    run = _load(d)
    assert "treatments" not in run.config and "treatments" not in run.sheet_texts
    t = run.treatments.set_index("patient_id")
    assert t.loc["P01", "drug"] == "erlotinib" and t.loc["P01", "progression_day"] == 300
    assert t.loc["P01", "best_response"] == "PR" and t.loc["P01", "line"] == 1
    tumour = run.samples[run.samples["sample_type"] != "normal"]
    assert (tumour["line"] == 1).all()


def test_config_hash_without_treatments_is_unchanged_by_the_feature(tmp_path: Path) -> None:
    """No treatments key -> the hash covers exactly config + the two sheets, as before issue 17."""
    config = CONFIG.replace("treatments: config/treatments.tsv\n", "")
    run = _load(_run_dir(tmp_path, treatments=None, config=config))
    assert set(run.sheet_texts) == {"patients", "samples"}


def test_sample_in_no_line_overlap_and_unknown_drug_all_reported_at_once(tmp_path: Path) -> None:
    bad = _edit(TREATMENTS, 2, "start_day", "250")                 # line 2 starts before line 1 progresses (300)
    bad = _edit(bad, 1, "drug", "erlotinb")                         # typo
    samples = _edit(SAMPLES, 3, "collection_day", "-30")            # on_treatment sample before line 1
    d = _run_dir(tmp_path, treatments=bad, samples=samples)
    probs = _problems(d)
    drug = [p for p in probs if p.column == "drug"]
    assert len(drug) == 1 and drug[0].file == "config/treatments.tsv" and drug[0].row == 2
    assert "erlotinb" in drug[0].message and "erlotinib" in str(drug[0])
    # with line 1's drug unknown the patient's lines are not cross-checked further; fix it and see the rest
    d = _run_dir(tmp_path, treatments=_edit(bad, 1, "drug", "erlotinib"), samples=samples)
    probs = _problems(d)
    overlap = [p for p in probs if "overlap" in p.message]
    assert len(overlap) == 1 and overlap[0].file == "config/treatments.tsv" and overlap[0].row == 3
    assert overlap[0].column == "start_day" and "progression_day 300" in overlap[0].message
    orphan = [p for p in probs if "falls in no treatment line" in p.message]
    assert len(orphan) == 1 and orphan[0].file == "config/samples.tsv" and orphan[0].row == 4
    assert orphan[0].column == "collection_day" and "P01-P-OT" in orphan[0].message


def test_sample_after_the_last_line_ended(tmp_path: Path) -> None:
    t = _edit(TREATMENTS, 2, "end_day", "620")
    samples = SAMPLES + [["P01", "P01-P-X", "plasma", "on_treatment", "700", "bams/P01-P-X.bam"]]
    probs = _problems(_run_dir(tmp_path, treatments=t, samples=samples))
    assert [(p.row, p.column) for p in probs] == [(10, "collection_day")]
    assert "line 2 osimertinib day 314 to day 620" in probs[0].message


def test_explicit_line_column_overrides_and_is_checked(tmp_path: Path) -> None:
    samples = [r + [c] for r, c in zip(SAMPLES, ["line", "", "", "", "2", "", "", "", ""])]
    run = _load(_run_dir(tmp_path, samples=samples))
    assert run.samples.set_index("sample_id").loc["P01-T-PD", "line"] == 2
    samples = [r + [c] for r, c in zip(SAMPLES, ["line", "", "", "3", "", "", "", "", "2"])]
    probs = _problems(_run_dir(tmp_path, samples=samples))
    assert sorted((p.row, p.column) for p in probs) == [(4, "line"), (9, "line")]
    assert any("not a line of patient 'P01'" in p.message for p in probs)
    assert any("has one line" in p.message for p in probs)


def test_line_numbers_duplicates_gaps_and_unknown_patient(tmp_path: Path) -> None:
    t = TREATMENTS + [["P01", "2", "osimertinib", "700", "", "", ""], ["P09", "1", "erlotinib", "0", "", "", ""]]
    probs = _problems(_run_dir(tmp_path, treatments=t))
    assert any(p.row == 4 and p.column == "line" and "appears on lines 3 and 4" in p.message for p in probs)
    assert any(p.row == 5 and p.column == "patient_id" and "'P09' is not in" in p.message for p in probs)
    t = _edit(TREATMENTS, 2, "line", "3")
    probs = _problems(_run_dir(tmp_path, treatments=t))
    assert [(p.row, p.column) for p in probs] == [(2, "line")] and "without gaps" in probs[0].message


def test_row_schema_errors_and_day_order(tmp_path: Path) -> None:
    t = _edit(TREATMENTS, 1, "start_day", "day0")
    t = _edit(t, 2, "progression_day", "300")     # before line 2's start (314)
    t = _edit(t, 2, "best_response", "good")
    probs = _problems(_run_dir(tmp_path, treatments=t))
    got = sorted((p.row, p.column) for p in probs)
    assert got == [(2, "start_day"), (3, "best_response"), (3, "progression_day")]


def test_patients_tsv_must_agree_with_line_one(tmp_path: Path) -> None:
    p = _edit(PATIENTS, 1, "drug", "osimertinib")
    p = _edit(p, 1, "progression_day", "280")
    probs = _problems(_run_dir(tmp_path, patients=p))
    assert sorted((p.file, p.row, p.column) for p in probs) == [
        ("config/patients.tsv", 2, "drug"), ("config/patients.tsv", 2, "progression_day")]


@pytest.mark.parametrize(("day", "timepoint", "expected"), [
    (-7, "baseline", 1), (0, "baseline", 1), (150, "on_treatment", 1), (300, "progression", 1),
    (300, "baseline", 2), (300, "on_treatment", 2),       # the switch day: only a progression sample closes line 1
    (305, "progression", 1), (305, "baseline", 2), (305, "on_treatment", None),   # the gap between lines
    (-7, "on_treatment", None), (900, "progression", 2),
])
def test_attach_line_rules(day: int, timepoint: str, expected: int | None) -> None:
    a, b = resolve_regimen("erlotinib"), resolve_regimen("osimertinib")
    lines = [Line(1, a, 0, 300, 300), Line(2, b, 300 if day == 300 else 310, None, 600)]
    assert attach_line(lines, day, timepoint) == expected
