"""One sample end to end: coverage + reference → per-target ratios, gene table, atlas part, plot."""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd

from ..atomic import atomic_path
from ..contract.vocab import SAMPLE_TYPES
from ..ctdna_fraction import MIN_INFORMATIVE_TF, read_tumour_fractions
from ..errors import InputError, Problem
from .coverage import read_coverage
from .genes import gene_table
from .normalise import gene_noise, log2_ratios, read_reference

logger = logging.getLogger(__name__)


def tumour_content_for(sample_type: str, purity: float | None, tumour_fraction: float | None) -> tuple[float | None, str]:
    """(tumour content, source): tissue uses its purity, plasma its tumour fraction, normals none.

    A plasma tumour fraction below :data:`~unlock_atlas.ctdna_fraction.MIN_INFORMATIVE_TF` (3 %,
    the ctDNA stage's ``informative`` floor) is NOT used: 1/TF would multiply the gene-level
    offsets of a 17-gene panel (s.e. 0.05-0.13 log2) into whole copies, and the TF estimate
    itself is least certain there. Such a plasma sample gets (None, ``none``) and the calls of
    unknown tumour content (tc = 1, the conservative bound: amplification needs log2 >=
    log2(2.5) = 1.32, deep deletion log2 < -2; :mod:`.genes`).

    Raises
    ------
    InputError
        If a given value is outside (0, 1].
    """
    if sample_type not in SAMPLE_TYPES:
        raise InputError(Problem("copynumber call", f"unknown sample type {sample_type!r}",
                                 f"use one of {', '.join(SAMPLE_TYPES)}"))
    value, source = {"tissue": (purity, "purity"), "plasma": (tumour_fraction, "tumour_fraction"),
                     "normal": (None, "none")}[sample_type]
    if value is None or pd.isna(value):
        return None, "none"
    if sample_type == "plasma" and float(value) == 0:
        return None, "none"   # an estimate of 0 (truncal variants absent): below the floor
    if not 0 < float(value) <= 1:
        raise InputError(Problem("copynumber call", f"{source} {value} is outside (0, 1]",
                                 "give the tumour content as a fraction, e.g. 0.45"))
    if sample_type == "plasma" and float(value) < MIN_INFORMATIVE_TF:
        return None, "none"
    return float(value), source


def plasma_tumour_fraction(table: str | Path, sample_id: str) -> tuple[float | None, tuple[float, float] | None]:
    """(tumour fraction, 95 % interval) of ``sample_id`` from a per-patient tumour-fraction table
    (:func:`unlock_atlas.ctdna_fraction.write_tumour_fractions`); (None, None) when not estimable.

    Raises
    ------
    InputError
        If the sample has no row in the table.
    """
    tf = read_tumour_fractions(table)
    row = tf[tf["sample_id"] == sample_id]
    if row.empty:
        raise InputError(Problem(str(table), f"no row for sample {sample_id}",
                                 "give the tumour-fraction table of this sample's patient"))
    r = row.iloc[0]
    if r["method"] == "none" or pd.isna(r["tumour_fraction"]):
        return None, None
    lo, hi = r["tf_ci_low"], r["tf_ci_high"]
    interval = None if pd.isna(lo) or pd.isna(hi) else (float(lo), float(hi))
    return float(r["tumour_fraction"]), interval


def call_sample(coverage: str | Path, reference: str | Path, sample_id: str, patient_id: str, sample_type: str,
                purity: float | None = None, tumour_fraction: float | None = None,
                tf_interval: tuple[float, float] | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per-target log2 ratios and the gene-level atlas rows of one sample.

    ``tf_interval`` is the 95 % interval of a plasma ``tumour_fraction`` (widens the copy-number
    interval, model check: :mod:`.genes`).

    Returns
    -------
    (targets, genes)
        ``targets``: the coverage table with ``log2``, ``spread``, ``usable``; ``genes``: rows of
        the ``copy_number`` table (:mod:`unlock_atlas.contract.schema_copy_number`).
    """
    tc, source = tumour_content_for(sample_type, purity, tumour_fraction)
    ref = read_reference(str(reference))
    targets = log2_ratios(read_coverage(coverage), ref, sample_id)
    interval = tf_interval if source == "tumour_fraction" else None
    if interval is not None:   # the point estimate lies in its interval; a clipped bound stays > 0
        interval = (max(min(interval[0], tc), 1e-6), min(max(interval[1], tc), 1.0))
    genes = gene_table(targets, tc, sample_type, gene_noise(ref, exclude=sample_id), tc_interval=interval)
    genes.insert(0, "sample_type", sample_type)
    genes.insert(0, "sample_id", sample_id)
    genes.insert(0, "patient_id", patient_id)
    # per gene: a row that failed the model check (genes.py) has no tumour content
    genes["tumour_content_source"] = [source if not pd.isna(t) else "none" for t in genes["tumour_content"]]
    return targets, genes


def write_targets(targets: pd.DataFrame, path: str | Path) -> None:
    """Per-target log2 ratios as TSV (CNVkit ``.cnr``-like), atomically."""
    with atomic_path(path) as tmp:
        targets.to_csv(tmp, sep="\t", index=False, float_format="%.6g")


def plot_genes(genes: pd.DataFrame, targets: pd.DataFrame, title: str, path: str | Path) -> None:
    """Gene-level log2 ratio plot (PNG): targets as grey dots, gene value ± 95 % CI coloured by call."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    colours = {"amplification": "#b2182b", "gain": "#ef8a62", "neutral": "#4d4d4d", "loss": "#67a9cf",
               "deep_deletion": "#2166ac"}
    order = list(dict.fromkeys(genes["gene"]))
    xpos = {g: i for i, g in enumerate(order)}
    fig, ax = plt.subplots(figsize=(max(6.0, 0.45 * len(order) + 2), 4.0), dpi=100)
    t = targets[targets["usable"].astype(bool)]
    jitter = (t.groupby("gene").cumcount() / t.groupby("gene")["gene"].transform("size") - 0.5) * 0.5
    ax.scatter(t["gene"].map(xpos) + jitter, t["log2"].clip(-3, 4), s=5, color="#bbbbbb", zorder=1)
    for r in genes.itertuples():
        if pd.isna(r.log2_ratio):
            continue
        c = colours.get(r.call, "#000000")
        ax.errorbar(xpos[r.gene], r.log2_ratio, yerr=[[r.log2_ratio - r.ci_low], [r.ci_high - r.log2_ratio]],
                    fmt="o", color=c, ms=6, capsize=3, zorder=3)
    ax.axhline(0, color="black", lw=0.6)
    ax.set_xticks(range(len(order)), order, rotation=60, ha="right", fontsize=8)
    ax.set_ylabel("log2 copy ratio")
    ax.set_title(title, fontsize=10)
    handles = [plt.Line2D([], [], marker="o", ls="", color=v, label=k) for k, v in colours.items()]
    ax.legend(handles=handles, fontsize=7, loc="upper right", ncol=5)
    fig.tight_layout()
    with atomic_path(path, suffix=".png") as tmp:
        fig.savefig(tmp, format="png")
    plt.close(fig)
