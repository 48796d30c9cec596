"""Simulator of tumour-biopsy scRNA count matrices with planted truth.

Model (per sample, deterministic given ``seed``):

- **Genes**: every marker and programme gene of ``resources/singlecell/`` plus 13 mitochondrial genes
  and anonymous filler genes (``SIMG#####``) up to ``n_genes``. **Gene order is synthetic but
  realistic**: the shared MANE GTF holds only ~34 genes, far too few for windowed copy-number
  inference, so genes are laid on chr1-chr22 in proportion to the GRCh38 chromosome lengths
  (``resources/grch38_chromosomes.tsv``) at evenly spaced positions, in a permutation fixed by
  ``GENOME_SEED`` (the same for every sample, so samples share one genome). Arms are the two halves
  of each chromosome (p = first half) — a simplification: real centromeres are not at midpoints.
- **Expression**: gene baseline means (shared by all samples) are log-normal (mean of log 0, sd 1.2 on a 1/1,000-count scale,
  a typical spread of UMI means), cells' library sizes log-normal around ``mean_umis`` (sd 0.35);
  markers of the cell's type are multiplied by ``MARKER_FOLD`` = 12 (typical marker log2 fold change
  of ~3.5); besides its cited markers each cell type has its own ``TYPE_PROGRAMME_GENES`` = 60 filler
  genes changed by a log-normal fold (log sd 1), as real cell types differ in hundreds of genes;
  counts are negative binomial with dispersion 0.3 (size 3.3; scRNA UMI overdispersion of
  ~0.1-0.5 is typical, Svensson, Nat Biotechnol 2020 notes near-Poisson for droplets — 0.3 is a
  conservative, noisier choice).
- **Mitochondrial** genes take ~4 % of a healthy cell's counts; 3 % of cells are damaged (~35 %).
- **Malignant cells** are cells of ``malignant_type`` (default epithelial; ``melanocyte`` for a
  melanoma) whose genes follow the patient's copy-number profile:
  ``n_arm_events`` arms each gained (x1.5, 3 copies) or lost (x0.5, 1 copy), drawn from
  ``patient_seed`` so all of a patient's samples share the clone.
- **Non-malignant parenchyma**: ``normal_epithelial_fraction`` (default 0.15, >= 10 % so that
  "epithelial = malignant" fails) of cells are diploid cells of ``malignant_type``; or, with
  ``normal_parenchyma``, the given fractions of diploid cells of each named type (a melanoma:
  normal melanocytes and keratinocytes).
- **Gene layout stability**: marker genes of cell types added to the table after the first eleven
  (``LAYOUT_TYPES``: brain, skin, liver types of issue 24) take the last filler slots, so the layout,
  expression and every sample simulated before they were added stay the same.
- **Progression**: in ``timepoint='progression'`` malignant cells, persister and partial-EMT genes are
  multiplied by ``PROGRAMME_FOLD`` = 3 (planted non-genetic resistance shift).
- **Doublets**: ``doublet_rate`` (3 %) of output cells are the sum of two cells' counts.

Truth columns: ``obs['true_cell_type','true_malignant','true_doublet']``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from anndata import AnnData
from scipy import sparse

from ..reference.genome import grch38_chromosomes
from .gene_sets import load_markers, load_programmes

GENOME_SEED = 20240101
MARKER_FOLD = 12.0
PROGRAMME_FOLD = 3.0
DISPERSION = 0.3
TYPE_PROGRAMME_GENES = 60
MT_GENES = ["MT-ND1", "MT-ND2", "MT-CO1", "MT-CO2", "MT-ATP8", "MT-ATP6", "MT-CO3", "MT-ND3", "MT-ND4L",
            "MT-ND4", "MT-ND5", "MT-ND6", "MT-CYB"]
#: Non-epithelial composition (fractions of the non-epithelial part), TME-like.
TME = {"T cell": 0.35, "NK cell": 0.08, "B cell": 0.12, "plasma cell": 0.05, "myeloid": 0.22,
       "fibroblast": 0.12, "endothelial": 0.06}
PROGRESSION_PROGRAMMES = ("persister", "emt_partial")
#: Cell types whose markers define the original gene layout (later types take filler slots).
LAYOUT_TYPES = ("epithelial", "T cell", "NK cell", "B cell", "plasma cell", "myeloid", "dendritic cell", "mast cell",
                "fibroblast", "pericyte/smooth muscle", "endothelial")


def _layout_named() -> list[str]:
    """Genes named in the original layout: markers of ``LAYOUT_TYPES``, then programme genes."""
    markers = load_markers()
    genes = [g for t in LAYOUT_TYPES if t in markers for g in markers[t].genes]
    return list(dict.fromkeys(genes + [g for s in load_programmes().values() for g in s.genes]))


def genome_layout(n_genes: int) -> pd.DataFrame:
    """The shared synthetic gene order: ``gene, chromosome, start, end`` sorted by position."""
    named = _layout_named()
    later = [g for s in load_markers().values() for g in s.genes if g not in set(named)]
    filler = [f"SIMG{i:05d}" for i in range(max(0, n_genes - len(named) - len(MT_GENES)))]
    k = min(len(dict.fromkeys(later)), len(filler))
    genes = np.array(named + filler[: len(filler) - k] + list(dict.fromkeys(later))[:k])
    rng = np.random.default_rng(GENOME_SEED)
    genes = genes[rng.permutation(len(genes))]
    chroms = {c: n for c, n in grch38_chromosomes().items() if c not in ("chrX", "chrY", "chrM")}
    lengths = np.array(list(chroms.values()), dtype=float)
    counts = np.floor(lengths / lengths.sum() * len(genes)).astype(int)
    counts[: len(genes) - counts.sum()] += 1
    rows = []
    i = 0
    for (c, n), k in zip(chroms.items(), counts):
        starts = np.linspace(1, n - 100_000, k, dtype=np.int64) if k else []
        for s in starts:
            rows.append((genes[i], c, int(s), int(s) + 20_000))
            i += 1
    rows += [(g, "chrM", 1 + 1000 * j, 1000 * (j + 1)) for j, g in enumerate(MT_GENES)]
    return pd.DataFrame(rows, columns=["gene", "chromosome", "start", "end"])


def patient_cnv(layout: pd.DataFrame, patient_seed: int, n_arm_events: int = 6) -> np.ndarray:
    """Per-gene copy-number multiplier of the patient's malignant clone (1 = diploid)."""
    rng = np.random.default_rng(patient_seed)
    chrom = layout["chromosome"].to_numpy()
    pos = layout["start"].to_numpy()
    autos = [c for c in dict.fromkeys(chrom) if c != "chrM"]
    factor = np.ones(len(layout))
    arms = [(c, a) for c in autos for a in ("p", "q")]
    for j in rng.choice(len(arms), size=n_arm_events, replace=False):
        c, arm = arms[j]
        on_c = chrom == c
        mid = pos[on_c].max() / 2
        sel = on_c & ((pos <= mid) if arm == "p" else (pos > mid))
        factor[sel] *= 1.5 if rng.random() < 0.5 else 0.5
    return factor


def simulate_sample(n_cells: int = 3000, *, seed: int = 0, patient_seed: int = 1, timepoint: str = "baseline",
                    n_genes: int = 3000, mean_umis: float = 4000.0, malignant_fraction: float = 0.35,
                    normal_epithelial_fraction: float = 0.15, doublet_rate: float = 0.03,
                    sample_id: str = "SIM-1", programme_shift: bool | None = None,
                    malignant_type: str = "epithelial", normal_parenchyma: dict[str, float] | None = None) -> AnnData:
    """Simulate one biopsy's raw UMI counts (``.X``, int32 CSR) with truth in ``obs``.

    Parameters
    ----------
    n_cells
        Cells in the output (including doublets).
    seed
        Sample seed (cells, counts).
    patient_seed
        Patient seed (copy-number clone shared by the patient's samples).
    timepoint
        ``baseline``, ``on_treatment`` or ``progression`` (progression plants programme shifts).
    n_genes, mean_umis, malignant_fraction, normal_epithelial_fraction, doublet_rate
        See the module docstring.
    sample_id
        Written to ``obs['sample_id']``.
    programme_shift
        Plant the persister / partial-EMT shift in malignant cells; default (None): only at
        ``progression``. The demo sets it per biopsy (a non-genetic resistance patient has it,
        a patient with a genetic mechanism does not).
    malignant_type
        Marker cell type of the malignant cells (``epithelial``; ``melanocyte`` for a melanoma).
    normal_parenchyma
        Cell type → fraction of diploid non-immune, non-stromal cells (default
        ``{malignant_type: normal_epithelial_fraction}``), e.g. ``{"melanocyte": 0.08,
        "keratinocyte": 0.1}`` for a melanoma biopsy.
    """
    rng = np.random.default_rng(seed)
    layout = genome_layout(n_genes)
    genes = layout["gene"].to_numpy()
    gidx = {g: i for i, g in enumerate(genes)}
    base = np.exp(np.random.default_rng(GENOME_SEED + 2).normal(0.0, 1.2, len(genes)))  # shared by all samples
    is_mt = np.isin(genes, MT_GENES)
    base[is_mt] = 0.0
    base /= base.sum()
    n_src = n_cells + int(round(n_cells * doublet_rate))
    n_mal = int(round(n_src * malignant_fraction))
    if normal_parenchyma is None:
        normal_parenchyma = {malignant_type: normal_epithelial_fraction}
    n_norm = {t: int(round(n_src * f)) for t, f in normal_parenchyma.items()}
    tme = rng.choice(list(TME), size=n_src - n_mal - sum(n_norm.values()), p=np.array(list(TME.values())))
    types = np.concatenate([[malignant_type] * n_mal] + [[t] * n for t, n in n_norm.items()] + [tme])
    malignant = np.zeros(n_src, bool)
    malignant[:n_mal] = True
    cnv = patient_cnv(layout, patient_seed)
    markers = load_markers()
    progs = load_programmes()
    type_fold = {ct: np.ones(len(genes)) for ct in set(types)}
    fillers = np.flatnonzero(~np.isin(genes, _layout_named() + MT_GENES))  # the original layout's filler slots
    trng = np.random.default_rng(GENOME_SEED + 1)  # cell-type programmes shared by all samples
    for ct in sorted(type_fold):
        f = type_fold[ct]
        sel = trng.choice(fillers, size=min(TYPE_PROGRAMME_GENES, len(fillers)), replace=False)
        f[sel] = np.exp(trng.normal(0.0, 1.0, len(sel)))
        f[[gidx[g] for g in markers[ct].genes if g in gidx]] = MARKER_FOLD
    prog_fold = np.ones(len(genes))
    if programme_shift is None:
        programme_shift = timepoint == "progression"
    if programme_shift:
        for p in PROGRESSION_PROGRAMMES:
            prog_fold[[gidx[g] for g in progs[p].genes if g in gidx]] = PROGRAMME_FOLD
    lib = np.exp(rng.normal(np.log(mean_umis), 0.35, n_src))
    damaged = rng.random(n_src) < 0.03
    mt_frac = np.where(damaged, 0.35, 0.04)
    rows = []
    size = 1.0 / DISPERSION
    for i in range(n_src):
        mu = base * type_fold[types[i]]
        if malignant[i]:
            mu = mu * cnv * prog_fold
        mu = mu / mu.sum() * lib[i] * (1 - mt_frac[i])
        mu[is_mt] = lib[i] * mt_frac[i] / is_mt.sum()
        rows.append(sparse.csr_matrix(rng.negative_binomial(size, size / (size + mu)).astype(np.int32)))
    x = sparse.vstack(rows).tocsr()
    order = rng.permutation(n_src)
    x, types, malignant = x[order], types[order], malignant[order]
    n_dbl = n_src - n_cells
    pairs = rng.choice(n_src, size=(n_dbl, 2), replace=False)
    keep = np.setdiff1d(np.arange(n_src), pairs.ravel())[: n_cells - n_dbl]
    dbl = x[pairs[:, 0]] + x[pairs[:, 1]]
    x = sparse.vstack([x[keep], dbl]).tocsr()
    obs = pd.DataFrame({
        "sample_id": sample_id, "timepoint": timepoint,
        "true_cell_type": np.concatenate([types[keep], ["doublet"] * n_dbl]),
        "true_malignant": np.concatenate([malignant[keep], malignant[pairs[:, 0]] | malignant[pairs[:, 1]]]),
        "true_doublet": np.concatenate([np.zeros(len(keep), bool), np.ones(n_dbl, bool)]),
    }, index=[f"{sample_id}-c{i:06d}" for i in range(n_cells)])
    var = layout.set_index("gene")
    var.index.name = None
    ad = AnnData(X=x, obs=obs, var=var)
    ad.uns["simulation"] = {"seed": seed, "patient_seed": patient_seed, "timepoint": timepoint,
                            "programme_shift": bool(programme_shift),
                            "progression_programmes": list(PROGRESSION_PROGRAMMES) if programme_shift else []}
    return ad
