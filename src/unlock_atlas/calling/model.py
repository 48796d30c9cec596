"""The statistical model: background error, detection score, VAF interval, per-sample status.

Choices and their reasons (see ``docs/calling.md`` for the full argument):

* **VAF interval: Wilson score 95 %.** Clopper–Pearson is conservative (coverage > 95 %, often
  ~98 % at low counts), which makes intervals needlessly wide at the 1–10 alt-fragment counts
  typical of ctDNA; the Wilson interval has close-to-nominal average coverage at small p
  (Brown, Cai & DasGupta 2001, Stat Sci 16:101) and is never outside [0, 1].
* **Background error per position and substitution.** ``e = (k_N + a * p_c) / (n_N + a)``:
  the matched normal's (plus any panel-of-normals') alt fragments ``k_N`` out of ``n_N`` at this
  position, shrunk toward the per-class prior ``p_c`` (12 substitution classes ref>alt, plus one
  indel/MNV class) with pseudo-count ``a = 2000`` fragments — a Beta(a·p_c, a·(1-p_c)) prior
  whose weight equals one typical 2,000× normal, so a site-specific error rate needs about one
  normal's worth of evidence to move the estimate halfway. When the normal *carries* the allele
  (AF >= 2 % or its own DS >= 60) its evidence is not background and only the prior is used
  (such sites become germline/CH by the origin rule anyway). ``p_c`` is the pooled rate of
  non-carrier mismatches (per-position AF < 2 %) over all panel positions and all the patient's
  samples; floored at 1e-6 so that a sparsely observed class never makes a single read decisive.
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
* **Detection score** ``DS = -10 log10 P(X >= alt | X ~ Binomial(depth, e))`` (phred-scaled).
* **Status thresholds.** ``not_covered``: depth < 20 fragments (a 5 % VAF variant would have an
  expected single fragment). ``called`` de novo: DS >= 65 and alt >= 3, i.e. p <= 3.2e-7 =
  1 / (3 alleles x 1 Mb): at most ~1 false positive per Mb per sample if the background is
  right. ``called`` for a variant already called de novo in another sample of the same patient
  (longitudinal genotyping, one test per known variant per sample): DS >= 20 (p <= 0.01) and
  alt >= 2. ``detected_below_threshold``: alt >= 1 and DS >= 13 (p <= 0.05) but not called.
  ``not_detected``: otherwise.
* **Candidate discovery** (per sample, lenient): alt >= 2 fragments and DS >= 30 (p <= 1e-3)
  against the class prior (not yet the site background). At 2,000x a 0.2 % VAF variant has ~4 alt fragments;
  with the prior of ~1e-4 measured at Q20 fragment level, P(X >= 4) ~ 6e-5 (DS ~ 42).
"""

from __future__ import annotations

import numpy as np
from scipy import stats

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
Z95 = 1.959963984540054


def wilson(alt: np.ndarray | int, depth: np.ndarray | int, z: float = Z95) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval of ``alt / depth``; (nan, nan) where depth == 0."""
    k = np.asarray(alt, dtype=float)
    n = np.asarray(depth, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = k / n
        den = 1 + z * z / n
        centre = (p + z * z / (2 * n)) / den
        half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / den
        # at k = 0 / k = n the Wilson bound is exactly 0 / 1; set it so rounding cannot exclude it
        lo = np.where(n > 0, np.where(k <= 0, 0.0, np.clip(centre - half, 0, 1)), np.nan)
        hi = np.where(n > 0, np.where(k >= n, 1.0, np.clip(centre + half, 0, 1)), np.nan)
    return lo, hi


def detection_score(alt: np.ndarray | int, depth: np.ndarray | int, err: np.ndarray | float) -> np.ndarray:
    """Phred-scaled P(X >= alt) for X ~ Binomial(depth, err); 0 when alt == 0; capped at 999."""
    k = np.asarray(alt, dtype=float)
    n = np.asarray(depth, dtype=float)
    e = np.clip(np.asarray(err, dtype=float), 1e-12, 1 - 1e-12)
    logp = stats.binom.logsf(k - 1, n, e)
    ds = -10 * logp / np.log(10)
    return np.where(k > 0, np.clip(ds, 0, 999), 0.0)


def site_background(k_normal: int, n_normal: int, prior: float) -> float:
    """Shrunken per-position background error (module docstring)."""
    prior = max(prior, PRIOR_FLOOR)
    if n_normal > 0 and (k_normal / n_normal >= CARRIER_AF or detection_score(k_normal, n_normal, prior) >= CALL_DS - 5):
        return prior
    return (k_normal + PRIOR_WEIGHT * prior) / (n_normal + PRIOR_WEIGHT)


def status(alt: int, depth: int, ds: float, known: bool) -> str:
    """Per-sample status (module docstring)."""
    if depth < MIN_DEPTH:
        return "not_covered"
    if known and ds >= KNOWN_CALL_DS and alt >= MIN_ALT_KNOWN:
        return "called"
    if ds >= CALL_DS and alt >= MIN_ALT_CALL:
        return "called"
    if alt >= 1 and ds >= DETECT_DS:
        return "detected_below_threshold"
    return "not_detected"
