"""GRCh38 chromosomes and the exact lift between region contigs and chromosome coordinates.

The shared development data (``reference_grch38/panel_genes.GRCh38.fa``) holds whole-gene
regions as contigs named ``<chrom>_<start>_<end>`` (1-based inclusive GRCh38 span, e.g.
``chr7_55014032_55258620``). A base at contig-local 1-based position ``p`` is at chromosome
position ``p + start - 1`` (``offset_to_add`` in its ``regions.tsv``). Everything that leaves the
pipeline uses chromosome coordinates (design.md §3); the lift is exact and invertible.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import pysam

from ..errors import ReferenceError_
from ..paths import resources_dir

_REGION_RE = re.compile(r"^(chr[0-9XYM]+)_(\d+)_(\d+)$")


@lru_cache(maxsize=1)
def grch38_chromosomes() -> dict[str, int]:
    """GRCh38 primary-assembly chromosome lengths, in karyotype order (``resources/``)."""
    out: dict[str, int] = {}
    path = resources_dir() / "grch38_chromosomes.tsv"
    with open(path) as fh:
        header = None
        for line in fh:
            if line.startswith("#") or not line.strip():
                continue
            fields = line.rstrip("\n").split("\t")
            if header is None:
                header = fields
                continue
            out[fields[0]] = int(fields[1])
    return out


@dataclass(frozen=True)
class Region:
    """One region contig: ``contig`` covers ``chrom:start-end`` (1-based, inclusive)."""

    contig: str
    chrom: str
    start: int
    end: int

    @property
    def offset(self) -> int:
        """``offset_to_add``: chromosome position = local position + offset."""
        return self.start - 1

    @property
    def length(self) -> int:
        return self.end - self.start + 1


def parse_region_contig(name: str) -> Region | None:
    """Parse ``chr7_55014032_55258620`` into a :class:`Region`; ``None`` for other names."""
    m = _REGION_RE.match(name)
    if not m:
        return None
    chrom, start, end = m.group(1), int(m.group(2)), int(m.group(3))
    if end < start:
        return None
    return Region(name, chrom, start, end)


class RegionLift:
    """Exact lift between region contigs and GRCh38 chromosome coordinates.

    Parameters
    ----------
    regions
        The region contigs (non-overlapping per chromosome).
    """

    def __init__(self, regions: list[Region]) -> None:
        self.regions = sorted(regions, key=lambda r: (r.chrom, r.start))
        self.by_contig = {r.contig: r for r in self.regions}
        self._starts: dict[str, list[int]] = {}
        self._by_chrom: dict[str, list[Region]] = {}
        for r in self.regions:
            self._by_chrom.setdefault(r.chrom, []).append(r)
        for chrom, rs in self._by_chrom.items():
            for a, b in zip(rs, rs[1:]):
                if b.start <= a.end:
                    raise ReferenceError_(f"region contigs {a.contig} and {b.contig} overlap")
            self._starts[chrom] = [r.start for r in rs]

    @classmethod
    def from_fasta(cls, fasta: str | Path) -> RegionLift:
        """Build the lift from a FASTA whose contigs are region contigs.

        Raises
        ------
        ReferenceError_
            If no contig is named like ``chr7_55014032_55258620``, or a contig's length does
            not equal its span.
        """
        with pysam.FastaFile(str(fasta)) as fa:
            names, lengths = list(fa.references), list(fa.lengths)
        regions = []
        for name, length in zip(names, lengths):
            reg = parse_region_contig(name)
            if reg is None:
                continue
            if reg.length != length:
                raise ReferenceError_(
                    f"{fasta}: contig {name} is {length} bp but its name spans {reg.length} bp; "
                    "region contigs must be named <chrom>_<start>_<end> with 1-based inclusive ends"
                )
            regions.append(reg)
        if not regions:
            raise ReferenceError_(f"{fasta}: no region contigs named like chr7_55014032_55258620")
        return cls(regions)

    def region_at(self, chrom: str, pos: int) -> Region | None:
        """The region containing chromosome position ``pos`` (1-based), or ``None``."""
        starts = self._starts.get(chrom)
        if not starts:
            return None
        i = bisect.bisect_right(starts, pos) - 1
        if i < 0:
            return None
        reg = self._by_chrom[chrom][i]
        return reg if pos <= reg.end else None

    def to_genomic(self, contig: str, local_pos: int) -> tuple[str, int]:
        """Contig-local 1-based position → (chromosome, 1-based position)."""
        reg = self.by_contig[contig]
        if not 1 <= local_pos <= reg.length:
            raise ValueError(f"{contig}:{local_pos} is outside the contig (1..{reg.length})")
        return reg.chrom, local_pos + reg.offset

    def to_local(self, chrom: str, pos: int) -> tuple[str, int]:
        """Chromosome 1-based position → (region contig, local 1-based position)."""
        reg = self.region_at(chrom, pos)
        if reg is None:
            raise ValueError(f"{chrom}:{pos} is not inside any region contig")
        return reg.contig, pos - reg.offset
