"""Tumour-fraction-aware copy number (issue 18, deliverable 4): ONE ratio -> copy-number formula
(copynumber.genes.copy_number_from_ratio, CNVkit's ``call --purity`` rescaling), plasma called with
the ctDNA tumour fraction estimated before copy-number calling, a 3 % floor and a model check.

Expected values are hand-computed from the clonal mixture model r = (tc*CN + (1 - tc)*2) / 2
(CNVkit cnvlib/call.py ``_log2_ratio_to_absolute``: n = (r_ref*2^v - x*(1 - p)) / p; Talevich et al.,
PLoS Comput Biol 2016), never taken from the code under test.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from unlock_atlas.copynumber import copy_number_from_ratio
from unlock_atlas.copynumber.genes import copy_number_interval, gene_table
from unlock_atlas.copynumber.sample import tumour_content_for
from unlock_atlas.ctdna_fraction import TF_COLUMNS, write_tumour_fractions


@pytest.mark.parametrize("ratio, tc, cn", [
    (1.8, 0.2, 10.0),     # 2 + 2 x 0.8 / 0.2: the Must-show plasma amplification
    (1.4, 0.1, 10.0),     # demo UNL002-P-PD MET: CN 10 at TF 0.10 -> ratio 1 + 0.1 x 8 / 2
    (1.0, 0.05, 2.0),     # copy-neutral at any tumour content
    (0.8, 0.2, 0.0),      # homozygous deletion at TF 0.2: 2 x (0.8 - 1 + 0.2) / 0.2
    (0.5, 1.0, 1.0),      # pure sample, one copy lost
    (0.7, 0.2, 0.0),      # below what CN 0 can give: floored at 0
])
def test_copy_number_from_ratio_hand_computed(ratio: float, tc: float, cn: float) -> None:
    assert copy_number_from_ratio(ratio, tc) == pytest.approx(cn, abs=1e-12)


def test_copy_number_from_ratio_with_ploidy_and_bad_tumour_content() -> None:
    # triploid background (CNVkit --ploidy 3): n = (3 x 1.5 - 3 x 0.5) / 0.5 = 6
    assert copy_number_from_ratio(1.5, 0.5, ploidy=3) == pytest.approx(6.0)
    with pytest.raises(ValueError):
        copy_number_from_ratio(1.5, 0.0)


def test_copy_number_interval_spans_the_tumour_fraction_interval() -> None:
    # log2 interval of ratio [1.6, 2.0] x TF [0.15, 0.25]: corners 2 + 2(r - 1)/t
    lo, hi = copy_number_interval(math.log2(1.6), math.log2(2.0), 0.15, 0.25)
    assert lo == pytest.approx(2 + 2 * 0.6 / 0.25) and hi == pytest.approx(2 + 2 * 1.0 / 0.15)


@pytest.mark.parametrize("stype, purity, tf, expected", [
    ("plasma", None, 0.2, (0.2, "tumour_fraction")),
    ("plasma", None, 0.03, (0.03, "tumour_fraction")),     # at the floor: used
    ("plasma", None, 0.029, (None, "none")),               # below the 3 % floor: not used
    ("plasma", None, 0.0, (None, "none")),                 # truncal variants absent
    ("plasma", None, None, (None, "none")),                # not estimable
    ("tissue", 0.45, None, (0.45, "purity")),
    ("tissue", None, 0.3, (None, "none")),                  # tissue never takes the plasma estimate
    ("normal", None, None, (None, "none")),
])
def test_tumour_content_source_and_floor(stype, purity, tf, expected) -> None:
    assert tumour_content_for(stype, purity, tf) == expected


def _targets(log2: dict[str, float], n: int = 20, fragments: int = 4000) -> pd.DataFrame:
    """Per-target log2 table with every target of a gene at its gene's value (spread 0.05)."""
    rows = []
    for k, (g, v) in enumerate(log2.items()):
        for i in range(n):
            s = (k * n + i) * 1000
            rows.append({"chrom": "chr7", "start": s, "end": s + 150, "gene": g, "length": 150, "gc": 0.5,
                         "fragments": fragments, "depth": 1000.0, "log2": v, "spread": 0.05, "usable": True})
    return pd.DataFrame(rows)


def test_model_check_does_not_scale_a_ratio_no_copy_number_can_give() -> None:
    """A copy-neutral gene with a coverage offset of -0.30 log2 in a plasma of TF 0.055 [0.046, 0.066]:
    CN 0 gives at most ratio 1 - 0.066 (log2 -0.098); the interval -0.30 +- 1.96 x 0.05 lies below it,
    so the gene is called as of unknown tumour content (neutral: > log2(0.75) = -0.415), not deleted.
    A real homozygous deletion at TF 0.2 (ratio 0.8, log2 -0.32) passes the check: deep_deletion."""
    gsd = {"OFF": 0.05, "DEL": 0.05, "NEU": 0.05}
    g = gene_table(_targets({"OFF": -0.30, "NEU": 0.0}), 0.055, "plasma", gsd, tc_interval=(0.046, 0.066))
    g = g.set_index("gene")
    assert g.loc["OFF", "call"] == "neutral" and pd.isna(g.loc["OFF", "tumour_content"])
    assert pd.isna(g.loc["OFF", "copy_number"])
    assert g.loc["NEU", "tumour_content"] == 0.055 and g.loc["NEU", "copy_number"] == pytest.approx(2.0, abs=1e-9)
    # the same numbers with a purity (no interval) keep the purity-scaled call
    assert gene_table(_targets({"OFF": -0.30}), 0.055, "tissue", gsd)["call"].iloc[0] == "deep_deletion"
    d = gene_table(_targets({"DEL": math.log2(0.8)}), 0.2, "plasma", gsd, tc_interval=(0.18, 0.22)).iloc[0]
    assert d["call"] == "deep_deletion" and d["tumour_content"] == 0.2 and d["copy_number"] == pytest.approx(0.0, abs=1e-9)


# -- the Must-show: a plasma at progression with depth ratio ~1.8 at TF 0.2 is amplified, end to end ----------
def _cov(rng: np.random.Generator, genes: list[str], factor: np.ndarray, ratio: dict[str, float],
         depth: float) -> pd.DataFrame:
    """Poisson fragment counts over 150-bp targets: expected depth x capture factor x gene copy ratio."""
    mu = depth * factor * np.array([ratio.get(g, 1.0) for g in genes])
    frags = rng.poisson(mu)
    start = np.arange(len(genes)) * 1000
    return pd.DataFrame({"chrom": "chr7", "start": start, "end": start + 150, "gene": genes, "length": 150,
                         "gc": rng.uniform(0.4, 0.6, len(genes)), "fragments": frags, "depth": frags.astype(float)})


def _tf_table(path: Path, sample: str, tf: float, lo: float, hi: float) -> Path:
    row = dict.fromkeys(TF_COLUMNS)
    row.update(patient_id="P1", sample_id=sample, sample_type="plasma", timepoint="progression", collection_day=300,
               method="truncal_vaf", n_variants=3, alt_reads=300, depth=3000, tumour_fraction=tf, tf_ci_low=lo,
               tf_ci_high=hi, informative=tf >= 0.03)
    write_tumour_fractions(pd.DataFrame([row]), path)
    return path


@pytest.mark.parametrize("tf, lo, hi, call, source", [
    (0.2, 0.18, 0.22, "amplification", "tumour_fraction"),   # CN = 2 + 2 x 0.8 / 0.2 = 10
    (0.02, 0.015, 0.026, "gain", "none"),                     # below the floor: tc = 1 bound, log2 0.85 < log2(2.5)
])
def test_plasma_progression_ratio_1_8_called_with_its_tumour_fraction(tmp_path: Path, tf, lo, hi, call, source) -> None:
    """`copynumber call --tumour-fraction-table` on a plasma whose MET targets carry ratio 1.8 (CN 10 at
    TF 0.2, planted as Poisson counts against 5 normals): amplified with CN ~10 whose interval holds 10.
    Without a usable tumour fraction the same depth is only a gain (the call before issue 18)."""
    from unlock_atlas.cli import main
    from unlock_atlas.copynumber.coverage import write_coverage
    from unlock_atlas.copynumber.normalise import build_reference, write_reference

    rng = np.random.default_rng(18)
    genes = [f"G{i:02d}" for i in range(16) for _ in range(12)] + ["MET"] * 21
    factor = np.exp(rng.normal(0, 0.2, len(genes)))
    normals = {f"N{i}": _cov(rng, genes, factor, {}, 400) for i in range(5)}
    write_reference(build_reference(normals), str(tmp_path / "ref.tsv"))
    write_coverage(_cov(rng, genes, factor, {"MET": 1.8}, 2000), tmp_path / "P1-P-PD.targetcov.tsv")
    table = _tf_table(tmp_path / "tf.tsv", "P1-P-PD", tf, lo, hi)
    rc = main(["copynumber", "call", str(tmp_path / "P1-P-PD.targetcov.tsv"), "--reference", str(tmp_path / "ref.tsv"),
               "--sample-id", "P1-P-PD", "--patient-id", "P1", "--sample-type", "plasma",
               "--tumour-fraction-table", str(table), "-o", str(tmp_path / "part.parquet")])
    assert rc == 0
    g = pd.read_parquet(tmp_path / "part.parquet").set_index("gene")
    met = g.loc["MET"]
    assert met["call"] == call and met["tumour_content_source"] == source
    assert met["log2_ratio"] == pytest.approx(math.log2(1.8), abs=0.08)
    if source == "tumour_fraction":
        assert met["tumour_content"] == pytest.approx(0.2)
        assert met["copy_number"] == pytest.approx(10, rel=0.15)
        assert met["copy_number_ci_low"] <= 10 <= met["copy_number_ci_high"]
    else:
        assert pd.isna(met["tumour_content"]) and pd.isna(met["copy_number"])
    others = g.drop(index="MET")
    assert (others["call"] == "neutral").all(), others[["log2_ratio", "log2_se", "call"]]
    assert set(others["tumour_content_source"]) == {source}


def test_call_rejects_a_table_without_the_sample(tmp_path: Path) -> None:
    from unlock_atlas.copynumber.sample import plasma_tumour_fraction
    from unlock_atlas.errors import InputError

    table = _tf_table(tmp_path / "tf.tsv", "P1-P-PD", 0.2, 0.18, 0.22)
    with pytest.raises(InputError, match="no row for sample P1-P-BL"):
        plasma_tumour_fraction(table, "P1-P-BL")
    assert plasma_tumour_fraction(table, "P1-P-PD") == (0.2, (0.18, 0.22))


# -- the tumour-fraction step (one definition for the copy-number and classify stages) -----------------------
CONFIG = """\
patients: config/patients.tsv
samples: config/samples.tsv
reference:
  fasta: "{data_dir}/reference_grch38/panel_genes.GRCh38.fa"
  gtf: "{data_dir}/transcripts_grch38/panel_mane_select.GRCh38.gtf"
  panel_genes: [EGFR, KRAS, TP53]
"""


def _variant(sample: str, pos: int, alt_reads: int, depth: int, origin: str = "somatic") -> dict:
    vaf = alt_reads / depth
    return {"patient_id": "P1", "sample_id": sample, "chrom": "chr17", "pos": pos, "ref": "C", "alt": "T", "kind": "snv",
            "gene": "TP53", "transcript": None, "hgvsc": None, "hgvsp": None, "consequence": "synonymous_variant",
            "alt_reads": alt_reads, "depth": depth, "vaf": vaf, "vaf_ci_low": vaf * 0.8, "vaf_ci_high": min(1, vaf * 1.2),
            "status": "called" if alt_reads >= 3 else "not_detected", "filter": "PASS", "origin": origin}


def test_tumour_fraction_step_writes_the_classifiers_estimate(tmp_path: Path) -> None:
    """Three truncal SNVs at VAF 0.25 in a purity-0.5 biopsy (k = 1) and at 100/1000 in the progression
    plasma -> TF = 2 x 300 / 3000 = 0.2 with 2 x the Wilson interval of 300/3000 (closed form below);
    a clonal-haematopoiesis variant at VAF 0.4 in plasma is not tumour. The table the workflow feeds to
    plasma copy-number calling equals the classify stage's ctdna estimate (one function)."""
    from unlock_atlas.classify.ctdna import tumour_fractions as classify_tf
    from unlock_atlas.classify.patient import patient_from_run
    from unlock_atlas.cli import main
    from unlock_atlas.ctdna_fraction import read_tumour_fractions
    from unlock_atlas.inputs import load_run

    run = tmp_path / "run"
    (run / "config").mkdir(parents=True)
    (run / "config" / "config.yaml").write_text(CONFIG)
    (run / "config" / "patients.tsv").write_text(
        "patient_id\ttumour_type\tdrug\ttreatment_start\tprogression_day\tbest_response\n"
        "P1\tNSCLC\tosimertinib\t0\t300\tPR\n")
    (run / "config" / "samples.tsv").write_text(
        "patient_id\tsample_id\tsample_type\ttimepoint\tcollection_day\tbam\tpurity\n"
        "P1\tP1-N\tnormal\t\t0\tbams/N.bam\t\n"
        "P1\tP1-T-BL\ttissue\tbaseline\t-7\tbams/T.bam\t0.5\n"
        "P1\tP1-P-PD\tplasma\tprogression\t300\tbams/P.bam\t\n")
    rows = [_variant(s, 7675088 + i, a, d) for i in range(3) for s, a, d in (("P1-T-BL", 100, 400), ("P1-P-PD", 100, 1000))]
    rows += [_variant("P1-P-PD", 7676000, 400, 1000, origin="chip"), _variant("P1-T-BL", 7676000, 0, 400, origin="chip")]
    variants = pd.DataFrame(rows)
    variants.to_parquet(tmp_path / "P1.parquet")
    out = tmp_path / "tumour_fraction.tsv"
    rc = main(["copynumber", "tumour-fraction", "--config", str(run / "config" / "config.yaml"), "--directory", str(run),
               "--patient", "P1", "--variants", str(tmp_path / "P1.parquet"), "-o", str(out)])
    assert rc == 0
    tf = read_tumour_fractions(out).set_index("sample_id")
    p = tf.loc["P1-P-PD"]
    z, n, k = 1.959964, 3000, 300
    c = (k / n + z * z / (2 * n)) / (1 + z * z / n)
    h = z * math.sqrt(k / n * (1 - k / n) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    assert (p["method"], p["n_variants"], p["tumour_fraction"]) == ("truncal_vaf", 3, pytest.approx(0.2))
    assert p["tf_ci_low"] == pytest.approx(2 * (c - h), rel=1e-4) and p["tf_ci_high"] == pytest.approx(2 * (c + h), rel=1e-4)
    assert tf.loc["P1-T-BL", "tumour_fraction"] == pytest.approx(0.5)
    pat = patient_from_run(load_run(run / "config" / "config.yaml", run, check_files=False), "P1", variants)
    ref = classify_tf(pat).set_index("sample_id")
    for col in ("method", "tumour_fraction", "tf_ci_low", "tf_ci_high"):
        for sid in ("P1-T-BL", "P1-P-PD"):
            assert tf.loc[sid, col] == (ref.loc[sid, col] if col == "method" else pytest.approx(ref.loc[sid, col], rel=1e-5))


@pytest.mark.parametrize("stage_call, tc, cn, alteration", [
    ("amplification", 0.2, 10.0, True),    # the copy-number stage adjusted the plasma for its TF: taken as is
    ("gain", None, None, False),           # the stage could not (TF below the floor / unknown): no re-derivation
])
def test_classification_takes_the_copy_number_stage_call_as_is(stage_call, tc, cn, alteration) -> None:
    """The classifier has no copy-number formula of its own: a plasma MET row with ratio 1.8 is an
    amplification alteration exactly when the copy-number stage called it one (before issue 18 the
    classifier re-derived CN = 2 (r - 1 + TF) / TF from the log2 ratio when the stage had no TF)."""
    from test_classify_rules import make_patient

    from unlock_atlas.classify.stage import classify

    lg = math.log2(1.8)
    row = {"patient_id": "PX", "sample_id": "P-PD", "sample_type": "plasma", "gene": "MET", "chrom": "chr7",
           "start": 116672196, "end": 116798377, "n_targets": 21, "mean_depth": 2000.0, "log2_ratio": lg,
           "log2_se": 0.03, "ci_low": lg - 0.06, "ci_high": lg + 0.06, "tumour_content": tc,
           "tumour_content_source": "tumour_fraction" if tc else "none", "copy_number": cn,
           "copy_number_ci_low": cn - 1 if cn else None, "copy_number_ci_high": cn + 1 if cn else None,
           "call": stage_call, "confidence": 0.99}
    alts = classify(make_patient("osimertinib", cn=pd.DataFrame([row]))).alterations
    met = alts[alts["alteration_id"] == "MET:amplification"] if len(alts) else alts
    assert (len(met) == 1) is alteration
    if alteration:
        assert bool(met.iloc[0]["present_progression_plasma"]) and met.iloc[0]["cn_progression_plasma"] == 10.0


def test_plasma_without_copy_number_is_left_out_of_the_baseline_evidence() -> None:
    """A baseline plasma whose copy-number row has no copy number (TF below the floor) neither supports
    nor refutes an amplification: the acquisition basis names only the samples with a copy number."""
    from test_classify_rules import make_patient

    from unlock_atlas.classify.stage import classify

    def row(sid: str, stype: str, lg: float, tc: float | None, cn: float | None, call: str) -> dict:
        return {"patient_id": "PX", "sample_id": sid, "sample_type": stype, "gene": "MET", "chrom": "chr7",
                "start": 116672196, "end": 116798377, "n_targets": 21, "mean_depth": 500.0, "log2_ratio": lg,
                "log2_se": 0.03, "ci_low": lg - 0.06, "ci_high": lg + 0.06, "tumour_content": tc,
                "tumour_content_source": ("purity" if stype == "tissue" else "tumour_fraction") if tc else "none",
                "copy_number": cn, "copy_number_ci_low": cn - 0.3 if cn is not None else None,
                "copy_number_ci_high": cn + 0.3 if cn is not None else None, "call": call, "confidence": 0.99}

    cn = pd.DataFrame([row("T-BL", "tissue", 0.0, 0.5, 2.0, "neutral"), row("P-BL", "plasma", 0.02, None, None, "neutral"),
                       row("T-PD", "tissue", math.log2(3.0), 0.5, 10.0, "amplification")])
    a = classify(make_patient("osimertinib", cn=cn)).alterations.set_index("alteration_id").loc["MET:amplification"]
    # issue 18: the baseline interval 1.7-2.3 copies cannot exclude a >= 0.5 % CCF subclone of a
    # 9-copy amplification ((2.3 - 2) / (9 - 2) ~ 4 % CCF): not acquired; it rose to clonal (enriched), so
    # the label is emerged (classify/alterations.py)
    assert a["acquisition"] == "emerged"
    assert "T-BL: 2.0 copies" in a["acquisition_basis"] and "P-BL" not in a["acquisition_basis"]
