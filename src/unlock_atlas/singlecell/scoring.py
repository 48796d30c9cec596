"""Marker-based cell-type annotation and resistance-programme scores.

Cell types — the ScType score (Ianevski et al., Nat Commun 2022;13:1246) on over-clustered Leiden
clusters (CellTypist's majority-voting clusters, Domínguez Conde et al., Science 2022;376:eabl5197):

1. each marker gene's log-normalised expression is z-scored across cells (clipped at +/-10, as the
   Seurat ``ScaleData`` matrix ScType scores), so that highly expressed markers (LYZ,
   immunoglobulins) do not outweigh lowly expressed ones;
2. a cell type's score in a cell is ScType's ``sum(z of positive markers) / sqrt(n positive) -
   sum(z of negative markers) / sqrt(n negative)`` over the markers present in the data (the
   negative term is 0 when the type has no negative markers measured). Every gene of our table
   belongs to one cell type only, so ScType's marker-specificity weights are all 1 and this is its
   score exactly. Negative markers encode what a lineage is defined not to express: NK cells are
   CD3-negative, which is what separates them from cytotoxic CD8 T cells expressing the same NKG7 /
   GNLY. A cell type with fewer than ``MIN_MARKERS`` = 2 positive markers measured is not scored —
   one gene cannot separate a cell type from ectopic or ambient expression of that gene;
3. each cluster of the over-clustering ``leiden_fine`` (preprocess.embed: CellTypist's resolution,
   5 below 5,000 cells up to 30 above 200,000) takes the cell type with the highest cluster-mean
   score; the cluster is ``unassigned`` when that mean is below ``MIN_CLUSTER_SCORE`` = 0.25 —
   ScType's rule (a cluster whose summed score is < n_cells / 4 is "Unknown", sctype_wrapper.R) —
   or when the mean of the winning type's positive term alone is below 0.25 (our addition: lacking
   a type's negative markers is no evidence for it; without it, progenitors and any cell type the
   table does not list would lean towards NK for merely lacking CD3/CD4/CD8).
   Small clusters keep cell-level resolution where the resolution-1 clusters mix two lineages
   (e.g. NK and effector CD8 T cells) while still averaging out per-cell dropout noise.

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
MIN_CLUSTER_SCORE = 0.25
MAX_Z = 10.0
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


def _marker_terms(adata: AnnData, markers: dict[str, GeneSet]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """ScType's positive and negative terms per cell and scorable cell type (cells × cell types)."""
    present = set(adata.var_names)
    pos, neg = {}, {}
    for name, gs in markers.items():
        genes = [g for g in gs.genes if g in present]
        if len(genes) < MIN_MARKERS:
            logger.info("cell type %s not scored: %d of its markers measured", name, len(genes))
            continue
        pos[name] = np.clip(_zscores(adata, genes), -MAX_Z, MAX_Z).sum(axis=1) / np.sqrt(len(genes))
        ng = [g for g in gs.negative if g in present]
        neg[name] = (np.clip(_zscores(adata, ng), -MAX_Z, MAX_Z).sum(axis=1) / np.sqrt(len(ng)) if ng
                     else np.zeros(adata.n_obs))
    return pd.DataFrame(pos, index=adata.obs_names), pd.DataFrame(neg, index=adata.obs_names)


def marker_scores(adata: AnnData, markers: dict[str, GeneSet]) -> pd.DataFrame:
    """Per-cell ScType score of every scorable cell type (cells × cell types; module docstring)."""
    pos, neg = _marker_terms(adata, markers)
    return pos - neg


def annotate_cell_types(adata: AnnData, markers: dict[str, GeneSet], cluster_key: str = "leiden_fine") -> None:
    """Write ``obs['cell_type']`` (categorical, with ``unassigned``) and ``obsm['marker_scores']``.

    A cluster takes the type with the highest mean ScType score when that mean AND the mean of its
    positive term alone are >= ``MIN_CLUSTER_SCORE``: not expressing a type's negative markers
    (e.g. no CD3 in a progenitor) is not evidence for that type.

    Parameters
    ----------
    adata
        Log-normalised ``.X`` and the cluster column ``cluster_key`` in ``obs``.
    markers
        Cell type → marker set (:func:`~unlock_atlas.singlecell.gene_sets.load_markers`).
    cluster_key
        Clusters that take one cell type each (default: the over-clustering of preprocess.embed).
    """
    pos, neg = _marker_terms(adata, markers)
    scores = pos - neg
    adata.obsm["marker_scores"] = scores
    if scores.shape[1] == 0:
        adata.obs["cell_type"] = pd.Categorical([UNASSIGNED] * adata.n_obs)
        return
    clusters = adata.obs[cluster_key].to_numpy()
    means, pos_means = scores.groupby(clusters).mean(), pos.groupby(clusters).mean()
    best = means.idxmax(axis=1)
    best_pos = pd.Series([pos_means.at[c, t] for c, t in best.items()], index=best.index)
    best = best.where((means.max(axis=1) >= MIN_CLUSTER_SCORE) & (best_pos >= MIN_CLUSTER_SCORE), UNASSIGNED)
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
