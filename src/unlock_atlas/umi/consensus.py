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


_FOUR = np.arange(4, dtype=np.uint8)
_TABLES: dict[ConsensusOptions, tuple[np.ndarray, np.ndarray]] = {}


def _tables(opts: ConsensusOptions) -> tuple[np.ndarray, np.ndarray]:
    """Per raw quality 0-93: log(e/3) and log(1-e) - log(e/3), e = quality combined with the post-UMI rate."""
    if opts not in _TABLES:
        e = np.clip(two_trials(phred_to_prob(np.arange(94)), phred_to_prob(opts.error_rate_post_umi)), 1e-12, 0.75)
        _TABLES[opts] = (np.log(e / 3.0), np.log1p(-e) - np.log(e / 3.0))
    return _TABLES[opts]


@dataclass
class BaseCalls:
    """Consensus of aligned reads: bases (0-3 ACGT, 4 N), Phred qualities, per-base depth and observed counts."""

    bases: np.ndarray
    quals: np.ndarray
    depth: np.ndarray
    counts: np.ndarray  # (L, 4): raw bases observed per candidate

    def errors(self) -> np.ndarray:
        """Raw bases that disagree with the consensus call (0 where the call is N)."""
        called = self.bases < 4
        idx = np.minimum(self.bases, 3)
        agree = np.take_along_axis(self.counts, idx[:, None].astype(np.intp), axis=1)[:, 0]
        return np.where(called, self.depth - agree, 0)


def call_bases(bases: np.ndarray, quals: np.ndarray, opts: ConsensusOptions = ConsensusOptions()) -> BaseCalls:
    """Consensus over ``n`` aligned reads of length ``L``.

    Parameters
    ----------
    bases
        (n, L) codes 0-3 = A, C, G, T; 4 = N (ignored).
    quals
        (n, L) raw Phred base qualities.
    """
    bases = np.asarray(bases, dtype=np.uint8)
    quals = np.minimum(np.asarray(quals, dtype=np.intp), 93)
    log_other, gain_lut = _tables(opts)
    use = (bases < 4) & (quals >= opts.min_input_base_quality)
    base_ll = np.where(use, log_other[quals], 0.0).sum(axis=0)                # every read "mismatches"
    gain = np.where(use, gain_lut[quals], 0.0)
    L = bases.shape[1]
    onehot = (bases[:, :, None] == _FOUR) & use[:, :, None]                    # (n, L, 4)
    ll = base_ll[:, None] + np.einsum("nl,nlb->lb", gain, onehot)
    counts = onehot.sum(axis=0)
    depth = use.sum(axis=0)
    best = np.argmax(ll, axis=1)
    top = ll[np.arange(L), best]
    rel = np.exp(ll - top[:, None])                                            # <= 1, best = 1
    p_err = (rel.sum(axis=1) - 1.0) / rel.sum(axis=1)
    p_final = two_trials(p_err, phred_to_prob(opts.error_rate_pre_umi))
    q = prob_to_phred(p_final)
    out_b = best.astype(np.uint8)
    no_call = (depth == 0) | (q < opts.min_consensus_base_quality)
    out_b[no_call] = 4
    q[no_call] = N_QUAL
    return BaseCalls(out_b, q, depth, counts)


def duplex_bases(a: BaseCalls, b: BaseCalls) -> tuple[np.ndarray, np.ndarray]:
    """Duplex call of two single-strand consensuses of the same end: agreement or N (quality 2)."""
    agree = (a.bases == b.bases) & (a.bases < 4)
    bases = np.where(agree, a.bases, 4).astype(np.uint8)
    quals = np.where(agree, np.minimum(a.quals.astype(np.int64) + b.quals, MAX_QUAL), N_QUAL).astype(np.uint8)
    return bases, quals


def read_arrays(reads: list[pysam.AlignedSegment]) -> tuple[np.ndarray, np.ndarray]:
    """(n, L) base codes and qualities of reads of equal length, in SAM (reference) orientation."""
    seqs = np.frombuffer(b"".join(r.query_sequence.encode() for r in reads), dtype=np.uint8)
    quals = np.concatenate([np.asarray(r.query_qualities, dtype=np.uint8) for r in reads])
    n = len(reads)
    return _CODE[seqs].reshape(n, -1), quals.reshape(n, -1)


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
    return int(np.median([r.mapping_quality for r in reads]))


def single_end(reads: list[pysam.AlignedSegment], opts: ConsensusOptions) -> EndConsensus:
    """Single-strand consensus of one end's reads (tags cD/cM/cE, per-base cd/ce)."""
    kept = most_common_alignment(reads)
    calls = call_bases(*read_arrays(kept), opts)
    err = calls.errors()
    d, m, e = _stats(calls.depth, err)
    tags = [("cD", d), ("cM", m), ("cE", round(e, 6)),
            ("cd", _short_array(calls.depth)), ("ce", _short_array(err))]
    return EndConsensus(kept[0], calls.bases, calls.quals, tags, _mapq(kept))


def duplex_end(reads_a: list[pysam.AlignedSegment], reads_b: list[pysam.AlignedSegment], opts: ConsensusOptions,
               min_strand_reads: int) -> EndConsensus | None:
    """Duplex consensus of one end (strand A and strand B reads there); None if a strand lacks reads.

    With ``min_strand_reads == 0`` a family seen on one strand only gives that strand's
    single-strand consensus (tags aD/aM/aE only).
    """
    best = most_common_alignment(reads_a + reads_b)[0]
    key = (best.cigarstring, best.reference_start)
    ka = [r for r in reads_a if (r.cigarstring, r.reference_start) == key]
    kb = [r for r in reads_b if (r.cigarstring, r.reference_start) == key]
    if len(ka) < max(min_strand_reads, 0) or len(kb) < max(min_strand_reads, 0) or not (ka or kb):
        return None
    if not ka or not kb:
        one = ka or kb
        calls = call_bases(*read_arrays(one), opts)
        err = calls.errors()
        d, m, e = _stats(calls.depth, err)
        tags = [("aD", d), ("aM", m), ("aE", round(e, 6)), ("bD", 0), ("bM", 0), ("bE", 0.0),
                ("cD", d), ("cM", m), ("cE", round(e, 6))]
        return EndConsensus(one[0], calls.bases, calls.quals, tags, _mapq(one))
    ca = call_bases(*read_arrays(ka), opts)
    cb = call_bases(*read_arrays(kb), opts)
    bases, quals = duplex_bases(ca, cb)
    ea, eb = ca.errors(), cb.errors()
    depth = ca.depth + cb.depth
    idx = np.minimum(bases, 3)[:, None].astype(np.intp)
    agree = np.take_along_axis(ca.counts + cb.counts, idx, axis=1)[:, 0]
    err = np.where(bases < 4, depth - agree, 0)
    tags = []
    for prefix, (dd, ee) in (("a", (ca.depth, ea)), ("b", (cb.depth, eb)), ("c", (depth, err))):
        d, m, e = _stats(dd, ee)
        tags += [(f"{prefix}D", d), (f"{prefix}M", m), (f"{prefix}E", round(e, 6))]
    return EndConsensus(ka[0], bases, quals, tags, _mapq(ka + kb))


def family_consensus(fam: Family, duplex: bool, opts: ConsensusOptions, min_strand_reads: int = 1
                     ) -> tuple[EndConsensus, EndConsensus] | None:
    """The (lower-end, upper-end) consensus reads of a family, or None when it cannot be called."""
    if not duplex:
        return single_end([t.lo for t in fam.a], opts), single_end([t.hi for t in fam.a], opts)
    lo = duplex_end([t.lo for t in fam.a], [t.lo for t in fam.b], opts, min_strand_reads)
    hi = duplex_end([t.hi for t in fam.a], [t.hi for t in fam.b], opts, min_strand_reads)
    if lo is None or hi is None:
        return None
    return lo, hi


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
