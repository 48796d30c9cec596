"""cohort_summary and samples.tumour_fraction computed by the atlas stage from the classify parts.

Hand-built parts; every expected figure is counted by hand from the rows written here
(mission.md: alterations, not patients, for the resistance_alterations_* metrics).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest

from unlock_atlas.atlas import build_atlas
from unlock_atlas.contract.parts import write_part
from unlock_atlas.contract.schema import TABLES

P1, P2, P3 = "HOSP-1", "HOSP-2", "HOSP-3"


def _patients() -> pd.DataFrame:
    return pd.DataFrame({
        "patient_id": [P1, P2, P3],
        "tumour_type": ["NSCLC", "melanoma", "colorectal"],
        "drug": ["osimertinib", "dabrafenib+trametinib", "cetuximab"],
        "treatment_start": ["0", "0", "0"],
        "progression_day": pd.array([300, 60, None], dtype="Int64"),
        "best_response": ["PR", "PD", None],
        "early_trial_after": pd.array([True, None, False], dtype="boolean"),
        "drug_class": ["EGFR TKI", "BRAF inhibitor + MEK inhibitor", "anti-EGFR mAb"],
        "targets": ["EGFR", "BRAF,MAP2K1,MAP2K2", "EGFR"],
    })


def _samples() -> pd.DataFrame:
    rows = [(P1, "S1-TBL", "tissue", "baseline", -5, 0.6), (P1, "S1-PBL", "plasma", "baseline", 0, None),
            (P1, "S1-PPD", "plasma", "progression", 300, None), (P1, "S1-N", "normal", None, 0, None),
            (P2, "S2-TPD", "tissue", "progression", 62, 0.3), (P3, "S3-PBL", "plasma", "baseline", 0, None)]
    df = pd.DataFrame(rows, columns=["patient_id", "sample_id", "sample_type", "timepoint", "collection_day", "purity"])
    df["collection_day"] = df["collection_day"].astype("Int64")
    df["purity"] = df["purity"].astype("Float64")
    df["histology"] = None
    df["scrna"] = None
    df["bam"] = [f"/bams/{s}.bam" for s in df["sample_id"]]
    df["fastq_1"] = None
    return df


QC = {s: {"mean_target_depth": 1000.0, "median_target_depth": 950.0, "on_target_fraction": 0.6, "duplicate_rate": 0.1,
          "insert_size_median": 167.0, "n_reads": 10**6, "zero_coverage_targets": 0, "n_targets": 20}
      for s in _samples()["sample_id"]}


def _mech(pid, regimen, drug, klass, sub, gene, alt, alt_id, lead=None):
    return {"patient_id": pid, "regimen": regimen, "drug": drug, "class": klass, "subclass": sub, "gene": gene,
            "alteration": alt, "alteration_id": alt_id, "phase": "na", "multiple_mechanisms": False,
            "evidence": "hand-written", "lead_time_days": lead,
            "rule": "kb_alteration" if klass in ("on_target", "bypass") else "no_mechanism"}


@pytest.fixture()
def atlas(tmp_path: Path) -> Path:
    parts = tmp_path / "results" / "tables"
    write_part(pd.DataFrame([
        _mech(P1, "osimertinib", "osimertinib", "bypass", "BYPASS_RTK", "MET", "amplification", "MET:amplification"),
        _mech(P1, "osimertinib", "osimertinib", "on_target", "ON_TARGET_MUT", "EGFR", "p.C797S",
              "chr7:55181398:T>A", lead=252),
    ]), "mechanisms", parts / "mechanisms" / f"{P1}.parquet")
    write_part(pd.DataFrame([   # one alteration classified per component drug: counted once, as on-target
        _mech(P2, "dabrafenib+trametinib", "dabrafenib", "bypass", "BYPASS_DOWNSTREAM", "MAP2K1", "p.C121S", "m1"),
        _mech(P2, "dabrafenib+trametinib", "trametinib", "on_target", "ON_TARGET_MUT", "MAP2K1", "p.C121S", "m1"),
    ]), "mechanisms", parts / "mechanisms" / f"{P2}.parquet")
    write_part(pd.DataFrame([
        {"patient_id": P1, "sample_id": "S1-PBL", "sample_type": "plasma", "method": "truncal_vaf",
         "tumour_fraction": 0.12, "n_tissue_mutations": 4, "n_tissue_mutations_in_plasma": 3},
        {"patient_id": P1, "sample_id": "S1-PPD", "sample_type": "plasma", "method": "truncal_vaf",
         "tumour_fraction": 0.08},
    ]), "ctdna", parts / "ctdna" / f"{P1}.parquet")
    build_atlas(_patients(), _samples(), QC, tmp_path / "results" / "atlas", tmp_path / "results" / "private",
                reference_build="GRCh38", config_hash="x", qc_thresholds={}, pseudonymise=False, parts_dir=parts)
    return tmp_path / "results" / "atlas"


def test_headline_figures_are_counted_from_the_tables(atlas):
    s = pq.read_table(atlas / "cohort_summary.parquet").to_pandas()
    assert s.columns.tolist() == TABLES["cohort_summary"].names
    got = {(r.metric, r.stratum): (r.value, r.n) for r in s.itertuples()}
    expected_all = {
        "patients_included": (3, 3), "biopsies": (2, 3), "sequenced_samples": (6, 3),
        "resistance_alterations_at_progression": (3, 2),      # MET amp, EGFR C797S, MAP2K1 C121S; 2 progressed
        "resistance_alterations_bypass": (1, 3), "resistance_alterations_on_target": (2, 3),
        "patients_with_mechanism": (2, 2), "pct_early_phase_trial": (50.0, 2),   # True, False recorded; None not
        "patients_progressed": (2, 3), "patients_primary_resistance": (1, 3), "patients_acquired_resistance": (1, 3),
        "patients_multiple_mechanisms": (1, 2), "median_days_to_progression": (180.0, 2),
        "tissue_plasma_concordance": (0.75, 4), "median_lead_time_days": (252.0, 1),
    }
    for metric, want in expected_all.items():
        assert got[(metric, "all")] == pytest.approx(want), metric
    assert got[("resistance_alterations_at_progression", "drug:osimertinib")] == (2, 1)
    assert got[("resistance_alterations_on_target", "drug:dabrafenib+trametinib")] == (1, 1)
    assert got[("patients_included", "tumour_type:colorectal")] == (1, 1)
    assert got[("patients_with_mechanism", "drug:cetuximab")][1] == 0          # no progressed patient
    assert pd.isna(got[("pct_early_phase_trial", "drug:dabrafenib+trametinib")][0])   # nothing recorded


def test_samples_carry_the_ctdna_tumour_fraction(atlas):
    smp = pq.read_table(atlas / "samples.parquet").to_pandas().set_index("sample_id")
    assert smp.loc["S1-PBL", "tumour_fraction"] == 0.12 and smp.loc["S1-PPD", "tumour_fraction"] == 0.08
    assert smp.drop(index=["S1-PBL", "S1-PPD"])["tumour_fraction"].isna().all()
