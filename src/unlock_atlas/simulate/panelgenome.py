"""The panel's genome as numpy arrays: gene-region sequence, targets and capture efficiency.

The simulator works on one concatenated ``uint8`` array holding the region contig of every
panel gene (codes 0..3 = A, C, G, T; 4 = N). A "global" index ``g`` into that array maps back
to GRCh38 chromosome coordinates exactly through the region's offset (the same lift as
:class:`~unlock_atlas.reference.genome.RegionLift`), so every read is written in chromosome
coordinates. Fragments never cross a region boundary.

Hybrid-capture efficiency per target = ``gc_efficiency(GC) * exp(0.3 * Z)``, Z ~ N(0, 1)
truncated at ±2; the lognormal
factor is seeded by the target's coordinates only, so it is identical in every sample and run
(as a real panel's probe-to-probe efficiency is), which is what a panel of normals corrects.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pysam

from ..errors import ReferenceError_
from ..reference.genome import Region, RegionLift
from ..reference.panel import Interval, add_extra_targets, panel_from_gtf
from ..reference.transcripts import Transcript, mane_by_gene

#: byte -> base code (A C G T = 0..3, everything else N = 4)
_ENCODE = np.full(256, 4, dtype=np.uint8)
for _i, _b in enumerate(b"ACGT"):
    _ENCODE[_b] = _i
    _ENCODE[ord(chr(_b).lower())] = _i
#: base code -> ASCII (code 5 = padding -> NUL, stripped when rows become bytes)
DECODE = np.frombuffer(b"ACGTN\x00", dtype=np.uint8).copy()
COMPLEMENT_CODE = np.array([3, 2, 1, 0, 4, 5], dtype=np.uint8)

#: sd of the per-target log capture factor. 0.3 gives a target-to-target depth CV of ~30 %
#: on top of the GC effect, in the range seen for hybrid-capture panels before PoN correction.
#: The normal draw is truncated at ±2 sd: panel vendors rebalance probe pools so that no
#: target is captured at less than ~half the median (coverage-uniformity specifications).
TARGET_LOG_SD = 0.3


def gc_efficiency(gc: np.ndarray) -> np.ndarray:
    """Relative capture efficiency for a target of GC fraction ``gc``.

    A Gaussian in GC centred at 0.48 with sd 0.16, floored at 0.05: hybrid capture (and the
    PCR after it) under-represents both AT-rich and GC-rich targets, the GC-rich side most
    (at GC 0.70 the efficiency is ~0.39, at 0.30 ~0.53); smooth so that a GC-correction model
    downstream can learn it.
    """
    return np.maximum(0.05, np.exp(-0.5 * ((np.asarray(gc, dtype=float) - 0.48) / 0.16) ** 2))


def target_factor(iv: Interval) -> float:
    """The per-target lognormal capture factor, seeded by the target's coordinates only."""
    digest = hashlib.sha256(f"{iv.chrom}:{iv.start}-{iv.end}".encode()).digest()
    rng = np.random.default_rng(int.from_bytes(digest[:8], "little"))
    return float(np.exp(TARGET_LOG_SD * np.clip(rng.normal(), -2.0, 2.0)))


@dataclass
class PanelGenome:
    """Region sequence, targets and capture weights of a panel, in a global index space.

    Build with :meth:`load`. Attributes are numpy arrays indexed by region (``reg_*``) or by
    target (``t_*``).
    """

    regions: list[Region]
    genes: list[str]
    seq: np.ndarray          # uint8 codes, all regions concatenated
    reg_g0: np.ndarray       # global index of each region's first base
    reg_g1: np.ndarray       # global index one past each region's last base
    targets: list[Interval]
    t_g0: np.ndarray         # global half-open target intervals
    t_g1: np.ndarray
    t_region: np.ndarray     # region index of each target
    t_gc: np.ndarray
    t_efficiency: np.ndarray
    target_cum: np.ndarray   # cumulative count of target bases: bases in [a, b) = cum[b] - cum[a]
    transcripts: dict[str, Transcript]

    @classmethod
    def load(cls, fasta: str | Path, gtf: str | Path, genes: list[str], padding: int = 20,
             extra: list[Interval] | None = None) -> PanelGenome:
        """Read the panel genes' region contigs and MANE targets (+ ``extra`` bait intervals).

        Raises
        ------
        ReferenceError_
            If a gene's MANE transcript or a target is not inside one region contig.
        """
        lift = RegionLift.from_fasta(fasta)
        mane = mane_by_gene(gtf)
        targets = add_extra_targets(panel_from_gtf(gtf, list(genes), padding), list(extra or []))
        regions: list[Region] = []
        reg_genes: list[str] = []
        for gene in genes:
            tx = mane[gene]
            reg = lift.region_at(tx.chrom, tx.start)
            if reg is None or lift.region_at(tx.chrom, tx.end) != reg:
                raise ReferenceError_(f"{fasta}: the MANE transcript of {gene} ({tx.chrom}:{tx.start}-{tx.end}) "
                                      "is not inside one region contig; use a FASTA with the whole gene region")
            if reg not in regions:
                regions.append(reg)
                reg_genes.append(gene)
        order = sorted(range(len(regions)), key=lambda i: (_karyo(regions[i].chrom), regions[i].start))
        regions = [regions[i] for i in order]
        reg_genes = [reg_genes[i] for i in order]
        chunks = []
        with pysam.FastaFile(str(fasta)) as fa:
            for reg in regions:
                chunks.append(_ENCODE[np.frombuffer(fa.fetch(reg.contig).encode("ascii"), dtype=np.uint8)])
        lens = np.array([len(c) for c in chunks], dtype=np.int64)
        reg_g0 = np.concatenate([[0], np.cumsum(lens)[:-1]]).astype(np.int64)
        seq = np.concatenate(chunks)
        genome = cls(regions, reg_genes, seq, reg_g0, reg_g0 + lens, [], np.zeros(0, np.int64), np.zeros(0, np.int64),
                     np.zeros(0, np.int64), np.zeros(0), np.zeros(0), np.zeros(0, np.int64), mane)
        t0, t1, treg = [], [], []
        for iv in targets:
            ri = genome.region_index(iv.chrom, iv.start + 1)
            if ri < 0 or iv.end > regions[ri].end:
                raise ReferenceError_(f"{fasta}: panel target {iv.chrom}:{iv.start + 1}-{iv.end} ({iv.name}) "
                                      "is not inside a region contig")
            g0 = int(reg_g0[ri] + iv.start + 1 - regions[ri].start)
            t0.append(g0)
            t1.append(g0 + iv.length)
            treg.append(ri)
        order = np.argsort(t0, kind="stable")
        genome.targets = [targets[i] for i in order]
        genome.t_g0 = np.array(t0, dtype=np.int64)[order]
        genome.t_g1 = np.array(t1, dtype=np.int64)[order]
        genome.t_region = np.array(treg, dtype=np.int64)[order]
        gc = []
        for a, b in zip(genome.t_g0, genome.t_g1):
            s = seq[a:b]
            acgt = np.count_nonzero(s < 4)
            gc.append(np.count_nonzero((s == 1) | (s == 2)) / max(acgt, 1))
        genome.t_gc = np.array(gc)
        genome.t_efficiency = gc_efficiency(genome.t_gc) * np.array([target_factor(iv) for iv in genome.targets])
        mask = np.zeros(len(seq) + 1, dtype=np.int64)
        np.add.at(mask, genome.t_g0, 1)
        np.add.at(mask, genome.t_g1, -1)
        genome.target_cum = np.concatenate([[0], np.cumsum(np.cumsum(mask)[:-1] > 0)]).astype(np.int64)
        return genome

    @classmethod
    def for_scenario(cls, data_dir: str | Path, scn) -> PanelGenome:
        """The panel genome of a scenario: its panel genes, padding and ``panel_extra`` baits,
        from the shared data directory (``reference_grch38/``, ``transcripts_grch38/``)."""
        data = Path(data_dir)
        return cls.load(data / "reference_grch38" / "panel_genes.GRCh38.fa",
                        data / "transcripts_grch38" / "panel_mane_select.GRCh38.gtf",
                        list(scn.panel_genes), scn.panel_padding,
                        [Interval(e.chrom, e.start, e.end, e.gene) for e in scn.panel_extra])

    # -- coordinates -------------------------------------------------------------------------
    def region_index(self, chrom: str, pos: int) -> int:
        """Index of the region holding chromosome position ``pos`` (1-based), or -1."""
        for i, r in enumerate(self.regions):
            if r.chrom == chrom and r.start <= pos <= r.end:
                return i
        return -1

    def to_global(self, chrom: str, pos: int) -> int:
        """Chromosome 1-based position -> global 0-based index (ValueError outside the regions)."""
        ri = self.region_index(chrom, pos)
        if ri < 0:
            raise ValueError(f"{chrom}:{pos} is outside the panel genes' regions")
        return int(self.reg_g0[ri] + pos - self.regions[ri].start)

    def locate(self, g: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Global indices -> (region index, 1-based chromosome position) arrays."""
        g = np.asarray(g, dtype=np.int64)
        ri = np.searchsorted(self.reg_g0, g, side="right") - 1
        starts = np.array([r.start for r in self.regions], dtype=np.int64)
        return ri, g - self.reg_g0[ri] + starts[ri]

    def fetch(self, chrom: str, pos: int, n: int = 1) -> str:
        """``n`` reference bases from chromosome position ``pos`` (1-based)."""
        g = self.to_global(chrom, pos)
        return DECODE[self.seq[g:g + n]].tobytes().decode()

    def gene_of_global(self, g: int) -> str:
        return self.genes[int(np.searchsorted(self.reg_g0, g, side="right") - 1)]

    def target_bases(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """Number of target bases in global half-open intervals ``[a, b)`` (vectorised)."""
        return self.target_cum[b] - self.target_cum[a]

    def overlaps_target(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """Whether each global interval ``[a, b)`` overlaps any target."""
        return self.target_bases(a, b) > 0

    def padded_seq(self, pad: int) -> np.ndarray:
        """The sequence with ``pad`` N codes appended (so read gathers never run off the end)."""
        cache = getattr(self, "_padded", None)
        if cache is None or len(cache) < len(self.seq) + pad:
            cache = np.concatenate([self.seq, np.full(pad, 4, dtype=np.uint8)])
            self._padded = cache
        return cache

    @property
    def target_bp(self) -> int:
        return int(self.target_cum[-1])

    @property
    def region_genes(self) -> np.ndarray:
        return np.array(self.genes)


def _karyo(chrom: str) -> int:
    from ..reference.genome import grch38_chromosomes

    order = list(grch38_chromosomes())
    return order.index(chrom) if chrom in order else len(order)
