"""Candidate discovery per sample and allele lookups for joint genotyping.

A variant key is ``(chrom, pos1, REF, ALT)`` in VCF conventions (indels left-normalised with
the anchor base). SNVs are read from the per-position base arrays; indels and MNVs from the
per-fragment event counts (see :mod:`.pileup`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import model
from .pileup import BASES, SampleCounts

Key = tuple[str, int, str, str]
INDEL_CLASS = "indel"


@dataclass
class AlleleObs:
    """One variant in one sample."""

    ref_count: int
    alt: int
    depth: int
    adf: int
    adr: int
    mean_rpos: float
    lowmq_frac: float
    ref_fwd: int
    ref_rev: int


def sub_class(ref: str, alt: str) -> str:
    """'C>T' for SNVs; 'indel' for indels and MNVs (one pooled class)."""
    return f"{ref}>{alt}" if len(ref) == 1 and len(alt) == 1 else INDEL_CLASS


def repeat_multiplicity(sc: SampleCounts, key: Key) -> int:
    """Positions at which one indel error gives this left-normalised allele (its repeat tract).

    An insertion or deletion of unit ``S`` anywhere inside a reference stretch that repeats ``S``
    (a homopolymer or a short tandem repeat) normalises to the same VCF allele, so the chance of
    seeing that allele by error grows with the stretch: for a deletion, ``T - |S| + 1`` start
    positions, ``T`` the length of the reference after the anchor that is periodic with ``S``
    (CGGGG, delete one G: 4); for an insertion, ``T + 1`` insertion points. Non-repetitive
    context gives 1; SNVs, MNVs and complex alleles give 1. The reference is the counted
    region's (a tract running past the region end is cut there).
    """
    chrom, pos1, ref, alt = key
    if len(ref) == len(alt) or min(len(ref), len(alt)) != 1 or ref[0] != alt[0]:
        return 1
    r = sc.region_at(chrom, pos1 - 1)
    if r is None:
        return 1
    unit = ref[1:] if len(ref) > len(alt) else alt[1:]
    seq = r.ref[pos1 - r.start:]
    t = 0
    while t < len(seq) and seq[t] == unit[t % len(unit)]:
        t += 1
    return max(1, t - len(unit) + 1) if len(ref) > len(alt) else t + 1


def allele_prior(priors: dict[str, float], sc: SampleCounts, key: Key) -> float:
    """Per-allele error prior: the substitution class's for SNVs; for indels the pooled per-position
    indel rate times :func:`repeat_multiplicity` (model docstring); MNVs the indel/MNV class's."""
    p = priors.get(sub_class(key[2], key[3]), model.PRIOR_FLOOR)
    return min(p * repeat_multiplicity(sc, key), 0.5)


def class_priors(samples: list[SampleCounts], params: model.CallingParams = model.DEFAULT) -> dict[str, float]:
    """Pooled non-carrier error rate per substitution class over all samples (model docstring)."""
    num: dict[str, float] = {}
    den: dict[str, float] = {}
    ev_num = 0.0
    ev_den = 0.0
    for sc in samples:
        for r in sc.regions:
            tot = r.fwd[:, :4] + r.rev[:, :4]
            depth = tot.sum(axis=1)
            ok = depth >= params.min_depth
            ref_idx = np.array([BASES.find(b) if b in "ACGT" else -1 for b in r.ref])
            for ri, rb in enumerate("ACGT"):
                rows = ok & (ref_idx == ri)
                if not rows.any():
                    continue
                for ai, ab in enumerate("ACGT"):
                    if ai == ri:
                        continue
                    k = tot[rows, ai]
                    non_carrier = k < params.carrier_af * depth[rows]
                    c = f"{rb}>{ab}"
                    num[c] = num.get(c, 0.0) + float(k[non_carrier].sum())
                    den[c] = den.get(c, 0.0) + float(depth[rows][non_carrier].sum())
            ev_den += float(depth[ok].sum())
        for key in sc.events:
            obs = lookup(sc, key)
            if obs.depth >= params.min_depth and obs.alt < params.carrier_af * obs.depth:
                ev_num += obs.alt
    floor = params.prior_floor
    pri = {c: max(num[c] / den[c], floor) if den[c] else floor for c in num}
    pri[INDEL_CLASS] = max(ev_num / ev_den, floor) if ev_den else floor
    return pri


def lookup(sc: SampleCounts, key: Key) -> AlleleObs:
    """Counts of allele ``key`` in sample ``sc`` (zeros where not covered)."""
    chrom, pos1, ref, alt = key
    p0 = pos1 - 1
    r = sc.region_at(chrom, p0)
    if r is None:
        return AlleleObs(0, 0, 0, 0, 0, float("nan"), 0.0, 0, 0)
    i = p0 - r.start
    span = max(len(ref), len(alt)) if len(ref) == len(alt) else 1
    i_end = min(i + span, r.end - r.start)
    depths = (r.fwd[i:i_end, :4] + r.rev[i:i_end, :4]).sum(axis=1)
    depth = int(depths.min()) if len(depths) else 0
    rb = BASES.find(ref[0])
    ref_fwd = int(r.fwd[i, rb]) if rb >= 0 else 0
    ref_rev = int(r.rev[i, rb]) if rb >= 0 else 0
    lowmq = int(r.lowmq[i])
    if len(ref) == 1 and len(alt) == 1:
        ab = BASES.find(alt)
        adf, adr = int(r.fwd[i, ab]), int(r.rev[i, ab])
        a = adf + adr
        rpos = float(r.rpos[i, ab] / a) if a else float("nan")
    else:
        ev = sc.events.get(key)
        adf, adr = (ev.fwd, ev.rev) if ev else (0, 0)
        a = adf + adr
        rpos = float(ev.rpos / a) if ev and a else float("nan")
        if len(ref) != len(alt):  # indel: ref count = fragments at the anchor without the indel
            depth = max(depth, a)
    a = min(a, depth)
    ref_count = ref_fwd + ref_rev if len(ref) == len(alt) == 1 else max(depth - a, 0)
    lowmq_frac = lowmq / (lowmq + depth) if (lowmq + depth) else 0.0
    return AlleleObs(ref_count, a, depth, adf, adr, rpos, lowmq_frac, ref_fwd, ref_rev)


def discover(sc: SampleCounts, priors: dict[str, float], params: model.CallingParams = model.DEFAULT) -> set[Key]:
    """Candidate alleles of one sample: >= 2 alt fragments and DS >= 30 against the class prior;
    adjacent SNVs whose fragments mostly co-occur (an MNV event carrying >= 80 % of each SNV's
    alt fragments) are replaced by the MNV."""
    out: set[Key] = set()
    for r in sc.regions:
        tot = r.fwd[:, :4] + r.rev[:, :4]
        depth = tot.sum(axis=1)
        for ai, ab in enumerate("ACGT"):
            k = tot[:, ai]
            rows = np.flatnonzero((k >= params.min_alt_candidate) & (depth >= params.min_depth))
            for i in rows:
                rb = r.ref[i]
                if rb == ab or rb not in "ACGT":
                    continue
                ds = model.detection_score(int(k[i]), int(depth[i]), priors.get(f"{rb}>{ab}", params.prior_floor))
                if ds >= params.candidate_ds:
                    out.add((r.chrom, r.start + i + 1, rb, ab))
    for key, ev in sc.events.items():
        if ev.total < params.min_alt_candidate:
            continue
        obs = lookup(sc, key)
        if (obs.depth >= params.min_depth
                and model.detection_score(obs.alt, obs.depth, allele_prior(priors, sc, key)) >= params.candidate_ds):
            if len(key[2]) == len(key[3]):  # MNV: merge only if the SNVs are on the same fragments
                parts = [(key[0], key[1] + j, key[2][j], key[3][j]) for j in range(len(key[2]))]
                snv_alts = [lookup(sc, p).alt for p in parts]
                if all(ev.total >= 0.8 * max(s, 1) for s in snv_alts):
                    out.difference_update(parts)
                    out.add(key)
            else:
                out.add(key)
    return out
