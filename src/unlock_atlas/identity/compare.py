"""Genotypes, pairwise concordance, the "same individual" score and contamination.

Everything works on the fingerprints of the whole run (same sites, same order) as matrices of
samples x sites, so all pairs of a cohort are scored with a few matrix products.

**Genotype call** (sites with ref + alt fragments >= ``min_depth``, default 20; else no call):
``0`` (hom-ref) when VAF < 0.15, ``2`` (hom-alt) when VAF > 0.85, ``1`` (het) otherwise. At 20x a
diploid het has VAF 0.5 +- 0.11 (s.d.), so 0.15 / 0.85 are > 3 s.d. away; the wide het band keeps
tumour allelic imbalance (a loss of one allele at purity <= 0.7 moves a het to 0.23-0.77) a het.

**Discordance** of two samples = fraction of the sites called in both whose calls differ.
Unrelated people differ at ~60 % of common SNPs (at allele frequency 0.5, P(g1 != g2) = 0.625);
samples of one person only by genotyping error.

**Same-individual score (LOD)**: log10 likelihood ratio of the two samples' calls under
"same person" vs "two unrelated people", summed over sites called in both (the statistic of
Picard CrosscheckFingerprints, on genotype calls instead of read likelihoods so that tumour
allelic imbalance does not count as evidence)::

    same:      sum_g P(g) P(c1|g) P(c2|g)        different:  P(c1) P(c2),  P(c) = sum_g P(g) P(c|g)

``P(g)`` is Hardy-Weinberg at the site's allele frequency p, estimated from the run's normals
as (alt alleles + 1) / (2 n + 2) (add-one so a site seen in few normals is not taken as fixed)
and bounded to [0.05, 0.95]. ``P(c|g) = 1 - eps`` for the true genotype and ``eps / 2`` for each
other, ``eps`` = :data:`GENOTYPE_ERROR` = 0.05: it absorbs sampling error at low depth and
copy-number-driven shifts (copy-neutral LOH at high purity can turn a het into a hom call).
With 40 common SNPs a true pair scores about +10 and an unrelated pair about -13; the verdict
uses +-``min_lod`` (default 3, i.e. 1000:1 odds) and is ``inconclusive`` in between (too
few shared informative sites).

**Contamination** (a sample mixed with another person's DNA): at the sample's own homozygous
sites (VAF <= 0.2 or >= 0.8, depth >= 50 so a het is > 4 s.d. from the cut) a contaminant with
population genotype contributes the other allele at expected fraction ``c * q`` (``q`` = the
frequency of the allele the sample lacks, from the OTHER normals of the run). The moment estimator::

    c = sum_i (m_i - d_i * e) / sum_i (d_i * q_i),   bounded to [0, 1]

with ``m_i`` the fragments with the other allele, ``d_i`` the depth, and ``e`` the per-base
sequencing error estimated from the same sample's third-base counts (``other / (2 * depth)``:
two possible wrong bases). It is judged for **normals** only: tumour DNA has allelic imbalance
(loss of heterozygosity, gains) that looks like contamination at homozygous-looking sites, so
for tissue and plasma it is reported, not judged.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

#: VAF cut-offs of the genotype call (see module docstring).
HOM_REF_MAX_VAF = 0.15
HOM_ALT_MIN_VAF = 0.85
#: Genotype-call error rate of the LOD model.
GENOTYPE_ERROR = 0.05
#: Bounds of the per-site population allele frequency.
MIN_AF, MAX_AF = 0.05, 0.95
#: Homozygous sites used for contamination: VAF cut-offs and minimum depth.
CONTAM_HOM_VAF = 0.2
CONTAM_MIN_DEPTH = 50


@dataclass
class Matrices:
    """Fingerprints of a run as arrays (samples x sites) plus the row labels."""

    samples: list[str]
    ref: np.ndarray
    alt: np.ndarray
    other: np.ndarray

    @property
    def depth(self) -> np.ndarray:
        """ref + alt fragments (the denominator of the VAF)."""
        return self.ref + self.alt

    @property
    def vaf(self) -> np.ndarray:
        d = self.depth
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(d > 0, self.alt / np.maximum(d, 1), np.nan)


def stack(fps: dict[str, pd.DataFrame]) -> Matrices:
    """Stack per-sample fingerprints (same sites in the same order) into :class:`Matrices`.

    Raises
    ------
    ValueError
        When the fingerprints were made from different site lists.
    """
    names = list(fps)
    if not names:
        return Matrices([], *(np.zeros((0, 0), dtype=np.int64) for _ in range(3)))
    def site_key(fp: pd.DataFrame) -> list[str]:
        # a panel without fingerprint sites gives empty fingerprints (agg over no rows is no Series)
        return [f"{c}:{p}:{a}" for c, p, a in zip(fp["chrom"].astype(str), fp["pos"].astype(str), fp["alt"].astype(str))]

    key = site_key(fps[names[0]])
    for n in names[1:]:
        if site_key(fps[n]) != key:
            raise ValueError(f"fingerprint of {n} was made from another site list than {names[0]}")
    get = lambda col: np.array([fps[n][col].to_numpy(dtype=np.int64) for n in names]).reshape(len(names), len(key))  # noqa: E731
    return Matrices(names, get("ref_count"), get("alt_count"), get("other_count"))


def genotypes(m: Matrices, min_depth: int) -> np.ndarray:
    """Calls 0/1/2 per sample x site; -1 where depth < ``min_depth``."""
    vaf = m.vaf
    g = np.where(vaf < HOM_REF_MAX_VAF, 0, np.where(vaf > HOM_ALT_MIN_VAF, 2, 1))
    return np.where(m.depth >= min_depth, g, -1).astype(np.int8)


def allele_frequencies(g: np.ndarray, normal_rows: list[int]) -> np.ndarray:
    """Per-site alt allele frequency from the normals' calls: (alleles + 1) / (2 n + 2), bounded."""
    n_sites = g.shape[1]
    if not normal_rows:
        return np.full(n_sites, 0.5)
    gn = g[normal_rows]
    called = gn >= 0
    alleles = np.where(called, gn, 0).sum(axis=0)
    p = (alleles + 1) / (2 * called.sum(axis=0) + 2)
    return np.clip(p, MIN_AF, MAX_AF)


def lod_tables(p: np.ndarray, eps: float = GENOTYPE_ERROR) -> np.ndarray:
    """Per-site 3x3 log10 LR tables ``T[s, c1, c2]`` (same person vs unrelated), see module docstring."""
    prior = np.stack([(1 - p) ** 2, 2 * p * (1 - p), p ** 2], axis=1)          # (S, 3) P(g)
    emit = np.full((3, 3), eps / 2) + np.eye(3) * (1 - eps - eps / 2)          # emit[g, c] = P(c | g)
    same = np.einsum("sg,gx,gy->sxy", prior, emit, emit)
    marg = prior @ emit                                                         # (S, 3) P(c)
    diff = marg[:, :, None] * marg[:, None, :]
    return np.log10(same / diff)


def pairwise(g: np.ndarray, tables: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """All pairs at once: ``(lod, n_sites_both_called, n_discordant)``, each samples x samples."""
    onehot = [(g == k).astype(np.float64) for k in range(3)]
    n = g.shape[0]
    lod = np.zeros((n, n))
    both = np.zeros((n, n))
    disc = np.zeros((n, n))
    for x in range(3):
        for y in range(3):
            prod = onehot[x] @ onehot[y].T
            both += prod
            if x != y:
                disc += prod
            lod += (onehot[x] * tables[:, x, y]) @ onehot[y].T
    return lod, both.astype(np.int64), disc.astype(np.int64)


def contamination(m: Matrices, g: np.ndarray, normal_rows: list[int]) -> tuple[np.ndarray, np.ndarray]:
    """Per-sample contamination estimate and the number of homozygous sites behind it.

    The allele frequency of each sample's sites leaves the sample itself out (a normal's own
    hom-ref call would lower p at exactly the sites used, and inflate ``c`` in small cohorts).
    Returns ``(c, n_sites)``; ``c`` is NaN where the sample has no usable homozygous site.
    """
    gn = g[normal_rows] if normal_rows else np.full((0, g.shape[1]), -1)
    called = gn >= 0
    alleles, n_called = np.where(called, gn, 0).sum(axis=0), called.sum(axis=0)
    is_normal = np.zeros(g.shape[0], dtype=bool)
    is_normal[normal_rows] = True
    own_called = (g >= 0) & is_normal[:, None]
    own_alleles = np.where(own_called, g, 0)
    p = np.clip((alleles[None, :] - own_alleles + 1) / (2 * (n_called[None, :] - own_called) + 2), MIN_AF, MAX_AF)
    d = m.depth
    vaf = m.vaf
    total = d + m.other
    with np.errstate(invalid="ignore", divide="ignore"):
        err = m.other.sum(axis=1) / np.maximum(2 * total.sum(axis=1), 1)      # per specific wrong base
    ok = d >= CONTAM_MIN_DEPTH
    homref = ok & (vaf <= CONTAM_HOM_VAF)
    homalt = ok & (vaf >= 1 - CONTAM_HOM_VAF)
    minor = np.where(homref, m.alt, np.where(homalt, m.ref, 0))
    q = np.where(homref, p, np.where(homalt, 1 - p, 0.0))
    used = homref | homalt
    num = (np.where(used, minor, 0) - np.where(used, d, 0) * err[:, None]).sum(axis=1)
    den = (np.where(used, d, 0) * q).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        c = np.where(den > 0, np.clip(num / np.where(den > 0, den, 1), 0.0, 1.0), np.nan)
    return c, used.sum(axis=1)
