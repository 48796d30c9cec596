"""Tumour-informed detection (issue 17 item 2): the per-variant test of a known variant in every
tumour sample, and the exact tail of a sum of beta-binomials behind the per-sample aggregated test.

Truth: closed forms computed independently here (the joint pmf enumerated with scipy's
beta-binomial; a sum of binomials with one rate is one binomial), or planted counts.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from scipy import stats
from test_calling_background import key_at, make_counts, other_base

from unlock_atlas.calling import model
from unlock_atlas.calling.caller import genotype_patient, variants_table


def _brute_sf(t: int, n, mu, rho) -> float:
    pmfs = []
    for ni, mi, ri in zip(n, mu, rho):
        s = 1 / ri - 1
        pmfs.append(stats.betabinom.pmf(np.arange(ni + 1), ni, mi * s, (1 - mi) * s))
    tot = 0.0
    for ks in itertools.product(*[range(ni + 1) for ni in n]):
        if sum(ks) >= t:
            tot += float(np.prod([p[k] for p, k in zip(pmfs, ks)]))
    return tot


@pytest.mark.parametrize("t", [1, 2, 4, 7, 12])
def test_sum_of_beta_binomials_tail_equals_the_enumerated_joint_pmf(t):
    n, mu, rho = [6, 9, 5], [0.05, 0.1, 0.02], [0.2, 0.01, 0.3]
    assert model.betabinom_sum_sf(t, np.array(n), np.array(mu), np.array(rho)) == pytest.approx(
        _brute_sf(t, n, mu, rho), rel=1e-9, abs=1e-15)


def test_sum_tail_keeps_precision_far_in_the_tail():
    # two sites at one rate without overdispersion: the sum is Binomial(3000, 1e-4); 15 of 3,000 ~ 8e-21
    p = model.betabinom_sum_sf(15, np.array([1000, 2000]), np.array([1e-4, 1e-4]), np.array([0.0, 0.0]))
    assert p == pytest.approx(stats.binom.sf(14, 3000, 1e-4), rel=1e-6)
    assert 1e-22 < p < 1e-18   # far below where 1 - cdf would have lost every digit
    # one site: the single-site tail of the caller
    one = model.betabinom_sum_sf(9, np.array([2000]), np.array([2e-4]), np.array([1e-3]))
    assert one == pytest.approx(np.exp(model.betabinom_logsf(9, 2000, 2e-4, 1e-3)), rel=1e-6)
    assert model.betabinom_sum_sf(0, np.array([10]), np.array([0.1]), np.array([0.01])) == 1.0


def test_aggregated_test_is_calibrated_under_the_null():
    """20 sites at 2,000 fragments, background 5e-5 with overdispersion: counts drawn from the
    background only; the share of p <= alpha must not exceed alpha (binomial 99 % margin)."""
    rng = np.random.default_rng(17)
    m, trials = 20, 4000
    n = np.full(m, 2000)
    mu = rng.uniform(2e-5, 8e-5, m)
    rho = np.full(m, 2e-4)
    s = 1 / rho - 1
    rates = rng.beta(mu * s, (1 - mu) * s, size=(trials, m))
    t = rng.binomial(n, rates).sum(axis=1)
    cache = {int(x): model.betabinom_sum_sf(int(x), n, mu, rho) for x in np.unique(t)}
    p = np.array([cache[int(x)] for x in t])
    for alpha in (0.05, 0.01):
        rate = float((p <= alpha).mean())
        assert rate <= alpha + 2.6 * np.sqrt(alpha * (1 - alpha) / trials), (alpha, rate)
        # and it is not vacuous: the attained level (largest p <= alpha) is reached as often as it should be
        attained = max(v for v in cache.values() if v <= alpha)
        assert rate == pytest.approx(attained, abs=3 * np.sqrt(attained / trials) + 1e-3)


def test_ti_status_rules():
    assert model.ti_status(1, 2000, 0.004) == "detected_tumour_informed"
    assert model.ti_status(1, 2000, 0.02) == "not_detected"
    assert model.ti_status(0, 2000, 1.0) == "not_detected"
    assert model.ti_status(3, 10, 1e-9) == "not_covered"
    loose = model.CallingParams.from_mapping({"ti_alpha": 0.05})
    assert model.ti_status(1, 2000, 0.02, loose) == "detected_tumour_informed"


def test_known_somatic_variant_is_tested_in_every_tumour_sample():
    """A variant planted at 20 % in tissue (called de novo) and at 0.25 % in two plasma samples:
    5 expected fragments of 2,000 against a 1e-4 error rate. The tumour-informed p-value is the
    beta-binomial tail of the site background; the plasma sample without the variant is tested
    too; the normal is not tested."""
    rng = np.random.default_rng(5)
    i = 150
    b = other_base(i)
    counts = {"N": make_counts("N", 1500, rng),
              "T": make_counts("T", 400, rng, alts={i: (b, 0.2)}),
              "P1": make_counts("P1", 2000, rng, alts={i: (b, 0.0025)}),
              "P0": make_counts("P0", 2000, rng)}
    types = {"N": "normal", "T": "tissue", "P1": "plasma", "P0": "plasma"}
    calls = genotype_patient(counts, "N", types)
    v = variants_table(calls, "X", types)
    row = v[(v["pos"] == key_at(i, b)[1]) & (v["alt"] == b)].set_index("sample_id")
    assert row.loc["T", "status"] == "called" and row.loc["T", "origin"] == "somatic"
    assert row.loc["T", "ti_status"] == "detected_tumour_informed"
    assert row["ti_status"].isna()["N"] and row["ti_p_value"].isna()["N"]
    for s in ("P1", "P0"):
        k, n = int(row.loc[s, "alt_reads"]), int(row.loc[s, "depth"])
        mu, rho = row.loc[s, "background_error"], row.loc[s, "background_rho"]
        s_ = 1 / rho - 1
        expected = stats.betabinom.sf(k - 1, n, mu * s_, (1 - mu) * s_) if k else 1.0
        assert row.loc[s, "ti_p_value"] == pytest.approx(expected, rel=1e-6)
        assert row.loc[s, "ti_status"] == ("detected_tumour_informed" if expected <= 0.01 else "not_detected")
    assert row.loc["P1", "alt_reads"] >= 2 and row.loc["P1", "ti_status"] == "detected_tumour_informed"


def test_unknown_or_non_somatic_variants_are_not_tested():
    """A variant seen only as 3 fragments in one plasma (not called anywhere) and a germline
    variant: no tumour-informed test (known = somatic PASS and called in a tumour sample)."""
    rng = np.random.default_rng(8)
    i, j = 120, 260
    bi, bj = other_base(i), other_base(j)
    counts = {"N": make_counts("N", 800, rng, alts={j: (bj, 0.5)}),
              "T": make_counts("T", 400, rng, alts={j: (bj, 0.5)}),
              "P": make_counts("P", 2000, rng, alts={i: (bi, 0.0015), j: (bj, 0.5)})}
    types = {"N": "normal", "T": "tissue", "P": "plasma"}
    v = variants_table(genotype_patient(counts, "N", types), "X", types)
    germ = v[v["pos"] == key_at(j, bj)[1]]
    assert set(germ["origin"]) == {"germline"} and germ["ti_status"].isna().all()
    low = v[v["pos"] == key_at(i, bi)[1]]
    if len(low):  # a candidate only if >= 2 fragments were drawn
        assert not (low["status"] == "called").any() and low["ti_p_value"].isna().all()
