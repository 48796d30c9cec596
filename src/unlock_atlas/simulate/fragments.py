"""DNA fragments of one sample: lengths, hybrid-capture positions, duplicates, allele carriers.

Model (every choice with its reason):

* **Lengths.** Plasma cfDNA: mononucleosomal peak at 167 bp (sd 10) with the ~10.4 bp
  helical periodicity below it (nucleosome-bound DNA is nicked once per helical turn), a
  shoulder down to ~90 bp and a dinucleosome peak near 334 bp. Tumour-derived cfDNA is
  shorter (mode ~145 bp, enriched in 90-150 bp; Mouliere et al., Sci Transl Med 2018;
  10:eaat4921), so each fragment is labelled tumour/normal first and its length drawn from
  that class's distribution. Tissue and the white-cell normal: sonicated/enzymatically
  sheared genomic DNA, lognormal with median 250 bp and log-sd 0.25 (80-800 bp).
* **Capture.** On-target fragments pick a target with probability proportional to its capture
  efficiency (GC curve x fixed per-target factor, :mod:`.panelgenome`) x (target length +
  100 bp, the number of placements a fragment has over it) x the gene's copy ratio
  ``(tc*CN + (1-tc)*2)/2`` (amplified DNA is captured in proportion to its amount). A fragment
  must overlap its target by >= 40 bp (about a third of a 120-mer bait, the least that still
  hybridises stably) or by the whole target/fragment if shorter, and is kept with probability
  overlap / min(fragment, target) (yield grows with the hybridising length), so fragments
  centre on their targets and ~50-60 % of read bases fall in targets, as on real small panels. ``off_target_fraction``
  (default 17 %) of fragments land uniformly on non-target sequence of the gene regions,
  rejection-sampled so they overlap no target.
* **Depth.** The number of read pairs is calibrated on a 40,000-fragment pilot drawn without
  copy-number weighting: pairs = depth x target bp / mean target bases per pair (mates'
  overlap counted once, as Picard HsMetrics/mosdepth do). Amplification therefore re-
  distributes a fixed read count, lowering other genes' depth slightly as in real capture.
* **PCR duplicates.** ``duplicate_fraction`` of pairs are copies of uniformly chosen unique
  molecules (same ends, same alleles, independent sequencing errors).
* **Alleles.** For each allele group (one variant, or alleles phased in cis) the number of
  carrier molecules among those spanning it is Binomial(n, VAF); carriers are taken first
  from tumour-derived molecules (somatic), from non-tumour molecules (CH), or uniformly
  (germline), spilling over to the other class only when it runs out. Every spanning
  molecule is thus alt with probability VAF, and in plasma the alt molecules are the short
  tumour-derived ones, as in real ctDNA.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .cohort import PlannedVariant, SamplePlan
from .panelgenome import PanelGenome

_L = np.arange(40, 801)
MIN_OVERLAP = 40
PILOT_FRAGMENTS = 40_000


def _gauss(mu: float, sd: float) -> np.ndarray:
    return np.exp(-0.5 * ((_L - mu) / sd) ** 2)


def _periodic(mode: float, below: float) -> np.ndarray:
    """10.4-bp oscillation below the mononucleosome mode (amplitude 0.35, fading below 90 bp)."""
    f = 1 + 0.35 * np.cos(2 * np.pi * (_L - mode) / 10.4)
    return np.where(_L < below, f, 1.0)


def _shoulder(lo: float, hi: float) -> np.ndarray:
    return np.where((_L >= lo) & (_L <= hi), (_L - lo) / (hi - lo), 0.0)


def length_pmf(kind: str) -> tuple[np.ndarray, np.ndarray]:
    """(lengths, probabilities) for ``plasma_normal``, ``plasma_tumour`` or ``sheared``."""
    if kind == "plasma_normal":
        w = (0.80 * _gauss(167, 10) / 10 + 0.13 * _shoulder(90, 160) / 35 + 0.05 * _gauss(334, 25) / 25
             + 0.02 * ((_L >= 60) & (_L <= 500)) / 440) * _periodic(167, 160)
    elif kind == "plasma_tumour":
        w = (0.55 * _gauss(145, 12) / 12 + 0.32 * _shoulder(80, 150) / 35 + 0.10 * _gauss(300, 25) / 25
             + 0.03 * ((_L >= 60) & (_L <= 500)) / 440) * _periodic(145, 140)
    elif kind == "sheared":
        w = np.exp(-0.5 * ((np.log(_L) - np.log(250)) / 0.25) ** 2) / _L * (_L >= 80)
    else:  # pragma: no cover - programming error
        raise ValueError(kind)
    return _L.copy(), w / w.sum()


@dataclass
class Fragments:
    """Unique molecules ``[0, n_unique)`` then their PCR duplicates; ``src`` maps row -> molecule."""

    g0: np.ndarray          # per unique molecule: global start
    length: np.ndarray      # per unique molecule: reference span
    tumour: np.ndarray      # per unique molecule: tumour-derived
    r1_forward: np.ndarray  # per unique molecule: read 1 on the + strand
    src: np.ndarray         # per row (unique rows first, then duplicates): unique molecule index

    @property
    def n_unique(self) -> int:
        return len(self.g0)

    @property
    def n_pairs(self) -> int:
        return len(self.src)


def _lengths(rng: np.random.Generator, plan: SamplePlan, tumour: np.ndarray) -> np.ndarray:
    out = np.empty(len(tumour), dtype=np.int64)
    if plan.sample_type == "plasma":
        for flag, kind in ((True, "plasma_tumour"), (False, "plasma_normal")):
            idx = np.flatnonzero(tumour == flag)
            lens, p = length_pmf(kind)
            out[idx] = rng.choice(lens, size=len(idx), p=p)
    else:
        lens, p = length_pmf("sheared")
        out[:] = rng.choice(lens, size=len(tumour), p=p)
    return out


def draw_molecules(genome: PanelGenome, plan: SamplePlan, rng: np.random.Generator, n: int,
                   cn_aware: bool = True) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Draw ``n`` unique molecules: (global start, length, tumour-derived) arrays."""
    genes = genome.genes
    ratio = np.array([plan.gene_ratio(g) if cn_aware else 1.0 for g in genes])
    share = np.array([plan.tumour_share(g) if cn_aware else plan.tumour_content for g in genes])
    n_off = int(rng.binomial(n, plan.off_target_fraction))
    n_on = n - n_off
    # on target
    tlen = genome.t_g1 - genome.t_g0
    w = genome.t_efficiency * (tlen + 100) * ratio[genome.t_region]
    t = rng.choice(len(w), size=n_on, p=w / w.sum())
    reg = genome.t_region[t]
    tum = rng.random(n_on) < share[reg]
    L = _lengths(rng, plan, tum)
    s = _place_on_target(genome, rng, t, L)
    s = np.clip(s, genome.reg_g0[reg], genome.reg_g1[reg] - L)
    # off target: uniform over non-target sequence, rejection-sampled
    rlen = genome.reg_g1 - genome.reg_g0
    free = rlen - genome.target_bases(genome.reg_g0, genome.reg_g1)
    pw = free * ratio
    s_off = np.empty(n_off, dtype=np.int64)
    L_off = np.empty(n_off, dtype=np.int64)
    tum_off = np.empty(n_off, dtype=bool)
    todo = np.arange(n_off)
    while len(todo):
        r = rng.choice(len(pw), size=len(todo), p=pw / pw.sum())
        tm = rng.random(len(todo)) < share[r]
        ln = _lengths(rng, plan, tm)
        st = genome.reg_g0[r] + np.floor(rng.random(len(todo)) * (rlen[r] - ln + 1)).astype(np.int64)
        ok = ~genome.overlaps_target(st, st + ln)
        s_off[todo[ok]], L_off[todo[ok]], tum_off[todo[ok]] = st[ok], ln[ok], tm[ok]
        todo = todo[~ok]
    return np.concatenate([s, s_off]), np.concatenate([L, L_off]), np.concatenate([tum, tum_off])


def _place_on_target(genome: PanelGenome, rng: np.random.Generator, t: np.ndarray, L: np.ndarray) -> np.ndarray:
    """Fragment starts over targets ``t``: overlap >= MIN_OVERLAP, accepted with probability
    overlap / min(L, target length) (capture yield grows with the hybridising length)."""
    t0, t1 = genome.t_g0[t], genome.t_g1[t]
    ov = np.minimum(np.minimum(MIN_OVERLAP, t1 - t0), L)
    full = np.minimum(L, t1 - t0)
    out = np.empty(len(t), dtype=np.int64)
    todo = np.arange(len(t))
    while len(todo):
        lo, hi = t0[todo] - L[todo] + ov[todo], t1[todo] - ov[todo]
        s = lo + np.floor(rng.random(len(todo)) * (hi - lo + 1)).astype(np.int64)
        overlap = np.minimum(s + L[todo], t1[todo]) - np.maximum(s, t0[todo])
        ok = rng.random(len(todo)) * full[todo] < overlap
        out[todo[ok]] = s[ok]
        todo = todo[~ok]
    return out


def read_spans(g0: np.ndarray, length: np.ndarray, read_length: int) -> tuple[np.ndarray, np.ndarray]:
    """Start of the + strand read and of the − strand read (each ``min(R, L)`` long)."""
    rp = np.minimum(read_length, length)
    return g0, g0 + length - rp


def target_bases_per_pair(genome: PanelGenome, g0: np.ndarray, length: np.ndarray, read_length: int) -> np.ndarray:
    """Target bases covered by each pair's reads, the mates' overlap counted once."""
    rp = np.minimum(read_length, length)
    a1, b1 = g0, g0 + rp
    a2, b2 = g0 + length - rp, g0 + length
    both = genome.target_bases(a1, b1) + genome.target_bases(a2, b2)
    ov_a, ov_b = a2, np.maximum(a2, b1)
    return both - genome.target_bases(ov_a, ov_b)


def calibrate_pairs(genome: PanelGenome, plan: SamplePlan, rng: np.random.Generator) -> int:
    """Read pairs (duplicates included) giving ``plan.depth`` raw mean target depth."""
    g0, L, _ = draw_molecules(genome, plan, rng, PILOT_FRAGMENTS, cn_aware=False)
    per_pair = target_bases_per_pair(genome, g0, L, plan.read_length).mean()
    return max(1, int(round(plan.depth * genome.target_bp / per_pair)))


def draw_fragments(genome: PanelGenome, plan: SamplePlan, rng: np.random.Generator) -> Fragments:
    """All read pairs of a sample: unique molecules plus PCR duplicates (module docstring)."""
    n_pairs = calibrate_pairs(genome, plan, rng)
    n_unique = int(round(n_pairs * (1 - plan.duplicate_fraction)))
    g0, L, tum = draw_molecules(genome, plan, rng, n_unique)
    r1f = rng.random(n_unique) < 0.5
    src = np.concatenate([np.arange(n_unique), rng.integers(0, n_unique, n_pairs - n_unique)])
    return Fragments(g0, L, tum, r1f, src)


def allele_span(genome: PanelGenome, v: PlannedVariant) -> tuple[int, int]:
    """Global ``[a, b)`` a molecule must contain to carry the allele (indels: + the next base)."""
    a = genome.to_global(v.allele.chrom, v.allele.pos)
    return a, a + len(v.allele.ref) + (1 if v.allele.kind == "indel" else 0)


def choose_carriers(genome: PanelGenome, frags: Fragments, plan: SamplePlan,
                    rng: np.random.Generator) -> dict[int, np.ndarray]:
    """Unique-molecule indices carrying each planted allele (key: index into ``plan.variants``)."""
    groups: dict[str, list[int]] = {}
    for i, (v, _) in enumerate(plan.variants):
        groups.setdefault(v.group, []).append(i)
    end = frags.g0 + frags.length
    out: dict[int, np.ndarray] = {}
    for members in groups.values():
        vaf = plan.variants[members[0]][1]
        spans = [allele_span(genome, plan.variants[i][0]) for i in members]
        spanning = [(frags.g0 <= a) & (end >= b) for a, b in spans]
        cand = np.flatnonzero(np.logical_or.reduce(spanning))
        k = int(rng.binomial(len(cand), min(1.0, vaf))) if vaf > 0 else 0
        prefer = plan.variants[members[0]][0].prefer
        if prefer == "any":
            first, rest = cand, cand[:0]
        else:
            mask = frags.tumour[cand] if prefer == "tumour" else ~frags.tumour[cand]
            first, rest = cand[mask], cand[~mask]
        chosen = rng.permutation(first)[:k]
        if k > len(first):
            chosen = np.concatenate([chosen, rng.permutation(rest)[:k - len(first)]])
        chosen = np.sort(chosen)
        for i, sp in zip(members, spanning):
            out[i] = chosen[sp[chosen]]
    return out
