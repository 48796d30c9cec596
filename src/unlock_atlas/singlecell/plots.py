"""Report plots of one annotated sample (PNG, written atomically)."""

from __future__ import annotations

from pathlib import Path

from anndata import AnnData

from ..atomic import atomic_path
from ..contract.vocab import TIMEPOINTS


def umap_plots(adata: AnnData, out_dir: str | Path, keys: tuple[str, ...] = ("cell_type", "malignant", "leiden"),
               ) -> list[Path]:
    """UMAPs coloured by ``keys`` (default cell type, malignant call, Leiden); returns the files written."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import scanpy as sc

    out = Path(out_dir)
    written = []
    for key in keys:
        if key not in adata.obs:
            continue
        ad = adata
        if key == "malignant":
            ad = adata.copy()
            ad.obs[key] = adata.obs[key].astype(str)
        fig = sc.pl.umap(ad, color=key, show=False, return_fig=True)
        target = out / f"umap_{key}.png"
        with atomic_path(target, suffix=".png") as tmp:
            fig.savefig(tmp, dpi=120, bbox_inches="tight")
        plt.close(fig)
        written.append(target)
    return written


def cohort_plots(co: AnnData, out_dir: str | Path) -> list[Path]:
    """Cohort UMAPs (cell type / malignant / sample) and programme scores of malignant cells by
    timepoint (one box plot per programme); returns the files written."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    written = umap_plots(co, out_dir, ("cell_type", "malignant", "sample_id"))
    obs = co.obs[co.obs["malignant"].fillna(False).astype(bool)] if "malignant" in co.obs else co.obs
    scores = [c for c in obs.columns if c.startswith("score_")]
    if scores and obs["timepoint"].notna().any():
        tps = [t for t in TIMEPOINTS if t in set(obs["timepoint"])]
        fig, axes = plt.subplots(1, len(scores), figsize=(3 * len(scores), 3), squeeze=False)
        for ax, col in zip(axes[0], scores):
            ax.boxplot([obs.loc[obs["timepoint"] == t, col].dropna() for t in tps], tick_labels=tps, showfliers=False)
            ax.set_title(col.removeprefix("score_"), fontsize=9)
            ax.tick_params(axis="x", labelrotation=45, labelsize=7)
        fig.suptitle("programme scores of malignant cells by timepoint")
        target = Path(out_dir) / "programmes_by_timepoint.png"
        with atomic_path(target, suffix=".png") as tmp:
            fig.savefig(tmp, dpi=120, bbox_inches="tight")
        plt.close(fig)
        written.append(target)
    return written
