"""Read-level rearrangement evidence: junctions from split reads (all ``SA`` parts) and discordant pairs.

A **junction** joins two breakends. A breakend is (chromosome, 1-based position, kept side):
``left`` when the rearranged molecule keeps the reference bases at and *below* the position
(the segment ends there), ``right`` when it keeps the bases at and *above* it (the segment starts
there). In Delly's connection-type notation (Rausch et al., Bioinformatics 2012) a left breakend
is joined at its 3' end ("3") and a right breakend at its 5' end ("5"), so a junction is one of
3to5 (deletion-type), 5to3 (tandem-duplication-type), 3to3 / 5to5 (inversion-type), or any of
them between chromosomes.

Evidence (each choice with its reason):

* **Split reads.** BWA-MEM writes a chimeric read as one primary and one or more
  supplementary alignments, each with an ``SA`` tag listing *all the other* parts. A read's
  parts are the record's own alignment plus every ``SA`` entry (not only the first: a read may
  cross two junctions, or carry a short local part besides the partner), ordered by where they
  lie in the read as sequenced. Consecutive parts form one junction each: the read leaves part
  X at X's alignment end in read direction (forward: its last reference base, a left breakend;
  reverse: its first, a right breakend) and enters part Y at Y's start in read direction
  (forward: its first base, a right breakend; reverse: its last, a left breakend). Split-read
  breakends are base-exact. Parts with MAPQ < ``MIN_MAPQ`` are dropped first (chimeras between
  paralogues are mapping artefacts), so the confident parts either side of an unplaceable
  insert are joined to each other. Each read (query name + mate number) counts once, from its
  primary record; a supplementary record counts only when its primary lies outside the scanned
  regions, and not when that primary (the first ``SA`` entry of a supplementary line, by the SAM
  convention) is a duplicate (markdup may flag only the primary).
* **Discordant pairs.** A primary read whose mate is mapped, that the aligner did not flag as a
  proper pair, and that is not an ordinary fragment: mates on different chromosomes, on the same
  strand, or further apart than ``MAX_INSERT``. Each read implies a breakend beyond its 3' end in
  fragment direction: a forward read a left breakend at its last base, a reverse read a right
  breakend at its first base (the mate's end comes from its ``MC`` tag, else its length is taken
  as this read's). Pairs localise a breakpoint only to within a fragment length. ``MAX_INSERT``
  = 1,000 bp: BWA-MEM's proper-pair bound is about mean + 4 sd of the insert size, well under
  1 kb for cfDNA (~167 bp) and sheared tissue libraries (the simulator's inserts are <= 800 bp).
  This bound applies to pairs only: a split read has no minimum distance between its parts.
* **Read filters**: unmapped, secondary, QC-fail and duplicate records are skipped.

Evidence is returned in BAM order (reads from supplementary records last).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pysam

from ..errors import InputError, Problem
from ..reference.genome import grch38_chromosomes

MIN_MAPQ = 20
MAX_INSERT = 1_000
_SKIP = 0x4 | 0x100 | 0x200 | 0x400
_CIGAR_RE = re.compile(r"(\d+)([MIDNSHP=X])")


@dataclass(frozen=True)
class Part:
    """One alignment of a read: reference span (1-based, inclusive), strand, and where it lies in
    the read as sequenced (``qstart`` .. ``qend``, 0-based half-open)."""

    chrom: str
    start: int
    end: int
    reverse: bool
    qstart: int
    qend: int
    mapq: int

    def exit(self) -> tuple[str, int, bool]:
        """Breakend where the read leaves this part: (chrom, pos, kept side is left)."""
        return (self.chrom, self.end, True) if not self.reverse else (self.chrom, self.start, False)

    def entry(self) -> tuple[str, int, bool]:
        """Breakend where the read enters this part."""
        return (self.chrom, self.start, False) if not self.reverse else (self.chrom, self.end, True)


@dataclass(frozen=True)
class Evidence:
    """One read's (split) or one fragment's (pair) support for a junction, in canonical order
    (breakend a before b by chromosome rank, then position)."""

    kind: str          # "split" or "pair"
    chrom_a: str
    pos_a: int
    left_a: bool
    chrom_b: str
    pos_b: int
    left_b: bool
    qname: str


def part_from_cigar(chrom: str, pos: int, reverse: bool, cigar: str, mapq: int) -> Part:
    """A :class:`Part` from a SAM-style alignment (``pos`` 1-based leftmost, CIGAR in reference
    orientation, soft or hard clips)."""
    ops = [(int(n), op) for n, op in _CIGAR_RE.findall(cigar)]
    if not ops:
        raise ValueError(f"empty CIGAR {cigar!r}")
    lead = trail = 0
    i = 0
    while i < len(ops) and ops[i][1] in "SH":
        lead += ops[i][0]
        i += 1
    j = len(ops) - 1
    while j >= i and ops[j][1] in "SH":
        trail += ops[j][0]
        j -= 1
    core = ops[i:j + 1]
    qlen = sum(n for n, op in core if op in "MI=X")
    rlen = sum(n for n, op in core if op in "MDN=X")
    qs = trail if reverse else lead
    return Part(chrom, pos, pos + rlen - 1, reverse, qs, qs + qlen, mapq)


def canonical(c1: str, p1: int, l1: bool, c2: str, p2: int, l2: bool) -> tuple[str, int, bool, str, int, bool]:
    """Order a junction's breakends by chromosome rank (GRCh38 order, others after), then position."""
    rank = _rank()
    k1, k2 = (rank.get(c1, 999), c1, p1), (rank.get(c2, 999), c2, p2)
    return (c1, p1, l1, c2, p2, l2) if k1 <= k2 else (c2, p2, l2, c1, p1, l1)


_RANK: dict[str, int] = {}


def _rank() -> dict[str, int]:
    if not _RANK:
        _RANK.update({c: i for i, c in enumerate(grch38_chromosomes())})
    return _RANK


def read_parts(r: pysam.AlignedSegment) -> list[Part]:
    """The record's own alignment and every part in its ``SA`` tag, in read order."""
    parts = [part_from_cigar(r.reference_name, r.reference_start + 1, r.is_reverse, r.cigarstring,
                             r.mapping_quality)]
    for entry in str(r.get_tag("SA")).split(";"):
        if not entry:
            continue
        f = entry.split(",")
        if len(f) < 5:
            continue   # malformed entry: cannot be placed
        parts.append(part_from_cigar(f[0], int(f[1]), f[2] == "-", f[3], int(f[4])))
    return sorted(parts, key=lambda p: (p.qstart, p.qend))


def split_junctions(parts: list[Part]) -> list[tuple[str, int, bool, str, int, bool]]:
    """Junctions between consecutive confident parts of one read (module docstring)."""
    good = [p for p in parts if p.mapq >= MIN_MAPQ]
    return [canonical(*x.exit(), *y.entry()) for x, y in zip(good[:-1], good[1:])]


def _mate_end(r: pysam.AlignedSegment) -> int:
    start = r.next_reference_start + 1
    if r.has_tag("MC"):
        return part_from_cigar("", start, False, str(r.get_tag("MC")), 0).end
    return start + (r.query_length or r.infer_query_length() or 1) - 1


def is_discordant(r: pysam.AlignedSegment) -> bool:
    """Whether a primary paired read and its mate cannot be one ordinary fragment (module docstring)."""
    if not r.is_paired or r.mate_is_unmapped or r.is_proper_pair or r.is_supplementary:
        return False
    if r.reference_name != r.next_reference_name or r.is_reverse == r.mate_is_reverse:
        return True
    return abs(r.reference_start - r.next_reference_start) > MAX_INSERT


def pair_junction(r: pysam.AlignedSegment) -> tuple[str, int, bool, str, int, bool]:
    """The junction a discordant pair implies (module docstring)."""
    me = (r.reference_name, r.reference_start + 1, False) if r.is_reverse else (r.reference_name, r.reference_end, True)
    mate = (r.next_reference_name, r.next_reference_start + 1, False) if r.mate_is_reverse else \
        (r.next_reference_name, _mate_end(r), True)
    return canonical(*me, *mate)


def _records(bam: pysam.AlignmentFile, regions: list[tuple[str, int, int]] | None) -> Iterator[pysam.AlignedSegment]:
    if not regions:
        yield from bam.fetch(until_eof=True)
        return
    names = set(bam.references)
    for c, s, e in regions:
        if c in names:
            yield from bam.fetch(c, s, e)


def collect_evidence(bam_path: str | Path, regions: list[tuple[str, int, int]] | None = None) -> list[Evidence]:
    """Every split-read junction and discordant pair of a BAM (module docstring).

    ``regions`` (chrom, start0, end) limits the scan (e.g. the panel genes); default: whole BAM.
    """
    try:
        bam = pysam.AlignmentFile(str(bam_path), "rb")
    except (OSError, ValueError) as exc:
        raise InputError(Problem(str(bam_path), f"cannot read the BAM ({exc})", "give an indexed BAM")) from None
    out: list[Evidence] = []
    primaries: set[tuple[str, bool]] = set()               # reads whose primary record was visited
    from_supplementary: dict[tuple[str, bool], tuple[str, list[Evidence]]] = {}
    seen_pairs: set[str] = set()
    with bam:
        for r in _records(bam, regions):
            key = (r.query_name, r.is_read1)
            if r.flag & _SKIP:
                if r.is_duplicate and not r.is_supplementary and not r.is_secondary:
                    primaries.add(key)    # a duplicate's supplementary records do not count either
                continue
            if r.has_tag("SA") and key not in primaries:
                evs = [Evidence("split", *j, r.query_name) for j in split_junctions(read_parts(r))]
                if not r.is_supplementary:
                    primaries.add(key)
                    from_supplementary.pop(key, None)
                    out.extend(evs)
                else:   # used only if the primary is never visited (outside the scanned regions)
                    from_supplementary.setdefault(key, (str(r.get_tag("SA")), evs))
            if r.is_supplementary or r.mapping_quality < MIN_MAPQ or r.query_name in seen_pairs:
                continue
            if is_discordant(r) and (not r.has_tag("MQ") or int(r.get_tag("MQ")) >= MIN_MAPQ):
                seen_pairs.add(r.query_name)
                out.append(Evidence("pair", *pair_junction(r), r.query_name))
        for key, (sa, evs) in from_supplementary.items():
            if key not in primaries and _primary_usable(bam, key, sa):
                out.extend(evs)
    return out


def _primary_usable(bam: pysam.AlignmentFile, key: tuple[str, bool], sa: str) -> bool:
    """Whether the primary record of a supplementary one (the first ``SA`` entry, by the SAM
    convention) is not a duplicate / QC-fail; True when it cannot be found."""
    f = sa.split(";")[0].split(",")
    if len(f) < 2 or f[0] not in bam.references:
        return True
    for r in bam.fetch(f[0], max(0, int(f[1]) - 1), int(f[1])):
        if (r.query_name, r.is_read1) == key and not r.is_supplementary and not r.is_secondary:
            return not (r.is_duplicate or r.is_qcfail)
    return True
