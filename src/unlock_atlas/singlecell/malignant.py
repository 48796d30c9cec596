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

When the calls cannot be made, ``malignant`` is null (unknown) for every cell — never False — and
the summary says ``status: not_run`` with the reason; ``sc tables`` copies both into the atlas
(``sc_composition.malignant_status`` / ``malignant_note``) and the report lists such biopsies. The
reasons: fewer than ``MIN_POSITIONED_GENES`` = 1,000 genes with genomic positions (40 windows of
25 genes, fewer than one window per chromosome arm below that; typical when the configured
``reference: gtf`` covers only the panel genes), no epithelial cells, or fewer than
``MIN_REFERENCE_CELLS`` = 20 non-epithelial reference cells.
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
MIN_POSITIONED_GENES = 40 * MIN_WINDOW
MIN_REFERENCE_CELLS = 20
CALLED, NOT_RUN = "called", "not_run"
AUTOSOMES = [f"chr{i}" for i in range(1, 23)]


def gene_positions(gtf: str | Path) -> pd.DataFrame:
    """Gene spans from a GTF's transcripts (the package's one GTF reader,
    :func:`~unlock_atlas.reference.transcripts.load_transcripts`): one row per ``gene_name`` with
    ``chromosome`` (``chr``-prefixed, as infercnvpy needs: Ensembl ``7`` becomes ``chr7``, ``MT``
    ``chrM``), ``start`` = lowest and ``end`` = highest transcript coordinate; a gene on two
    chromosomes (X/Y pseudo-autosomal copies) keeps the first seen."""
    from ..reference.transcripts import load_transcripts

    spans: dict[str, list] = {}
    for tx in load_transcripts(gtf).values():
        if not tx.gene or not tx.exons:
            continue
        chrom = tx.chrom if tx.chrom.startswith("chr") else ("chrM" if tx.chrom == "MT" else f"chr{tx.chrom}")
        cur = spans.get(tx.gene)
        if cur is None:
            spans[tx.gene] = [chrom, tx.start, tx.end]
        elif cur[0] == chrom:
            cur[1], cur[2] = min(cur[1], tx.start), max(cur[2], tx.end)
    return pd.DataFrame.from_dict(spans, orient="index", columns=["chromosome", "start", "end"])


def add_positions_from_gtf(adata: AnnData, gtf: str | Path) -> int:
    """Fill ``var['chromosome','start','end']`` from a GTF (matched on ``gene_name``; unmatched
    genes stay NaN); returns the number of genes placed.

    Raises
    ------
    InputError
        When the GTF does not exist or is empty (or is malformed: named by the GTF reader).
    """
    from ..errors import InputError, Problem

    p = Path(gtf)
    if not p.is_file() or p.stat().st_size == 0:
        raise InputError(Problem(str(p), "GTF for gene positions not found or empty",
                                 "set reference: gtf (or --gtf) to a GTF with gene records"))
    pos = gene_positions(p).reindex(adata.var_names)
    adata.var["chromosome"] = pd.Series(pos["chromosome"].to_numpy(dtype=object), index=adata.var_names)
    adata.var["start"] = pos["start"].to_numpy(dtype=np.float64)
    adata.var["end"] = pos["end"].to_numpy(dtype=np.float64)
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


def n_positioned(adata: AnnData) -> int:
    """Genes with a position on an autosome (chr1-chr22: infercnvpy leaves out chrX/chrY/chrM)."""
    if not {"chromosome", "start", "end"} <= set(adata.var.columns):
        return 0
    return int(adata.var["chromosome"].isin(AUTOSOMES).sum())


def has_positions(adata: AnnData) -> bool:
    """True when at least ``MIN_POSITIONED_GENES`` genes carry genomic positions."""
    return n_positioned(adata) >= MIN_POSITIONED_GENES


def not_run(adata: AnnData, reason: str) -> dict:
    """Leave every cell's ``malignant`` null (unknown) and return the ``not_run`` summary."""
    logger.warning("malignant calls not made: %s", reason)
    adata.obs["cnv_score"] = np.nan
    adata.obs["malignant"] = pd.array([pd.NA] * adata.n_obs, dtype="boolean")
    return {"status": NOT_RUN, "reason": reason}


def call_malignant(adata: AnnData, seed: int = 0, positions_from: str = "var") -> dict:
    """Write ``obs['cnv_score']`` and ``obs['malignant']`` (nullable boolean); return a summary.

    Parameters
    ----------
    adata
        Annotated sample (``obs['cell_type']``; positions in ``var['chromosome','start','end']``).
    seed
        Seed of the CNV-space PCA.
    positions_from
        Where the gene positions came from (for the not-run reason), e.g. ``var`` or ``GTF <path>``.

    Returns
    -------
    dict
        ``status`` (``called`` or ``not_run``), ``reason`` when not run, else the threshold,
        reference cell types, window size and number of malignant cells.
    """
    import infercnvpy as cnv

    types = adata.obs["cell_type"].astype(str)
    ref_cats = sorted(set(types) - {EPITHELIAL, "unassigned"})
    n_pos = n_positioned(adata)
    if n_pos < MIN_POSITIONED_GENES:
        return not_run(adata, f"only {n_pos:,} of {adata.n_vars:,} genes have autosomal positions ({positions_from}); "
                       f"copy-number inference needs >= {MIN_POSITIONED_GENES:,} - set reference: gtf (or --gtf) "
                       "to a genome-wide GTF")
    if (types == EPITHELIAL).sum() == 0:
        return not_run(adata, "no epithelial cells")
    if not ref_cats or types.isin(ref_cats).sum() < MIN_REFERENCE_CELLS:
        return not_run(adata, f"fewer than {MIN_REFERENCE_CELLS} non-epithelial reference (normal) cells")
    # infercnvpy 0.6 fancy-indexes var_names with a 2-D array, which pandas 3's Arrow-backed string
    # arrays refuse; a plain object index behaves as in pandas 2.
    adata.var_names = pd.Index(np.asarray(adata.var_names, dtype=object), dtype=object)
    adata.var["chromosome"] = adata.var["chromosome"].astype(object)
    work = _expressed(adata)
    n_used = int(work.var["chromosome"].notna().sum())
    window = int(min(WINDOW, max(MIN_WINDOW, n_used // 88)))
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
    return {"status": CALLED, "reference_cell_types": ref_cats, "threshold": thr, "window_size": window,
            "genes_positioned": n_pos, "genes_used": n_used, "n_malignant": int(adata.obs["malignant"].sum())}
