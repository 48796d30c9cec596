"""Input detection, QC, normalisation and the clustering backbone (scverse-tutorial steps).

Thresholds (scanpy / scverse "preprocessing and clustering" tutorial defaults, kept unless the data
cannot support them):

- cells with < 200 detected genes are dropped (empty droplets / debris); genes seen in < 3 cells are
  dropped (cannot inform clustering);
- cells with > 20 % mitochondrial counts are dropped: damaged cells leak cytoplasmic RNA. 20 % rather
  than the PBMC-tutorial 5 % because solid-tumour dissociation raises mitochondrial fractions
  (Osorio & Cai, Bioinformatics 2021 recommend ~10-20 % for human tissue);
- doublets: ``scanpy.pp.scrublet`` (Wolock et al., Cell Syst 2019) on raw counts with its automatic
  threshold, on random chunks of <= 8,000 cells (bounded memory); predicted doublets are dropped. Needs counts, so it
  is skipped (and said) for
  log-normalised input;
- normalisation: counts per cell scaled to 10,000 then ``log1p`` (the tutorial's shifted log, which
  Ahlmann-Eltze & Huber, Nat Methods 2023 found as good as more complex transforms);
- 2,000 highly variable genes (Seurat flavour on log data), 50 PCs, 15 neighbours, Leiden at
  resolution 1.0, UMAP — tutorial defaults; capped by the data's size;
- a second, finer Leiden clustering ``leiden_fine`` for cell-type annotation (scoring.py) at
  CellTypist's over-clustering resolution (``celltypist.Classifier.over_cluster``: 5 below 5,000
  cells, 10 below 20,000, 15 below 40,000, 20 below 100,000, 25 below 200,000, else 30;
  Domínguez Conde et al., Science 2022), on the same neighbour graph.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import scanpy as sc
from anndata import AnnData
from scipy import sparse

from ..errors import InputError, Problem

logger = logging.getLogger(__name__)

MIN_GENES = 200
MIN_CELLS = 3
MAX_PCT_MT = 20.0
TARGET_SUM = 1e4
N_HVG = 2000
SCRUBLET_CHUNK = 8000
N_PCS = 50
N_NEIGHBOURS = 15
LEIDEN_RESOLUTION = 1.0
#: CellTypist's over-clustering resolutions: (cells below, resolution); 30 at or above 200,000 cells.
OVERCLUSTER_RESOLUTION = ((5_000, 5.0), (20_000, 10.0), (40_000, 15.0), (100_000, 20.0), (200_000, 25.0))
OVERCLUSTER_RESOLUTION_MAX = 30.0

#: Input kinds reported by :func:`detect_input`.
KINDS = ("counts_X", "counts_layer", "log_normalised", "scaled_with_raw")


def _sample_values(m) -> np.ndarray:
    v = m.data if sparse.issparse(m) else np.asarray(m).ravel()
    if v.size > 200_000:
        v = v[np.random.default_rng(0).choice(v.size, 200_000, replace=False)]
    return np.asarray(v, dtype=np.float64)


def _is_counts(m) -> bool:
    v = _sample_values(m)
    return v.size > 0 and v.min() >= 0 and np.allclose(v, np.round(v))


def detect_input(adata: AnnData, source: str = "<AnnData>") -> str:
    """Say what the expression matrix holds.

    Returns
    -------
    str
        ``counts_layer`` (integer counts in ``.layers['counts']``), ``counts_X`` (integer counts in
        ``.X``), ``log_normalised`` (non-negative, non-integer ``.X`` with max <= 50, i.e. log scale:
        log1p of 10,000-scaled counts stays below ~10) or ``scaled_with_raw`` (negative values in
        ``.X`` — z-scaled — with a non-negative ``.raw`` holding the log-normalised data, as in
        ``scanpy.datasets.pbmc68k_reduced``).

    Raises
    ------
    InputError
        When none of these applies (e.g. scaled data without ``.raw``, or linear normalised values).
    """
    if "counts" in adata.layers and _is_counts(adata.layers["counts"]):
        return "counts_layer"
    if _is_counts(adata.X):
        return "counts_X"
    v = _sample_values(adata.X)
    if v.size and v.min() >= 0 and v.max() <= 50:
        return "log_normalised"
    if v.size and v.min() < 0 and adata.raw is not None and _sample_values(adata.raw.X).min() >= 0:
        return "scaled_with_raw"
    raise InputError(Problem(
        source, "expression matrix is neither raw counts nor log-normalised values "
        f"(min {v.min() if v.size else 'n/a'}, max {v.max() if v.size else 'n/a'})",
        "provide raw UMI counts in .X or .layers['counts'], or log1p-normalised values in .X"))


def to_working(adata: AnnData, kind: str) -> AnnData:
    """Return a fresh AnnData with raw counts (if any) in ``.layers['counts']`` and ``.X`` as is."""
    if kind == "scaled_with_raw":
        out = adata.raw.to_adata()
        out.obs = adata.obs.copy()
        for k in adata.obsm:
            out.obsm[k] = adata.obsm[k]
        return out
    out = adata.copy()
    out.raw = None
    if kind == "counts_layer":
        out.X = out.layers["counts"].copy()
    if kind in ("counts_X", "counts_layer"):
        out.X = sparse.csr_matrix(out.X, dtype=np.float32)
        out.layers["counts"] = out.X.copy()
    return out


def qc_and_normalise(adata: AnnData, kind: str, seed: int = 0) -> dict:
    """QC (in place, cells/genes removed) and log-normalisation. Returns a QC summary dict."""
    adata.var_names_make_unique()
    # plain numpy bool: pandas 3 string indexes return a nullable BooleanArray that scipy cannot index with
    adata.var["mt"] = np.array([str(g).upper().startswith("MT-") for g in adata.var_names], dtype=bool)
    n0 = adata.n_obs
    summary: dict = {"input_kind": kind, "cells_in": int(n0)}
    if kind in ("counts_X", "counts_layer"):
        sc.pp.calculate_qc_metrics(adata, qc_vars=["mt"], percent_top=None, log1p=False, inplace=True)
        keep = (adata.obs["n_genes_by_counts"] >= min(MIN_GENES, adata.n_vars // 4)) & (
            adata.obs["pct_counts_mt"] <= MAX_PCT_MT)
        summary["cells_failed_qc"] = int((~keep).sum())
        adata._inplace_subset_obs(keep.to_numpy())
        sc.pp.filter_genes(adata, min_cells=MIN_CELLS)
        # Exact neighbours (scanpy 1.11's approximate path breaks on the csr_array current pynndescent
        # returns), run on random chunks of <= SCRUBLET_CHUNK cells via scrublet's batch_key: exact kNN
        # over 100,000 cells + 200,000 simulated doublets needs > 12 GB, while each random chunk keeps
        # the sample's composition, which is all scrublet's simulated doublets need.
        n_chunks = int(np.ceil(adata.n_obs / SCRUBLET_CHUNK))
        rng = np.random.default_rng(seed)
        adata.obs["_scrublet_chunk"] = pd.Categorical(rng.permutation(adata.n_obs) % n_chunks)
        sc.pp.scrublet(adata, random_state=seed, use_approx_neighbors=False,
                       batch_key="_scrublet_chunk" if n_chunks > 1 else None)
        del adata.obs["_scrublet_chunk"]
        dbl = adata.obs["predicted_doublet"].astype(bool).to_numpy()
        summary["doublets_removed"] = int(dbl.sum())
        adata._inplace_subset_obs(~dbl)
        sc.pp.normalize_total(adata, target_sum=TARGET_SUM)
        sc.pp.log1p(adata)
        summary["doublet_detection"] = "scanpy.pp.scrublet"
    else:
        summary["cells_failed_qc"] = 0
        summary["doublets_removed"] = 0
        summary["doublet_detection"] = "skipped: input is not raw counts"
        adata.uns["log1p"] = {"base": None}
    summary["cells_out"] = int(adata.n_obs)
    return summary


def _transformer(n_obs: int, seed: int):
    """kNN transformer for ``sc.pp.neighbors``: scanpy's default choice (exact below 8,192 cells,
    pynndescent above), with pynndescent's graph converted to ``csr_matrix`` — scanpy 1.11 calls
    ``getnnz`` which scipy's ``csr_array`` (returned by pynndescent 0.5.13+) no longer has."""
    if n_obs < 8192:
        return "sklearn"
    from pynndescent import PyNNDescentTransformer

    class _Compat(PyNNDescentTransformer):
        def fit_transform(self, X, y=None, **kw):  # noqa: N803 - sklearn signature
            return sparse.csr_matrix(super().fit_transform(X, y, **kw))

        def transform(self, X, y=None):  # noqa: N803
            return sparse.csr_matrix(super().transform(X, y))

    return _Compat(n_neighbors=N_NEIGHBOURS, metric="euclidean", random_state=seed, n_jobs=None)


def overcluster_resolution(n_obs: int) -> float:
    """Leiden resolution of the annotation over-clustering for ``n_obs`` cells (CellTypist's rule)."""
    for below, res in OVERCLUSTER_RESOLUTION:
        if n_obs < below:
            return res
    return OVERCLUSTER_RESOLUTION_MAX


def embed(adata: AnnData, seed: int = 0) -> None:
    """HVG, PCA, neighbours, Leiden, over-clustering and UMAP (in place; ``obs['leiden','leiden_fine']``,
    ``obsm['X_umap']``; scanpy records each resolution in ``uns['leiden'|'leiden_fine']['params']``)."""
    n_hvg = min(N_HVG, adata.n_vars)
    if n_hvg < adata.n_vars:
        sc.pp.highly_variable_genes(adata, n_top_genes=n_hvg, flavor="seurat")
    else:
        adata.var["highly_variable"] = True
    n_pcs = int(min(N_PCS, adata.n_obs - 1, int(adata.var["highly_variable"].sum()) - 1))
    sc.pp.pca(adata, n_comps=n_pcs, mask_var="highly_variable", random_state=seed)
    sc.pp.neighbors(adata, n_neighbors=N_NEIGHBOURS, n_pcs=n_pcs, random_state=seed,
                    transformer=_transformer(adata.n_obs, seed))
    sc.tl.leiden(adata, resolution=LEIDEN_RESOLUTION, flavor="igraph", n_iterations=2, directed=False,
                 random_state=seed)
    res = overcluster_resolution(adata.n_obs)
    sc.tl.leiden(adata, resolution=res, flavor="igraph", n_iterations=2, directed=False, random_state=seed,
                 key_added="leiden_fine")
    sc.tl.umap(adata, random_state=seed)
