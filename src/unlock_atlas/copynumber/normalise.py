"""Bias correction and the panel-of-normals reference (CNVkit's approach, re-implemented).

Per sample (tumour or normal), from the per-target mean fragment depth:

1. ``log2(depth / median depth)`` over targets with usable depth (median-centred, so samples of
   different sequencing depth are comparable). Depth is floored at ``MIN_DEPTH`` before the log
   so that a homozygously deleted target in a pure sample stays finite.
2. **GC correction**: subtract the rolling median of the log2 values against target GC
   (targets sorted by GC, window = ``WINDOW_FRACTION`` of the targets), as CNVkit's
   ``center_by_window`` does for its GC bias. A rolling *median* is robust to the few targets of
   an amplified gene, which would bias a loess fit.
3. **Target-size correction**: the same rolling median against target length — short targets
   are captured less efficiently per base (edge effect: a bait overlaps a short target only
   partially), which CNVkit corrects the same way.

The **reference** (panel of normals) holds, per target, the corrected log2 of every normal. The
expected log2 of a target is the median over the normals used (the sample's own matched normal
plus the other patients' normals; a normal being analysed is left out of its own reference), and
the target's *spread* is the normals' scaled MAD — the probe-to-probe efficiency differences
that the reference removes are identical in every sample, so what is left between normals is
noise, which :mod:`.genes` uses to weight targets.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..atomic import atomic_path
from ..errors import InputError, Problem
from .coverage import TARGET_COLUMNS

#: floor (fragments of depth) before taking log2: a target with no fragments gets
#: log2(0.5 / median) rather than -inf; 0.5 is the usual continuity correction for a zero count.
MIN_DEPTH = 0.5
#: targets with a median normal depth below this fraction of the panel median are unusable
#: (no capture, or a target outside the sequence): CNVkit drops targets below 1/32 of the median
#: (log2 -5) in its reference; we use the same.
MIN_REF_FRACTION = 1 / 32
#: rolling-median window as a fraction of the targets: CNVkit uses 10 %; with the ~250 targets of a
#: small panel that is ~25 targets, wide enough to be robust to one amplified gene's exons.
WINDOW_FRACTION = 0.10
#: used when fewer than 3 normals give no spread estimate: the typical between-normal sd of
#: corrected target log2 at ~200x fragment depth on hybrid capture (conservative, CNVkit's
#: reference spread is commonly 0.1-0.2).
DEFAULT_SPREAD = 0.15
#: gene-level systematic noise (log2 sd) added in quadrature to a gene's s.e.: floor, and the value
#: used with < 3 normals. 0.08 is the sd of copy-neutral gene log2 ratios of normals against the
#: other normals measured on the simulated small cohort (docs/copynumber.md); the floor 0.05 is the
#: lowest gene-level reproducibility reported for hybrid-capture panels with a matched PoN.
GENE_SD_DEFAULT = 0.08
GENE_SD_FLOOR = 0.05
#: flank (bp) over which neighbouring targets' capture spills onto a target: longer than the
#: longest common fragment (~250-300 bp sheared) so that the covariate sees every neighbour
#: whose fragments can reach the target.
FLANK = 300
#: a gene whose first-pass |log2| exceeds this is left out of the bias fits and the centring (a
#: copy-number change must not be "corrected" away): 0.25 is the CNVkit loss threshold, ~6
#: s.e. of a typical gene, so copy-neutral genes are practically never excluded.
EXCLUDE_LOG2 = 0.25
#: the MAD -> sd factor for normally distributed data.
MAD_SD = 1.4826

REF_META = ["chrom", "start", "end", "gene", "length", "gc"]


def rolling_median(x: np.ndarray, y: np.ndarray, fraction: float = WINDOW_FRACTION) -> np.ndarray:
    """Rolling median of ``y`` against ``x`` (centred window of ``fraction`` of the points).

    Returns the fitted value at each input point, in the input order.
    """
    n = len(y)
    if n == 0:
        return np.zeros(0)
    w = max(3, int(round(n * fraction)) | 1)
    order = np.argsort(x, kind="stable")
    ys = pd.Series(np.asarray(y, dtype=float)[order])
    fit = ys.rolling(w, center=True, min_periods=1).median().to_numpy()
    out = np.empty(n)
    out[order] = fit
    return out


def flank_target_bases(cov: pd.DataFrame, flank: int = FLANK) -> np.ndarray:
    """Target bases of OTHER targets within ``flank`` bp either side of each target.

    Coverage of a target includes fragments captured on its neighbours and hanging over it; how
    much depends on the fragment length (plasma ~167 bp, sheared tissue/normal DNA ~250 bp), so a
    plasma sample compared with sheared-DNA normals shows a bias that grows with the density of
    neighbouring targets. This covariate lets the rolling-median correction remove it.
    """
    out = np.zeros(len(cov))
    for _, g in cov.groupby("chrom", sort=False):
        idx = g.index.to_numpy()
        s, e = g["start"].to_numpy(), g["end"].to_numpy()
        for k, i in enumerate(idx):
            lo, hi = s[k] - flank, e[k] + flank
            ov = np.minimum(e, hi) - np.maximum(s, lo)
            ov[k] = 0
            out[cov.index.get_loc(i)] = float(np.clip(ov, 0, None).sum())
    return out


def raw_log2(cov: pd.DataFrame, usable: np.ndarray) -> np.ndarray:
    """log2(depth / median depth over usable targets), depth floored at MIN_DEPTH."""
    depth = cov["depth"].to_numpy(dtype=float)
    if not usable.any() or np.median(depth[usable]) <= 0:
        raise ValueError("no usable target has any depth")
    return np.log2(np.maximum(depth, MIN_DEPTH) / np.median(depth[usable]))


def remove_bias(lg: np.ndarray, cov: pd.DataFrame, fit_mask: np.ndarray) -> np.ndarray:
    """Subtract rolling-median bias curves against GC, target length and flanking target density,
    fitted on the targets of ``fit_mask`` only (the others are corrected by interpolation), then
    re-centre on the median of the fitted targets."""
    covariates = [cov["gc"].to_numpy(dtype=float), cov["length"].to_numpy(dtype=float), flank_target_bases(cov)]
    for x in covariates:
        if np.ptp(x[fit_mask]) == 0:
            continue
        lg = lg - np.interp(x, *_sorted_fit(x[fit_mask], lg[fit_mask]))
    return lg - np.median(lg[fit_mask])


def corrected_log2(cov: pd.DataFrame, usable: np.ndarray | None = None) -> np.ndarray:
    """Median-centred, bias-corrected log2 depth of each target of a copy-neutral sample (normals).

    Parameters
    ----------
    cov
        Coverage table (:data:`~.coverage.TARGET_COLUMNS`).
    usable
        Boolean mask of targets used to fit the centring and the bias curves (default: all with
        depth > 0). Unusable targets are corrected with the same curves but do not shape them.
    """
    if usable is None:
        usable = cov["depth"].to_numpy(dtype=float) > 0
    return remove_bias(raw_log2(cov, usable), cov, usable)


def _sorted_fit(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    fit = rolling_median(x, y)
    order = np.argsort(x, kind="stable")
    xs, fs = x[order], fit[order]
    # np.interp needs increasing x: average the fit over tied x values
    ux, inv = np.unique(xs, return_inverse=True)
    fu = np.bincount(inv, weights=fs) / np.bincount(inv)
    return ux, fu


def build_reference(normals: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """The panel-of-normals table: target metadata + one corrected-log2 column per normal.

    Parameters
    ----------
    normals
        Coverage tables of the normals, keyed by sample ID (all from the same panel BED).

    Raises
    ------
    InputError
        If there is no normal, or the normals were counted over different targets.
    """
    if not normals:
        raise InputError(Problem("panel of normals", "no normal sample to build the copy-number reference from",
                                 "add at least one white-cell normal (sample_type normal) to samples.tsv"))
    ids = sorted(normals)
    first = normals[ids[0]]
    for sid in ids[1:]:
        other = normals[sid]
        cols = ["chrom", "start", "end"]
        if len(other) != len(first) or not (other[cols].values == first[cols].values).all():
            raise InputError(Problem(sid, "coverage was counted over different targets than the other normals",
                                     "count every sample over the same panel BED"))
    depth = np.vstack([normals[s]["depth"].to_numpy(dtype=float) for s in ids])
    rel = depth / np.median(depth, axis=1, keepdims=True)
    usable = np.median(rel, axis=0) >= MIN_REF_FRACTION
    ref = first[REF_META].copy()
    ref["usable"] = usable
    for sid in ids:
        ref[f"log2:{sid}"] = np.round(corrected_log2(normals[sid], usable), 6)
    return ref


def write_reference(ref: pd.DataFrame, path: str) -> None:
    """Write the reference TSV atomically."""
    with atomic_path(path) as tmp:
        ref.to_csv(tmp, sep="\t", index=False)


def read_reference(path: str) -> pd.DataFrame:
    """Read a reference TSV written by :func:`write_reference`.

    Raises
    ------
    InputError
        If the file is missing or not a reference table.
    """
    try:
        ref = pd.read_csv(path, sep="\t", dtype={"chrom": str, "gene": str})
    except FileNotFoundError:
        raise InputError(Problem(str(path), "copy-number reference not found",
                                 "run `unlock-atlas copynumber reference` first")) from None
    if any(c not in ref.columns for c in REF_META + ["usable"]) or not normal_ids(ref):
        raise InputError(Problem(str(path), "not a copy-number reference table",
                                 "regenerate it with `unlock-atlas copynumber reference`"))
    ref["usable"] = ref["usable"].astype(str).str.lower().isin(["true", "1"])
    return ref


def normal_ids(ref: pd.DataFrame) -> list[str]:
    """Sample IDs of the normals in a reference table."""
    return [c.split(":", 1)[1] for c in ref.columns if c.startswith("log2:")]


def expected_log2(ref: pd.DataFrame, exclude: str | None = None) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Per-target (expected log2, spread, normals used), leaving ``exclude`` out when it is a normal
    of the reference and at least one other normal remains.
    """
    ids = normal_ids(ref)
    if exclude in ids and len(ids) > 1:
        ids = [s for s in ids if s != exclude]
    m = np.vstack([ref[f"log2:{s}"].to_numpy(dtype=float) for s in ids])
    centre = np.median(m, axis=0)
    if len(ids) >= 3:
        spread = MAD_SD * np.median(np.abs(m - centre), axis=0)
        # a MAD from 3-5 normals can be ~0 by chance: floor at half the default
        spread = np.maximum(spread, DEFAULT_SPREAD / 2)
    else:
        spread = np.full(m.shape[1], DEFAULT_SPREAD)
    return centre, spread, ids


def gene_noise(ref: pd.DataFrame, exclude: str | None = None) -> dict[str, float]:
    """Between-sample gene-level noise the per-target model misses (biases shared by a gene's
    targets, e.g. GC-extreme exons): the RMS over normals of each normal's gene median log2
    against the other normals (leave-one-out), floored at ``GENE_SD_FLOOR``; ``GENE_SD_DEFAULT``
    for every gene when fewer than 3 normals remain (one leave-one-out comparison is no estimate).
    """
    ids = [s for s in normal_ids(ref) if s != exclude]
    genes = ref["gene"].to_numpy()
    usable = ref["usable"].to_numpy(dtype=bool)
    if len(ids) < 3:
        return {g: GENE_SD_DEFAULT for g in dict.fromkeys(genes)}
    m = np.vstack([ref[f"log2:{s}"].to_numpy(dtype=float) for s in ids])
    sq = []
    for i in range(len(ids)):
        others = np.median(np.delete(m, i, axis=0), axis=0)
        d = pd.Series((m[i] - others)[usable]).groupby(genes[usable]).median()
        sq.append(d ** 2)
    rms = np.sqrt(pd.concat(sq, axis=1).mean(axis=1))
    return {g: float(max(GENE_SD_FLOOR, rms.get(g, GENE_SD_DEFAULT))) for g in dict.fromkeys(genes)}


def log2_ratios(cov: pd.DataFrame, ref: pd.DataFrame, sample_id: str) -> pd.DataFrame:
    """Per-target log2 copy ratios of a sample against the reference.

    The sample's median-centred log2 depth minus the reference's expected log2; then the
    sample-specific bias left relative to the normals (GC, target length, flanking target density)
    is removed with rolling medians fitted on the ratios of genes that look copy-neutral in a
    first pass (``|gene median| <= EXCLUDE_LOG2``), and the result is re-centred on their median
    (most of a panel is copy-neutral in most tumours; CNVkit centres the same way). Returns the coverage table with
    ``log2``, ``spread`` and ``usable`` columns added.

    Raises
    ------
    InputError
        If the sample was counted over different targets than the reference.
    """
    if len(cov) != len(ref) or not (cov[["chrom", "start", "end"]].values == ref[["chrom", "start", "end"]].values).all():
        raise InputError(Problem(sample_id, "coverage targets differ from the copy-number reference's",
                                 "count the sample over the panel BED the reference was built from"))
    usable = ref["usable"].to_numpy(dtype=bool)
    centre, spread, _ = expected_log2(ref, exclude=sample_id)
    first = raw_log2(cov, usable) - centre
    first = first - np.median(first[usable])
    gene_med = pd.Series(first[usable]).groupby(cov["gene"].to_numpy()[usable]).median()
    altered = cov["gene"].map(gene_med.abs() > EXCLUDE_LOG2).fillna(False).to_numpy(dtype=bool)
    fit = usable & ~altered
    if fit.sum() < 10:   # most of the panel altered: fall back to all usable targets
        fit = usable
    lg = remove_bias(first, cov, fit)
    out = cov[TARGET_COLUMNS].copy()
    out["log2"] = np.round(lg, 6)
    out["spread"] = np.round(spread, 6)
    out["usable"] = usable
    return out
