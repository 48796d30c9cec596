"""Transcript models prepared for annotation: genomic ↔ cDNA/CDS coordinates and sequences.

A :class:`TxModel` holds, for one transcript, its exons in transcript (5'→3') order with their
cDNA numbering, the mRNA and coding sequences read from the genome, and the reference protein.
Coordinates follow HGVS: ``c.1`` is the A of the start codon, ``c.-N`` lies 5' of it,
``c.*N`` 3' of the stop codon, and intronic positions are written relative to the nearest
exon base (``c.375+1``, ``c.376-2``; the intron's middle base goes to the ``+`` side, as
HGVS specifies for an odd-length intron).
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field

from ..reference.transcripts import Transcript
from .seq import Genome, revcomp, translate

#: Bases either side of a transcript that are read from the genome: the up/downstream
#: distance reported (5 kb, VEP's default) plus room for 3' shifting of indels.
FLANK = 5000


@dataclass
class TxModel:
    """One transcript prepared for annotation (see module docstring)."""

    tx: Transcript
    seq_start: int                      # chromosome position of seq[0]
    seq: str                            # genomic + strand sequence, tx span ± FLANK (clipped)
    exons_tx: list[tuple[int, int]]     # exons in transcript order (genomic start, end)
    exon_cdna: list[int] = field(default_factory=list)   # cDNA position of each exon's 5' base
    starts_sorted: list[int] = field(default_factory=list)
    order_sorted: list[int] = field(default_factory=list)  # sorted-exon index → transcript index
    mrna: str = ""
    cds_c1: int = 0                     # cDNA position of c.1 (0 = non-coding)
    cds_len: int = 0                    # CDS length incl. stop codon
    coding: str = ""                    # mRNA from c.1 to the 3' end (CDS + 3' UTR)
    protein: str = ""                   # reference protein incl. the terminal '*'
    protein_id: str = ""
    start: int = 0                      # transcript span (cached: Transcript.start is computed)
    end: int = 0

    @property
    def plus(self) -> bool:
        return self.tx.strand == "+"

    @property
    def n_exons(self) -> int:
        return len(self.exons_tx)

    @property
    def is_coding(self) -> bool:
        return self.cds_c1 > 0

    def base(self, pos: int) -> str:
        """Genomic (+ strand) base at chromosome position ``pos`` ('N' outside the window)."""
        i = pos - self.seq_start
        return self.seq[i] if 0 <= i < len(self.seq) else "N"

    def gseq(self, start: int, end: int) -> str:
        """Genomic (+ strand) sequence ``start..end`` (1-based inclusive)."""
        if end < start:
            return ""
        return self.seq[max(0, start - self.seq_start):max(0, end - self.seq_start + 1)]

    def locate(self, pos: int) -> tuple[int, int, int]:
        """Map a chromosome position to ``(cdna, offset, where)``.

        ``where`` is the transcript-order exon index for an exonic base, ``-(k+1)`` for intron
        ``k`` (the intron after exon ``k``, 0-based), ``-1000`` upstream and ``-2000``
        downstream of the transcript. ``offset`` is 0 in exons, the signed intronic distance
        (``+`` from the upstream exon's last base, ``-`` to the next exon's first base) in
        introns; outside the transcript ``cdna`` continues the numbering (≤ 0 upstream).
        """
        i = bisect.bisect_right(self.starts_sorted, pos) - 1
        ex = self.exons_tx
        if i >= 0:
            k = self.order_sorted[i]
            s, e = ex[k]
            if pos <= e:
                return (self.exon_cdna[k] + (pos - s if self.plus else e - pos)), 0, k
        n = len(ex)
        # not exonic: i is the sorted index of the exon left of pos (-1 if none)
        if self.plus:
            if i < 0:
                return 1 - (ex[0][0] - pos), 0, -1000
            if i == n - 1:
                return self.exon_cdna[-1] + (ex[-1][1] - ex[-1][0]) + (pos - ex[-1][1]), 0, -2000
            k = i  # intron after transcript exon k
            d1, d2 = pos - ex[k][1], ex[k + 1][0] - pos
        else:
            if i < 0:  # left of the lowest exon = 3' of the transcript
                last = ex[-1]
                return self.exon_cdna[-1] + (last[1] - last[0]) + (last[0] - pos), 0, -2000
            if i == n - 1:
                return 1 - (pos - ex[0][1]), 0, -1000
            k = n - 2 - i
            d1, d2 = ex[k][0] - pos, pos - ex[k + 1][1]
        end_k = self.exon_cdna[k] + (ex[k][1] - ex[k][0])
        if d1 <= d2:
            return end_k, d1, -(k + 1)
        return end_k + 1, -d2, -(k + 1)

    def cpos(self, cdna: int, offset: int = 0) -> str:
        """HGVS position text (``2369``, ``-12``, ``*7``, ``375+1``; ``n.`` numbering if non-coding)."""
        if not self.cds_c1:
            text = str(cdna) if cdna > 0 else f"-{1 - cdna}"
        elif cdna < self.cds_c1:
            text = f"-{self.cds_c1 - cdna}"
        elif cdna >= self.cds_c1 + self.cds_len:
            text = f"*{cdna - self.cds_c1 - self.cds_len + 1}"
        else:
            text = str(cdna - self.cds_c1 + 1)
        if offset > 0:
            return f"{text}+{offset}"
        if offset < 0:
            return f"{text}{offset}"
        return text


def build_model(tx: Transcript, genome: Genome) -> TxModel | None:
    """Prepare ``tx`` for annotation; ``None`` if the genome has no sequence for it.

    The CDS is checked: a coding transcript whose CDS length is not a multiple of 3 is kept
    but its protein is translated only over whole codons (HGVS p. is still computed).
    """
    seq_start, seq = genome.window(tx.chrom, tx.start - FLANK, tx.end + FLANK)
    if not seq or seq_start > tx.start or seq_start + len(seq) - 1 < tx.end:
        return None
    plus = tx.strand == "+"
    exons = sorted(tx.exons)
    exons_tx = exons if plus else exons[::-1]
    m = TxModel(tx, seq_start, seq, exons_tx, start=tx.start, end=tx.end)
    cd = 1
    parts = []
    for s, e in exons_tx:
        m.exon_cdna.append(cd)
        cd += e - s + 1
        piece = seq[s - seq_start:e - seq_start + 1]
        parts.append(piece if plus else revcomp(piece))
    m.mrna = "".join(parts)
    if m.mrna.count("N") == len(m.mrna):   # sparse genome without this gene's sequence
        return None
    m.starts_sorted = [s for s, _ in exons]
    m.order_sorted = list(range(len(exons))) if plus else list(range(len(exons) - 1, -1, -1))
    if tx.cds:
        first = min(s for s, _ in tx.cds) if plus else max(e for _, e in tx.cds)
        c1, off, where = m.locate(first)
        if off == 0 and where >= 0:
            m.cds_c1 = c1
            m.cds_len = sum(e - s + 1 for s, e in tx.cds)
            m.coding = m.mrna[c1 - 1:]
            m.protein = translate(m.coding[:m.cds_len])
    m.protein_id = tx.attrs.get("ensembl_protein") or tx.attrs.get("protein_id") or tx.attrs.get("refseq_protein", "")
    return m
