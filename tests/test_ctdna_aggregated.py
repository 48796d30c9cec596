"""Aggregated tumour-informed ctDNA detection per sample and the tumour-informed lead time
(issue 17 items 2-3), on hand-built counts.

Truth: closed forms written here (the binomial MLE and the Clopper-Pearson interval of one
variant; the zero-count bound 1 - 0.025^(1/N)), planted counts (coverage over seeded draws), and
hand-written lead times (progression day - collection day).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from test_classify_rules import SAMPLES, _vrow, make_patient

from unlock_atlas.atlas.summary import cohort_summary
from unlock_atlas.classify import mrd
from unlock_atlas.classify.stage import classify


def test_one_variant_estimate_and_interval_are_the_binomial_ones():
    # 12 of 2,000 fragments, background 1e-9 (negligible): MLE VAF 0.006 -> TF 0.012; interval = 2 x Clopper-Pearson
    k, n = np.array([12]), np.array([2000])
    mu = np.array([1e-9])
    assert mrd.tf_mle(k, n, mu) == pytest.approx(2 * 12 / 2000, rel=1e-6)
    lo, hi = mrd.tf_interval(12, n, mu)
    assert lo == pytest.approx(2 * stats.beta.ppf(0.025, 12, 2000 - 12 + 1), rel=1e-4)
    assert hi == pytest.approx(2 * stats.beta.ppf(0.975, 13, 2000 - 12), rel=1e-4)
    # with a background of 1e-3 the MLE subtracts it: q = k/n = mu + (1 - mu) f / 2
    assert mrd.tf_mle(k, n, np.array([1e-3])) == pytest.approx(2 * (0.006 - 1e-3) / (1 - 1e-3), rel=1e-6)


def test_no_alt_fragment_gives_zero_and_the_exact_upper_bound():
    n = np.full(20, 2000)
    mu = np.full(20, 1e-9)
    res = mrd.aggregate(np.zeros(20, int), n, mu, np.full(20, 1e-4), alpha=0.01)
    assert res["ti_p_value"] == 1.0 and res["ti_detected"] is False and res["ti_tumour_fraction"] == 0.0
    assert res["ti_tf_ci_low"] == 0.0
    # P(T = 0) = (1 - f/2)^40000 = 0.025
    assert res["ti_tf_ci_high"] == pytest.approx(2 * (1 - 0.025 ** (1 / 40000)), rel=1e-4)


def test_interval_covers_a_planted_tumour_fraction():
    """20 truncal variants at 2,000 fragments, backgrounds 2-8e-5, TF 1e-3 planted (VAF 5e-4):
    the exact 95 % interval must cover the truth in >= 93 % of 300 seeded draws."""
    rng = np.random.default_rng(3)
    m, tf = 20, 1e-3
    n = np.full(m, 2000)
    mu = rng.uniform(2e-5, 8e-5, m)
    cover, memo = 0, {}
    for _ in range(300):
        t = int(rng.binomial(n, mu + (1 - mu) * tf / 2).sum())
        if t not in memo:
            memo[t] = mrd.tf_interval(t, n, mu)
        lo, hi = memo[t]
        cover += lo <= tf <= hi
    assert cover / 300 >= 0.93


def _with_background(p, mu=5e-5, rho=1e-4):
    p.variants = p.variants.assign(background_error=mu, background_rho=rho)
    return p


def test_per_sample_aggregated_detection_on_a_patient():
    """make_patient plants three truncal SNVs at TF 0.2 in plasma (100 of 1,000 fragments each)."""
    pat = _with_background(make_patient("osimertinib"))
    ti = mrd.aggregated_detection("PX", pat.samples, pat.variants, 0.01).set_index("sample_id")
    for s in ("P-BL", "P-PD"):
        r = ti.loc[s]
        assert r["ti_variant_set"] == "truncal" and r["ti_n_variants"] == 3
        assert r["ti_alt_reads"] == 300 and r["ti_depth"] == 3000 and r["ti_detected"]
        assert r["ti_background_alt"] == pytest.approx(3000 * 5e-5)
        assert r["ti_tumour_fraction"] == pytest.approx(2 * (0.1 - 5e-5) / (1 - 5e-5), rel=1e-6)
        assert r["ti_tf_ci_low"] < 0.2 < r["ti_tf_ci_high"]
    # the ctdna table carries the columns
    tf = classify(pat).ctdna.set_index("sample_id")
    assert tf.loc["P-PD", "ti_detected"] and tf.loc["P-PD", "ti_p_value"] < 1e-100


def test_without_truncal_set_the_known_variants_of_other_samples_are_pooled():
    """No tissue purity -> no truncal set: a plasma sample is tested over the variants called in the
    OTHER tumour samples (a variant called only in this sample is not in its own test)."""
    samples = [(s, t, tp, d, None, h) for s, t, tp, d, _, h in SAMPLES]
    only_here = [_vrow(s, st, "chr1", 5000, "G", "T", "X", r, d) for s, st, r, d in
                 (("T-BL", "tissue", 0, 400), ("P-BL", "plasma", 9, 1000), ("T-PD", "tissue", 0, 400),
                  ("P-PD", "plasma", 0, 1000))]
    pat = _with_background(make_patient("osimertinib", only_here, samples=samples))
    ti = mrd.aggregated_detection("PX", pat.samples, pat.variants, 0.01).set_index("sample_id")
    assert ti.loc["P-BL", "ti_variant_set"] == "known" and ti.loc["P-BL", "ti_n_variants"] == 3
    assert ti.loc["P-PD", "ti_n_variants"] == 4          # chr1:5000 was called in P-BL, another sample
    assert ti.loc["P-BL", "ti_alt_reads"] == 300


def test_tumour_informed_lead_time_beside_the_de_novo_one():
    """KRAS G12D absent from a deep baseline, 2 fragments of 1,000 on day 200 (below the de-novo
    call, tumour-informed detected), called at progression (day 300): de-novo lead time 0,
    tumour-informed lead time 300 - 200 = 100 (hand-written)."""
    import test_classify_rules as rules

    samples = SAMPLES + [("P-OT", "plasma", "on_treatment", 200, None, None)]
    rules.PLASMA_TF["P-OT"] = 0.2
    try:
        kras = [_vrow(s, st, "chr12", 25245350, "C", "T", "KRAS", r, d, hgvsp="p.Gly12Asp") for s, st, r, d in
                (("T-BL", "tissue", 0, 2000), ("P-BL", "plasma", 0, 4000), ("T-PD", "tissue", 80, 400),
                 ("P-PD", "plasma", 60, 1000))]
        kras.append({**_vrow("P-OT", "plasma", "chr12", 25245350, "C", "T", "KRAS", 2, 1000, hgvsp="p.Gly12Asp",
                             status="detected_below_threshold"),
                     "ti_status": "detected_tumour_informed", "ti_p_value": 1e-3})
        res = classify(make_patient("cetuximab", kras, samples=samples))
    finally:
        del rules.PLASMA_TF["P-OT"]
    a = res.alterations.set_index("gene").loc["KRAS"]
    assert a["first_plasma_day"] == 300 and a["first_plasma_day_tumour_informed"] == 200
    m = res.mechanisms.set_index("gene").loc["KRAS"]
    assert m["acquisition"] == "acquired"
    assert (m["lead_time_days"], m["lead_time_tumour_informed_days"]) == (0, 100)
    pats = pd.DataFrame([{"patient_id": "PX", "drug": "cetuximab", "tumour_type": "CRC", "progression_day": 300,
                          "early_trial_after": None, "resistance_type": "acquired"}])
    got = cohort_summary(pats, pd.DataFrame({"patient_id": ["PX"], "sample_type": ["tissue"]}), res.mechanisms)
    got = got[got["stratum"] == "all"].set_index("metric")
    assert tuple(got.loc["median_lead_time_days", ["value", "n"]]) == (0.0, 1)
    assert tuple(got.loc["median_lead_time_tumour_informed_days", ["value", "n"]]) == (100.0, 1)
