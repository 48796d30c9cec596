"""Gene-level log2 ratio, tumour copy number, call and confidence from per-target log2 ratios.

Model (every statistical choice with its reason):

* **Target weights.** The variance of a target's log2 ratio is the reference spread² (noise left
  between normals after correction) plus the Poisson sampling variance of its fragment count,
  ``(1/ln 2)² / fragments`` (delta method for log2 of a count). Weight = 1 / variance.
* **Gene log2** = weighted median of its usable targets (robust to one badly captured exon, as
  CNVkit's gene-level ``genemetrics`` uses a weighted median/mean of bins).
* **Standard error** = the larger of the model s.e. ``1.2533 / sqrt(sum w)`` (1.2533 = sqrt(pi/2),
  the efficiency loss of a median vs a mean under normal noise) and the empirical weighted s.e. of
  the targets around the gene value (which catches over-dispersion the model misses), combined
  in quadrature with the gene's systematic between-sample noise measured on the normals
  (:func:`.normalise.gene_noise`: biases shared by all targets of a gene do not average out over
  its targets — without this term a 0.1 log2 bias of a 20-target gene at 1 % tumour fraction
  would be called an amplification). The reported ``ci_low``/``ci_high`` are the normal 95 % interval (± 1.96 s.e.).
* **Copy number** (:func:`copy_number_from_ratio`, the project's ONE ratio -> copy-number
  formula). The observed copy ratio ``r = 2**log2`` of a sample of tumour content ``tc``
  (tissue purity, or plasma tumour fraction) with tumour copy number ``CN`` in a background of
  ploidy ``P`` (2: diploid normal cells, and the panel of normals is diploid) is
  ``r = (tc * CN + (1 - tc) * P) / P``, so ``CN = P * (r - 1 + tc) / tc = P + P (r - 1) / tc``
  (floored at 0) — CNVkit's ``call --purity`` rescaling, ``n = (r_ref * 2^v - x * (1 - p)) / p``
  with reference and expected copies ``r_ref = x = P`` (cnvlib/call.py ``_log2_ratio_to_absolute``;
  Talevich et al., PLoS Comput Biol 2016;12:e1004873). A white-cell normal is all non-tumour
  DNA: its copy number is the germline ``2 * r`` (tc = 1 in the formula). When the tumour content
  is unknown (tissue without purity; plasma whose tumour fraction could not be estimated or lies
  below the 3 % floor, :mod:`.sample`) ``copy_number`` is null and calls use tc = 1, the
  conservative bound: for a gain ``CN = 2 + 2(r - 1)/tc`` is smallest at tc = 1, for a loss
  largest, so a call made at tc = 1 holds for any true tumour content.
* **Tumour-content interval.** A plasma tumour fraction is an estimate with a 95 % interval
  (:mod:`unlock_atlas.ctdna_fraction`); ``copy_number_ci_low/high`` are then the extremes of the
  formula over the log2 interval x the tumour-fraction interval (CN is monotone in each, so the
  corners of the rectangle bound it), not over the log2 interval alone. Tissue purity has no
  interval (samples.tsv).
* **Model check.** No copy number can take the ratio below ``1 - tc`` (CN = 0). When the gene's
  log2 estimate lies below ``log2(1 - tc_high)`` (tc_high: the upper bound of the tumour
  fraction), the depth says something the estimated tumour fraction cannot explain — a
  systematic coverage offset of that gene (GC-extreme genes in cfDNA against sheared-DNA
  normals; measured: CDKN2A in the demo's copy-neutral plasmas, mean log2 -0.28) or a wrong
  tumour fraction. Scaling such a ratio by 1/tc turns the offset into a homozygous deletion, so
  the gene is not interpreted with the tumour fraction: ``tumour_content_source`` ``none``,
  ``copy_number`` null, call at tc = 1 (as for unknown tumour content). The check applies to
  estimated tumour fractions (plasma, given with ``tc_interval``), where 1/tc is large (an
  offset of -0.28 log2 is CN 0 at tc 0.06 but CN 1.3, a loss, at purity 0.5); tissue purity
  keeps its own call (a ratio below ``1 - purity`` then floors at CN 0). The estimate, not the
  whole interval, is tested: a homozygous deletion read through the tumour fraction predicts a
  ratio at or above ``1 - tc_high``, so an estimate below it is better explained by an offset
  than by any copy number (with the whole-interval rule, a tighter gene s.e. -- e.g. one more
  normal in the reference -- turned the demo's CDKN2A offset into deep deletions in 3 of 21
  copy-neutral plasmas). A true deletion seen through such an offset is then not called in
  plasma (it is in tissue); the row says so (``tumour_content_source`` ``none``).
* **Calls** on the tumour copy number, in log2 space (thresholds converted with tc):
  ``amplification`` CN ≥ 5 (≥ 2.5x the diploid level; the MET "intermediate/high" gene-copy-number
  range of >= 5 copies, Noonan et al. J Thorac Oncol 2016;11:1293, and the amplitude at which panel
  CN callers report focal amplification), ``gain`` CN ≥ 2.5 (rounds to ≥ 3 copies),
  ``loss`` CN < 1.5 (rounds to ≤ 1), ``deep_deletion`` CN < 0.5 (rounds to 0: homozygous loss),
  else ``neutral``. A non-neutral call also needs the gene log2 to differ from 0 by at least
  ``Z_CALL`` = 3 standard errors (one-sided p = 0.00135): over the ~17-50 genes of a panel this
  keeps false calls on copy-neutral genes to ≲ 2 % of samples even when a low tumour fraction
  puts the CN thresholds within a few s.e. of 0.
* **Confidence** = the probability, under the gene's normal error model, that the true log2
  lies in the reported call's interval (e.g. P(log2 ≥ amplification threshold)); for a neutral
  call forced by the significance gate it is the probability of the neutral interval.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy.stats import norm

AMP_CN = 5.0
GAIN_CN = 2.5
LOSS_CN = 1.5
DEEP_CN = 0.5
Z_CALL = 3.0
Z_CI = 1.959964
_MEDIAN_EFF = math.sqrt(math.pi / 2)
_LN2 = math.log(2)


def weighted_median(x: np.ndarray, w: np.ndarray) -> float:
    """Weighted median: the smallest x whose cumulative weight reaches half the total
    (average of the two middle values on an exact tie)."""
    order = np.argsort(x, kind="stable")
    xs, ws = x[order], w[order]
    cw = np.cumsum(ws)
    half = cw[-1] / 2
    i = int(np.searchsorted(cw, half))
    if np.isclose(cw[i], half) and i + 1 < len(xs):
        return float((xs[i] + xs[i + 1]) / 2)
    return float(xs[i])


def copy_number_from_ratio(ratio: float, tumour_content: float, ploidy: float = 2.0) -> float:
    """Absolute tumour copy number from a copy ratio at tumour content ``tumour_content`` (> 0).

    ``CN = P * (ratio - 1 + tc) / tc`` floored at 0 (module docstring; CNVkit ``call --purity``,
    Talevich et al. 2016). E.g. ratio 1.8 at tumour fraction 0.2: 2 + 2 x 0.8 / 0.2 = 10 copies.
    """
    if not tumour_content > 0:
        raise ValueError(f"tumour content must be > 0, got {tumour_content}")
    return max(0.0, ploidy * (ratio - 1 + tumour_content) / tumour_content)


def cn_to_log2(cn: float, tc: float, ploidy: float = 2.0) -> float:
    """log2 copy ratio of tumour copy number ``cn`` at tumour content ``tc`` (-inf at ratio 0);
    the inverse of :func:`copy_number_from_ratio`."""
    r = 1 + tc * (cn - ploidy) / ploidy
    return math.log2(r) if r > 0 else -math.inf


def log2_to_cn(log2: float, tc: float) -> float:
    """Tumour copy number from a log2 ratio at tumour content ``tc`` (> 0), floored at 0."""
    return copy_number_from_ratio(2 ** log2, tc)


def copy_number_interval(log2_lo: float, log2_hi: float, tc_lo: float, tc_hi: float) -> tuple[float, float]:
    """(low, high) copy number over the log2 interval x the tumour-content interval (module
    docstring): the extremes of :func:`copy_number_from_ratio` at the four corners."""
    corners = [log2_to_cn(v, t) for v in (log2_lo, log2_hi) for t in (tc_lo, tc_hi)]
    return min(corners), max(corners)


def below_any_copy_number(log2: float, tc_hi: float) -> bool:
    """True when the gene's log2 estimate lies below the ratio of CN = 0 at the highest plausible
    tumour content, ``log2(1 - tc_hi)`` (module docstring, model check)."""
    return tc_hi < 1 and log2 < math.log2(1 - tc_hi)


def call_gene(log2: float, se: float, tc: float) -> tuple[str, float]:
    """(call, confidence) for a gene log2 ratio with standard error ``se`` at tumour content ``tc``
    (use 1 for normals and unknown tumour content; module docstring)."""
    t_amp, t_gain = cn_to_log2(AMP_CN, tc), cn_to_log2(GAIN_CN, tc)
    t_loss, t_deep = cn_to_log2(LOSS_CN, tc), cn_to_log2(DEEP_CN, tc)
    z = log2 / se if se > 0 else math.copysign(math.inf, log2) if log2 else 0.0
    bounds = {"amplification": (t_amp, math.inf), "gain": (t_gain, t_amp), "neutral": (t_loss, t_gain),
              "loss": (t_deep, t_loss), "deep_deletion": (-math.inf, t_deep)}
    call = "neutral"
    if z >= Z_CALL:
        call = "amplification" if log2 >= t_amp else "gain" if log2 >= t_gain else "neutral"
    elif z <= -Z_CALL:
        call = "deep_deletion" if log2 < t_deep else "loss" if log2 < t_loss else "neutral"
    lo, hi = bounds[call]
    s = max(se, 1e-9)
    conf = float(norm.cdf((hi - log2) / s) - norm.cdf((lo - log2) / s))
    return call, conf


def gene_table(targets: pd.DataFrame, tumour_content: float | None, sample_type: str,
               gene_sd: dict[str, float] | None = None,
               tc_interval: tuple[float, float] | None = None) -> pd.DataFrame:
    """Gene-level rows from per-target log2 ratios (:func:`.normalise.log2_ratios` output).

    Parameters
    ----------
    targets
        Per-target table with ``gene``, ``log2``, ``spread``, ``fragments``, ``depth``, ``usable``.
    tumour_content
        Tissue purity or plasma tumour fraction in (0, 1]; None when unknown. Ignored for normals.
    sample_type
        ``tissue``, ``plasma`` or ``normal``.
    gene_sd
        Gene-level systematic noise (log2 sd) added in quadrature to the s.e.
        (:func:`.normalise.gene_noise`); default none.
    tc_interval
        95 % interval of an estimated tumour content (plasma tumour fraction); widens the
        copy-number interval and drives the model check (module docstring). None: exact (purity).

    Returns
    -------
    pandas.DataFrame
        One row per gene (panel order): gene, chrom, start, end, n_targets, mean_depth,
        log2_ratio, log2_se, ci_low, ci_high, copy_number, copy_number_ci_low/high, call,
        confidence, tumour_content (null on rows that failed the model check).
    """
    rows = []
    normal = sample_type == "normal"
    tc_call = 1.0 if normal or tumour_content is None else float(tumour_content)
    for gene, g in targets.groupby("gene", sort=False):
        u = g[g["usable"].astype(bool)]
        base = {"gene": gene, "chrom": str(g["chrom"].iloc[0]), "start": int(g["start"].min()) + 1,
                "end": int(g["end"].max()), "n_targets": len(u),
                "mean_depth": float(np.average(g["depth"], weights=g["length"]))}
        if u.empty:
            rows.append({**base, "call": None, "tumour_content": None if normal else tumour_content})
            continue
        x = u["log2"].to_numpy(dtype=float)
        var = u["spread"].to_numpy(dtype=float) ** 2 + (1 / _LN2) ** 2 / np.maximum(u["fragments"].to_numpy(dtype=float), 1)
        w = 1 / var
        est = weighted_median(x, w)
        se_model = _MEDIAN_EFF / math.sqrt(w.sum())
        se = se_model
        if len(x) >= 3:
            mean = float(np.average(x, weights=w))
            emp = math.sqrt(float(np.sum(w * (x - mean) ** 2)) / w.sum() / (len(x) - 1)) * _MEDIAN_EFF
            se = max(se_model, emp)
        se = math.sqrt(se ** 2 + (gene_sd or {}).get(gene, 0.0) ** 2)
        lo, hi = est - Z_CI * se, est + Z_CI * se
        tc_row: float | None = None if normal else tumour_content
        t_lo, t_hi = tc_interval if tc_interval is not None and tc_row is not None else (tc_call, tc_call)
        if tc_row is not None and tc_interval is not None and below_any_copy_number(est, t_hi):
            tc_row = None   # the model check failed: interpret as unknown tumour content
        t = 1.0 if tc_row is None else tc_call
        call, conf = call_gene(est, se, t)
        cn = cn_lo = cn_hi = None
        if normal or tc_row is not None:
            cn = log2_to_cn(est, t)
            cn_lo, cn_hi = copy_number_interval(lo, hi, t_lo, t_hi) if tc_row is not None else (
                log2_to_cn(lo, t), log2_to_cn(hi, t))
        rows.append({**base, "log2_ratio": est, "log2_se": se, "ci_low": lo, "ci_high": hi, "copy_number": cn,
                     "copy_number_ci_low": cn_lo, "copy_number_ci_high": cn_hi, "call": call, "confidence": conf,
                     "tumour_content": tc_row})
    return pd.DataFrame(rows)
