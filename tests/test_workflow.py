"""End-to-end: the demo cohort through the Snakemake workflow (one shared run per session).

Expected values come from the simulator's sheets and truth tables and from design.md §4 (the
atlas contract), not from the code under test.
"""

from __future__ import annotations

import json
import re
import shutil

import pandas as pd
import pyarrow.parquet as pq
import pysam
import pytest
from conftest import BIN, REPO, run_cmd

pytestmark = pytest.mark.slow

# design.md §4 minimum columns (the analysts' contract).
PATIENT_COLUMNS = ["patient_id", "tumour_type", "drug", "drug_class", "targets", "progression_day",
                   "best_response", "resistance_type", "early_trial_after", "n_samples"]
SAMPLE_COLUMNS = ["patient_id", "sample_id", "sample_type", "timepoint", "collection_day", "mean_depth",
                  "qc_status", "tumour_fraction", "identity_ok"]


def _sheet(run, name):
    return pd.read_csv(run / "config" / name, sep="\t", dtype=str, keep_default_na=False)


def test_atlas_tables_follow_the_contract(demo_run):
    atlas = demo_run / "results" / "atlas"
    pts = pq.read_table(atlas / "patients.parquet").to_pandas()
    sms = pq.read_table(atlas / "samples.parquet").to_pandas()
    sheet_p, sheet_s = _sheet(demo_run, "patients.tsv"), _sheet(demo_run, "samples.tsv")
    assert set(PATIENT_COLUMNS) <= set(pts.columns)
    assert set(SAMPLE_COLUMNS) <= set(sms.columns)
    assert len(pts) == len(sheet_p) >= 6
    # six samples per demo patient, seven for UNL007 (two treatment lines: a second progression biopsy and plasma)
    assert len(sms) == len(sheet_s) == 6 * (len(sheet_p) - 1) + 7
    # pseudonymised: no raw ID anywhere, pseudonyms well-formed
    assert not set(pts.patient_id) & set(sheet_p.patient_id)
    assert not set(sms.sample_id) & set(sheet_s.sample_id)
    assert all(re.fullmatch(r"[0-9a-f]{12}", p) for p in pts.patient_id)
    # tumour fraction: estimated for every tumour sample (classify stage), never for the normal
    assert sms.loc[sms.sample_type != "normal", "tumour_fraction"].notna().all()
    assert sms.loc[sms.sample_type == "normal", "tumour_fraction"].isna().all()
    # every demo sample passes the germline identity check (no swap planted in the demo)
    assert (sms.identity_ok == True).all()  # noqa: E712
    # ≥ 4 drugs, and the sheet's drugs are carried through
    assert sorted(pts.drug) == sorted(sheet_p.drug) and pts.drug.nunique() >= 4
    # every demo patient progressed after PR/SD → acquired resistance
    assert (pts.resistance_type == "acquired").all()
    # per-patient sample counts match the sheet
    assert sorted(pts.n_samples) == sorted(sheet_s.groupby("patient_id").size())
    # collection days and types are carried through (joined via the private ID map)
    idmap = pd.read_csv(demo_run / "results" / "private" / "id_map.tsv", sep="\t")
    raw = dict(zip(idmap.pseudonym, idmap.raw_id))
    sms["raw"] = sms.sample_id.map(raw)
    merged = sms.merge(sheet_s, left_on="raw", right_on="sample_id", suffixes=("", "_sheet"))
    assert len(merged) == len(sheet_s)
    assert (merged.collection_day.astype(int) == merged.collection_day_sheet.astype(int)).all()
    assert (merged.sample_type == merged.sample_type_sheet).all()


def test_sample_qc_is_measured(demo_run):
    sms = pq.read_table(demo_run / "results" / "atlas" / "samples.parquet").to_pandas()
    # the demo is sequenced deep enough to pass QC (plasma ~1,500x raw, tissue ~500x, normal ~300x)
    assert (sms.qc_status == "pass").all(), sms[["sample_type", "mean_depth", "qc_status"]]
    plasma = sms[sms.sample_type == "plasma"]
    assert (plasma.mean_depth > 800).all() and (plasma.mean_depth < 2000).all()
    assert ((sms.duplicate_rate > 0.02) & (sms.duplicate_rate < 0.3)).all()
    assert (plasma.insert_size_median.between(140, 180)).all()  # cfDNA ~167 bp
    tissue = sms[sms.sample_type == "tissue"]
    assert (tissue.insert_size_median > 200).all()


def test_manifest(demo_run):
    manifest = json.loads((demo_run / "results" / "atlas" / "manifest.json").read_text())
    assert manifest["reference_build"] == "GRCh38"
    assert manifest["row_counts"]["samples"] == len(_sheet(demo_run, "samples.tsv"))
    for col in SAMPLE_COLUMNS:
        assert col in json.dumps(manifest["columns"]["samples"])
    text = (demo_run / "results" / "atlas" / "manifest.json").read_text()
    assert "UNL00" not in text and str(demo_run) not in text


def test_sparse_reference_has_real_coordinates(demo_run):
    fa = pysam.FastaFile(str(demo_run / "results" / "reference" / "genome.fa.gz"))
    assert fa.get_reference_length("chr7") == 159_345_973  # design.md §3
    assert fa.fetch("chr7", 55181377, 55181378) == "C"  # EGFR T790M ref (resistance-biology.md §3b)


def test_load_atlas_one_line(demo_run):
    import unlock_atlas

    a = unlock_atlas.load_atlas(demo_run / "results")
    assert len(a.samples) == len(_sheet(demo_run, "samples.tsv"))


def test_rerun_has_nothing_to_do(demo_run):
    r = run_cmd([BIN / "snakemake", "-s", REPO / "Snakefile", "--directory", demo_run,
                 "--configfile", demo_run / "config" / "config.yaml", "--cores", "1", "-n"])
    assert r.returncode == 0, r.stderr
    assert "Nothing to be done" in r.stdout + r.stderr


def test_lint_is_clean(demo_run):
    r = run_cmd([BIN / "snakemake", "-s", REPO / "Snakefile", "--directory", demo_run,
                 "--configfile", demo_run / "config" / "config.yaml", "--lint"])
    assert r.returncode == 0, r.stdout + r.stderr


def test_committed_config_is_the_demo(demo_run):
    for name in ("config.yaml", "patients.tsv", "samples.tsv", "treatments.tsv", "panel_extra.bed"):
        assert (REPO / "config" / name).read_text() == (demo_run / "config" / name).read_text(), name


def test_bad_sheet_stops_before_any_job(demo_run, tmp_path):
    shutil.copytree(demo_run / "config", tmp_path / "config")
    (tmp_path / "bams").symlink_to(demo_run / "bams")
    (tmp_path / "scrna").symlink_to(demo_run / "scrna")
    samples = (tmp_path / "config" / "samples.tsv").read_text().splitlines()
    samples[2] = samples[2].replace("\tplasma\t", "\tserum\t", 1).replace("\ttissue\t", "\tserum\t", 1)
    (tmp_path / "config" / "samples.tsv").write_text("\n".join(samples) + "\n")
    r = run_cmd([BIN / "snakemake", "-s", REPO / "Snakefile", "--directory", tmp_path,
                 "--configfile", tmp_path / "config" / "config.yaml", "--cores", "1"])
    assert r.returncode != 0
    err = r.stdout + r.stderr
    assert "samples.tsv, line 3" in err and "sample_type" in err and "serum" in err
    assert "Traceback" not in err
    assert not (tmp_path / "results" / "atlas").exists()


def test_fastq_units_are_aligned_by_the_workflow(demo_run, tmp_path):
    """A sample given as FASTQ goes through `align` (bwa mem on region contigs, lift, markdup).

    Independent check: the same simulated reads (same seed and sample → identical reads) were
    written as a BAM for the demo run; QC of the workflow-aligned BAM must agree with it.
    """
    from unlock_atlas.simulate.cache import cached_simulation

    sid, pid = "UNL001-N", "UNL001"
    cached_simulation(tmp_path / "sim", 1, cohort="demo", fastq=True, only_samples=[sid])
    shutil.copytree(demo_run / "config", tmp_path / "run" / "config")
    (tmp_path / "run" / "bams").symlink_to(demo_run / "bams")
    (tmp_path / "run" / "scrna").symlink_to(demo_run / "scrna")
    sheet = _sheet(tmp_path / "run", "samples.tsv")
    row = sheet.sample_id == sid
    sheet.loc[row, "bam"] = ""
    sheet.loc[row, "fastq_1"] = str(tmp_path / "sim" / "fastq" / f"{sid}_R1.fastq.gz")
    sheet.loc[row, "fastq_2"] = str(tmp_path / "sim" / "fastq" / f"{sid}_R2.fastq.gz")
    sheet.to_csv(tmp_path / "run" / "config" / "samples.tsv", sep="\t", index=False)
    target = f"results/qc/{pid}/{sid}.json"
    # QC runs per patient (workflow/rules/qc.smk): its folder is the target
    r = run_cmd([BIN / "snakemake", "-s", REPO / "Snakefile", "--directory", tmp_path / "run",
                 "--configfile", tmp_path / "run" / "config" / "config.yaml", "--cores", "2", f"results/qc/{pid}"])
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-5000:]
    bam = tmp_path / "run" / "results" / "align" / pid / f"{sid}.bam"
    with pysam.AlignmentFile(str(bam)) as fh:
        assert fh.get_reference_length("chr7") == 159_345_973
        assert fh.header["HD"]["SO"] == "coordinate" and fh.header["RG"][0]["SM"] == sid
    aligned = json.loads((tmp_path / "run" / target).read_text())
    given = json.loads((demo_run / target).read_text())
    assert aligned["n_reads"] == given["n_reads"]
    assert abs(aligned["mean_target_depth"] / given["mean_target_depth"] - 1) < 0.02
    assert abs(aligned["duplicate_rate"] - given["duplicate_rate"]) < 0.01
    assert aligned["insert_size_median"] == pytest.approx(given["insert_size_median"], abs=2)
