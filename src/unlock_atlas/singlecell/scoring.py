"""Marker-based cell-type annotation and resistance-programme scores.

Cell types (cluster-level, the scverse-tutorial practice of annotating Leiden clusters rather than
noisy single cells):

1. each marker gene's log-normalised expression is z-scored across cells, so that highly expressed
   markers (LYZ, immunoglobulins) do not outweigh lowly expressed ones;
2. a cell type's score in a cell is the mean z of its markers present in the data; a cell type with
   fewer than ``MIN_MARKERS`` = 2 markers measured is not scored — one gene cannot separate a cell
   type from ectopic or ambient expression of that gene;
3. each Leiden cluster takes the cell type with the highest cluster-mean score; the cluster is
   ``unassigned`` when that mean is below ``MIN_CLUSTER_Z`` = 0.5, i.e. the best marker set is not
   even half a standard deviation above the dataset average (no convincing marker expression).

Programme scores (one ``obs`` column ``score_<programme>`` each):

- ``zsum_sqrt_n`` (MPAS, Wagle 2018): sum over the set's measured genes of the per-gene z-score
  across the cells of the object, divided by sqrt(n measured) — standard normal under the null of
  independent genes, so ``HIGH_Z`` = 1.645 (one-sided 5 %) marks a high cell. Relative to the cells
  scored together (per sample in ``sc annotate``).
- ``score_genes`` (all others): ``scanpy.tl.score_genes`` — set mean minus the mean of
  expression-binned control genes (Tirosh et al., Science 2016); on the log scale, so comparable
  between samples; a cell is high when its score is > ``HIGH_SCORE_GENES`` = 0 (set above its
  expression-matched background).
- A programme with fewer than 2 measured genes is NaN (not scored) and reported.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import scanpy as sc
from anndata import AnnData
from scipy import sparse

from .gene_sets import GeneSet

logger = logging.getLogger(__name__)

MIN_MARKERS = 2
MIN_CLUSTER_Z = 0.5
HIGH_Z = 1.645
HIGH_SCORE_GENES = 0.0
UNASSIGNED = "unassigned"


def _zscores(adata: AnnData, genes: list[str]) -> np.ndarray:
    x = adata[:, genes].X
    x = x.toarray() if sparse.issparse(x) else np.asarray(x)
    x = x.astype(np.float64)
    sd = x.std(axis=0)
    sd[sd == 0] = np.inf  # constant genes contribute z = 0
    return (x - x.mean(axis=0)) / sd


def marker_scores(adata: AnnData, markers: dict[str, GeneSet]) -> pd.DataFrame:
    """Per-cell mean marker z-score of every scorable cell type (cells × cell types)."""
    present = set(adata.var_names)
    cols = {}
    for name, gs in markers.items():
        genes = [g for g in gs.genes if g in present]
        if len(genes) < MIN_MARKERS:
            logger.info("cell type %s not scored: %d of its markers measured", name, len(genes))
            continue
        cols[name] = _zscores(adata, genes).mean(axis=1)
    return pd.DataFrame(cols, index=adata.obs_names)


def annotate_cell_types(adata: AnnData, markers: dict[str, GeneSet], cluster_key: str = "leiden") -> None:
    """Write ``obs['cell_type']`` (categorical, with ``unassigned``) and ``obsm['marker_scores']``."""
    scores = marker_scores(adata, markers)
    adata.obsm["marker_scores"] = scores
    if scores.shape[1] == 0:
        adata.obs["cell_type"] = pd.Categorical([UNASSIGNED] * adata.n_obs)
        return
    means = scores.groupby(adata.obs[cluster_key].to_numpy()).mean()
    best = means.idxmax(axis=1).where(means.max(axis=1) >= MIN_CLUSTER_Z, UNASSIGNED)
    labels = adata.obs[cluster_key].astype(str).map(best.astype(str).to_dict())
    cats = [c for c in markers if c in set(labels)] + ([UNASSIGNED] if UNASSIGNED in set(labels) else [])
    adata.obs["cell_type"] = pd.Categorical(labels.to_numpy(), categories=cats)


def score_programmes(adata: AnnData, programmes: dict[str, GeneSet], seed: int = 0) -> dict[str, dict]:
    """Add ``obs['score_<programme>']`` for each programme; returns per-programme provenance."""
    present = set(adata.var_names)
    info: dict[str, dict] = {}
    for name, gs in programmes.items():
        genes = [g for g in gs.genes if g in present]
        col = f"score_{name}"
        info[name] = {"method": gs.method, "verified": gs.verified, "citation": gs.citation,
                      "genes_measured": len(genes), "genes_in_set": len(gs.genes),
                      "high_threshold": HIGH_Z if gs.method == "zsum_sqrt_n" else HIGH_SCORE_GENES}
        if len(genes) < 2:
            adata.obs[col] = np.nan
            info[name]["note"] = "not scored: fewer than 2 genes measured"
            continue
        if gs.method == "zsum_sqrt_n":
            adata.obs[col] = _zscores(adata, genes).sum(axis=1) / np.sqrt(len(genes))
        else:
            sc.tl.score_genes(adata, genes, score_name=col, random_state=seed,
                              ctrl_size=min(50, max(1, adata.n_vars - len(genes))))
    return info


def high_threshold(method: str) -> float:
    """Score above which a cell counts as programme-high (see the module docstring)."""
    return HIGH_Z if method == "zsum_sqrt_n" else HIGH_SCORE_GENES
