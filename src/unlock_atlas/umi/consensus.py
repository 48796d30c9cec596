"""Single-strand and duplex consensus reads of UMI families (docs/umi.md).

* **Single-strand base model** (fgbio ``CallMolecularConsensusReads``, Fulcrum Genomics,
  https://fulcrumgenomics.github.io/fgbio/tools/latest/CallMolecularConsensusReads.html):
  each raw base quality (below ``min_input_base_quality`` the base is ignored) is turned into
  an error probability and combined with the post-UMI error rate (errors after the UMI was
  attached, i.e. in PCR, counted once per read) as two independent trials; the likelihood of
  each of A, C, G, T is ``prod_i (1 - e_i)`` over reads showing it times ``prod_i e_i / 3``
  over the others; with a flat prior the consensus base is the most likely one and its error
  the summed posterior of the other three, combined again as two trials with the pre-UMI
  error rate (damage/errors in the molecule before tagging, which no consensus can remove).
  Qualities are capped at 90 and bases below ``min_consensus_base_quality`` become N.
* **Alignment.** Consensus reads keep the alignment of their family: at each end only reads
  with the family's most common CIGAR are used (fgbio filters to the most common alignment as
  well); they share the unclipped 5' end, so their bases line up position by position.
* **Duplex** (Schmitt et al. 2012, PNAS 109:14508, doi:10.1073/pnas.1208715109): the two
  strands' single-strand consensuses at the same end are compared base by base; where they
  agree the base is kept with quality ``qa + qb`` (capped at 90, as fgbio); where they
  disagree, or either strand has no call, the base is N with quality 2.
"""

from __future__ import annotations

from array import array
from collections import Counter
from dataclasses import dataclass
from statistics import median_low

import numpy as np
import pysam

from .grouping import Family

MAX_QUAL = 90
MIN_QUAL = 2
N_QUAL = 2
_CODE = np.full(256, 4, dtype=np.uint8)
for _i, _b in enumerate(b"ACGT"):
    _CODE[_b] = _i
    _CODE[ord(chr(_b).lower())] = _i
_BASES = np.frombuffer(b"ACGTN", dtype=np.uint8)


@dataclass(frozen=True)
class ConsensusOptions:
    """Model constants (defaults: fgbio's; docs/umi.md)."""

    error_rate_pre_umi: int = 45
    error_rate_post_umi: int = 40
    min_input_base_quality: int = 10
    min_consensus_base_quality: int = 2


def phred_to_prob(q: np.ndarray | float) -> np.ndarray:
    return np.power(10.0, -np.asarray(q, dtype=np.float64) / 10.0)


def prob_to_phred(p: np.ndarray) -> np.ndarray:
    """Phred quality, rounded, clipped to [2, 90]."""
    with np.errstate(divide="ignore"):
        q = -10.0 * np.log10(np.maximum(np.asarray(p, dtype=np.float64), 1e-300))
    return np.clip(np.rint(q), MIN_QUAL, MAX_QUAL).astype(np.uint8)


def two_trials(p1: np.ndarray | float, p2: np.ndarray | float) -> np.ndarray:
    """Error probability after two independent error chances; a second error restores the base 1/3 of the time."""
    p1, p2 = np.asarray(p1, dtype=np.float64), np.asarray(p2, dtype=np.float64)
    return p1 * (1 - p2) + (1 - p1) * p2 + p1 * p2 * (2.0 / 3.0)


_TABLES: dict[ConsensusOptions, tuple[np.ndarray, np.ndarray]] = {}


def _tables(opts: ConsensusOptions) -> tuple[np.ndarray, np.ndarray]:
    """Per raw quality 0-93: log(e/3) and log(1-e) - log(e/3), e = quality combined with the post-UMI rate."""
    if opts not in _TABLES:
        e = np.clip(two_trials(phred_to_prob(np.arange(94)), phred_to_prob(opts.error_rate_post_umi)), 1e-12, 0.75)
        _TABLES[opts] = (np.log(e / 3.0), np.log1p(-e) - np.log(e / 3.0))
    return _TABLES[opts]


@dataclass
class BaseCalls:
    """Consensus of aligned reads: bases (0-3 ACGT, 4 N), Phred qualities, per-base depth, observed
    counts per candidate base (..., 4) and raw bases disagreeing with the call (0 where N)."""

    bases: np.ndarray
    quals: np.ndarray
    depth: np.ndarray
    counts: np.ndarray
    errs: np.ndarray

    def errors(self) -> np.ndarray:
        return self.errs

    def row(self, g: int, length: int) -> BaseCalls:
        """Group ``g`` of a batch, trimmed to its read length."""
        return BaseCalls(self.bases[g, :length], self.quals[g, :length], self.depth[g, :length],
                         self.counts[g, :length], self.errs[g, :length])


def call_groups(bases: np.ndarray, quals: np.ndarray, starts: np.ndarray | list[int],
                opts: ConsensusOptions = ConsensusOptions()) -> BaseCalls:
    """Consensus of several groups of aligned reads at once (one group = one strand of one end).

    Parameters
    ----------
    bases
        (n, L) codes 0-3 = A, C, G, T; 4 = N or padding (ignored).
    quals
        (n, L) raw Phred base qualities.
    starts
        First row of each group (rows of a group are consecutive; ``starts[0] == 0``).

    Returns
    -------
    BaseCalls
        Arrays of shape (groups, L) (counts: (groups, L, 4)).
    """
    bases = np.asarray(bases, dtype=np.uint8)
    quals = np.minimum(np.asarray(quals, dtype=np.intp), 93)
    starts = np.asarray(starts, dtype=np.intp)
    log_other, gain_lut = _tables(opts)
    use = (bases < 4) & (quals >= opts.min_input_base_quality)
    obs = np.where(use, bases, 4)                                                           # 4 = not used
    base_ll = np.add.reduceat(np.where(use, log_other[quals], 0.0), starts, axis=0)       # every read "mismatches"
    gain = gain_lut[quals]
    G, L = len(starts), bases.shape[1]
    ll = np.empty((G, L, 4))
    counts = np.empty((G, L, 4), dtype=np.int64)
    for b in range(4):
        hit = obs == b
        ll[:, :, b] = base_ll + np.add.reduceat(np.where(hit, gain, 0.0), starts, axis=0)
        counts[:, :, b] = np.add.reduceat(hit.view(np.uint8), starts, axis=0, dtype=np.int64)
    depth = counts.sum(axis=2)
    best = np.argmax(ll, axis=2)
    top = np.take_along_axis(ll, best[:, :, None], axis=2)
    total = np.exp(ll - top).sum(axis=2)                                                    # >= 1 (best = 1)
    p_err = (total - 1.0) / total
    q = prob_to_phred(two_trials(p_err, phred_to_prob(opts.error_rate_pre_umi)))
    out_b = best.astype(np.uint8)
    no_call = (depth == 0) | (q < opts.min_consensus_base_quality)
    out_b[no_call] = 4
    q[no_call] = N_QUAL
    agree = np.take_along_axis(counts, best[:, :, None], axis=2)[:, :, 0]
    errs = np.where(no_call, 0, depth - agree)
    return BaseCalls(out_b, q, depth, counts, errs)


def call_bases(bases: np.ndarray, quals: np.ndarray, opts: ConsensusOptions = ConsensusOptions()) -> BaseCalls:
    """Consensus over ``n`` aligned reads of length ``L`` (one group of :func:`call_groups`)."""
    bases = np.asarray(bases, dtype=np.uint8)
    return call_groups(bases, quals, [0], opts).row(0, bases.shape[1])


def duplex_bases(a: BaseCalls, b: BaseCalls) -> tuple[np.ndarray, np.ndarray]:
    """Duplex call of two single-strand consensuses of the same end: agreement or N (quality 2)."""
    agree = (a.bases == b.bases) & (a.bases < 4)
    bases = np.where(agree, a.bases, 4).astype(np.uint8)
    quals = np.where(agree, np.minimum(a.quals.astype(np.int64) + b.quals, MAX_QUAL), N_QUAL).astype(np.uint8)
    return bases, quals


def most_common_alignment(reads: list[pysam.AlignedSegment]) -> list[pysam.AlignedSegment]:
    """Reads with the most common (CIGAR, start) among ``reads`` (ties: the smaller CIGAR string)."""
    keys = [(r.cigarstring, r.reference_start) for r in reads]
    counts = Counter(keys)
    best = min(counts, key=lambda k: (-counts[k], k[0], k[1]))
    return [r for r, k in zip(reads, keys) if k == best]


@dataclass
class EndConsensus:
    """One consensus read (one end of the molecule) before it is written."""

    template: pysam.AlignedSegment   # a contributing read: alignment, strand, MAPQ source
    bases: np.ndarray
    quals: np.ndarray
    tags: list[tuple]
    mapq: int


def _stats(depth: np.ndarray, errors: np.ndarray) -> tuple[int, int, float]:
    total = int(depth.sum())
    if not len(depth):
        return 0, 0, 0.0
    return int(depth.max()), int(depth.min()), float(errors.sum() / total) if total else 0.0


def _short_array(values: np.ndarray) -> array:
    """A per-base tag value (SAM ``B:s``), as fgbio's ``cd``/``ce``."""
    return array("h", np.minimum(values, 32767).astype(np.int16).tolist())


def _mapq(reads: list[pysam.AlignedSegment]) -> int:
    """Median MAPQ of the contributing reads (the lower middle value for an even count)."""
    return int(median_low([r.mapping_quality for r in reads]))


def _end_stats(prefix: str, calls: BaseCalls) -> list[tuple]:
    d, m, e = _stats(calls.depth, calls.errs)
    return [(f"{prefix}D", d), (f"{prefix}M", m), (f"{prefix}E", round(e, 6))]


def _plan(fam: Family, duplex: bool, min_strand_reads: int) -> list[tuple[list, list]] | None:
    """Per end (lower, upper): the strand-A and strand-B reads with the end's most common alignment."""
    if not duplex:
        return [(most_common_alignment([t.lo for t in fam.a]), []), (most_common_alignment([t.hi for t in fam.a]), [])]
    plan = []
    for end in ("lo", "hi"):
        ra, rb = [getattr(t, end) for t in fam.a], [getattr(t, end) for t in fam.b]
        best = most_common_alignment(ra + rb)[0]
        key = (best.cigarstring, best.reference_start)
        ka = [r for r in ra if (r.cigarstring, r.reference_start) == key]
        kb = [r for r in rb if (r.cigarstring, r.reference_start) == key]
        if len(ka) < min_strand_reads or len(kb) < min_strand_reads or not (ka or kb):
            return None
        plan.append((ka, kb))
    return plan


def _arrays(groups: list[list[pysam.AlignedSegment]]) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """Padded (n, L) base codes and qualities of all groups' reads, group start rows, L."""
    width = max(r.query_length for g in groups for r in g)
    seqs, quals, starts, n = [], [], [], 0
    for g in groups:
        starts.append(n)
        n += len(g)
        for r in g:
            seqs.append(r.query_sequence.encode().ljust(width, b"N"))
            q = r.query_qualities
            quals.append((q.tobytes() if q is not None else b"").ljust(width, b"\0"))
    b = _CODE[np.frombuffer(b"".join(seqs), dtype=np.uint8)].reshape(n, width)
    q = np.frombuffer(b"".join(quals), dtype=np.uint8).reshape(n, width)
    return b, q, np.asarray(starts), width


def batch_consensus(fams: list[Family], duplex: bool, opts: ConsensusOptions, min_strand_reads: int = 1
                    ) -> list[tuple[EndConsensus, EndConsensus] | None]:
    """The (lower-end, upper-end) consensus reads of each family (None: cannot be called).

    Every strand of every end of the batch is one group of one :func:`call_groups` call, so
    the numpy work is done once per batch rather than once per family.
    """
    plans = [_plan(f, duplex, max(min_strand_reads, 0)) for f in fams]
    groups = [g for p in plans if p for ends in p for g in ends if g]
    if not groups:
        return [None] * len(fams)
    b, q, starts, _ = _arrays(groups)
    calls = call_groups(b, q, starts, opts)
    out: list[tuple[EndConsensus, EndConsensus] | None] = []
    gi = 0
    for plan in plans:
        if plan is None:
            out.append(None)
            continue
        ends = []
        for ka, kb in plan:
            cs = []
            for g in (ka, kb):
                cs.append(calls.row(gi, g[0].query_length) if g else None)
                gi += bool(g)
            ends.append(_end(ka, kb, cs[0], cs[1], duplex))
        out.append((ends[0], ends[1]))
    return out


def _end(ka: list, kb: list, ca: BaseCalls | None, cb: BaseCalls | None, duplex: bool) -> EndConsensus:
    if not duplex:
        tags = _end_stats("c", ca) + [("cd", _short_array(ca.depth)), ("ce", _short_array(ca.errs))]
        return EndConsensus(ka[0], ca.bases, ca.quals, tags, _mapq(ka))
    if ca is None or cb is None:                 # one strand only (min_duplex_strand_reads 0)
        one, reads = (ca, ka) if ca is not None else (cb, kb)
        tags = _end_stats("a", one) + [("bD", 0), ("bM", 0), ("bE", 0.0)] + _end_stats("c", one)
        return EndConsensus(reads[0], one.bases, one.quals, tags, _mapq(reads))
    bases, quals = duplex_bases(ca, cb)
    depth = ca.depth + cb.depth
    agree = np.take_along_axis(ca.counts + cb.counts, np.minimum(bases, 3)[:, None].astype(np.intp), axis=1)[:, 0]
    both = BaseCalls(bases, quals, depth, ca.counts + cb.counts, np.where(bases < 4, depth - agree, 0))
    tags = _end_stats("a", ca) + _end_stats("b", cb) + _end_stats("c", both)
    return EndConsensus(ka[0], bases, quals, tags, _mapq(ka + kb))


def family_consensus(fam: Family, duplex: bool, opts: ConsensusOptions, min_strand_reads: int = 1
                     ) -> tuple[EndConsensus, EndConsensus] | None:
    """The (lower-end, upper-end) consensus reads of one family (see :func:`batch_consensus`)."""
    return batch_consensus([fam], duplex, opts, min_strand_reads)[0]


def to_segment(end: EndConsensus, header: pysam.AlignmentHeader, name: str, is_read1: bool,
               tags: list[tuple]) -> pysam.AlignedSegment:
    """A mapped consensus record (mate fields are set by :func:`pair_up`)."""
    src = end.template
    seg = pysam.AlignedSegment(header)
    seg.query_name = name
    seg.flag = 0x1 | 0x2 | (0x40 if is_read1 else 0x80) | (0x10 if src.is_reverse else 0)
    seg.reference_id = src.reference_id
    seg.reference_start = src.reference_start
    seg.mapping_quality = end.mapq
    seg.cigarstring = src.cigarstring
    seg.query_sequence = _BASES[end.bases].tobytes().decode()
    seg.query_qualities = end.quals
    for t in tags + end.tags:
        seg.set_tag(*t)
    if src.has_tag("RG"):
        seg.set_tag("RG", src.get_tag("RG"))
    return seg


def pair_up(lo: pysam.AlignedSegment, hi: pysam.AlignedSegment) -> None:
    """Mate fields (RNEXT, PNEXT, mate strand, TLEN, MC) of a consensus pair."""
    for a, b in ((lo, hi), (hi, lo)):
        a.next_reference_id = b.reference_id
        a.next_reference_start = b.reference_start
        a.mate_is_reverse = b.is_reverse
        a.set_tag("MC", b.cigarstring)
    span = max(lo.reference_end, hi.reference_end) - min(lo.reference_start, hi.reference_start)
    left_first = lo.reference_start <= hi.reference_start
    lo.template_length, hi.template_length = (span, -span) if left_first else (-span, span)
