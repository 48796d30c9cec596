"""The per-sample single-cell pipeline (``unlock-atlas sc annotate``)."""

from __future__ import annotations

import logging
from pathlib import Path

import anndata
import scanpy as sc
from anndata import AnnData

from ..atomic import atomic_path
from ..errors import InputError, Problem
from .gene_sets import load_markers, load_programmes
from .malignant import add_positions_from_gtf, call_malignant, not_run
from .preprocess import detect_input, embed, qc_and_normalise, to_working
from .scoring import annotate_cell_types, score_programmes

logger = logging.getLogger(__name__)

# pandas 3 string columns are written by anndata only with this opt-in (anndata >= 0.11 reads them).
anndata.settings.allow_write_nullable_strings = True


def annotate(adata: AnnData, *, seed: int = 0, gtf: str | Path | None = None,
             markers_path: str | Path | None = None, programmes_path: str | Path | None = None,
             source: str = "<AnnData>", call_cnv: bool = True, tumour_type: str | None = None) -> AnnData:
    """Run the per-sample steps and return the annotated object.

    Parameters
    ----------
    adata
        Raw counts in ``.X`` or ``.layers['counts']``, or log-normalised ``.X`` (detected).
    seed
        Seed for scrublet, PCA, Leiden, UMAP and control-gene sampling (deterministic output).
    gtf
        GTF to place genes for copy-number inference when ``var`` lacks positions (the workflow
        passes the configured ``reference: gtf``; with too few genes placed, malignant calls are
        ``not_run`` and say so).
    markers_path, programmes_path
        Override the cited tables in ``resources/singlecell/``.
    source
        Name of the input (for messages).
    call_cnv
        Run infercnvpy for malignant calls (False: ``malignant`` stays null).
    tumour_type
        The patient's tumour type: sets the expected malignant lineage and the copy-number reference
        (``resources/singlecell/tumour_lineage.tsv``); ``None`` or a type not listed: lineage-agnostic.

    Returns
    -------
    AnnData
        Log-normalised ``.X``, ``obs['leiden','cell_type','malignant','cnv_score','score_*']``,
        ``obsm['X_pca','X_umap']`` and ``uns['unlock_sc']`` (input kind, QC counts, programme
        provenance, malignant-call summary).
    """
    kind = detect_input(adata, source)
    logger.info("%s: input detected as %s", source, kind)
    ad = to_working(adata, kind)
    if ad.n_obs < 30:
        raise InputError(Problem(source, f"only {ad.n_obs} cells", "provide a sample with >= 30 cells"))
    summary = {"qc": qc_and_normalise(ad, kind, seed)}
    logger.info("%s: %d of %d cells kept after QC", source, ad.n_obs, summary["qc"]["cells_in"])
    embed(ad, seed)
    annotate_cell_types(ad, load_markers(markers_path))
    summary["programmes"] = score_programmes(ad, load_programmes(programmes_path), seed)
    positions_from = "var" if "chromosome" in ad.var.columns else "no var positions and no GTF given"
    if gtf is not None and "chromosome" not in ad.var.columns:
        add_positions_from_gtf(ad, gtf)
        positions_from = f"GTF {Path(gtf).name}"
    if call_cnv:
        summary["malignant"] = call_malignant(ad, seed, positions_from, tumour_type)
    else:
        summary["malignant"] = not_run(ad, "copy-number inference not requested (--no-cnv)")
    ad.uns["unlock_sc"] = _plain(summary)
    return ad


def _plain(obj):
    """uns must hold h5ad-writable values: dicts of str/number/bool/list of str."""
    if isinstance(obj, dict):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [str(x) for x in obj]
    return obj


def read_any(path: str | Path) -> AnnData:
    """Read ``.h5ad`` or a 10x ``.h5`` file."""
    p = Path(path)
    if not p.exists():
        raise InputError(Problem(str(p), "file not found", "check the path (samples.tsv column scrna)"))
    if p.suffix not in (".h5ad", ".h5"):
        raise InputError(Problem(str(p), "unknown single-cell file type", "give a .h5ad or 10x .h5 file"))
    if p.stat().st_size == 0:
        raise InputError(Problem(str(p), "the single-cell file is empty (0 bytes)", "re-copy or regenerate it"))
    try:
        return anndata.read_h5ad(p) if p.suffix == ".h5ad" else sc.read_10x_h5(p)
    except (OSError, KeyError, ValueError) as exc:  # h5py: not HDF5 / truncated; missing 10x groups
        raise InputError(Problem(str(p), f"cannot read the single-cell file ({type(exc).__name__}: {exc})",
                                 "check it is a complete .h5ad (AnnData) or 10x Genomics .h5 file")) from None


def annotate_file(inp: str | Path, out: str | Path, *, seed: int = 0, gtf: str | Path | None = None,
                  call_cnv: bool = True, tumour_type: str | None = None) -> AnnData:
    """Read ``inp``, run :func:`annotate`, write ``out`` atomically; returns the annotated object."""
    ad = annotate(read_any(inp), seed=seed, gtf=gtf, source=str(inp), call_cnv=call_cnv, tumour_type=tumour_type)
    with atomic_path(out, suffix=".h5ad") as tmp:
        ad.write_h5ad(tmp, compression="gzip")
    return ad
