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
  either would leak sequencing errors into low-VAF evidence). The kept base's strand is the
  read strand of the mate with the higher base quality (ties: the first mate seen).
* Indels are counted once per fragment (union over mates), at their left-normalised position.
* Runs of >= 2 adjacent mismatches on one fragment are also recorded as MNV events, so that
  adjacent SNVs on the same molecules can be merged into one MNV.

Counting is vectorised per read (numpy arrays of aligned positions/bases/qualities) and per
region (one ``bincount`` per array at the end), which keeps the per-read Python overhead to a
CIGAR walk.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pysam

from ..errors import InputError, Problem

logger = logging.getLogger(__name__)

#: Base codes: A C G T N.
BASES = "ACGTN"
_LUT = np.full(256, 4, dtype=np.uint8)
for _i, _b in enumerate("ACGT"):
    _LUT[ord(_b)] = _i
    _LUT[ord(_b.lower())] = _i
_SKIP_FLAGS = 0x4 | 0x100 | 0x800 | 0x200 | 0x400


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


def _read_obs(read: pysam.AlignedSegment, start: int, end: int, ref: str, min_baseq: int):
    """Observations of one read inside [start, end): (pos0, base, qual, readpos) arrays and a
    list of indel events ``(anchor_pos0, 'D', length)`` / ``(anchor_pos0, 'I', seq)``."""
    seq = read.query_sequence
    quals = read.query_qualities
    if seq is None or quals is None:
        return None
    qlen = len(seq)
    codes = _LUT[np.frombuffer(seq.encode(), dtype=np.uint8)]
    q = np.asarray(quals, dtype=np.uint8)
    rpos_l, qpos_l, indels = [], [], []
    r, qi = read.reference_start, 0
    for op, ln in read.cigartuples:
        if op in (0, 7, 8):
            rpos_l.append(np.arange(r, r + ln))
            qpos_l.append(np.arange(qi, qi + ln))
            r += ln
            qi += ln
        elif op == 1:
            if start <= r - 1 < end:
                indels.append((r - 1, "I", seq[qi:qi + ln].upper(), min(qi, qlen - qi)))
            qi += ln
        elif op == 2:
            if start <= r - 1 < end:
                indels.append((r - 1, "D", ln, min(qi, qlen - qi)))
            r += ln
        elif op == 3:
            r += ln
        elif op == 4:
            qi += ln
    if not rpos_l:
        return None
    rp = np.concatenate(rpos_l)
    qp = np.concatenate(qpos_l)
    keep = (rp >= start) & (rp < end) & (q[qp] >= min_baseq)
    rp, qp = rp[keep], qp[keep]
    return rp, codes[qp], q[qp], np.minimum(qp, qlen - 1 - qp), indels


def _merge_mates(a, b, strand_a: int, strand_b: int):
    """Merge two mates' base observations into one fragment (see module docstring)."""
    rp_a, base_a, q_a, d_a = a[:4]
    rp_b, base_b, q_b, d_b = b[:4]
    _, ia, ib = np.intersect1d(rp_a, rp_b, assume_unique=True, return_indices=True)
    only_a = np.ones(len(rp_a), bool)
    only_a[ia] = False
    only_b = np.ones(len(rp_b), bool)
    only_b[ib] = False
    agree = base_a[ia] == base_b[ib]
    take_b = agree & (q_b[ib] > q_a[ia])
    take_a = agree & ~take_b
    rp = np.concatenate([rp_a[only_a], rp_b[only_b], rp_a[ia][take_a], rp_b[ib][take_b]])
    base = np.concatenate([base_a[only_a], base_b[only_b], base_a[ia][take_a], base_b[ib][take_b]])
    dist = np.concatenate([d_a[only_a], d_b[only_b], d_a[ia][take_a], d_b[ib][take_b]])
    strand = np.concatenate([np.full(only_a.sum(), strand_a, np.int8), np.full(only_b.sum(), strand_b, np.int8),
                             np.full(take_a.sum(), strand_a, np.int8), np.full(take_b.sum(), strand_b, np.int8)])
    ev: dict = {}
    for e in a[4] + b[4]:
        ev.setdefault(e[:3], (e[3], strand_a if e in a[4] else strand_b))
    return rp, base, dist, strand, ev


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
                 events: dict, min_mapq: int = 20, min_baseq: int = 20) -> RegionCounts:
    """Fragment-level counts of every allele over ``chrom:start-end`` (0-based half-open).

    Indel/MNV events are added to ``events`` (keyed ``(chrom, pos1, REF, ALT)``).
    """
    ref = fasta.fetch(chrom, start, end).upper()
    L = end - start
    ref_codes = _LUT[np.frombuffer(ref.encode(), dtype=np.uint8)]
    pos_l, base_l, dist_l, strand_l, low_l = [], [], [], [], []
    pending: dict[str, tuple] = {}

    def emit(rp, base, dist, strand, ev):
        pos_l.append(rp - start)
        base_l.append(base)
        dist_l.append(dist)
        strand_l.append(strand)
        for (anchor, kind, val), (d, s) in ev.items():
            norm = _normalise_indel(ref, start, anchor, kind, val)
            if norm is None:
                continue
            key = (chrom, norm[0] + 1, norm[1], norm[2])
            _add_event(events, key, s, d)
        # MNVs: runs of >= 2 adjacent mismatches on this fragment
        mm = np.flatnonzero((base != ref_codes[rp - start]) & (base < 4))
        if len(mm) >= 2:
            order = np.argsort(rp[mm])
            mm = mm[order]
            p = rp[mm]
            runs = np.split(np.arange(len(mm)), np.flatnonzero(np.diff(p) != 1) + 1)
            for run in runs:
                if len(run) >= 2:
                    idx = mm[run]
                    p0 = int(rp[idx[0]])
                    alt = "".join(BASES[c] for c in base[idx])
                    key = (chrom, p0 + 1, ref[p0 - start:p0 - start + len(idx)], alt)
                    _add_event(events, key, int(strand[idx[0]]), float(dist[idx].mean()))

    for read in bam.fetch(chrom, start, end):
        if read.flag & _SKIP_FLAGS:
            continue
        if read.mapping_quality < min_mapq:
            s, e = max(read.reference_start, start), min(read.reference_end or 0, end)
            if e > s:
                low_l.append(np.arange(s - start, e - start))
            continue
        obs = _read_obs(read, start, end, ref, min_baseq)
        if obs is None:
            continue
        strand = 1 if read.is_reverse else 0
        name = read.query_name
        if name in pending:
            other, other_strand = pending.pop(name)
            emit(*_merge_mates(other, obs, other_strand, strand))
            continue
        mate_overlaps = (read.is_paired and not read.mate_is_unmapped
                         and read.next_reference_id == read.reference_id
                         and read.reference_start <= read.next_reference_start < (read.reference_end or 0)
                         and not (read.next_reference_start == read.reference_start and read.is_read2))
        if mate_overlaps:
            pending[name] = (obs, strand)
        else:
            ev = {e[:3]: (e[3], strand) for e in obs[4]}
            emit(obs[0], obs[1], obs[3], np.full(len(obs[0]), strand, np.int8), ev)
    for obs, strand in pending.values():  # mate filtered out (duplicate/MAPQ) or outside the interval
        ev = {e[:3]: (e[3], strand) for e in obs[4]}
        emit(obs[0], obs[1], obs[3], np.full(len(obs[0]), strand, np.int8), ev)

    fwd = np.zeros((L, 5), np.int32)
    rev = np.zeros((L, 5), np.int32)
    rpos = np.zeros((L, 5), np.float64)
    if pos_l:
        pos = np.concatenate(pos_l)
        base = np.concatenate(base_l).astype(np.int64)
        dist = np.concatenate(dist_l).astype(np.float64)
        strand = np.concatenate(strand_l)
        idx = pos.astype(np.int64) * 5 + base
        fwd = np.bincount(idx[strand == 0], minlength=L * 5).reshape(L, 5).astype(np.int32)
        rev = np.bincount(idx[strand == 1], minlength=L * 5).reshape(L, 5).astype(np.int32)
        rpos = np.bincount(idx, weights=dist, minlength=L * 5).reshape(L, 5)
    lowmq = np.bincount(np.concatenate(low_l), minlength=L).astype(np.int32) if low_l else np.zeros(L, np.int32)
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
                 sample_id: str, min_mapq: int = 20, min_baseq: int = 20) -> SampleCounts:
    """Count every allele of one sample over the (merged) panel intervals."""
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
            out.regions.append(count_region(bam, fasta, chrom, s, e, out.events, min_mapq, min_baseq))
    logger.info("%s: counted %d intervals, %d indel/MNV alleles", sample_id, len(out.regions), len(out.events))
    return out
