"""Per-sample aggregated tumour-informed ctDNA detection (the ``ti_*`` columns of the ``ctdna`` table).

A tumour-informed minimal-residual-disease test asks, for one sample, whether the patient's own
somatic variants carry more alt fragments than their backgrounds explain - pooled over many
variants, so that a tumour fraction far below any single variant's detection limit is seen
(CAPP-Seq / iDES, Newman et al. 2014 Nat Med 20:548 and 2016 Nat Biotechnol 34:547; INVAR, Wan et al.
2020 Sci Transl Med 12:eaaz8084). docs/calling.md §3b gives the argument; in short:

* **Variant set.** The patient's truncal heterozygous somatic variants
  (:func:`unlock_atlas.ctdna_fraction.truncal_variants`: somatic, FILTER PASS - clonal
  haematopoiesis, germline and artefacts excluded - called in every tissue sample with purity, at
  a multiplicity-adjusted fraction consistent with clonal heterozygous), the same set that defines
  the tumour fraction; without one (no tissue with purity), every KNOWN variant (somatic PASS,
  called in a tumour sample) called in a tumour sample OTHER than the tested one, so that no
  variant is in the set because of the very counts being tested (leave-one-out).
* **Statistic: the pooled alt count** ``T = sum_i k_i``, exact p-value ``P(T >= t)`` under the sum
  of the variants' own beta-binomial site backgrounds (calling's error model, stored per row as
  ``background_error`` / ``background_rho``; :func:`unlock_atlas.calling.model.betabinom_sum_sf`).
  The pooled count is the statistic the tumour fraction already uses (2 x pooled VAF), needs no
  control samples to calibrate (INVAR's likelihood ratio is thresholded against control plasma;
  the atlas has none per patient) and is exact at the 0-10 fragments of low tumour fractions,
  where asymptotic likelihood-ratio tests are not. Detected when ``p <= calling.ti_alpha``.
* **Tumour fraction with interval**, background-corrected: alt fragments of variant i are
  Binomial(n_i, q_i), ``q_i = mu_i + (1 - mu_i) f / 2`` (a clonal heterozygous variant at tumour
  fraction f, plus errors on the other molecules). Point estimate = maximum likelihood (0 when
  the counts do not exceed the background); 95 % interval by pivoting the exact distribution of
  the pooled count (as :mod:`.acquisition` does for the baseline bound; Casella & Berger 2002
  §9.2.3): ``P_f(T >= t) = 0.025`` and ``P_f(T <= t) = 0.025``. The interval uses the binomial
  (no background overdispersion): at the rho ~ 1e-4 of the panel's sites this changes the bounds by
  far less than their width.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.optimize import brentq

from ..calling.model import betabinom_sum_sf
from ..ctdna_fraction import truncal_variants, tumour_samples
from ..domain import allele_id, is_somatic
from .acquisition import sum_binomial_cdf

#: ctdna columns this module fills.
TI_COLUMNS = ["ti_variant_set", "ti_n_variants", "ti_alt_reads", "ti_depth", "ti_background_alt", "ti_p_value",
              "ti_detected", "ti_tumour_fraction", "ti_tf_ci_low", "ti_tf_ci_high"]
#: two-sided 95 % interval: each tail
TAIL = 0.025


def _q(f: float, mu: np.ndarray) -> np.ndarray:
    return mu + (1.0 - mu) * f / 2.0


def tf_mle(k: np.ndarray, n: np.ndarray, mu: np.ndarray) -> float:
    """Maximum-likelihood tumour fraction of counts ``k`` of ``n`` over variants with background ``mu``."""
    def score(f: float) -> float:
        q = _q(f, mu)
        return float(np.sum((k / q - (n - k) / (1.0 - q)) * (1.0 - mu)))

    if score(0.0) <= 0:
        return 0.0
    hi = 2.0 * (1.0 - 1e-9)
    if score(hi) >= 0:
        return 1.0
    return min(1.0, float(brentq(score, 0.0, hi, xtol=1e-12, rtol=1e-10)))


def tf_interval(t: int, n: np.ndarray, mu: np.ndarray) -> tuple[float, float]:
    """Exact 95 % interval of the tumour fraction from the pooled count ``t`` (module docstring), in [0, 1]."""
    def upper_tail(f: float) -> float:   # P_f(T >= t)
        return 1.0 - sum_binomial_cdf(t - 1, n, _q(f, mu)) if t > 0 else 1.0

    def lower_tail(f: float) -> float:   # P_f(T <= t)
        return sum_binomial_cdf(t, n, _q(f, mu))

    lo = 0.0 if upper_tail(0.0) >= TAIL else float(brentq(lambda f: upper_tail(f) - TAIL, 0.0, 1.0, xtol=1e-10))
    hi = 1.0 if lower_tail(1.0) > TAIL else float(brentq(lambda f: lower_tail(f) - TAIL, 0.0, 1.0, xtol=1e-10))
    return lo, hi


def aggregate(k: np.ndarray, n: np.ndarray, mu: np.ndarray, rho: np.ndarray, alpha: float) -> dict:
    """The aggregated test and estimate over one sample's variant rows (module docstring)."""
    k, n = np.asarray(k, int), np.asarray(n, int)
    mu, rho = np.asarray(mu, float), np.asarray(rho, float)
    t = int(k.sum())
    p = betabinom_sum_sf(t, n, mu, rho)
    lo, hi = tf_interval(t, n, mu)
    return {"ti_n_variants": len(k), "ti_alt_reads": t, "ti_depth": int(n.sum()),
            "ti_background_alt": float(np.sum(n * mu)), "ti_p_value": p, "ti_detected": bool(p <= alpha),
            "ti_tumour_fraction": tf_mle(k, n, mu), "ti_tf_ci_low": lo, "ti_tf_ci_high": hi}


def aggregated_detection(patient_id: str, samples: pd.DataFrame, variants: pd.DataFrame, alpha: float) -> pd.DataFrame:
    """One row per tumour sample (``sample_id`` + :data:`TI_COLUMNS`) of a patient.

    ``variants`` is the patient's variants part (needs ``background_error`` / ``background_rho``;
    a part without them gives null columns). Samples with no evaluable variant get nulls.
    """
    rows = []
    ok = {"background_error", "background_rho"} <= set(variants.columns)
    v = variants[is_somatic(variants)].assign(key=lambda d: allele_id(d)) if ok and len(variants) else None
    truncal = set(truncal_variants(samples, variants)) if v is not None else set()
    tumour = tumour_samples(samples)
    tumour_ids = set(tumour["sample_id"])
    for s in tumour.itertuples():
        row = {"sample_id": s.sample_id, **{c: None for c in TI_COLUMNS}}
        if v is not None:
            if truncal:
                keys, kind = truncal, "truncal"
            else:
                called = v[(v["status"] == "called") & v["sample_id"].isin(tumour_ids - {s.sample_id})]
                keys, kind = set(called["key"]), "known"
            mine = v[(v["sample_id"] == s.sample_id) & v["key"].isin(keys) & (v["depth"] > 0)
                     & v["background_error"].notna() & v["background_rho"].notna()]
            if len(mine):
                row.update(ti_variant_set=kind, **aggregate(mine["alt_reads"].to_numpy(), mine["depth"].to_numpy(),
                                                            mine["background_error"].to_numpy(),
                                                            mine["background_rho"].to_numpy(), alpha))
        rows.append(row)
    return pd.DataFrame(rows, columns=["sample_id"] + TI_COLUMNS)
