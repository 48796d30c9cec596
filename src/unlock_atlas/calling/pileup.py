"""Fragment-level allele counting over the panel (one pass over each sample's BAM).

Counting rules (documented for reviewers in ``docs/calling.md``):

* Reads that are unmapped, secondary, supplementary, QC-fail (0x200) or duplicates (0x400) are
  skipped: duplicates are PCR/optical copies of one molecule and would inflate evidence.
* Reads with MAPQ < ``min_mapq`` (default 20, i.e. <= 1 % probability of mis-placement) do not
  count, but are tallied per position (``lowmq``) for the low-MAPQ artefact filter.
* Bases with base quality < ``min_baseq`` (default 20, <= 1 % error) are dropped before mates
  are merged, so that when one mate's base is poor the other mate's base counts.
* Overlapping mates are one fragment (one molecule): a position seen by both mates counts once;
  if both bases pass the quality filter but disagree, the position counts for NEITHER allele
  (a disagreement proves that one mate carries an error, and we cannot tell which; keeping
  either would leak sequencing errors into low-VAF evidence). A base both mates agree on (and an
  indel both mates carry) counts on the fragment strand, the strand of the pair's read 1 (the
  reason is in ``fastpile._merge_mates``); a base seen by one mate only counts on its strand.
* Indels are counted once per fragment (union over mates), at their left-normalised position.
* Runs of >= 2 adjacent mismatches on one fragment are also recorded as MNV events, so that
  adjacent SNVs on the same molecules can be merged into one MNV.

Counting is vectorised per window (``fastpile.collect_region``): one Python pass per read does
the filters, mate pairing and a CIGAR walk into plain integer lists; all per-base arrays, the
mate merge and the MNV runs are then numpy operations over the window, and one ``bincount``
per array gives the counts.

Windows: an interval longer than ``COUNT_WINDOW`` bases is counted window by window, so the
scratch memory of counting is proportional to window length x depth (about 60 bytes per read
base), whatever the interval's length; what is kept per interval is its counts (about
90 bytes per position: ``RegionCounts``). A read that straddles a window edge is fetched in
both windows and each of its bases is counted in the window that holds the position; an indel
is counted in the window that holds its anchor base and left-normalised against the whole
interval's reference; a run of mismatches that crosses the edge is continued into the next
window (``fastpile.MnvCarry``). The counts equal those of the interval counted at once
(``tests/test_calling_windows.py``); only the order in which indel/MNV alleles are first
seen may differ.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pysam

from ..errors import InputError, Problem
from .fastpile import BASES, LUT, MnvCarry, collect_region  # noqa: F401 - BASES is re-exported

logger = logging.getLogger(__name__)

_LUT = LUT

#: Bases per counting window (module docstring). Scratch memory is ~60 bytes per read base in
#: the window: 2,000 deduplicated fragments of ~180 bp read as 2 x 150 overlapping mates are
#: ~3,300 read bases per position, so ~0.5 GB per window at 2,000x and ~2.5 GB at 10,000x
#: (duplicate-flagged reads are skipped before any per-base array is made). Reads straddling
#: an edge are read twice (~6 % more reads with 150-bp reads; measured no slower than 5-10 kb
#: windows). Exon +/- 20 bp panel intervals (<= 2.3 kb in the demo panel) stay one window.
COUNT_WINDOW = 2_500


@dataclass
class RegionCounts:
    """Per-position fragment counts of one panel interval (0-based half-open ``start``..``end``)."""

    chrom: str
    start: int
    end: int
    ref: str  # upper-case reference sequence of the interval
    fwd: np.ndarray  # (L, 5) int32 fragments per base on the forward strand
    rev: np.ndarray  # (L, 5) int32 on the reverse strand
    rpos: np.ndarray  # (L, 5) float64 sum of distance to the nearest read end (bases)
    lowmq: np.ndarray  # (L,) int32 reads with MAPQ < min_mapq covering the position

    @property
    def depth(self) -> np.ndarray:
        """Fragments with an A/C/G/T base passing the filters, per position."""
        return (self.fwd[:, :4] + self.rev[:, :4]).sum(axis=1)


@dataclass
class EventCounts:
    """Fragments supporting one indel or MNV allele: forward, reverse, read-position sum."""

    fwd: int = 0
    rev: int = 0
    rpos: float = 0.0

    @property
    def total(self) -> int:
        return self.fwd + self.rev


@dataclass
class SampleCounts:
    """All counts of one sample over the panel."""

    sample_id: str
    regions: list[RegionCounts] = field(default_factory=list)
    #: (chrom, 1-based VCF pos, ref, alt) -> counts, for indels and MNVs.
    events: dict[tuple[str, int, str, str], EventCounts] = field(default_factory=dict)

    def region_at(self, chrom: str, pos0: int) -> RegionCounts | None:
        for r in self.regions:
            if r.chrom == chrom and r.start <= pos0 < r.end:
                return r
        return None


def _normalise_indel(ref: str, start: int, anchor: int, kind: str, val) -> tuple[int, str, str] | None:
    """Left-normalise an indel (vt/bcftools norm rule: shift left while the allele is unchanged).
    Returns (anchor_pos0, REF, ALT) or None when it cannot be placed inside the interval."""
    i = anchor - start
    if kind == "D":
        n = int(val)
        if i < 0 or i + n >= len(ref):
            return None
        while i > 0 and ref[i] == ref[i + n]:
            i -= 1
        return start + i, ref[i:i + n + 1], ref[i]
    s = str(val)
    if i < 0 or i >= len(ref) or "N" in s:
        return None
    while i > 0 and ref[i] == s[-1]:
        s = ref[i] + s[:-1]
        i -= 1
    return start + i, ref[i], ref[i] + s


def count_region(bam: pysam.AlignmentFile, fasta: pysam.FastaFile, chrom: str, start: int, end: int,
                 events: dict, min_mapq: int = 20, min_baseq: int = 20, window: int = COUNT_WINDOW) -> RegionCounts:
    """Fragment-level counts of every allele over ``chrom:start-end`` (0-based half-open).

    Indel/MNV events are added to ``events`` (keyed ``(chrom, pos1, REF, ALT)``). The reads are
    gathered and the rules applied by :func:`unlock_atlas.calling.fastpile.collect_region`, one
    window of at most ``window`` bases at a time (module docstring).
    """
    if window < 1:
        raise ValueError(f"counting window must be >= 1 base, got {window}")
    ref = fasta.fetch(chrom, start, end).upper()
    ref_codes = _LUT[np.frombuffer(ref.encode(), dtype=np.uint8)]
    L = end - start
    fwd, rev = np.zeros((L, 5), np.int32), np.zeros((L, 5), np.int32)
    rpos, lowmq = np.zeros((L, 5), np.float64), np.zeros(L, np.int32)
    carry = MnvCarry()
    for ws in range(start, end, window):
        we = min(ws + window, end)
        carry.last = we == end
        a, b = ws - start, we - start
        fwd[a:b], rev[a:b], rpos[a:b], lowmq[a:b], evs = collect_region(
            bam, chrom, ws, we, ref_codes[a:b], min_mapq, min_baseq, min(we + 1, end), carry)
        for ev in evs:
            if ev[0] == "indel":
                _, anchor, kind, val, d, s = ev
                norm = _normalise_indel(ref, start, anchor, kind, val)
                if norm is None:
                    continue
                _add_event(events, (chrom, norm[0] + 1, norm[1], norm[2]), s, d)
            else:  # MNV run
                _, p0, alt, s, d = ev
                _add_event(events, (chrom, p0 + 1, ref[p0 - start:p0 - start + len(alt)], alt), s, d)
    return RegionCounts(chrom, start, end, ref, fwd, rev, rpos, lowmq)


def _add_event(events: dict, key: tuple, strand: int, dist: float) -> None:
    c = events.get(key)
    if c is None:
        c = events[key] = EventCounts()
    if strand == 0:
        c.fwd += 1
    else:
        c.rev += 1
    c.rpos += dist


def merge_intervals(intervals: list[tuple[str, int, int]], gap: int = 0) -> list[tuple[str, int, int]]:
    """Sort and merge (chrom, start0, end) intervals that overlap or lie within ``gap`` bases."""
    out: list[list] = []
    for c, s, e in sorted(intervals):
        if out and out[-1][0] == c and s <= out[-1][2] + gap:
            out[-1][2] = max(out[-1][2], e)
        else:
            out.append([c, s, e])
    return [tuple(x) for x in out]


def count_sample(bam_path: str | Path, fasta_path: str | Path, intervals: list[tuple[str, int, int]],
                 sample_id: str, min_mapq: int = 20, min_baseq: int = 20, window: int = COUNT_WINDOW) -> SampleCounts:
    """Count every allele of one sample over the (merged) panel intervals, each interval in
    windows of at most ``window`` bases (module docstring)."""
    try:
        bam = pysam.AlignmentFile(str(bam_path))
        fasta = pysam.FastaFile(str(fasta_path))
    except (OSError, ValueError) as exc:
        raise InputError(Problem(str(bam_path), f"cannot open BAM/FASTA for sample {sample_id}: {exc}",
                                 "give an indexed, coordinate-sorted BAM and an indexed FASTA")) from None
    out = SampleCounts(sample_id)
    with bam, fasta:
        contigs = set(bam.references)
        for chrom, s, e in intervals:
            if chrom not in contigs or chrom not in fasta.references:
                raise InputError(Problem(str(bam_path), f"panel contig {chrom} is not in the BAM or the FASTA",
                                         "use the BAM aligned to the prepared reference (chromosome coordinates)"))
            out.regions.append(count_region(bam, fasta, chrom, s, e, out.events, min_mapq, min_baseq, window))
    logger.info("%s: counted %d intervals, %d indel/MNV alleles", sample_id, len(out.regions), len(out.events))
    return out
