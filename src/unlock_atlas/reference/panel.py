"""Panel target intervals (BED) in GRCh38 chromosome coordinates.

Without a configured ``panel_bed`` the panel is the MANE coding exons ± ``padding`` bp of the
panel genes (design.md §2): the CDS segments of each gene's MANE Select transcript, padded so
that splice-site bases are covered, merged where they touch.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..errors import InputError, Problem
from .genome import grch38_chromosomes
from .transcripts import mane_by_gene


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
    path = Path(path)
    out: list[Interval] = []
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
                problems.append(Problem(str(path), f"empty or negative interval {s}-{e}", "BED starts are 0-based, end > start", row=lineno))
                continue
            out.append(Interval(f[0], s, e, f[3] if len(f) > 3 and f[3] else f"{f[0]}:{s + 1}-{e}"))
    if problems:
        raise InputError(problems)
    if not out:
        raise InputError(Problem(str(path), "the BED file has no intervals", "give the panel's target intervals"))
    return sort_intervals(out)


def write_bed(intervals: list[Interval], path: str | Path) -> None:
    """Write a 4-column BED atomically."""
    from ..atomic import atomic_path

    with atomic_path(path) as tmp, open(tmp, "w") as fh:
        for iv in intervals:
            fh.write(f"{iv.chrom}\t{iv.start}\t{iv.end}\t{iv.name}\n")
