"""Group read pairs into molecule families by (both unclipped 5' ends, orientation, UMI).

Model (docs/umi.md gives each reason and source):

* **Position key.** A read pair's template is keyed by the unclipped 5' position and strand of
  both reads (soft clips added back, as UMI-tools and fgbio GroupReadsByUmi do), ordered so
  that the lower end comes first. In ``single`` mode the key also holds whether read 1 is the
  lower end (the template's orientation): the two strands of one molecule are two families.
* **UMI clustering.** Within a position key, UMIs are clustered by the *directional* method of
  UMI-tools (Smith, Heger & Sudbery 2017, Genome Res 27:491, doi:10.1101/gr.209601.116): an edge
  a -> b joins UMIs at Hamming distance <= 1 when ``count(a) >= 2 * count(b) - 1``; starting
  from the most abundant UMI, everything reachable along edges is one molecule. ``umi_tools``
  is not a dependency of this project, so the method is implemented here (:func:`directional_groups`).
* **Duplex.** A duplex UMI ``AAAA-CCCC`` reads ``alpha-beta`` on the top strand (read 1 at the
  lower end) and ``beta-alpha`` on the bottom strand (read 1 at the upper end). The UMI is put
  in top-strand order before clustering and the template labelled strand ``A`` or ``B``
  (fgbio's ``paired`` strategy), so both strands of a molecule share a family.

Streaming: the input is coordinate-sorted; a template is complete when its second read
arrives, and a position bucket is emitted once the reads have moved ``window`` bp past its
lower end, so memory depends on depth x window, never on the length of a contig.
"""

from __future__ import annotations

import heapq
from collections import defaultdict
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

import pysam

from ..errors import InputError, Problem

#: unmapped, mate unmapped, secondary, QC-fail, supplementary: never part of a family
SKIP_FLAGS = 0x4 | 0x8 | 0x100 | 0x200 | 0x800


@dataclass
class Template:
    """One read pair: ``lo`` is the read whose unclipped 5' end is lower (ties: read 1)."""

    name: str
    lo: pysam.AlignedSegment
    hi: pysam.AlignedSegment
    umi: str        # in top-strand order for duplex
    strand: str     # "A" (read 1 is the lower end) or "B"


@dataclass
class Family:
    """The templates of one source molecule (``b`` empty unless duplex)."""

    key: tuple
    umi: str
    a: list[Template] = field(default_factory=list)
    b: list[Template] = field(default_factory=list)

    @property
    def size(self) -> int:
        return len(self.a) + len(self.b)


@dataclass
class GroupStats:
    """Counts of what the grouping saw (written to the metrics JSON)."""

    reads: int = 0
    skipped_flag: int = 0
    skipped_mapq: int = 0
    orphans: int = 0
    templates: int = 0
    families: int = 0


def unclipped_five_prime(read: pysam.AlignedSegment) -> int:
    """0-based reference position of the read's 5' end with soft clips added back."""
    cig = read.cigartuples or []
    if read.is_reverse:
        clip = cig[-1][1] if cig and cig[-1][0] == 4 else 0
        return read.reference_end - 1 + clip
    clip = cig[0][1] if cig and cig[0][0] == 4 else 0
    return read.reference_start - clip


def hamming(a: str, b: str) -> int:
    """Mismatches between two equal-length UMIs (different lengths count as far apart)."""
    if len(a) != len(b):
        return max(len(a), len(b))
    return sum(x != y for x, y in zip(a, b))


def directional_groups(counts: Mapping[str, int], max_edits: int = 1) -> list[list[str]]:
    """Cluster UMIs by the UMI-tools *directional* method.

    Parameters
    ----------
    counts
        UMI -> number of templates carrying it (at one position key).
    max_edits
        Hamming distance of an edge (UMI-tools uses 1).

    Returns
    -------
    list of list of str
        One list per molecule, its most abundant UMI first (ties: alphabetical), molecules in
        order of their representative's count.

    Notes
    -----
    Edge a -> b when ``hamming(a, b) <= max_edits`` and ``counts[a] >= 2 * counts[b] - 1``
    (Smith et al. 2017). Nodes are visited in descending count; a breadth-first search along
    the directed edges from each not-yet-found node gives a component, and a node already
    assigned to an earlier molecule is not reassigned (as ``umi_tools`` ``_group_directional``).
    """
    order = sorted(counts, key=lambda u: (-counts[u], u))
    edges: dict[str, list[str]] = {u: [] for u in order}
    for a in order:
        for b in order:
            if a != b and hamming(a, b) <= max_edits and counts[a] >= 2 * counts[b] - 1:
                edges[a].append(b)
    found: set[str] = set()
    groups: list[list[str]] = []
    for start in order:
        if start in found:
            continue
        component, queue = [start], [start]
        seen = {start}
        while queue:
            node = queue.pop(0)
            for nxt in edges[node]:
                if nxt not in seen:
                    seen.add(nxt)
                    component.append(nxt)
                    queue.append(nxt)
        members = [u for u in sorted(component, key=lambda u: (-counts[u], u)) if u not in found]
        found.update(members)
        groups.append(members)
    return groups


def _umi(read: pysam.AlignedSegment, tag: str, path: str) -> str:
    if not read.has_tag(tag):
        raise InputError(Problem(path, f"read {read.query_name} has no {tag} tag (UMI)",
                                 "set umi.tag to the tag that holds the UMIs, or umi.mode: none for BAMs without UMIs"))
    return str(read.get_tag(tag)).upper()


def make_template(r1: pysam.AlignedSegment, r2: pysam.AlignedSegment, umi: str, duplex: bool) -> tuple[tuple, Template]:
    """The template's position key and :class:`Template` (``r1``/``r2`` in any order)."""
    if r1.is_read2 and not r2.is_read2:
        r1, r2 = r2, r1
    e1 = (r1.reference_id, unclipped_five_prime(r1), r1.is_reverse)
    e2 = (r2.reference_id, unclipped_five_prime(r2), r2.is_reverse)
    r1_lo = e1 <= e2
    lo, hi = (r1, r2) if r1_lo else (r2, r1)
    ends = (e1, e2) if r1_lo else (e2, e1)
    strand = "A" if r1_lo else "B"
    if duplex:
        parts = umi.split("-")
        if len(parts) != 2:
            raise InputError(Problem(r1.query_name or "", f"duplex UMI {umi!r} is not of the form AAAA-CCCC",
                                     "use umi.mode: single, or a BAM whose UMI tag holds both strands' UMIs"))
        if not r1_lo:
            umi = f"{parts[1]}-{parts[0]}"
        key = ends
    else:
        key = (*ends, r1_lo)
    return key, Template(r1.query_name, lo, hi, umi, strand)


def group_bucket(templates: list[tuple[tuple, Template]], duplex: bool, max_edits: int = 1) -> list[Family]:
    """Families among templates that share a lower end (the keys may still differ)."""
    by_key: dict[tuple, list[Template]] = defaultdict(list)
    for key, t in templates:
        by_key[key].append(t)
    out: list[Family] = []
    for key in sorted(by_key, key=repr):
        temps = by_key[key]
        counts: dict[str, int] = defaultdict(int)
        for t in temps:
            counts[t.umi.replace("-", "")] += 1
        rep_of = {}
        for group in directional_groups(counts, max_edits):
            for u in group:
                rep_of[u] = group[0]
        fams: dict[str, Family] = {}
        for t in sorted(temps, key=lambda t: t.name):
            rep = rep_of[t.umi.replace("-", "")]
            fam = fams.setdefault(rep, Family(key, t.umi))
            if not duplex or t.strand == "A":
                fam.a.append(t)
            else:
                fam.b.append(t)
        for rep in sorted(fams, key=lambda r: (-counts[r], r)):
            fam = fams[rep]
            fam.umi = next((t.umi for t in fam.a + fam.b if t.umi.replace("-", "") == rep), fam.umi)
            out.append(fam)
    return out


def iter_families(bam: str, tag: str = "RX", duplex: bool = False, min_mapq: int = 1, window: int = 2000,
                  max_edits: int = 1, stats: GroupStats | None = None) -> Iterator[Family]:
    """Stream the families of a coordinate-sorted BAM, in order of their lower 5' end.

    Parameters
    ----------
    bam
        Coordinate-sorted BAM whose reads carry the UMI in ``tag``; duplicate flags are ignored
        (duplicates are the family).
    window
        A template whose mates are more than this many bp apart (start of the later read minus
        the lower 5' end) may be split from its family; pairs on two contigs are orphans.
    stats
        Filled with counts when given.
    """
    st = stats if stats is not None else GroupStats()
    pending: dict[str, pysam.AlignedSegment] = {}
    buckets: dict[tuple[int, int], list[tuple[tuple, Template]]] = defaultdict(list)
    contig = -1

    heap: list[tuple[int, int]] = []   # bucket keys (contig, lower 5' end), smallest first

    def flush(upto: int | None) -> Iterator[Family]:
        while heap and (upto is None or heap[0][1] < upto):
            k = heapq.heappop(heap)
            fams = group_bucket(buckets.pop(k), duplex, max_edits)
            st.families += len(fams)
            yield from fams

    with pysam.AlignmentFile(bam, "rb") as fh:
        for read in fh.fetch(until_eof=True):
            st.reads += 1
            if read.flag & SKIP_FLAGS or not read.flag & 0x1:
                st.skipped_flag += 1
                continue
            if read.reference_id != contig:
                yield from flush(None)
                st.orphans += len(pending)
                pending.clear()
                contig = read.reference_id
            mate = pending.pop(read.query_name, None)
            if mate is None:
                pending[read.query_name] = read
                yield from flush(read.reference_start - window)
                continue
            if read.mapping_quality < min_mapq or mate.mapping_quality < min_mapq:
                st.skipped_mapq += 2
                continue
            umi = _umi(mate, tag, bam)
            key, t = make_template(mate, read, umi, duplex)
            st.templates += 1
            bkey = (key[0][0], key[0][1])
            if bkey not in buckets:
                heapq.heappush(heap, bkey)
            buckets[bkey].append((key, t))
        yield from flush(None)
        st.orphans += len(pending)
