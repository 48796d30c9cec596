"""Cohort integration of annotated samples (``unlock-atlas sc cohort``) → ``results/singlecell/cohort.h5ad``.

Batch correction: **Harmony** (Korsunsky et al., Nat Methods 2019) on the joint PCA, with the sample
as the batch. Why Harmony: it corrects only the embedding (the log-normalised expression, cell
types, malignant calls and programme scores computed per sample stay untouched, so the atlas tables
are unaffected), it is CPU-only and linear in cells (fine for 100,000s of cells on 2 cores), and it
ranked well for simple batch structures in the Luecken et al. (Nat Methods 2022) benchmark. scVI
needs a GPU-scale training run and a count model; ComBat alters expression values; BBKNN only
changes the graph, not an embedding usable for later steps.

Per sample each biopsy is its own batch, so biological differences between timepoints of one patient
are partly absorbed — acceptable for visualisation and joint clustering; quantitative comparisons
use the per-sample tables. MPAS is recomputed across the cohort (``score_mpas_cohort``: per-gene z
over all cells of all samples, Σz/√n as in Wagle 2018) so it can be compared between samples.
"""

from __future__ import annotations

import logging
from pathlib import Path

import anndata
import numpy as np
import pandas as pd
import scanpy as sc
from anndata import AnnData

from ..atomic import atomic_path
from ..errors import InputError, Problem
from .gene_sets import load_programmes
from .preprocess import N_NEIGHBOURS, _transformer
from .scoring import _zscores

logger = logging.getLogger(__name__)

anndata.settings.allow_write_nullable_strings = True

KEEP_OBS = ["leiden", "cell_type", "malignant", "cnv_score"]


def integrate(samples: dict[str, AnnData], timepoints: dict[str, str | None] | None = None,
              seed: int = 0) -> AnnData:
    """Concatenate annotated samples (genes in common), Harmony-correct the PCA, re-embed.

    Parameters
    ----------
    samples
        sample_id → annotated AnnData (``sc annotate`` output).
    timepoints
        Optional sample_id → timepoint, written to ``obs['timepoint']``.
    seed
        Seed for PCA, Harmony, neighbours, Leiden and UMAP.

    Returns
    -------
    AnnData
        ``obs['sample_id','timepoint','cell_type','malignant','score_*','score_mpas_cohort',
        'leiden_cohort']``, ``obsm['X_pca','X_pca_harmony','X_umap']``.
    """
    if len(samples) < 1:
        raise InputError(Problem("sc cohort", "no samples given", "pass at least one annotated .h5ad"))
    parts = []
    for sid, ad in samples.items():
        cols = [c for c in ad.obs.columns if c in KEEP_OBS or c.startswith("score_")]
        a = AnnData(X=ad.X, obs=ad.obs[cols].copy(), var=pd.DataFrame(index=ad.var_names.astype(str)))
        a.obs["sample_id"] = sid
        a.obs["timepoint"] = (timepoints or {}).get(sid)
        a.obs_names = [f"{sid}:{c}" for c in ad.obs_names]
        parts.append(a)
    co = anndata.concat(parts, join="inner", merge=None)
    co.obs["sample_id"] = pd.Categorical(co.obs["sample_id"].astype(str))
    mp = load_programmes()["mpas"].genes
    genes = [g for g in mp if g in set(co.var_names)]
    co.obs["score_mpas_cohort"] = (_zscores(co, genes).sum(axis=1) / np.sqrt(len(genes))) if len(genes) >= 2 else np.nan
    n_hvg = min(2000, co.n_vars)
    if n_hvg < co.n_vars and len(samples) > 1:
        sc.pp.highly_variable_genes(co, n_top_genes=n_hvg, flavor="seurat", batch_key="sample_id")
    else:
        co.var["highly_variable"] = True
    n_pcs = int(min(50, co.n_obs - 1, int(co.var["highly_variable"].sum()) - 1))
    sc.pp.pca(co, n_comps=n_pcs, mask_var="highly_variable", random_state=seed)
    rep = "X_pca"
    if len(samples) > 1:
        import harmonypy

        ho = harmonypy.run_harmony(co.obsm["X_pca"], co.obs, ["sample_id"], random_state=seed, verbose=False)
        z = np.asarray(ho.Z_corr)
        co.obsm["X_pca_harmony"] = z.T if z.shape[0] != co.n_obs else z
        rep = "X_pca_harmony"
    sc.pp.neighbors(co, n_neighbors=N_NEIGHBOURS, use_rep=rep, random_state=seed,
                    transformer=_transformer(co.n_obs, seed))
    sc.tl.leiden(co, key_added="leiden_cohort", flavor="igraph", n_iterations=2, directed=False, random_state=seed)
    sc.tl.umap(co, random_state=seed)
    co.uns["unlock_sc_cohort"] = {"batch_correction": "harmony" if rep != "X_pca" else "none (one sample)",
                                  "batch_key": "sample_id", "n_samples": len(samples)}
    return co


def integrate_files(paths: dict[str, str | Path], out: str | Path, timepoints: dict[str, str | None] | None = None,
                    seed: int = 0) -> AnnData:
    """Read annotated h5ad files (sample_id → path), integrate them and write ``out`` atomically."""
    samples = {sid: anndata.read_h5ad(p) for sid, p in paths.items()}
    co = integrate(samples, timepoints, seed)
    with atomic_path(out, suffix=".h5ad") as tmp:
        co.write_h5ad(tmp, compression="gzip")
    return co
