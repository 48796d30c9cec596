"""Major-lineage agreement of `sc annotate` cell types with pbmc68k_reduced's bulk_labels (issue 18).

    python benchmarks/singlecell/pbmc68k.py [N_SEEDS]

Truth: scanpy.datasets.pbmc68k_reduced() ``bulk_labels`` (Zheng et al., Nat Commun 2017): every
CD4+/CD8+ T population -> T cell, CD19+ B -> B cell, CD56+ NK -> NK cell, CD14+ Monocyte -> myeloid;
Dendritic and CD34+ are not scored (no measurable marker set, see docs/singlecell.md). Prints the
agreement per seed (seed of PCA / Leiden / UMAP), the confusion table of seed 0, and the
agreement of the method's parts switched on one at a time (seed 0) - the issue-7 method
re-implemented here (mean marker z, resolution-1 Leiden clusters, unassigned below 0.5).
"""

from __future__ import annotations

import sys
import time

import numpy as np
import pandas as pd
import scanpy as sc

from unlock_atlas.singlecell import annotate, load_markers
from unlock_atlas.singlecell.preprocess import detect_input, embed, qc_and_normalise, to_working
from unlock_atlas.singlecell.scoring import MAX_Z, MIN_MARKERS, _zscores


def lineage(label: str) -> str | None:
    if label.startswith(("CD4+", "CD8+")):
        return "T cell"
    return {"CD19+ B": "B cell", "CD56+ NK": "NK cell", "CD14+ Monocyte": "myeloid"}.get(label)


def variant(ad, markers, *, sctype: bool, fine: bool) -> pd.Series:
    """Cluster labels under one combination of the method's parts (for the ablation table)."""
    present = set(ad.var_names)
    score, pos = {}, {}
    for name, gs in markers.items():
        genes = [g for g in gs.genes if g in present]
        if len(genes) < MIN_MARKERS:
            continue
        z = np.clip(_zscores(ad, genes), -MAX_Z, MAX_Z)
        if sctype:
            p = z.sum(axis=1) / np.sqrt(len(genes))
            neg = [g for g in gs.negative if g in present]
            n = np.clip(_zscores(ad, neg), -MAX_Z, MAX_Z).sum(axis=1) / np.sqrt(len(neg)) if neg else 0.0
            score[name], pos[name] = p - n, p
        else:
            score[name] = pos[name] = _zscores(ad, genes).mean(axis=1)
    score, pos = pd.DataFrame(score, index=ad.obs_names), pd.DataFrame(pos, index=ad.obs_names)
    cl = ad.obs["leiden_fine" if fine else "leiden"].to_numpy()
    m, pm = score.groupby(cl).mean(), pos.groupby(cl).mean()
    best = m.idxmax(axis=1)
    thr = 0.25 if sctype else 0.5
    keep = (m.max(axis=1) >= thr) & pd.Series([pm.at[c, t] >= thr for c, t in best.items()], index=best.index)
    return pd.Series(cl, index=ad.obs_names).astype(str).map(best.where(keep, "unassigned").astype(str).to_dict())


def main(n_seeds: int = 5) -> None:
    raw = sc.datasets.pbmc68k_reduced()
    truth = raw.obs["bulk_labels"].astype(str).map(lineage)
    ok = truth.notna()
    print(f"pbmc68k_reduced: {raw.n_obs} cells, {raw.raw.n_vars} genes in .raw; scored cells {int(ok.sum())} "
          f"({truth[ok].value_counts().to_dict()})")
    agrees = []
    for seed in range(n_seeds):
        t0 = time.perf_counter()
        ad = annotate(raw, seed=seed, source="pbmc68k_reduced")
        pred = ad.obs["cell_type"].astype(str).reindex(raw.obs_names)
        agrees.append(float((pred[ok] == truth[ok]).mean()))
        print(f"seed {seed}: agreement {agrees[-1]:.4f} ({int((pred[ok] == truth[ok]).sum())}/{int(ok.sum())}); "
              f"{time.perf_counter() - t0:.1f} s")
        if seed == 0:
            with pd.option_context("display.width", 200):
                print(pd.crosstab(raw.obs["bulk_labels"], pred))
            for lin in ("T cell", "B cell", "NK cell", "myeloid"):
                sel = truth == lin
                called = (pred == lin) & ok
                print(f"  {lin}: recall {(pred[sel] == lin).mean():.3f} of {int(sel.sum())}; "
                      f"precision {(truth[called] == lin).mean():.3f} of {int(called.sum())} scored cells called {lin}")
    print(f"agreement over {n_seeds} seeds: min {min(agrees):.4f}, mean {np.mean(agrees):.4f}, max {max(agrees):.4f}")
    ad = to_working(raw, detect_input(raw))
    qc_and_normalise(ad, "scaled_with_raw", 0)
    embed(ad, 0)
    markers = load_markers()
    print("ablation (seed 0):")
    for sctype, fine, label in [(False, False, "issue-7 method: mean z, resolution-1 Leiden, threshold 0.5"),
                                (False, True, "+ over-clustering only"),
                                (True, False, "+ ScType score (sum z / sqrt n, negative markers) only"),
                                (True, True, "both (this pipeline)")]:
        lab = variant(ad, markers, sctype=sctype, fine=fine)
        print(f"  {label}: {(lab[ok] == truth[ok]).mean():.4f}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 5)
