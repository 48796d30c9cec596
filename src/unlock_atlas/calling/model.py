"""The statistical model: background error, detection score, VAF interval, per-sample status.

Choices and their reasons (see ``docs/calling.md`` for the full argument):

* **VAF interval: Wilson score 95 %** (:func:`unlock_atlas.domain.wilson`). Clopper–Pearson is conservative
  (coverage > 95 %, often
  ~98 % at low counts), which makes intervals needlessly wide at the 1–10 alt-fragment counts
  typical of ctDNA; the Wilson interval has close-to-nominal average coverage at small p
  (Brown, Cai & DasGupta 2001, Stat Sci 16:101) and is never outside [0, 1].
* **Background error per position x allele, beta-binomial, from the panel of normals plus the
  matched normal** (:mod:`.pon`; the Shearwater idea of Gerstung et al. 2014, Nat Commun 5:3321,
  and iDES background polishing, Newman et al. 2016, Nat Biotechnol 34:547). The normals that do
  not *carry* the allele (AF < ``carrier_af`` = 2 %, the CHIP definition's VAF floor, Steensma
  et al. 2015, Blood 126:9) are the evidence, including those with a recurrent low-level
  artefact. Site mean ``mu = (K + a p_c) / (N + a)``: the alt fragments ``K`` out of ``N`` over
  those normals, shrunk toward the per-class prior ``p_c`` (12 substitution classes ref>alt, plus
  one indel/MNV class) with pseudo-count ``a = 2000`` fragments (a Beta(a p_c, a (1-p_c)) prior
  whose weight equals one typical 2,000x normal). The count in a new sample is then
  beta-binomial with that mean and intra-class correlation ``rho = 1 / (N + a + 1) + rho_site``:
  the first term is the posterior uncertainty of the site mean (predictive distribution of the
  Beta posterior), the second the sample-to-sample spread of the error rate, estimated by the
  method of moments over >= 3 normals (Kleinman 1973, Biometrics 29:205) and 0 otherwise. A
  recurrent artefact raises both ``mu`` and ``rho_site`` so that it is not significant in plasma.
  ``p_c`` is the pooled rate of non-carrier mismatches (per-position AF < 2 %) over all panel
  positions and all the patient's samples; floored at 1e-6 so that a sparsely observed class
  never makes a single read decisive.
* **Indel prior per allele = pooled indel rate x repeat multiplicity.** The indel class prior is
  the pooled rate of indel events per position and fragment. An indel error anywhere in a
  homopolymer or short tandem repeat normalises to the same left-aligned allele, so one allele in
  a tract collects the errors of all its positions: the prior is multiplied by the number of
  such positions (``genotype.repeat_multiplicity``: a 1-bp deletion in GGGG gets 4x). Without
  it a 1-bp deletion in a 4-base homopolymer was called at 3 fragments of 1,954 in variant-free
  art_illumina plasma (benchmarks/calling/false_positives.py). Linear in the tract length is
  what a per-base error process gives (art; Illumina slippage rises faster in long tracts, which
  the normal's per-position counts then carry); GATK's DRAGstr model likewise sets indel priors
  by repeat period and length.
* **Detection score** ``DS = -10 log10 P(X >= alt | X ~ BetaBinomial(depth, mu, rho))``
  (phred-scaled; Binomial(depth, e) for candidate discovery against the class prior).
* **Status thresholds.** ``not_covered``: depth < 20 fragments (a 5 % VAF variant would have an
  expected single fragment). ``called`` de novo: DS >= 65 and alt >= 3, i.e. p <= 3.2e-7 =
  1 / (3 alleles x 1 Mb): at most ~1 false positive per Mb per sample if the background is
  right. ``called`` for a variant already called de novo in another sample of the same patient
  (longitudinal genotyping, one test per known variant per sample): DS >= 20 (p <= 0.01) and
  alt >= 2. ``detected_below_threshold``: alt >= 1 and DS >= 13 (p <= 0.05) but not called.
  ``not_detected``: otherwise.
* **Tumour-informed test** (:func:`ti_status`): a variant already called somatic (PASS) in one
  of the patient's tumour samples is tested in every tumour sample with the same beta-binomial
  background: ``ti_p = P(X >= alt)`` (= 10^(-DS/10)); ``detected_tumour_informed`` when
  ``ti_p <= ti_alpha`` (0.01, the same level as the longitudinal known-variant call, DS 20) with
  >= 1 alt fragment - one pre-specified test per known variant and sample, not a search, so no
  genome-wide correction and no fragment floor beyond what alpha implies. The aggregated
  per-sample test over the patient's truncal variants is :func:`betabinom_sum_sf` (docs/calling.md §3b).
* **Candidate discovery** (per sample, lenient): alt >= 2 fragments and DS >= 30 (p <= 1e-3)
  against the class prior (not yet the site background). At 2,000x a 0.2 % VAF variant has ~4 alt fragments;
  with the prior of ~1e-4 measured at Q20 fragment level, P(X >= 4) ~ 6e-5 (DS ~ 42).

Every threshold is a field of :class:`CallingParams`, set from the run config's ``calling:``
section (workflow/schemas/config.schema.yaml gives the same defaults and their meaning).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

import numpy as np
from scipy import special, stats

MIN_DEPTH = 20
CALL_DS = 65.0
KNOWN_CALL_DS = 20.0
DETECT_DS = 13.0
CANDIDATE_DS = 30.0
MIN_ALT_CALL = 3
MIN_ALT_KNOWN = 2
MIN_ALT_CANDIDATE = 2
PRIOR_WEIGHT = 2000.0
PRIOR_FLOOR = 1e-6
CARRIER_AF = 0.02
TI_ALPHA = 0.01


@dataclass(frozen=True)
class CallingParams:
    """Every calling threshold in one place (module and ``filters`` docstrings give the reasons).

    Defaults equal the module constants; the run config's ``calling:`` section overrides them.
    """

    min_depth: int = MIN_DEPTH
    call_ds: float = CALL_DS
    known_call_ds: float = KNOWN_CALL_DS
    detect_ds: float = DETECT_DS
    candidate_ds: float = CANDIDATE_DS
    min_alt_call: int = MIN_ALT_CALL
    min_alt_known: int = MIN_ALT_KNOWN
    min_alt_candidate: int = MIN_ALT_CANDIDATE
    prior_weight: float = PRIOR_WEIGHT
    prior_floor: float = PRIOR_FLOOR
    carrier_af: float = CARRIER_AF
    pon_hit_alt: int = 2
    pon_hit_af: float = 0.005
    pon_min_hits: int = 2
    artefact_min_alt: int = 5
    strand_bias_p: float = 1e-4
    strand_bias_fraction: float = 0.9
    read_position_min: float = 8.0
    low_mapq_fraction: float = 0.3
    slippage_min_length: int = 8
    slippage_rate: float = 0.1
    germline_af: float = 0.3
    germline_ambiguous_af: float = 0.2
    low_depth_all: int = 50
    normal_min_depth: int = 20
    ch_power: float = 0.95
    ti_alpha: float = TI_ALPHA

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any] | None) -> CallingParams:
        """Parameters from a ``calling:`` config mapping; unknown keys are an error (KeyError)."""
        values = dict(values or {})
        known = {f.name: f.type for f in fields(cls)}
        unknown = sorted(set(values) - set(known))
        if unknown:
            raise KeyError(f"unknown calling parameter(s): {', '.join(unknown)}; known: {', '.join(sorted(known))}")
        return cls(**values)


DEFAULT = CallingParams()


def detection_score(alt: np.ndarray | int, depth: np.ndarray | int, err: np.ndarray | float) -> np.ndarray:
    """Phred-scaled P(X >= alt) for X ~ Binomial(depth, err); 0 when alt == 0; capped at 999."""
    k = np.asarray(alt, dtype=float)
    n = np.asarray(depth, dtype=float)
    e = np.clip(np.asarray(err, dtype=float), 1e-12, 1 - 1e-12)
    logp = stats.binom.logsf(k - 1, n, e)
    ds = -10 * logp / np.log(10)
    return np.where(k > 0, np.clip(ds, 0, 999), 0.0)


def betabinom_logsf(k: int, n: int, mu: float, rho: float) -> float:
    """Natural log of P(X >= k) for X ~ BetaBinomial(n, mu, rho) (mean ``n mu``, intra-class
    correlation ``rho``: alpha = mu (1/rho - 1), beta = (1 - mu) (1/rho - 1)).

    Summed in log space from ``k`` upward (the tail, not ``1 - cdf``, so that p-values down to
    1e-300 keep their precision), in blocks until the terms are 1e-16 of the sum. ``rho <= 1e-8``
    is the binomial.
    """
    k, n = int(k), int(n)
    if k <= 0:
        return 0.0
    if k > n:
        return -np.inf
    mu = float(np.clip(mu, 1e-12, 1 - 1e-12))
    if rho <= 1e-8:  # below this betaln loses digits; the binomial is then exact to < 1e-4 relative
        return float(stats.binom.logsf(k - 1, n, mu))
    s = 1.0 / rho - 1.0
    a, b = mu * s, (1 - mu) * s
    const = special.gammaln(n + 1) - special.betaln(a, b)
    total = -np.inf
    lo = k
    block = 256
    while lo <= n:
        j = np.arange(lo, min(n, lo + block - 1) + 1, dtype=float)
        lp = const - special.gammaln(j + 1) - special.gammaln(n - j + 1) + special.betaln(j + a, n - j + b)
        top = lp.max()
        total = np.logaddexp(total, top + np.log(np.exp(lp - top).sum()))
        if lp[-1] < total - 37:  # remaining terms decrease and are < 1e-16 of the sum
            break
        lo += block
        block *= 2
    return float(min(total, 0.0))


def detection_score_bb(alt: int, depth: int, mu: float, rho: float) -> float:
    """Phred-scaled P(X >= alt) for X ~ BetaBinomial(depth, mu, rho); 0 when alt == 0; capped at 999."""
    if alt <= 0 or depth <= 0:
        return 0.0
    ds = -10 * betabinom_logsf(alt, depth, mu, rho) / np.log(10)
    return float(np.clip(ds, 0, 999))


def betabinom_sum_sf(t: int, n: np.ndarray, mu: np.ndarray, rho: np.ndarray) -> float:
    """P(X_1 + ... + X_m >= t) for independent X_i ~ BetaBinomial(n_i, mu_i, rho_i), exactly.

    The aggregated tumour-informed statistic (docs/calling.md §3b): the pooled alt count of a
    patient's known variants in one sample against the sum of their site backgrounds. Each pmf is
    truncated at the largest count needed and the pmfs are convolved. ``1 - P(T <= t - 1)`` is
    used while it is above 1e-9; below, the tail is summed directly over ``t..M`` with ``M``
    doubled until the last term is < 1e-16 of the sum, so small p-values keep their precision
    (a tail below ~1e-300 underflows to 0).
    """
    t = int(t)
    n = np.asarray(n, dtype=int)
    mu = np.clip(np.asarray(mu, dtype=float), 1e-12, 1 - 1e-12)
    rho = np.asarray(rho, dtype=float)
    if t <= 0:
        return 1.0
    if t > int(n.sum()):
        return 0.0
    p = 1.0 - float(_sum_pmf(n, mu, rho, t - 1).sum())
    if p > 1e-9:
        return min(max(p, 0.0), 1.0)
    top = min(int(n.sum()), 2 * t + 50)
    while True:
        pmf = _sum_pmf(n, mu, rho, top)
        tail = float(pmf[t:].sum())
        if top >= n.sum() or tail == 0.0 or pmf[-1] < 1e-16 * tail:
            return tail
        top = min(int(n.sum()), 2 * top)


def _site_pmf(n: int, mu: float, rho: float, upto: int) -> np.ndarray:
    k = np.arange(min(n, upto) + 1)
    if rho <= 1e-8:
        return stats.binom.pmf(k, n, mu)
    s = 1.0 / rho - 1.0
    return stats.betabinom.pmf(k, n, mu * s, (1 - mu) * s)


def _sum_pmf(n: np.ndarray, mu: np.ndarray, rho: np.ndarray, upto: int) -> np.ndarray:
    """pmf of the sum of independent beta-binomials on 0..upto (exact there: each term is <= the sum)."""
    acc = np.ones(1)
    for ni, mi, ri in zip(n, mu, rho):
        acc = np.convolve(acc, _site_pmf(int(ni), float(mi), float(ri), upto))[: upto + 1]
    return np.pad(acc, (0, upto + 1 - len(acc)))


def moment_rho(k: np.ndarray, n: np.ndarray) -> float:
    """Method-of-moments intra-class correlation of per-sample counts ``k`` of ``n`` (Kleinman 1973).

    ``E[sum n_i (p_i - p)^2] = p (1 - p) [(S - 1) + rho (N - sum n_i^2 / N - (S - 1))]``, solved
    for rho with the pooled ``p = K / N``; 0 with fewer than 3 samples or no alt fragment; clipped
    to [0, 0.5].
    """
    k = np.asarray(k, float)
    n = np.asarray(n, float)
    return rho_from_sums(len(n), float(n.sum()), float((n * n).sum()), float(k.sum()),
                         float((k * k / np.where(n > 0, n, 1)).sum()))


def rho_from_sums(s: int, n: float, n2: float, k: float, k2n: float) -> float:
    """:func:`moment_rho` from sufficient statistics: samples S, sum n, sum n^2, sum k, sum k^2/n."""
    if s < 3 or k <= 0 or n <= 0:
        return 0.0
    p = k / n
    if p >= 1:
        return 0.0
    sw = k2n - k * k / n
    den = n - n2 / n - (s - 1)
    if den <= 0:
        return 0.0
    rho = (sw / (p * (1 - p)) - (s - 1)) / den
    return float(np.clip(rho, 0.0, 0.5))


@dataclass(frozen=True)
class Background:
    """Per-site background of one allele: beta-binomial mean ``mu`` and intra-class correlation ``rho``."""

    mu: float
    rho: float
    normals: int  # normals whose counts informed the site (0 = class prior only)
    alt: int  # their alt fragments
    depth: int  # their fragments


def site_background(k: float, n: float, prior: float, params: CallingParams = DEFAULT, *, samples: int = 1,
                    n2: float | None = None, k2n: float | None = None, weight: float | None = None,
                    cv2: float = 0.0) -> Background:
    """Beta-binomial background of one allele at one site from the non-carrier normals' sums
    (module docstring): ``k`` alt of ``n`` fragments over ``samples`` normals, with ``n2`` = sum
    of squared depths and ``k2n`` = sum of k^2/n for the spread across normals.

    ``weight`` (default ``params.prior_weight``) is the class prior's Beta weight and ``cv2`` the
    squared coefficient of variation of a site's rate between samples, both estimated from a
    panel of normals when there is one (:func:`class_model`); the sample-to-sample term of
    ``rho`` is then the larger of the site's own moment estimate and ``cv2 * mu / (1 - mu)``.
    """
    prior = max(prior, params.prior_floor)
    a = params.prior_weight if weight is None else weight
    mu = (k + a * prior) / (n + a)
    rho_site = rho_from_sums(samples, n, n2 if n2 is not None else n * n, k, k2n if k2n is not None else 0.0)
    rho_site = max(rho_site, cv2 * mu / (1 - mu))
    rho = min(1.0 / (n + a + 1.0) + rho_site, 0.5)
    return Background(float(mu), float(rho), int(samples), int(k), int(n))


def class_model(p_hat: np.ndarray, n: np.ndarray, s: np.ndarray, n2: np.ndarray, k2n: np.ndarray,
                floor: float = PRIOR_FLOOR) -> dict[str, float]:
    """Empirical-Bayes class prior from a panel of normals' sites of one substitution class.

    ``p_hat = K / N`` per site over the non-carrier normals (``n`` = N, ``s`` normals, ``n2`` =
    sum n^2, ``k2n`` = sum k^2/n). Method of moments over sites (Robbins-style empirical Bayes;
    the beta-binomial moments of Kleinman 1973):

    * ``mu`` = mean site rate; between-site variance ``V = var(p_hat) - mean(p_hat (1 - p_hat) / N)``
      (the binomial part removed); Beta prior weight ``a = mu (1 - mu) / V - 1`` - how many
      fragments of a site's own evidence weigh as much as the class (a few-fold heterogeneity of
      site rates gives ``a mu`` ~ 1, i.e. a weight of ~1 / mu fragments, far above a fixed 2,000).
    * ``cv2``: squared coefficient of variation of a site's rate between samples, from the
      pooled within-site spread ``sum Sw - sum p (1 - p)(S - 1)`` over
      ``sum p^2 (N - sum n^2 / N - (S - 1))``, with ``p^2`` corrected by ``p / N``.

    Returns ``{"mu", "a", "cv2", "sites"}``; ``a`` is ``inf``-free (capped at 1e9) and at least 1.
    """
    ok = (s >= 3) & (n > 0)
    p_hat, n, s, n2, k2n = p_hat[ok], n[ok], s[ok], n2[ok], k2n[ok]
    if len(p_hat) < 100:
        return {"mu": float("nan"), "a": float("nan"), "cv2": 0.0, "sites": int(len(p_hat))}
    mu = max(float(p_hat.mean()), floor)
    v = float(p_hat.var() - np.mean(p_hat * (1 - p_hat) / n))
    a = float(np.clip(mu * (1 - mu) / v - 1, 1.0, 1e9)) if v > 0 else 1e9
    k = p_hat * n
    sw = k2n - k * k / n
    num = float(np.sum(sw - p_hat * (1 - p_hat) * (s - 1)))
    theta2 = np.maximum(p_hat * p_hat - p_hat / n, 0.0)
    den = float(np.sum(theta2 * (n - n2 / n - (s - 1))))
    cv2 = float(np.clip(num / den, 0.0, 10.0)) if den > 0 else 0.0
    return {"mu": mu, "a": a, "cv2": cv2, "sites": int(len(p_hat))}


def ti_status(alt: int, depth: int, p_value: float, params: CallingParams = DEFAULT) -> str:
    """Tumour-informed status of a known variant in one sample (module docstring):
    ``not_covered`` (depth < min_depth), ``detected_tumour_informed`` (>= 1 alt fragment and
    ``p_value <= ti_alpha``), else ``not_detected``."""
    if depth < params.min_depth:
        return "not_covered"
    if alt >= 1 and p_value <= params.ti_alpha:
        return "detected_tumour_informed"
    return "not_detected"


def status(alt: int, depth: int, ds: float, known: bool, params: CallingParams = DEFAULT) -> str:
    """Per-sample status (module docstring)."""
    if depth < params.min_depth:
        return "not_covered"
    if known and ds >= params.known_call_ds and alt >= params.min_alt_known:
        return "called"
    if ds >= params.call_ds and alt >= params.min_alt_call:
        return "called"
    if alt >= 1 and ds >= params.detect_ds:
        return "detected_below_threshold"
    return "not_detected"
