"""Lineage-aware malignant calls on real and simulated non-epithelial tumours (issue 24).

    python benchmarks/singlecell/lineage.py [N_SEEDS]

1. infercnvpy's bundled oligodendroglioma (Tirosh et al., Nature 2016;539:309; 184 Smart-seq2 cells,
   published labels malignant_<tumour> / Oligodendrocytes (non-malignant) / Microglia/Macrophage),
   TPM converted as the authors did, log2(TPM/10 + 1): agreement with the published malignant labels per
   seed, as tumour type ``oligodendroglioma`` (lineage glial) and with no tumour type (agnostic).
2. A simulated 1,500-cell melanoma biopsy (melanocytic malignant cells with the patient's copy changes,
   8 % diploid melanocytes, 10 % keratinocytes): malignant recall (singlets) and normal melanocytes
   called malignant, as ``melanoma`` and agnostic.
"""

from __future__ import annotations

import sys

import numpy as np

from unlock_atlas.singlecell import annotate
from unlock_atlas.singlecell.simulate import simulate_sample


def oligodendroglioma(seed: int, tumour_type: str | None) -> str:
    import infercnvpy

    raw = infercnvpy.datasets.oligodendroglioma()
    raw.X = raw.X.copy()
    raw.X.data = np.log2(raw.X.data / 10 + 1)
    truth = raw.obs["cell_type"].astype(str).str.startswith("malignant")
    ad = annotate(raw, seed=seed, tumour_type=tumour_type, source="oligodendroglioma")
    pred = ad.obs["malignant"].astype("boolean")
    agree = (pred.fillna(False).to_numpy(bool) == truth.loc[ad.obs_names].to_numpy()).mean()
    info = ad.uns["unlock_sc"]["malignant"]
    return (f"oligodendroglioma seed {seed} tumour_type {tumour_type}: agreement {agree:.3f} over {ad.n_obs} cells, "
            f"uncalled {int(pred.isna().sum())}, reference {info.get('reference_cell_types')} "
            f"+ {info.get('reference_diploid_cells')} copy-number-quiet")


def melanoma(seed: int, tumour_type: str | None) -> str:
    sim = simulate_sample(1500, seed=seed, patient_seed=11 + seed, sample_id="MEL", malignant_type="melanocyte",
                          normal_parenchyma={"melanocyte": 0.08, "keratinocyte": 0.10})
    ad = annotate(sim, seed=0, tumour_type=tumour_type, source="MEL")
    o = sim.obs.loc[ad.obs_names]
    pred = ad.obs["malignant"].astype("boolean").fillna(False).to_numpy(bool)
    mal = (o["true_malignant"] & ~o["true_doublet"]).to_numpy()
    nm = ((o["true_cell_type"] == "melanocyte") & ~o["true_malignant"]).to_numpy()
    fp = (pred & ~o["true_malignant"].to_numpy()).sum()
    return (f"melanoma sim seed {seed} tumour_type {tumour_type}: recall {pred[mal].mean():.3f} ({pred[mal].sum()}/"
            f"{mal.sum()}), normal melanocytes called {pred[nm].sum()}/{nm.sum()}, false positives {fp}")


if __name__ == "__main__":
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    for s in range(n):
        print(oligodendroglioma(s, "oligodendroglioma"), flush=True)
    print(oligodendroglioma(0, None), flush=True)
    for s in range(n):
        print(melanoma(s, "melanoma"), flush=True)
    print(melanoma(0, None), flush=True)
