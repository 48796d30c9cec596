"""Input loading and validation (unlock_atlas.inputs): config, patients.tsv, samples.tsv, BAMs.

Fixtures are built in tmp_path: small sheets and header-only, indexed BAMs whose @SQ lines carry
GRCh38 primary-assembly lengths (literal values from the GRCh38 assembly report; chr7 =
159,345,973 as quoted in design.md §3). Every bad-input test asserts the specific content of its
message (file, line, column, key words).
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pandas as pd
import pysam
import pytest

from unlock_atlas.errors import InputError
from unlock_atlas.inputs import check_bam_contigs, load_run

CLI = Path(__file__).resolve().parents[1] / ".venv" / "bin" / "unlock-atlas"

#: GRCh38 lengths of the chromosomes the test panel (EGFR chr7, KRAS chr12, BRAF chr7) touches,
#: plus chr1; from the GRCh38.p14 assembly report (GCF_000001405.40).
GRCH38 = {"chr1": 248_956_422, "chr7": 159_345_973, "chr12": 133_275_309}
GRCH37_CHR7 = 159_138_663

PATIENTS = [
    ["patient_id", "tumour_type", "drug", "treatment_start", "progression_day", "best_response", "early_trial_after"],
    ["P01", "NSCLC", "osimertinib", "2021-03-01", "310", "PR", "yes"],
    ["P02", "melanoma", "Dabrafenib + Trametinib", "0", "", "", ""],
]
SAMPLES = [
    ["patient_id", "sample_id", "sample_type", "timepoint", "collection_day", "bam", "purity", "histology"],
    ["P01", "P01-N", "normal", "", "0", "bams/P01-N.bam", "", ""],
    ["P01", "P01-T0", "tissue", "baseline", "-12", "bams/P01-T0.bam", "0.45", "adenocarcinoma"],
    ["P01", "P01-C3", "plasma", "progression", "310", "bams/P01-C3.bam", "", ""],
    ["P02", "P02-N", "normal", "", "0", "bams/P02-N.bam", "", ""],
    ["P02", "P02-C1", "plasma", "on_treatment", "28", "bams/P02-C1.bam", "", ""],
]
CONFIG = """\
patients: config/patients.tsv
samples: config/samples.tsv
reference:
  fasta: "{data_dir}/reference_grch38/panel_genes.GRCh38.fa"
  gtf: "{data_dir}/transcripts_grch38/panel_mane_select.GRCh38.gtf"
  panel_genes: [EGFR, KRAS, BRAF]
"""


def write_tsv(path: Path, rows: list[list[str]], newline: str = "\n", bom: bool = False) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    text = newline.join("\t".join(r) for r in rows) + newline
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + text.encode())


def write_bam(path: Path, lengths: dict[str, int], index: str | None = ".bam.bai", so: str = "coordinate") -> Path:
    """A header-only BAM (with the given @SQ lengths), indexed by samtools through pysam."""
    path.parent.mkdir(parents=True, exist_ok=True)
    header = {"HD": {"VN": "1.6", "SO": so}, "SQ": [{"SN": c, "LN": n} for c, n in lengths.items()]}
    with pysam.AlignmentFile(str(path), "wb", header=header):
        pass
    if index == ".bam.bai":
        pysam.samtools.index(str(path))
    elif index == ".bai":
        pysam.samtools.index(str(path), str(path.with_suffix(".bai")))
    return path


@pytest.fixture()
def run_dir(tmp_path: Path, shared_data: Path) -> Path:
    """A valid run directory: config with {data_dir}, both sheets, indexed BAMs (+ alt/decoy contigs)."""
    d = tmp_path / "run"
    (d / "config").mkdir(parents=True)
    (d / "config" / "config.yaml").write_text(CONFIG)
    write_tsv(d / "config" / "patients.tsv", PATIENTS)
    write_tsv(d / "config" / "samples.tsv", SAMPLES)
    extras = {"chr7_KI270803v1_alt": 1_065_679, "chrEBV": 171_823}
    for row in SAMPLES[1:]:
        write_bam(d / row[5], {**GRCH38, **extras})
    return d


def problems_of(run_dir: Path, **kw) -> InputError:
    with pytest.raises(InputError) as exc:
        load_run(run_dir / "config" / "config.yaml", run_dir, **kw)
    return exc.value


def edit_samples(run_dir: Path, row: int, col: str, value: str) -> None:
    rows = [list(r) for r in SAMPLES]
    rows[row][rows[0].index(col)] = value
    write_tsv(run_dir / "config" / "samples.tsv", rows)


def edit_patients(run_dir: Path, row: int, col: str, value: str) -> None:
    rows = [list(r) for r in PATIENTS]
    rows[row][rows[0].index(col)] = value
    write_tsv(run_dir / "config" / "patients.tsv", rows)


# ----------------------------------------------------------------------------- valid run


def test_valid_run_loads_with_types(run_dir: Path, shared_data: Path) -> None:
    run = load_run(run_dir / "config" / "config.yaml", run_dir)
    p, s = run.patients, run.samples
    assert list(p["patient_id"]) == ["P01", "P02"]
    assert str(p["progression_day"].dtype) == "Int64" and p.loc[0, "progression_day"] == 310
    assert pd.isna(p.loc[1, "progression_day"])
    assert str(p["early_trial_after"].dtype) == "boolean" and bool(p.loc[0, "early_trial_after"]) is True
    assert p.loc[1, "drug"] == "dabrafenib+trametinib"
    assert p.loc[1, "drug_class"] == "BRAF inhibitor + MEK inhibitor"
    assert p.loc[1, "targets"] == "BRAF,MAP2K1,MAP2K2"
    assert p.loc[0, "drug_class"] == "EGFR TKI" and p.loc[0, "targets"] == "EGFR"
    assert p.loc[0, "treatment_start"] == "2021-03-01" and p.loc[1, "treatment_start"] == "0"

    assert list(s["sample_id"]) == ["P01-N", "P01-T0", "P01-C3", "P02-N", "P02-C1"]  # sheet order
    assert str(s["collection_day"].dtype) == "Int64" and s.loc[1, "collection_day"] == -12
    assert str(s["purity"].dtype) == "Float64" and s.loc[1, "purity"] == pytest.approx(0.45)
    assert pd.isna(s.loc[0, "timepoint"]) and s.loc[2, "timepoint"] == "progression"
    assert s.loc[1, "bam"] == str(run_dir / "bams" / "P01-T0.bam")
    assert pd.isna(s.loc[1, "fastq_1"]) and pd.isna(s.loc[1, "scrna"])
    assert s.loc[1, "histology"] == "adenocarcinoma"
    assert (s["sample_type"].value_counts().to_dict()) == {"normal": 2, "plasma": 2, "tissue": 1}

    ref = run.config["reference"]
    assert ref["fasta"] == str(shared_data / "reference_grch38" / "panel_genes.GRCh38.fa")
    assert ref["panel_padding"] == 20 and ref["build"] == "GRCh38" and ref["panel_bed"] is None
    assert run.config["qc"]["min_mean_depth"] == {"tissue": 150, "plasma": 500, "normal": 100}
    assert run.config["privacy"] == {"pseudonymise": True, "key_file": None}
    assert run.data_dir == shared_data.resolve()
    assert len(run.config_hash()) == 64


def test_bom_and_crlf_sheets_load_like_plain_ones(run_dir: Path) -> None:
    plain = load_run(run_dir / "config" / "config.yaml", run_dir)
    write_tsv(run_dir / "config" / "patients.tsv", PATIENTS, newline="\r\n", bom=True)
    write_tsv(run_dir / "config" / "samples.tsv", [[c + " " if c else c for c in r] for r in SAMPLES],
              newline="\r\n", bom=True)
    windows = load_run(run_dir / "config" / "config.yaml", run_dir)
    pd.testing.assert_frame_equal(plain.patients, windows.patients)
    pd.testing.assert_frame_equal(plain.samples, windows.samples)
    assert windows.patients.columns[0] == "patient_id"  # no BOM glued to the first column name


def test_config_hash_changes_with_a_cell(run_dir: Path) -> None:
    a = load_run(run_dir / "config" / "config.yaml", run_dir).config_hash()
    assert load_run(run_dir / "config" / "config.yaml", run_dir).config_hash() == a
    edit_samples(run_dir, 2, "collection_day", "-11")
    assert load_run(run_dir / "config" / "config.yaml", run_dir).config_hash() != a


def test_config_hash_is_the_same_for_the_run_in_another_directory(run_dir: Path, tmp_path: Path) -> None:
    import shutil

    a = load_run(run_dir / "config" / "config.yaml", run_dir).config_hash()
    moved = tmp_path / "somewhere" / "else"
    shutil.copytree(run_dir, moved)
    b = load_run(moved / "config" / "config.yaml", moved)
    assert b.config["patients"].startswith(str(moved))  # paths really are absolute and different
    assert b.config_hash() == a


def test_relative_paths_resolve_against_workdir_not_cwd(run_dir: Path, tmp_path: Path, monkeypatch) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    run = load_run(str(run_dir / "config" / "config.yaml"), run_dir)
    assert run.workdir == run_dir
    assert run.config["patients"] == str(run_dir / "config" / "patients.tsv")
    assert run.samples.loc[0, "bam"] == str(run_dir / "bams" / "P01-N.bam")
    # the config as a mapping (Snakemake's `config`) behaves the same, with no config_path
    import yaml

    run2 = load_run(yaml.safe_load(CONFIG), run_dir)
    assert run2.config_path is None and run2.config["samples"] == str(run_dir / "config" / "samples.tsv")


def test_data_dir_placeholder_uses_configured_relative_data_dir(run_dir: Path, shared_data: Path, monkeypatch) -> None:
    monkeypatch.delenv("UNLOCK_ATLAS_DATA", raising=False)
    rel = os.path.relpath(shared_data, run_dir)
    (run_dir / "config" / "config.yaml").write_text(CONFIG + f"data_dir: {rel}\n")
    run = load_run(run_dir / "config" / "config.yaml", run_dir)
    assert run.data_dir == shared_data.resolve()
    assert run.config["reference"]["gtf"] == str(shared_data.resolve() / "transcripts_grch38" / "panel_mane_select.GRCh38.gtf")


def test_missing_data_dir_says_where_it_looked(run_dir: Path, monkeypatch) -> None:
    monkeypatch.setenv("UNLOCK_ATLAS_DATA", str(run_dir / "nowhere"))
    (run_dir / "config" / "config.yaml").write_text(CONFIG + "data_dir: /no/such/dir\n")
    err = problems_of(run_dir)
    [p] = [p for p in err.problems if p.column == "data_dir"]
    assert "the configured data_dir /no/such/dir does not hold reference_grch38/" in p.message and p.row == 7
    assert len(err.problems) == 1  # no cascade of "file not found" for the {data_dir} paths


def test_dry_run_without_files(tmp_path: Path) -> None:
    d = tmp_path / "dry"
    write_tsv(d / "config" / "patients.tsv", PATIENTS)
    write_tsv(d / "config" / "samples.tsv", SAMPLES)
    cfg = CONFIG.replace("{data_dir}", "/nonexistent")
    (d / "config" / "config.yaml").write_text(cfg)
    run = load_run(d / "config" / "config.yaml", d, check_files=False)
    assert len(run.samples) == 5 and run.data_dir is None
    with pytest.raises(InputError):
        load_run(d / "config" / "config.yaml", d, check_files=True)


def test_bai_beside_bam_without_bam_suffix_is_accepted(run_dir: Path) -> None:
    bam = run_dir / "bams" / "P01-T0.bam"
    os.remove(f"{bam}.bai")
    write_bam(bam, GRCH38, index=".bai")
    assert (run_dir / "bams" / "P01-T0.bai").is_file()
    load_run(run_dir / "config" / "config.yaml", run_dir)


# ----------------------------------------------------------------------------- bad inputs


def test_missing_column_names_columns_found(run_dir: Path) -> None:
    write_tsv(run_dir / "config" / "patients.tsv", [[c for i, c in enumerate(r) if i != 2] for r in PATIENTS])
    err = problems_of(run_dir)
    [p] = [p for p in err.problems if p.column == "drug"]
    assert p.file == os.path.join("config", "patients.tsv") and p.row == 1
    assert "missing required column 'drug'" in p.message
    assert "columns found: patient_id, tumour_type, treatment_start, progression_day" in p.message


def test_bad_id_characters_are_named_and_the_id_goes_no_further(run_dir: Path) -> None:
    edit_patients(run_dir, 1, "patient_id", "P01;rm -rf")
    err = problems_of(run_dir)
    ids = [p for p in err.problems if p.column == "patient_id" and "not allowed" in p.message]
    assert len(ids) == 1
    p = ids[0]
    assert p.file.endswith("patients.tsv") and p.row == 2
    assert "';'" in p.message and "space" in p.message
    # the bad ID appears in no other problem: nothing else touched it
    assert sum("rm -rf" in str(q) for q in err.problems) == 1


def test_sample_id_starting_with_dash_is_rejected(run_dir: Path) -> None:
    edit_samples(run_dir, 3, "sample_id", "-rf")
    err = problems_of(run_dir)
    assert any(p.row == 4 and p.column == "sample_id" and "starts with '-'" in p.message for p in err.problems)


def test_duplicate_sample_id_names_both_lines(run_dir: Path) -> None:
    edit_samples(run_dir, 5, "sample_id", "P01-C3")
    err = problems_of(run_dir)
    [p] = [p for p in err.problems if p.column == "sample_id"]
    assert p.file.endswith("samples.tsv") and "'P01-C3' appears on lines 4, 6" in p.message


def test_patient_without_normal(run_dir: Path) -> None:
    write_tsv(run_dir / "config" / "samples.tsv", [r for r in SAMPLES if r[1] != "P02-N"])
    err = problems_of(run_dir)
    [p] = err.problems
    assert p.file.endswith("samples.tsv") and "patient 'P02'" in p.message and "no normal sample" in p.message
    assert "patients.tsv line 3" in p.message


def test_patient_with_two_normals(run_dir: Path) -> None:
    edit_rows = [list(r) for r in SAMPLES]
    edit_rows[3][2], edit_rows[3][3] = "normal", ""
    write_tsv(run_dir / "config" / "samples.tsv", edit_rows)
    err = problems_of(run_dir)
    assert any("'P01' has 2 normal samples (lines 2, 4)" in p.message for p in err.problems)


def test_unknown_timepoint_lists_allowed_values(run_dir: Path) -> None:
    edit_samples(run_dir, 2, "timepoint", "week2")
    err = problems_of(run_dir)
    [p] = err.problems
    assert (p.row, p.column) == (3, "timepoint") and p.file.endswith("samples.tsv")
    assert "'week2'" in p.message and "baseline, on_treatment, progression" in p.message


def test_timepoint_on_normal_and_missing_on_tissue(run_dir: Path) -> None:
    rows = [list(r) for r in SAMPLES]
    rows[1][3] = "baseline"  # normal with a timepoint
    rows[2][3] = ""  # tissue without one
    write_tsv(run_dir / "config" / "samples.tsv", rows)
    err = problems_of(run_dir)
    msgs = {(p.row, p.column): p.message for p in err.problems}
    assert "normal sample has no timepoint" in msgs[(2, "timepoint")]
    assert "needs a timepoint" in msgs[(3, "timepoint")]


@pytest.mark.parametrize("value", ["3.5", "day3"])
def test_non_integer_collection_day(run_dir: Path, value: str) -> None:
    edit_samples(run_dir, 4, "collection_day", value)
    err = problems_of(run_dir)
    [p] = err.problems
    assert (p.row, p.column) == (5, "collection_day") and f"'{value}'" in p.message and "whole number" in p.message


def test_bam_and_fastq_both_or_neither(run_dir: Path) -> None:
    rows = [r + ["", ""] for r in SAMPLES]
    rows[0][-2:] = ["fastq_1", "fastq_2"]
    rows[2][-2:] = ["a_R1.fastq.gz", "a_R2.fastq.gz"]  # both bam and fastq
    rows[3][5] = ""  # neither
    write_tsv(run_dir / "config" / "samples.tsv", rows)
    err = problems_of(run_dir, check_files=False)
    msgs = {p.row: p.message for p in err.problems if p.column == "bam"}
    assert "both a BAM and FASTQ" in msgs[3] and "no sequencing data" in msgs[4]


def test_purity_outside_unit_interval(run_dir: Path) -> None:
    edit_samples(run_dir, 2, "purity", "45")
    err = problems_of(run_dir)
    [p] = err.problems
    assert (p.row, p.column) == (3, "purity") and "'45' is above the maximum 1" in p.message


def test_missing_bam_shows_resolved_path(run_dir: Path) -> None:
    os.remove(run_dir / "bams" / "P02-C1.bam")
    err = problems_of(run_dir)
    [p] = err.problems
    assert (p.row, p.column) == (6, "bam")
    assert f"file not found: {run_dir / 'bams' / 'P02-C1.bam'}" in p.message


def test_bam_without_index(run_dir: Path) -> None:
    os.remove(run_dir / "bams" / "P01-C3.bam.bai")
    err = problems_of(run_dir)
    [p] = err.problems
    assert (p.row, p.column) == (4, "bam") and "has no index" in p.message and "samtools index" in p.fix


def test_grch37_bam_is_caught(run_dir: Path) -> None:
    write_bam(run_dir / "bams" / "P01-T0.bam", {**GRCH38, "chr7": GRCH37_CHR7})
    err = problems_of(run_dir)
    [p] = err.problems
    assert (p.row, p.column) == (3, "bam") and p.file.endswith("samples.tsv")
    assert "chr7 is 159,138,663 bp in the BAM but 159,345,973 bp in the reference" in p.message
    assert "another genome build" in p.message


def test_bam_without_chr_prefix_gets_a_naming_hint(tmp_path: Path) -> None:
    bam = write_bam(tmp_path / "x.bam", {"1": GRCH38["chr1"], "7": GRCH38["chr7"], "12": GRCH38["chr12"]})
    [p] = check_bam_contigs(bam, GRCH38, {"chr7", "chr12"})
    assert "lacks panel contig(s) chr12, chr7" in p.message and "without 'chr'" in p.message
    assert check_bam_contigs(write_bam(tmp_path / "ok.bam", GRCH38), GRCH38, {"chr7"}) == []


def test_unknown_drug_lists_known_drugs(run_dir: Path) -> None:
    edit_patients(run_dir, 1, "drug", "osimertinb")
    err = problems_of(run_dir)
    [p] = err.problems
    assert (p.row, p.column) == (2, "drug") and p.file.endswith("patients.tsv")
    assert "unknown drug 'osimertinb'" in p.message and "did you mean osimertinib" in p.message
    assert "osimertinib" in p.fix and "dabrafenib" in p.fix and "trametinib" in p.fix


def test_sample_of_unknown_patient(run_dir: Path) -> None:
    edit_samples(run_dir, 5, "patient_id", "P03")
    err = problems_of(run_dir)
    assert any(p.row == 6 and "patient 'P03' of sample 'P02-C1' is not in" in p.message for p in err.problems)


def test_config_typo_reports_yaml_line(run_dir: Path) -> None:
    (run_dir / "config" / "config.yaml").write_text(CONFIG + "  panel_paddng: 10\nqc:\n  min_on_target_fraction: 1.5\n")
    err = problems_of(run_dir)
    by_col = {p.column: p for p in err.problems}
    assert by_col["reference.panel_paddng"].row == 7 and "did you mean 'panel_padding'" in by_col["reference.panel_paddng"].fix
    assert by_col["qc.min_on_target_fraction"].row == 9 and "above the maximum 1" in by_col["qc.min_on_target_fraction"].message


def test_several_problems_reported_at_once(run_dir: Path) -> None:
    edit_patients(run_dir, 2, "drug", "unknownib")
    rows = [list(r) for r in SAMPLES]
    rows[2][4] = "day3"
    rows[4][1] = "P01-N"
    write_tsv(run_dir / "config" / "samples.tsv", rows)
    err = problems_of(run_dir)
    assert len(err.problems) == 3
    text = str(err)
    assert text.startswith(f"3 problem(s) found in {os.path.join('config', 'patients.tsv')}, "
                           f"{os.path.join('config', 'samples.tsv')}:")
    assert "unknown drug 'unknownib'" in text and "'day3'" in text and "'P01-N' appears on lines 2, 5" in text


# ----------------------------------------------------------------------------- CLI


def test_cli_validate_ok_and_bad(run_dir: Path) -> None:
    env = {**os.environ}
    ok = subprocess.run([str(CLI), "validate", "--config", "config/config.yaml"], cwd=run_dir,
                        capture_output=True, text=True, env=env, timeout=120)
    assert ok.returncode == 0, ok.stderr
    assert "OK: 2 patients, 5 samples (1 tissue, 2 plasma, 2 normal)" in ok.stdout
    edit_samples(run_dir, 2, "timepoint", "week2")
    bad = subprocess.run([str(CLI), "validate", "--config", str(run_dir / "config" / "config.yaml"),
                          "--directory", str(run_dir)], capture_output=True, text=True, env=env, timeout=120)
    assert bad.returncode == 2
    assert "Traceback" not in bad.stderr
    assert "samples.tsv, line 3, column 'timepoint'" in bad.stderr and "'week2'" in bad.stderr


def test_plain_fasta_and_panel_bed(run_dir: Path, tmp_path: Path) -> None:
    """A full-genome-style FASTA (lengths from its .fai) and a configured panel BED on chr12."""
    ref = tmp_path / "ref"
    ref.mkdir()
    (ref / "genome.fa").write_text(">chr7\nN\n")  # only the .fai is read for lengths
    (ref / "genome.fa.fai").write_text("".join(f"{c}\t{n}\t6\t60\t61\n" for c, n in GRCH38.items()))
    (ref / "panel.bed").write_text("chr12\t25245273\t25245395\tKRAS\n")
    cfg = CONFIG.replace('"{data_dir}/reference_grch38/panel_genes.GRCh38.fa"', str(ref / "genome.fa"))
    cfg = cfg.replace("  panel_genes: [EGFR, KRAS, BRAF]\n", f"  panel_bed: {ref / 'panel.bed'}\n")
    (run_dir / "config" / "config.yaml").write_text(cfg)
    load_run(run_dir / "config" / "config.yaml", run_dir)
    write_bam(run_dir / "bams" / "P02-N.bam", {"chr1": GRCH38["chr1"], "chr7": GRCH37_CHR7})
    err = problems_of(run_dir)
    missing, length = err.problems
    assert missing.row == length.row == 5
    assert "lacks panel contig(s) chr12" in missing.message and "chr7 is 159,138,663 bp" in length.message


def test_reloading_the_validated_config_json_is_idempotent(run_dir: Path) -> None:
    """The workflow hands results/private/run_config.json (the validated config) to later stages."""
    import json

    run = load_run(run_dir / "config" / "config.yaml", run_dir)
    eff = run_dir / "results" / "private" / "run_config.json"
    eff.parent.mkdir(parents=True)
    eff.write_text(json.dumps(run.config, indent=2, sort_keys=True))
    again = load_run(eff, run_dir, check_files=False)
    assert again.config == run.config and again.config_hash() == run.config_hash()
