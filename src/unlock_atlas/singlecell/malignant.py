"""Malignant-cell calls: inferred copy number (infercnvpy) combined with epithelial identity.

Method:

1. ``infercnvpy.tl.infercnv`` (Tirosh/Patel inferCNV algorithm) on the log-normalised data with the
   non-epithelial cells (immune, stromal, endothelial — annotated by marker score) as the diploid
   reference; genes ordered by ``var['chromosome','start']``; window = infercnvpy's default 100
   genes, shrunk to n_positioned_genes / 88 (at least 25) when fewer genes are measured, so a window
   is never longer than half an average chromosome arm (44 autosomal arms) and arm-level changes
   fill whole windows.
2. Per-cell CNV score = Pearson correlation of the cell's windowed CNV profile (``X_cnv``) with the
   clone profile, the mean profile of the top 10 % epithelial cells by CNV signal (mean square of
   ``X_cnv``) — the "CNV correlation" of Tirosh et al., Science 2016, which is far less noisy than the
   signal alone because it uses the whole genome-wide pattern. It is then averaged over each cell's
   15 nearest neighbours in CNV space (PCA of ``X_cnv``): profiles are shared by a clone while the
   per-cell estimate is noisy (infercnvpy's ``cnv_score`` averages over CNV clusters likewise).
   Genes enter only with a mean of >= 0.1 counts per cell (inferCNV's cutoff).
3. Threshold = 99th percentile of the smoothed score of the reference cells (false-positive rate
   ~1 % among diploid cells by construction).
4. ``malignant`` = epithelial by marker annotation AND score above the threshold. Non-malignant
   epithelium (no copy changes) therefore stays non-malignant, and a non-epithelial cell is never
   called malignant from noise.

Without genomic positions (no ``var['chromosome']`` and no ``--gtf``) or without epithelial or
reference cells, ``malignant`` is null (unknown) and the reason is recorded.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd
from anndata import AnnData
from scipy import sparse
from sklearn.decomposition import PCA
from sklearn.neighbors import NearestNeighbors

logger = logging.getLogger(__name__)

EPITHELIAL = "epithelial"
WINDOW = 100
MIN_WINDOW = 25
MIN_MEAN_COUNTS = 0.1
SMOOTH_K = 15
REF_QUANTILE = 0.99


def add_positions_from_gtf(adata: AnnData, gtf: str | Path) -> int:
    """Fill ``var['chromosome','start','end']`` from a GTF (gene records); returns genes placed."""
    import infercnvpy as cnv

    cnv.io.genomic_position_from_gtf(str(gtf), adata, gtf_gene_id="gene_name", inplace=True)
    return int(adata.var["chromosome"].notna().sum())


def _expressed(adata: AnnData) -> AnnData:
    """Genes with a mean of >= 0.1 counts per cell (inferCNV's documented cutoff for 10x data;
    lowly expressed genes only add sampling noise to the windows), positioned ones only."""
    if "counts" in adata.layers:
        mean = np.asarray(adata.layers["counts"].mean(axis=0)).ravel()
    else:
        x = adata.X
        mean = np.asarray((x.expm1() if sparse.issparse(x) else np.expm1(x)).mean(axis=0)).ravel()
    keep = (mean >= MIN_MEAN_COUNTS) & adata.var["chromosome"].notna().to_numpy()
    return adata[:, keep].copy()


def has_positions(adata: AnnData) -> bool:
    """True when at least 2 windows' worth of genes carry genomic positions."""
    return {"chromosome", "start", "end"} <= set(adata.var.columns) and \
        int(adata.var["chromosome"].notna().sum()) >= 40 * MIN_WINDOW


def call_malignant(adata: AnnData, seed: int = 0) -> dict:
    """Write ``obs['cnv_score']`` and ``obs['malignant']`` (nullable boolean); return a summary."""
    import infercnvpy as cnv

    types = adata.obs["cell_type"].astype(str)
    ref_cats = sorted(set(types) - {EPITHELIAL, "unassigned"})
    reason = None
    if not has_positions(adata):
        reason = "no genomic positions for genes (var chromosome/start/end; pass --gtf)"
    elif (types == EPITHELIAL).sum() == 0:
        reason = "no epithelial cells"
    elif not ref_cats or types.isin(ref_cats).sum() < 20:
        reason = "fewer than 20 non-epithelial reference cells"
    if reason:
        logger.warning("malignant calls skipped: %s", reason)
        adata.obs["cnv_score"] = np.nan
        adata.obs["malignant"] = pd.array([pd.NA] * adata.n_obs, dtype="boolean")
        return {"status": "skipped", "reason": reason}
    # infercnvpy 0.6 fancy-indexes var_names with a 2-D array, which pandas 3's Arrow-backed string
    # arrays refuse; a plain object index behaves as in pandas 2.
    adata.var_names = pd.Index(np.asarray(adata.var_names, dtype=object), dtype=object)
    adata.var["chromosome"] = adata.var["chromosome"].astype(object)
    work = _expressed(adata)
    n_pos = int(work.var["chromosome"].notna().sum())
    window = int(min(WINDOW, max(MIN_WINDOW, n_pos // 88)))
    cnv.tl.infercnv(work, reference_key="cell_type", reference_cat=ref_cats, window_size=window,
                    n_jobs=1, calculate_gene_values=False)
    adata.obsm["X_cnv"] = work.obsm["X_cnv"]
    adata.uns["cnv"] = work.uns["cnv"]
    xc = adata.obsm["X_cnv"]
    xc = xc.toarray() if sparse.issparse(xc) else np.asarray(xc)
    signal = (xc ** 2).mean(axis=1)
    epi = (types == EPITHELIAL).to_numpy()
    top = epi & (signal >= np.quantile(signal[epi], 0.9))
    clone = xc[top].mean(axis=0)
    raw = np.array([np.corrcoef(row, clone)[0, 1] if row.std() > 0 else 0.0 for row in xc])
    n_comp = int(min(20, xc.shape[1] - 1, xc.shape[0] - 1))
    emb = PCA(n_components=n_comp, random_state=seed).fit_transform(xc) if n_comp >= 2 else xc
    k = int(min(SMOOTH_K, adata.n_obs))
    _, idx = NearestNeighbors(n_neighbors=k).fit(emb).kneighbors(emb)
    smooth = raw[idx].mean(axis=1)
    is_ref = types.isin(ref_cats).to_numpy()
    thr = float(np.quantile(smooth[is_ref], REF_QUANTILE))
    adata.obs["cnv_score"] = smooth
    adata.obs["malignant"] = pd.array((types == EPITHELIAL).to_numpy() & (smooth > thr), dtype="boolean")
    return {"status": "called", "reference_cell_types": ref_cats, "threshold": thr, "window_size": window,
            "n_malignant": int(adata.obs["malignant"].sum())}
