"""Phase of two mutations from DNA fragments that span both positions (cis / trans / unknown).

Reads are filtered as the caller filters them (docs/calling.md): duplicates, QC-fail, secondary,
supplementary and MAPQ < 20 alignments and bases with quality < 20 are skipped; the two mates
of a pair are one fragment (a fragment carries the allele seen in either mate; mates that
disagree at a position count as uninformative there).

Each informative fragment covering both positions is one of: both ALT (AA), ALT only at the
first (A-), ALT only at the second (-A), or neither. Decision (each threshold with its reason):

* ``cis`` when AA >= :data:`MIN_FRAGMENTS` (3) and AA >= 80 % of the fragments carrying either
  ALT: in cis every mutant molecule carries both, so single-ALT fragments come only from
  sequencing errors or a minor clone; 3 independent molecules make a chance double error
  (~1e-3 x 1e-3 per fragment) impossible.
* ``trans`` when AA <= 10 % of the ALT-carrying fragments and both A- and -A reach 3: in trans
  (or in different cells) no molecule carries both.
* ``unknown`` otherwise — too few spanning fragments (positions further apart than the fragment
  length, low VAF) or a mixture; the counts are reported so a reader can judge.
"""

from __future__ import annotations

from dataclasses import dataclass

import pysam

from ..errors import InputError, Problem

MIN_MAPQ = 20
MIN_BASEQ = 20
MIN_FRAGMENTS = 3
CIS_FRACTION = 0.8
TRANS_FRACTION = 0.1
_SKIP = 0x4 | 0x100 | 0x200 | 0x400 | 0x800


@dataclass(frozen=True)
class Site:
    """A substitution to phase (1-based GRCh38 position; MNVs as their REF/ALT strings)."""

    chrom: str
    pos: int
    ref: str
    alt: str


@dataclass(frozen=True)
class PhaseResult:
    phase: str          # cis | trans | unknown
    both: int
    only_first: int
    only_second: int
    neither: int

    def describe(self) -> str:
        return (f"{self.both} fragments carry both ALT alleles, {self.only_first} only the first, "
                f"{self.only_second} only the second, {self.neither} neither")


def _allele_at(read: pysam.AlignedSegment, site: Site, pairs: dict[int, int]) -> str | None:
    """'A' (ALT), 'R' (REF), or None (not covered / other base / low quality) for one read."""
    seq, qual = read.query_sequence, read.query_qualities
    bases = []
    for i in range(len(site.ref)):
        qpos = pairs.get(site.pos - 1 + i)
        if qpos is None or seq is None or (qual is not None and qual[qpos] < MIN_BASEQ):
            return None
        bases.append(seq[qpos])
    got = "".join(bases)
    return "A" if got == site.alt else "R" if got == site.ref else None


def fragment_alleles(bam_path: str, a: Site, b: Site) -> dict[str, tuple[str | None, str | None]]:
    """Query name -> (allele at a, allele at b) over the fragments overlapping both sites."""
    if a.chrom != b.chrom:
        return {}
    lo, hi = min(a.pos, b.pos) - 1, max(a.pos + len(a.ref), b.pos + len(b.ref))
    out: dict[str, list[set[str]]] = {}
    try:
        bam = pysam.AlignmentFile(bam_path, "rb")
    except (OSError, ValueError) as exc:
        raise InputError(Problem(bam_path, f"cannot read the BAM ({exc})", "give an indexed BAM")) from None
    with bam:
        for read in bam.fetch(a.chrom, lo, hi):
            if read.flag & _SKIP or read.mapping_quality < MIN_MAPQ:
                continue
            pairs = {r: q for q, r in read.get_aligned_pairs(matches_only=True)}
            slot = out.setdefault(read.query_name, [set(), set()])
            for i, site in enumerate((a, b)):
                al = _allele_at(read, site, pairs)
                if al is not None:
                    slot[i].add(al)
    return {q: tuple(next(iter(s)) if len(s) == 1 else None for s in slots) for q, slots in out.items()}


def phase_pair(bams: list[str], a: Site, b: Site) -> PhaseResult:
    """Phase two substitutions over the fragments of ``bams`` (module docstring)."""
    both = oa = ob = neither = 0
    for path in bams:
        for x, y in fragment_alleles(path, a, b).values():
            if x is None or y is None:
                continue
            both += x == "A" and y == "A"
            oa += x == "A" and y == "R"
            ob += x == "R" and y == "A"
            neither += x == "R" and y == "R"
    return PhaseResult(decide(both, oa, ob), both, oa, ob, neither)


def decide(both: int, only_a: int, only_b: int) -> str:
    """cis / trans / unknown from fragment counts (module docstring)."""
    carriers = both + only_a + only_b
    if both >= MIN_FRAGMENTS and both >= CIS_FRACTION * carriers:
        return "cis"
    if only_a >= MIN_FRAGMENTS and only_b >= MIN_FRAGMENTS and both <= TRANS_FRACTION * carriers:
        return "trans"
    return "unknown"
