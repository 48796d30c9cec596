"""Exact offset lift of bwa records from region contigs to GRCh38 chromosome coordinates.

The aligner index is built over whatever FASTA the run configures (design.md §3):

* **region contigs** (the shared ``panel_genes.GRCh38.fa``: contigs named
  ``<chrom>_<start>_<end>``, 1-based inclusive GRCh38 spans, e.g. ``chr12_25205246_25250929``).
  A base at 0-based contig position ``p`` is at 0-based chromosome position ``p + start - 1``
  (``offset_to_add`` of ``regions.tsv``). The output header lists *every* GRCh38 primary-assembly
  chromosome with its real length (:func:`unlock_atlas.reference.genome.grch38_chromosomes`),
  so BAMs made here match the sparse full-length FASTA and BAMs of real GRCh38 data.
* **an ordinary FASTA** (no contig named like a region): the lift is the identity and the output
  header is the FASTA's own ``@SQ`` lines.

A FASTA that mixes both kinds is rejected: the two conventions cannot share one header.

The lift only adds a per-contig constant, so CIGAR, flags, sequence, qualities and TLEN are
unchanged by it. Besides ``RNAME/POS`` and ``RNEXT/PNEXT`` it rewrites the two bwa tags that
carry coordinates: ``SA`` (``rname,pos,strand,CIGAR,mapQ,NM;`` — chimeric/supplementary parts)
and ``XA`` (``rname,±pos,CIGAR,NM;`` — alternative hits); both positions are 1-based. A pair
whose mates fall on two different region contigs of the same chromosome (e.g. KRAS and CDK4,
both chr12) ends up with ``RNEXT`` = its own chromosome and the mate's lifted ``PNEXT``; bwa
gives such a pair ``TLEN 0`` (different references), which ``samtools fixmate`` later recomputes.

Region contigs are proper substrings of their chromosome, so an alignment cannot run off a
region's end; the lifter checks it anyway and treats a violation as a bug (``RuntimeError``).
"""

from __future__ import annotations

from dataclasses import dataclass

import pysam

from ..errors import ReferenceError_
from ..reference.genome import Region, grch38_chromosomes, parse_region_contig

#: Tags whose values hold reference names and 1-based positions.
LIFTED_TAGS = ("SA", "XA")


@dataclass(frozen=True)
class LiftPlan:
    """How every index contig maps to the output header.

    Attributes
    ----------
    mode
        ``"regions"`` (region contigs → GRCh38 chromosomes) or ``"identity"``.
    out_references
        Output ``@SQ`` names, in header order.
    out_lengths
        Output ``@SQ`` lengths.
    tid_map
        ``tid_map[index_tid]`` = output tid.
    offsets
        ``offsets[index_tid]`` = 0-based offset to add to positions on that contig.
    contig_lengths
        Length of each index contig (for the off-the-end check).
    """

    mode: str
    out_references: tuple[str, ...]
    out_lengths: tuple[int, ...]
    tid_map: tuple[int, ...]
    offsets: tuple[int, ...]
    contig_lengths: tuple[int, ...]

    @property
    def is_identity(self) -> bool:
        return self.mode == "identity"

    def sq_lines(self) -> list[dict[str, object]]:
        """``@SQ`` records for a :class:`pysam.AlignmentHeader` dict."""
        return [{"SN": n, "LN": ln} for n, ln in zip(self.out_references, self.out_lengths)]


def plan_lift(references: list[str] | tuple[str, ...], lengths: list[int] | tuple[int, ...],
              source: str = "aligner index") -> LiftPlan:
    """Decide the lift for an index whose contigs are ``references`` (with ``lengths``).

    Parameters
    ----------
    references, lengths
        The index's ``@SQ`` names and lengths (from its ``.dict``).
    source
        Named in error messages (the FASTA or index prefix).

    Raises
    ------
    ReferenceError_
        If the FASTA mixes region contigs with other contigs, a region's length differs from
        its span, a region lies on a chromosome that is not a GRCh38 primary-assembly
        chromosome or runs past its end, or two regions overlap.
    """
    regions: list[Region | None] = [parse_region_contig(n) for n in references]
    n_regions = sum(r is not None for r in regions)
    if n_regions == 0:
        n = len(references)
        return LiftPlan("identity", tuple(references), tuple(int(x) for x in lengths),
                        tuple(range(n)), (0,) * n, tuple(int(x) for x in lengths))
    if n_regions != len(references):
        others = [n for n, r in zip(references, regions) if r is None][:5]
        raise ReferenceError_(
            f"{source}: {n_regions} contig(s) are region contigs named <chrom>_<start>_<end> but "
            f"{len(references) - n_regions} are not (e.g. {', '.join(others)}); use either a "
            "FASTA of region contigs only or an ordinary FASTA with chromosome names"
        )
    chroms = grch38_chromosomes()
    names = list(chroms)
    index_of = {c: i for i, c in enumerate(names)}
    tid_map, offsets = [], []
    by_chrom: dict[str, list[Region]] = {}
    for name, length, reg in zip(references, lengths, regions):
        assert reg is not None
        if reg.length != int(length):
            raise ReferenceError_(
                f"{source}: contig {name} is {length} bp but its name spans {reg.length} bp; "
                "region contigs must be named <chrom>_<start>_<end> with 1-based inclusive ends"
            )
        if reg.chrom not in chroms:
            raise ReferenceError_(
                f"{source}: contig {name} is on {reg.chrom}, which is not a GRCh38 "
                f"primary-assembly chromosome ({names[0]}..{names[-1]}); rename or remove it"
            )
        if reg.end > chroms[reg.chrom]:
            raise ReferenceError_(
                f"{source}: contig {name} ends at {reg.end}, past the end of {reg.chrom} "
                f"({chroms[reg.chrom]:,} bp in GRCh38); is the FASTA from another assembly?"
            )
        by_chrom.setdefault(reg.chrom, []).append(reg)
        tid_map.append(index_of[reg.chrom])
        offsets.append(reg.offset)
    for rs in by_chrom.values():
        rs.sort(key=lambda r: r.start)
        for a, b in zip(rs, rs[1:]):
            if b.start <= a.end:
                raise ReferenceError_(f"{source}: region contigs {a.contig} and {b.contig} overlap; "
                                      "a base must have exactly one place in the index")
    return LiftPlan("regions", tuple(names), tuple(chroms.values()), tuple(tid_map),
                    tuple(offsets), tuple(int(x) for x in lengths))


class RecordLifter:
    """Rewrite bwa records (index coordinates) as records of the output header.

    Parameters
    ----------
    index_header
        The aligner's header (``pybwa.BwaIndex(prefix).header``).
    out_header
        The output header; its ``@SQ`` lines must be ``plan.sq_lines()`` (extra ``@RG``/``@PG``
        lines are fine).
    plan
        The lift (default: :func:`plan_lift` of ``index_header``).
    """

    def __init__(self, index_header: pysam.AlignmentHeader, out_header: pysam.AlignmentHeader,
                 plan: LiftPlan | None = None) -> None:
        self.index_header = index_header
        self.plan = plan or plan_lift(index_header.references, index_header.lengths)
        self.out_header = out_header
        if tuple(out_header.references) != self.plan.out_references:
            raise ValueError("out_header's @SQ lines differ from the lift plan's")
        self._index_names = tuple(index_header.references)
        self._name_to_tid = {n: i for i, n in enumerate(self._index_names)}

    def lift(self, rec: pysam.AlignedSegment) -> pysam.AlignedSegment:
        """Return a new record bound to ``out_header`` with lifted coordinates and tags.

        Flags, MAPQ, CIGAR, TLEN, sequence, qualities and all other tags are copied unchanged.
        An unmapped read placed at its mate (bwa's convention) is lifted with the mate's contig.
        """
        p = self.plan
        out = pysam.AlignedSegment(self.out_header)
        out.query_name = rec.query_name
        out.flag = rec.flag
        tid = rec.reference_id
        if tid >= 0:
            start = rec.reference_start
            if not rec.is_unmapped:
                end = rec.reference_end or start
                if start < 0 or end > p.contig_lengths[tid]:
                    raise RuntimeError(
                        f"{rec.query_name}: alignment {self._index_names[tid]}:{start + 1}-{end} "
                        "runs off its contig; the aligner index is inconsistent with its .dict")
            out.reference_id = p.tid_map[tid]
            out.reference_start = start + p.offsets[tid]
        else:
            out.reference_id = -1
            out.reference_start = -1
        out.mapping_quality = rec.mapping_quality
        cig = rec.cigartuples
        if cig:
            out.cigartuples = cig
        mtid = rec.next_reference_id
        if mtid >= 0:
            out.next_reference_id = p.tid_map[mtid]
            out.next_reference_start = rec.next_reference_start + p.offsets[mtid]
        else:
            out.next_reference_id = -1
            out.next_reference_start = -1
        out.template_length = rec.template_length
        out.query_sequence = rec.query_sequence
        out.query_qualities = rec.query_qualities
        tags = rec.get_tags(with_value_type=True)
        if not p.is_identity:
            tags = [(k, self._lift_tag(k, v), t) if k in LIFTED_TAGS else (k, v, t)
                    for k, v, t in tags]
        out.set_tags(tags)
        return out

    def _lift_pos(self, contig: str, pos1: int) -> tuple[str, int]:
        tid = self._name_to_tid.get(contig)
        if tid is None:  # not an index contig: leave it alone (should not happen with bwa)
            return contig, pos1
        p = self.plan
        return p.out_references[p.tid_map[tid]], pos1 + p.offsets[tid]

    def _lift_tag(self, key: str, value: str) -> str:
        """Lift the ``rname,pos,...;`` entries of an ``SA`` or ``XA`` tag value."""
        parts = []
        for entry in str(value).split(";"):
            if not entry:
                continue
            fields = entry.split(",")
            if key == "SA":  # rname,pos,strand,CIGAR,mapQ,NM
                fields[0], pos = self._lift_pos(fields[0], int(fields[1]))
                fields[1] = str(pos)
            else:  # XA: rname,[+-]pos,CIGAR,NM
                sign, raw = fields[1][0], fields[1][1:]
                fields[0], pos = self._lift_pos(fields[0], int(raw))
                fields[1] = f"{sign}{pos}"
            parts.append(",".join(fields))
        return "".join(p + ";" for p in parts)


def lift_record(rec: pysam.AlignedSegment, lifter: RecordLifter) -> pysam.AlignedSegment:
    """Functional form of :meth:`RecordLifter.lift`."""
    return lifter.lift(rec)
