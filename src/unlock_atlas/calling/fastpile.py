"""Vectorised engine behind :func:`unlock_atlas.calling.pileup.count_region`.

The counting RULES are those of the ``pileup`` module docstring (and ``docs/calling.md``); this
module only changes how they are executed, so that one 2,000x plasma sample costs about as much
as ``bcftools mpileup`` over the same regions:

* One Python pass over the reads of an interval does only what needs Python: the flag/MAPQ
  filter, the mate-pairing state machine (which decides, read by read exactly as the reference
  implementation did, which two reads form one fragment), and a walk over the CIGAR tuples that
  appends plain integers (aligned blocks; indel events). Sequences and qualities are joined into
  one byte buffer per interval.
* Every per-base array of the interval (position, base, quality, distance to the read end,
  strand, fragment) is then built at once with ``np.repeat``/``cumsum``.
* Overlapping mates are resolved in bulk: observations are stable-sorted by (fragment, position);
  equal adjacent keys are the two mates' bases at one position (the earlier read first), kept or
  dropped by agreement and base quality.
* MNV runs are found on the sorted mismatches of each fragment; only runs (rare) reach Python.

Events are returned in the order in which the reference implementation added them (fragment
emission order; indels before MNVs within a fragment), so the ``events`` dictionary and its
floating-point read-position sums come out identical, not merely equal up to rounding.

Windows (``pileup.count_region`` counts a long interval window by window so that memory
depends on window length x depth, not on interval length): a window is counted by the same
function with ``fetch_end`` one base past its end (a read that starts right after the window
with a leading insertion or deletion anchors it on the window's last base) and an
:class:`MnvCarry` that continues a run of mismatches of one fragment across the window edge
(the fragment is recognised in the next window by its reads' names and read-1 flags).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pysam

#: Base codes: A C G T N.
BASES = "ACGTN"
LUT = np.full(256, 4, dtype=np.uint8)
for _i, _b in enumerate("ACGT"):
    LUT[ord(_b)] = _i
    LUT[ord(_b.lower())] = _i
#: unmapped, secondary, supplementary, QC-fail, duplicate.
SKIP_FLAGS = 0x4 | 0x100 | 0x800 | 0x200 | 0x400

ReadId = tuple[str, bool]  # (query name, read-1 flag): one primary read


@dataclass
class MnvCarry:
    """Mismatch runs that reach the last base of a counting window, carried into the next one.

    ``last`` is set by the caller: True for the interval's last window (every run is then
    closed there). ``open`` maps each read of the fragment that holds an open run to the run
    ``[pos0, alt, dist_sum, n, strand, consumed]``.
    """

    last: bool = True
    open: dict[ReadId, list] = field(default_factory=dict)


def collect_region(bam: pysam.AlignmentFile, chrom: str, start: int, end: int, ref_codes: np.ndarray,
                   min_mapq: int, min_baseq: int, fetch_end: int | None = None, carry: MnvCarry | None = None,
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, list[tuple]]:
    """All fragment-level observations of ``chrom:start-end`` (0-based half-open).

    Parameters
    ----------
    bam : pysam.AlignmentFile
        Indexed, coordinate-sorted alignments.
    chrom, start, end : str, int, int
        The interval.
    ref_codes : numpy.ndarray
        Reference base codes (``LUT`` of the upper-case sequence) of the interval.
    min_mapq, min_baseq : int
        Read MAPQ and base-quality thresholds (see the ``pileup`` module docstring).
    fetch_end : int, optional
        Reads are fetched over ``start..fetch_end`` (default ``end``); bases and events are
        counted over ``start..end`` only (a window passes ``end + 1``: module docstring).
    carry : MnvCarry, optional
        For a window of a longer interval: mismatch runs open at the previous window's last base
        (continued here when this window's first base extends them) and, unless ``carry.last``,
        the runs reaching this window's last base (left open, not returned). None: the interval
        is counted whole and every run ends at its edges (as when no carry existed).

    Returns
    -------
    tuple
        ``(fwd, rev, rpos, lowmq, events)``: ``(L, 5)`` int32 fragments per base on the forward
        and reverse strand, ``(L, 5)`` float64 sums of the distance to the nearest read end,
        ``(L,)`` int32 reads with MAPQ < ``min_mapq`` per position, and ``events``: the ordered list of
        ``("indel", anchor_pos0, kind, value, dist, strand)`` raw (not yet normalised) indels and
        ``("mnv", pos0, alt, strand, dist)`` MNV runs.
    """
    L = end - start
    low_diff = np.zeros(L + 1, np.int64)
    seqs: list[str] = []
    quals: list = []
    # per counted read
    r_qoff: list[int] = []
    r_qlen: list[int] = []
    r_strand: list[int] = []
    r_slot: list[int] = []
    r_second: list[int] = []  # reads that are the second mate of a merged fragment
    # per aligned block (clipped later)
    b_r: list[int] = []
    b_q: list[int] = []
    b_len: list[int] = []
    b_read: list[int] = []
    pending: dict[str, int] = {}  # query name -> slot of the pending first mate
    slot_events: list[dict | None] = []  # per slot: raw indel key -> (dist, strand), first seen wins
    emit_order: list[int] = []
    slot_read: list[int] = []  # per slot: the read that opened it
    slot_fs: list[int] = []  # per slot: the fragment strand (strand of its read 1; see _merge_mates)
    r_is_r1: list[bool] = []  # per counted read: flag 0x40
    r_name: list[str] = []
    slot_second: dict[int, int] = {}  # slot -> its second mate's read index
    qoff = 0
    low_s: list[int] = []
    low_e: list[int] = []
    for read in bam.fetch(chrom, start, end if fetch_end is None else fetch_end):
        flag = read.flag
        if flag & SKIP_FLAGS:
            continue
        if read.mapping_quality < min_mapq:
            s, e = max(read.reference_start, start), min(read.reference_end or 0, end)
            if e > s:
                low_s.append(s - start)
                low_e.append(e - start)
            continue
        seq = read.query_sequence
        qual = read.query_qualities
        if seq is None or qual is None:
            continue
        qlen = len(seq)
        n_read = len(r_qoff)
        r0 = read.reference_start
        r, qi = r0, 0
        nb = 0
        ind = None
        for op, ln in read.cigartuples:
            if op == 0 or op == 7 or op == 8:
                b_r.append(r)
                b_q.append(qi)
                b_len.append(ln)
                nb += 1
                r += ln
                qi += ln
            elif op == 1:
                if start <= r - 1 < end:
                    if ind is None:
                        ind = []
                    ind.append((r - 1, "I", seq[qi:qi + ln].upper(), min(qi, qlen - qi)))
                qi += ln
            elif op == 2:
                if start <= r - 1 < end:
                    if ind is None:
                        ind = []
                    ind.append((r - 1, "D", ln, min(qi, qlen - qi)))
                r += ln
            elif op == 3:
                r += ln
            elif op == 4:
                qi += ln
        if nb == 0:
            continue  # no aligned base: the reference implementation ignores the read entirely
        b_read.extend([n_read] * nb)
        strand = 1 if flag & 0x10 else 0
        name = read.query_name
        is_r1 = bool(flag & 0x40)
        slot = pending.pop(name, None)
        is_second = slot is not None
        if is_second:  # second mate of a pending fragment: merge, emit now
            emit_order.append(slot)
            r_second.append(n_read)
            slot_second[slot] = n_read
            if is_r1 and not r_is_r1[slot_read[slot]]:
                slot_fs[slot] = strand
        else:
            slot = len(slot_events)
            slot_events.append(None)
            slot_read.append(n_read)
            slot_fs.append(strand)
            mate_overlaps = (flag & 0x1 and not flag & 0x8 and read.next_reference_id == read.reference_id
                             and r0 <= read.next_reference_start < (read.reference_end or 0)
                             and not (read.next_reference_start == r0 and flag & 0x80))
            if mate_overlaps:
                pending[name] = slot
            else:
                emit_order.append(slot)
        if ind is not None:
            ev = slot_events[slot]
            if ev is None:
                ev = slot_events[slot] = {}
            for e in ind:
                if is_second and e[:3] in ev:  # seen by both mates: the fragment strand
                    ev[e[:3]] = (ev[e[:3]][0], slot_fs[slot])
                else:
                    ev.setdefault(e[:3], (e[3], strand))
        r_qoff.append(qoff)
        r_qlen.append(qlen)
        r_strand.append(strand)
        r_is_r1.append(is_r1)
        r_name.append(name)
        r_slot.append(slot)
        seqs.append(seq)
        quals.append(qual)
        qoff += qlen
    emit_order.extend(pending.values())  # mate filtered out or outside the interval: alone

    if low_s:
        np.add.at(low_diff, np.asarray(low_s), 1)
        np.add.at(low_diff, np.asarray(low_e), -1)
    lowmq = np.cumsum(low_diff[:L]).astype(np.int32)
    if not r_qoff:
        z = np.zeros((L, 5), np.int32)
        return z, z.copy(), np.zeros((L, 5), np.float64), lowmq, [e for _, e in _close_carried(carry, [])]

    rank = np.empty(len(slot_events), np.int64)
    rank[np.asarray(emit_order, np.int64)] = np.arange(len(emit_order))
    codes_all = LUT[np.frombuffer("".join(seqs).encode(), dtype=np.uint8)]
    q_all = np.frombuffer(b"".join(quals), dtype=np.uint8)
    slot_a = np.asarray(r_slot, np.int64)
    role = np.zeros(len(r_qoff), np.int8)  # 0 alone, 1 first mate of a merged fragment, 2 second mate
    if r_second:
        second = np.asarray(r_second, np.int64)
        role[second] = 2
        role[np.asarray(slot_read, np.int64)[slot_a[second]]] = 1

    rp, qp, rid = _expand_blocks(b_r, b_q, b_len, b_read, start, end)
    qg = qp + np.asarray(r_qoff, np.int64)[rid]
    good = q_all[qg] >= min_baseq
    base = codes_all[qg]
    strand = np.asarray(r_strand, np.int8)[rid]
    if r_second:
        both = _merge_mates(good, rp, rid, base, q_all[qg], role, slot_a, L)
        strand[both] = np.asarray(slot_fs, np.int8)[slot_a[rid[both]]]
    sel = np.flatnonzero(good)
    rp, base, qp, rid, strand = rp[sel], base[sel], qp[sel], rid[sel], strand[sel]
    dist = np.minimum(qp, np.asarray(r_qlen, np.int32)[rid] - 1 - qp)
    idx = rp.astype(np.int64) * 5 + base + strand.astype(np.int64) * (5 * L)
    both = np.bincount(idx, minlength=10 * L)
    fwd = both[:5 * L].reshape(L, 5).astype(np.int32)
    rev = both[5 * L:].reshape(L, 5).astype(np.int32)
    rpos = np.bincount(idx % (5 * L), weights=dist.astype(np.float64), minlength=5 * L).reshape(L, 5)

    def frag_reads(slot: int) -> list[ReadId]:
        reads = [slot_read[slot]] + ([slot_second[slot]] if slot in slot_second else [])
        return [(r_name[i], r_is_r1[i]) for i in reads]

    mnv = _mnv_runs(rp, base, dist, strand, slot_a[rid], rank, ref_codes, start, carry, frag_reads)
    return fwd, rev, rpos, lowmq, _ordered_events(slot_events, rank, mnv)


def _expand_blocks(b_r: list[int], b_q: list[int], b_len: list[int], b_read: list[int], start: int, end: int):
    """Clip aligned blocks (reference start, query start, length, read index) to ``[start, end)``
    and expand them to per-base ``(pos - start, query pos, read index)`` int32 arrays."""
    br = np.asarray(b_r, np.int64)
    bq = np.asarray(b_q, np.int64)
    bl = np.asarray(b_len, np.int64)
    bread = np.asarray(b_read, np.int32)
    lo = np.maximum(br, start)
    hi = np.minimum(br + bl, end)
    ok = hi > lo
    bq = (bq + (lo - br))[ok].astype(np.int32)
    br, bl, bread = (lo - start)[ok].astype(np.int32), (hi - lo)[ok], bread[ok]
    total = int(bl.sum())
    within = np.arange(total, dtype=np.int32) - np.repeat((np.cumsum(bl) - bl).astype(np.int32), bl)
    return np.repeat(br, bl) + within, np.repeat(bq, bl) + within, np.repeat(bread, bl)


def _merge_mates(good: np.ndarray, rp: np.ndarray, rid: np.ndarray, base: np.ndarray, q: np.ndarray,
                 role: np.ndarray, slot: np.ndarray, L: int) -> np.ndarray:
    """Apply the overlapping-mates rule in place on ``good`` (bases that pass the quality filter).

    A second mate's base is matched to the first mate's base at the same position by binary
    search: the first mates' keys ``slot * L + pos`` are already sorted, because slots are numbered
    in read order and positions increase along a read. Agreeing bases keep the higher-quality
    one (ties: the first mate), disagreeing bases are both dropped.

    Returns the indices of the kept bases that both mates agreed on: they are counted on the
    *fragment strand* (the strand of the pair's read 1), not on the kept read's strand. Why: a
    strand-specific sequencing error is in one mate only and is dropped as a disagreement, so
    agreeing bases carry no read-strand information; giving them the strand of the better (or the
    first, i.e. leftmost = forward) mate made the strand split depend on the allele's counting
    path (indels took the first mate's strand, ~98 % forward on overlapping art pairs, against
    ~80 % for reference bases), which the strand-bias test then flagged on true variants. The
    fragment strand is the same for every allele of a molecule, and damage on one strand of the
    molecule (e.g. 8-oxoG G>T, in both mates) is then concentrated on one strand, as it should be.
    """
    orole = role[rid]
    ia = np.flatnonzero((orole == 1) & good)
    ib = np.flatnonzero((orole == 2) & good)
    if not len(ia) or not len(ib):
        return np.zeros(0, np.int64)
    key_a = slot[rid[ia]] * L + rp[ia]
    key_b = slot[rid[ib]] * L + rp[ib]
    j = np.minimum(np.searchsorted(key_a, key_b), len(ia) - 1)
    hit = key_a[j] == key_b
    ia, ib = ia[j[hit]], ib[hit]
    agree = base[ia] == base[ib]
    take_b = agree & (q[ib] > q[ia])
    good[ia[~agree | take_b]] = False
    good[ib[~agree | ~take_b]] = False
    return np.concatenate([ia[agree & ~take_b], ib[take_b]])


def _mnv_runs(rp: np.ndarray, base: np.ndarray, dist: np.ndarray, strand: np.ndarray, frag: np.ndarray,
              rank: np.ndarray, ref_codes: np.ndarray, start: int, carry: MnvCarry | None = None,
              frag_reads: Callable[[int], list[ReadId]] | None = None) -> list[tuple[int, tuple]]:
    """Runs of >= 2 adjacent mismatching positions of one fragment, found on the (few) mismatches
    sorted by fragment and position: ``(emission rank, ("mnv", pos0, alt, strand, mean dist))``
    with the strand of the run's first base.

    With a ``carry`` (a window of a longer interval), a run that starts on the window's first
    base continues the carried run of the same fragment (one of its reads held it), and a run
    (even of one mismatch) that reaches the window's last base is carried on, unless the window
    is the interval's last; carried runs that are not continued end here (rank -1: first).
    """
    out: list[tuple[int, tuple]] = []
    L = len(ref_codes)
    incoming = carry.open if carry is not None else {}
    if carry is not None:
        carry.open = {}
    mm = np.flatnonzero((base != ref_codes[rp]) & (base < 4))
    if len(mm) >= (1 if carry is not None else 2):
        mm = mm[np.lexsort((rp[mm], frag[mm]))]
        fr = frag[mm]
        link = (fr[1:] == fr[:-1]) & (rp[mm[1:]] == rp[mm[:-1]] + 1)
        first = np.concatenate(([0], np.flatnonzero(~link) + 1))
        last = np.concatenate((first[1:] - 1, [len(mm) - 1]))
        keep = last > first
        if carry is not None:
            if incoming:
                keep |= rp[mm[first]] == 0
            if not carry.last:
                keep |= rp[mm[last]] == L - 1
        for a, b in zip(first[keep], last[keep]):
            run = mm[a:b + 1]
            p0, s = int(rp[run[0]]) + start, int(strand[run[0]])
            alt = "".join(BASES[c] for c in base[run])
            dsum, n = int(dist[run].astype(np.int64).sum()), len(run)
            if carry is not None and incoming and rp[run[0]] == 0:
                o = next((incoming[i] for i in frag_reads(int(fr[a])) if i in incoming), None)
                if o is not None and not o[5]:
                    o[5] = True
                    p0, alt, dsum, n, s = o[0], o[1] + alt, o[2] + dsum, o[3] + n, o[4]
            if carry is not None and not carry.last and rp[run[-1]] == L - 1:
                o = [p0, alt, dsum, n, s, False]
                for i in frag_reads(int(fr[a])):
                    carry.open[i] = o
                continue
            if n >= 2:  # mean of integer distances: the same float as numpy's mean
                out.append((int(rank[fr[a]]), ("mnv", p0, alt, s, dsum / n)))
    return _close_carried(None, out, incoming)


def _close_carried(carry: MnvCarry | None, out: list[tuple[int, tuple]],
                   incoming: dict[ReadId, list] | None = None) -> list[tuple[int, tuple]]:
    """``out`` preceded by the carried runs that were not continued (>= 2 bases; rank -1).
    ``incoming`` defaults to ``carry.open``, which is then emptied (a window without reads)."""
    if incoming is None:
        incoming = carry.open if carry is not None else {}
        if carry is not None:
            carry.open = {}
    done: list[tuple[int, tuple]] = []
    seen: set[int] = set()
    for o in incoming.values():
        if id(o) in seen or o[5]:
            continue
        seen.add(id(o))
        if o[3] >= 2:
            done.append((-1, ("mnv", o[0], o[1], o[4], o[2] / o[3])))
    return done + out


def _ordered_events(slot_events: list[dict | None], rank: np.ndarray, mnv: list[tuple[int, tuple]]) -> list[tuple]:
    """Indel and MNV events in fragment emission order, a fragment's indels before its MNVs."""
    events: list[tuple] = []
    ind_frags = sorted(((int(rank[s]), ev) for s, ev in enumerate(slot_events) if ev), key=lambda t: t[0])
    mnv.sort(key=lambda t: t[0])  # stable: the runs of one fragment stay in position order
    i = j = 0
    while i < len(ind_frags) or j < len(mnv):
        if j >= len(mnv) or (i < len(ind_frags) and ind_frags[i][0] <= mnv[j][0]):
            for (anchor, kind, val), (d, s) in ind_frags[i][1].items():
                events.append(("indel", anchor, kind, val, d, s))
            i += 1
        else:
            events.append(mnv[j][1])
            j += 1
    return events
