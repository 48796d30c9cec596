"""Malignant-cell calls: inferred copy number (infercnvpy) within the tumour's expected lineage.

Method (docs/singlecell.md gives the sources of each choice):

1. **Lineage and reference** (:mod:`.lineage`): the patient's ``tumour_type`` gives the expected
   malignant lineage (``resources/singlecell/tumour_lineage.tsv``; unknown → ``agnostic``). The seed
   reference is the cells confidently not of that lineage: immune cell types not of the lineage, plus
   stromal/endothelial types when the lineage is known and not mesenchymal. Every other cell is a
   candidate (can be called malignant): tumour cells often match no normal type, or a wrong one.
2. ``infercnvpy.tl.infercnv`` (Tirosh/Patel inferCNV algorithm) on the log-normalised data against
   the reference; genes ordered by ``var['chromosome','start']``; genes with a mean of >= 0.1 counts
   (inferCNV's cutoff); window = infercnvpy's default 100 genes, shrunk to n_genes / 88 (at least 25)
   for small gene sets (never longer than half an average chromosome arm).
3. **Arm-level profile** (refinement pass): per cell, the median of its windows on each chromosome
   half (p = first half; gene positions carry no centromeres) — arm-level gains/losses are the
   commonest somatic copy changes (Taylor et al., Cancer Cell 2018), while cell-type expression
   programmes (e.g. HLA on 6p in immune references, myelin genes in oligodendrocytes) move a few
   windows, which the median ignores.
4. **Clone correlation** (Tirosh et al., Science 2016; Nature 2016): Pearson correlation of the cell's
   profile with the clone profile (mean of the top 10 % candidates by CNV signal, mean square),
   averaged over the cell's 15 nearest neighbours in CNV space (PCA of ``X_cnv``). Refinement pass:
   arm profiles. Final pass: the windows themselves, as issue 7 (finer than 44 arm medians, once the
   lineage's own expression is in the reference).
5. **Reference refinement** (the CopyKAT / SCEVAN idea of finding confident diploid cells in the
   data): a Gaussian mixture on the candidates' scores, 1 to 5 components chosen by BIC (several
   clones give several modes); when there is more than one and the lowest component's mean is nearer
   the reference cells' mean score than the next component's, that component's candidates are taken
   as diploid (copy-number-quiet) cells, added to the reference (a second category) and inferCNV is
   rerun. Non-malignant cells of the tumour's own
   lineage (normal epithelium, oligodendrocytes, melanocytes) then stop looking aneuploid merely for
   expressing lineage genes the immune reference lacks.
6. Threshold = 99th percentile of the final reference cells' score; ``malignant`` = candidate, not
   taken as diploid, and score above the threshold.

When the calls cannot be made, ``malignant`` is null (unknown) for every cell — never False — and the
summary says ``status: not_run`` with the reason; ``sc tables`` copies both into the atlas
(``sc_composition.malignant_status`` / ``malignant_note``) and the report lists such biopsies. The
reasons: fewer than ``MIN_POSITIONED_GENES`` = 1,000 genes with autosomal positions (40 windows of 25
genes); no candidate cells (every cell is a reference cell); fewer than
``MIN_SEED_CELLS`` = 5 marker-confident reference cells (CopyKAT builds its diploid baseline from
5 cells, ``baseline.GMM(max.normal = 5)``); fewer than ``MIN_REFERENCE_CELLS`` = 20 reference cells
after refinement.
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
MIN_SEED_CELLS = 5
TOP_FRACTION = 0.1
MAX_COMPONENTS = 5
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


def not_run(adata: AnnData, reason: str, info: dict | None = None) -> dict:
    """Leave every cell's ``malignant`` null (unknown) and return the ``not_run`` summary (with
    ``info``: mode, lineage, reference cell types, when known)."""
    logger.warning("malignant calls not made: %s", reason)
    adata.obs["cnv_score"] = np.nan
    adata.obs["cnv_reference"] = False
    adata.obs["malignant"] = pd.array([pd.NA] * adata.n_obs, dtype="boolean")
    return {"status": NOT_RUN, "reason": reason, **(info or {})}


def arm_profiles(xc: np.ndarray, chr_pos: dict) -> np.ndarray:
    """Per cell, the median of its CNV windows on each chromosome half (cells × arms; empty halves
    left out). ``chr_pos``: chromosome → index of its first window (infercnvpy's ``uns['cnv']``)."""
    starts = sorted((int(v), str(k)) for k, v in chr_pos.items())
    bounds = [s for s, _ in starts] + [xc.shape[1]]
    cols = []
    for (s, _), e in zip(starts, bounds[1:]):
        mid = s + (e - s + 1) // 2
        for a, b in ((s, mid), (mid, e)):
            if b > a:
                cols.append(np.median(xc[:, a:b], axis=1))
    return np.column_stack(cols) if cols else np.zeros((xc.shape[0], 0))


def _corr(rows: np.ndarray, profiles: np.ndarray) -> np.ndarray:
    """Row-wise Pearson correlation of ``rows`` with ``profiles`` (0 where either is constant)."""
    a = rows - rows.mean(axis=1, keepdims=True)
    b = profiles - profiles.mean(axis=1, keepdims=True)
    den = np.sqrt((a ** 2).sum(axis=1) * (b ** 2).sum(axis=1))
    return np.where(den > 0, (a * b).sum(axis=1) / np.where(den > 0, den, 1.0), 0.0)


def _clone_scores(xc: np.ndarray, profiles: np.ndarray, cand: np.ndarray, seed: int) -> np.ndarray:
    """Clone correlation of every cell (step 4): Pearson correlation of its ``profiles`` row (arm
    medians in the refinement pass, the windows ``xc`` themselves in the final pass) with the clone
    profile — the mean of the top ``TOP_FRACTION`` candidates by CNV signal (mean square) — averaged
    over ``SMOOTH_K`` nearest neighbours in CNV space (PCA of ``xc``)."""
    signal = (profiles ** 2).mean(axis=1)
    top = cand & (signal >= np.quantile(signal[cand], 1 - TOP_FRACTION))
    raw = _corr(profiles, np.broadcast_to(profiles[top].mean(axis=0), profiles.shape))
    n_comp = int(min(20, xc.shape[1] - 1, xc.shape[0] - 1))
    emb = PCA(n_components=n_comp, random_state=seed).fit_transform(xc) if n_comp >= 2 else xc
    k = int(min(SMOOTH_K, xc.shape[0]))
    _, idx = NearestNeighbors(n_neighbors=k).fit(emb).kneighbors(emb)
    return raw[idx].mean(axis=1)


def _infercnv(work: AnnData, groups: np.ndarray, ref_cats: list[str], window: int) -> np.ndarray:
    """Run infercnvpy against ``ref_cats`` of ``groups``; returns ``X_cnv`` (dense) and leaves the
    arm profiles in ``work.obsm['X_cnv_arms']``."""
    import infercnvpy as cnv

    work.obs["_cnv_group"] = pd.Categorical(groups)
    cnv.tl.infercnv(work, reference_key="_cnv_group", reference_cat=ref_cats, window_size=window,
                    n_jobs=1, calculate_gene_values=False)
    xc = work.obsm["X_cnv"]
    xc = xc.toarray() if sparse.issparse(xc) else np.asarray(xc)
    work.obsm["X_cnv_arms"] = arm_profiles(xc, work.uns["cnv"]["chr_pos"])
    return xc


def diploid_component(scores: np.ndarray, cand: np.ndarray, ref: np.ndarray, seed: int) -> np.ndarray:
    """Candidates taken as diploid (step 5): a Gaussian mixture of the candidates' scores with the
    number of components (1 to ``MAX_COMPONENTS``) chosen by BIC; with more than one, the candidates of
    the lowest component are diploid when its mean is nearer the reference cells' mean score than the
    next component's mean. Boolean mask over all cells."""
    from sklearn.mixture import GaussianMixture

    out = np.zeros(len(scores), bool)
    x = scores[cand].reshape(-1, 1)
    if len(x) < 10 or np.ptp(x) == 0:
        return out
    fits = [GaussianMixture(k, random_state=seed, n_init=3).fit(x) for k in range(1, min(MAX_COMPONENTS, len(x) // 5) + 1)]
    best = min(fits, key=lambda g: g.bic(x))
    if best.n_components == 1:
        return out
    order = np.argsort(best.means_.ravel())
    m_lo, m_next, m_ref = best.means_[order[0], 0], best.means_[order[1], 0], float(scores[ref].mean())
    if abs(m_lo - m_ref) >= abs(m_next - m_lo):
        return out
    out[np.flatnonzero(cand)[best.predict(x) == order[0]]] = True
    return out


def call_malignant(adata: AnnData, seed: int = 0, positions_from: str = "var",
                   tumour_type: str | None = None) -> dict:
    """Write ``obs['cnv_score','cnv_reference','malignant']`` (malignant nullable); return a summary.

    Parameters
    ----------
    adata
        Annotated sample (``obs['cell_type']``; positions in ``var['chromosome','start','end']``).
    seed
        Seed of the CNV-space PCA and the Gaussian mixture.
    positions_from
        Where the gene positions came from (for the not-run reason), e.g. ``var`` or ``GTF <path>``.
    tumour_type
        The patient's tumour type (``patients.tsv``); ``None``: lineage-agnostic calls.

    Returns
    -------
    dict
        ``status`` (``called`` or ``not_run``), ``reason`` when not run; always ``mode``
        (``lineage`` / ``lineage_agnostic``), ``tumour_type``, ``lineage`` and ``reference_cell_types``;
        when called also the threshold, reference sizes, window size and number of malignant cells.
    """
    from .lineage import AGNOSTIC, plan
    from .scoring import UNASSIGNED

    types = adata.obs["cell_type"].astype(str)
    present = sorted(set(types) - {UNASSIGNED})
    lp = plan(tumour_type, present)
    seed_ref = types.isin(lp.reference_types).to_numpy()
    cand = ~seed_ref
    ref_types = sorted(set(types[seed_ref]))
    info = {"mode": "lineage_agnostic" if lp.lineage == AGNOSTIC else "lineage", "tumour_type": lp.tumour_type or "",
            "lineage": lp.lineage, "reference_cell_types": ref_types}
    n_pos = n_positioned(adata)
    if n_pos < MIN_POSITIONED_GENES:
        return not_run(adata, f"only {n_pos:,} of {adata.n_vars:,} genes have autosomal positions ({positions_from}); "
                       f"copy-number inference needs >= {MIN_POSITIONED_GENES:,} - set reference: gtf (or --gtf) "
                       "to a genome-wide GTF", info)
    if not cand.any():
        return not_run(adata, "every cell is a reference cell (no cell left that could be malignant)", info)
    kinds = "immune" if lp.lineage in (AGNOSTIC, "mesenchymal") else "immune, stromal or endothelial"
    of = "" if lp.lineage == AGNOSTIC else f" not of the {lp.lineage} lineage"
    if seed_ref.sum() < MIN_SEED_CELLS:
        return not_run(adata, f"fewer than {MIN_SEED_CELLS} {kinds} reference cells{of} "
                       f"({int(seed_ref.sum())} found)", info)
    # infercnvpy 0.6 fancy-indexes var_names with a 2-D array, which pandas 3's Arrow-backed string
    # arrays refuse; a plain object index behaves as in pandas 2.
    adata.var_names = pd.Index(np.asarray(adata.var_names, dtype=object), dtype=object)
    adata.var["chromosome"] = adata.var["chromosome"].astype(object)
    work = _expressed(adata)
    n_used = int(work.var["chromosome"].notna().sum())
    window = int(min(WINDOW, max(MIN_WINDOW, n_used // 88)))
    groups = np.where(seed_ref, types.to_numpy(), "query").astype(object)
    xc = _infercnv(work, groups, ref_types, window)
    score = _clone_scores(xc, work.obsm["X_cnv_arms"], cand, seed)
    diploid = diploid_component(score, cand, seed_ref, seed)
    ref = seed_ref | diploid
    if ref.sum() < MIN_REFERENCE_CELLS:
        return not_run(adata, f"fewer than {MIN_REFERENCE_CELLS} reference cells ({int(seed_ref.sum())} {kinds}{of}, "
                       f"{int(diploid.sum())} copy-number-quiet others)", info)
    if diploid.any():
        dip_cat = f"diploid {lp.lineage}"
        groups[diploid] = dip_cat
        xc = _infercnv(work, groups, [*ref_types, dip_cat], window)
    score = _clone_scores(xc, xc, cand & ~diploid, seed)
    adata.obsm["X_cnv"] = work.obsm["X_cnv"]
    adata.uns["cnv"] = work.uns["cnv"]
    thr = float(np.quantile(score[ref], REF_QUANTILE))
    adata.obs["cnv_score"] = score
    adata.obs["cnv_reference"] = ref
    adata.obs["malignant"] = pd.array(cand & ~diploid & (score > thr), dtype="boolean")
    logger.info("malignant calls (%s, lineage %s): reference %d cells of %s + %d copy-number-quiet %s cells; "
                "threshold %.3f; %d malignant", info["mode"], lp.lineage, int(seed_ref.sum()), ", ".join(ref_types),
                int(diploid.sum()), lp.lineage, thr, int(adata.obs["malignant"].sum()))
    return {"status": CALLED, **info, "reference_cells": int(seed_ref.sum()),
            "reference_diploid_cells": int(diploid.sum()), "threshold": thr, "window_size": window,
            "genes_positioned": n_pos, "genes_used": n_used, "n_malignant": int(adata.obs["malignant"].sum())}


def reference_description(info: dict) -> str | None:
    """One line naming a called sample's copy-number reference (for ``sc_composition``)."""
    types = list(info.get("reference_cell_types", []))
    if not types:
        return None
    n_dip = int(info.get("reference_diploid_cells", 0) or 0)
    extra = f" + {n_dip} copy-number-quiet {info.get('lineage')} cells" if n_dip else ""
    n = info.get("reference_cells")
    return f"{', '.join(types)}" + (f" ({n} cells)" if n is not None else "") + extra
