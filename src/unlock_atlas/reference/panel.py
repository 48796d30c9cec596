"""Panel target intervals (BED) in GRCh38 chromosome coordinates.

Without a configured ``panel_bed`` the panel is the MANE coding exons ± ``padding`` bp of the
panel genes (design.md §2): the CDS segments of each gene's MANE Select transcript, padded so
that splice-site bases are covered, merged where they touch.
"""

from __future__ import annotations

import bisect
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from ..errors import InputError, Problem
from .genome import grch38_chromosomes
from .transcripts import Transcript, mane_by_gene


@dataclass(frozen=True, order=True)
class Interval:
    """A half-open target interval ``[start, end)`` (0-based, as in BED) with its gene name."""

    chrom: str
    start: int
    end: int
    name: str

    @property
    def length(self) -> int:
        return self.end - self.start


def _chrom_key(chrom: str) -> tuple[int, str]:
    order = list(grch38_chromosomes())
    return (order.index(chrom), "") if chrom in order else (len(order), chrom)


def sort_intervals(intervals: list[Interval]) -> list[Interval]:
    """Sort in karyotype order (chr1..chr22, X, Y, M, then others by name)."""
    return sorted(intervals, key=lambda i: (_chrom_key(i.chrom), i.start, i.end, i.name))


def panel_from_gtf(gtf: str | Path, genes: list[str] | None = None, padding: int = 20) -> list[Interval]:
    """MANE coding exons ± ``padding`` of ``genes`` (all genes with a CDS when ``None``).

    Raises
    ------
    InputError
        If a requested gene has no transcript with a CDS in the GTF (lists the genes it has).
    """
    mane = mane_by_gene(gtf)
    coding = {g: t for g, t in mane.items() if t.cds}
    if genes is None:
        genes = sorted(coding)
    missing = [g for g in genes if g not in coding]
    if missing:
        raise InputError(
            [Problem(str(gtf), f"panel gene {g} has no coding MANE transcript in the GTF",
                     f"use one of: {', '.join(sorted(coding))}; or configure reference.panel_bed",
                     column="reference.panel_genes") for g in missing]
        )
    out: list[Interval] = []
    for g in genes:
        t = coding[g]
        segs = sorted((s - 1 - padding, e + padding) for s, e in t.cds)
        merged: list[list[int]] = []
        for s, e in segs:
            if merged and s <= merged[-1][1]:
                merged[-1][1] = max(merged[-1][1], e)
            else:
                merged.append([max(0, s), e])
        out.extend(Interval(t.chrom, s, e, g) for s, e in merged)
    return sort_intervals(out)


def read_bed(path: str | Path) -> list[Interval]:
    """Read a BED (≥3 columns; the 4th is the target/gene name). Problems name file and line."""
    return sort_intervals([iv for _, iv in read_bed_records(path)])


def read_bed_records(path: str | Path) -> list[tuple[int, Interval]]:
    """Read a BED keeping each interval's 1-based line number, in file order.

    The parser behind :func:`read_bed`; callers that check intervals against a genome use
    the line numbers to point the user at the offending line.

    Raises
    ------
    InputError
        Every malformed line (too few columns, non-integer or empty interval), or an empty BED.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(Problem(str(path), "panel BED not found", "check reference.panel_bed in the config"))
    out: list[tuple[int, Interval]] = []
    problems: list[Problem] = []
    with open(path) as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip() or line.startswith(("#", "track", "browser")):
                continue
            f = line.rstrip("\r\n").split("\t")
            if len(f) < 3:
                problems.append(Problem(str(path), f"expected ≥3 tab-separated columns, found {len(f)}",
                                        "write BED: chrom<TAB>start<TAB>end[<TAB>name]", row=lineno))
                continue
            try:
                s, e = int(f[1]), int(f[2])
            except ValueError:
                problems.append(Problem(str(path), f"start/end not integers ({f[1]!r}, {f[2]!r})", "fix the BED", row=lineno))
                continue
            if s < 0 or e <= s:
                problems.append(Problem(str(path), f"empty or negative interval {s}-{e}",
                                        "BED starts are 0-based, end > start", row=lineno))
                continue
            out.append((lineno, Interval(f[0], s, e, f[3] if len(f) > 3 and f[3] else f"{f[0]}:{s + 1}-{e}")))
    if problems:
        raise InputError(problems)
    if not out:
        raise InputError(Problem(str(path), "the BED file has no intervals", "give the panel's target intervals"))
    return out


def check_intervals_in_genome(
    records: list[tuple[int | None, Interval]], contigs: Mapping[str, int], source: str | Path, genome: str | Path
) -> None:
    """Check that every interval's contig is in the genome and the interval lies within it.

    Parameters
    ----------
    records
        ``(line number or None, interval)``; the line number is reported when given.
    contigs
        Genome contig name → length (from its ``.fai``).
    source
        The file the intervals came from (the BED, or the GTF for a panel made from it).
    genome
        The genome FASTA, named in the messages.

    Raises
    ------
    InputError
        One problem per bad interval, naming ``source`` and the line.
    """
    problems: list[Problem] = []
    for lineno, iv in records:
        if iv.chrom not in contigs:
            names = list(contigs)
            shown = ", ".join(names[:8]) + (", ..." if len(names) > 8 else "")
            problems.append(Problem(str(source), f"contig {iv.chrom!r} ({iv.name}) is not in the genome {genome}",
                                    f"use the genome's contig names ({shown}); the BED must be in GRCh38 "
                                    "chromosome coordinates", row=lineno, column="chrom"))
        elif iv.end > contigs[iv.chrom]:
            problems.append(Problem(str(source), f"interval {iv.chrom}:{iv.start}-{iv.end} ({iv.name}) ends past "
                                    f"the end of {iv.chrom} ({contigs[iv.chrom]:,} bp in {genome})",
                                    "check the BED is GRCh38 with 0-based starts", row=lineno, column="end"))
    if problems:
        raise InputError(problems, header=f"{len(problems)} panel interval(s) do not fit the genome")


def genes_touched(intervals: list[Interval], transcripts: Mapping[str, Transcript]) -> dict[str, list[Interval]]:
    """Panel intervals overlapping an exon of each gene's transcript (genes with none are left out).

    Parameters
    ----------
    intervals
        Panel intervals (0-based half-open).
    transcripts
        Gene → its transcript (e.g. :func:`~unlock_atlas.reference.transcripts.mane_by_gene`).

    Returns
    -------
    dict
        Gene → the intervals that overlap at least one of its exons (1-based inclusive), in
        the order given; an interval touching two genes' exons counts for both.
    """
    exons: dict[str, list[tuple[int, int, str]]] = {}
    for gene, tx in transcripts.items():
        for s, e in tx.exons:
            exons.setdefault(tx.chrom, []).append((s, e, gene))
    starts: dict[str, list[int]] = {}
    longest: dict[str, int] = {}
    for chrom, ex in exons.items():
        ex.sort()
        starts[chrom] = [s for s, _, _ in ex]
        longest[chrom] = max(e - s + 1 for s, e, _ in ex)
    out: dict[str, list[Interval]] = {}
    for iv in intervals:
        ex = exons.get(iv.chrom)
        if not ex:
            continue
        # exon [s, e] (1-based) overlaps [start, end) (0-based) iff s <= end and e > start;
        # exons starting before start - longest cannot reach the interval
        lo = bisect.bisect_left(starts[iv.chrom], iv.start + 1 - longest[iv.chrom])
        hi = bisect.bisect_right(starts[iv.chrom], iv.end)
        hit = {g for s, e, g in ex[lo:hi] if e > iv.start}
        for g in sorted(hit):
            out.setdefault(g, []).append(iv)
    return out


def merged_length(intervals: list[Interval]) -> int:
    """Bases covered by ``intervals`` (overlaps counted once)."""
    total, last_chrom, last_end = 0, None, -1
    for iv in sort_intervals(intervals):
        if iv.chrom != last_chrom:
            last_chrom, last_end = iv.chrom, -1
        if iv.end > last_end:
            total += iv.end - max(iv.start, last_end)
            last_end = iv.end
    return total


def write_bed(intervals: list[Interval], path: str | Path) -> None:
    """Write a 4-column BED atomically."""
    from ..atomic import atomic_path

    with atomic_path(path) as tmp, open(tmp, "w") as fh:
        for iv in intervals:
            fh.write(f"{iv.chrom}\t{iv.start}\t{iv.end}\t{iv.name}\n")


def add_extra_targets(intervals: list[Interval], extra: list[Interval]) -> list[Interval]:
    """The panel plus extra bait intervals (e.g. tiled breakpoint introns), karyotype-sorted.

    Hybrid-capture panels tile the introns where recurrent fusion breakpoints lie (e.g. RET
    intron 11, ALK intron 19), because a breakpoint is only seen by a read that reaches it;
    coding-exon targets reach ~one fragment length into an intron. Extra intervals are added to
    the panel; intervals of the same name that overlap or touch are merged into one target
    (as :func:`panel_from_gtf` merges a gene's padded exons), so an intron bait abutting a
    padded exon does not create a zero-gap pair of targets.
    """
    merged: list[Interval] = []
    for iv in sort_intervals(list(intervals) + list(extra)):
        j = len(merged) - 1
        while j >= 0 and merged[j].chrom == iv.chrom and merged[j].end >= iv.start and merged[j].name != iv.name:
            j -= 1   # look back past other genes' targets overlapping this one
        last = merged[j] if j >= 0 else None
        if last is not None and last.chrom == iv.chrom and last.name == iv.name and iv.start <= last.end:
            merged[j] = Interval(last.chrom, last.start, max(last.end, iv.end), last.name)
        else:
            merged.append(iv)
    return sort_intervals(merged)
