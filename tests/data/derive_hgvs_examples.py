"""Derive the GRCh38 VCF-style input of published HGVS examples (provenance of hgvs_published_examples.tsv).

Run once by hand (``python tests/data/derive_hgvs_examples.py``); the tests read the TSV only.

Independence: this script does NOT use ``unlock_atlas.annotation``. It maps a published ``c.``
position onto the MANE Select exons/CDS of ``panel_mane_select.GRCh38.gtf`` with its own
small mapper (below), reads the bases with pysam from the shared FASTA, checks them against
the bases the source names (``delAAAGA``, ``dupAC``, ...) and writes the allele the way a
caller + ``bcftools norm`` would (VCF anchor base, left-aligned on the + strand).
Rows whose source gives the GRCh38 VCF itself (VariantValidator test expectations, genebe,
ClinVar) are copied verbatim and checked against the FASTA; on each of them the mapper must
also reproduce that VCF from the published c. alone (13 rows), which validates the mapper.
"""

from __future__ import annotations

import csv
import re
import sys
from pathlib import Path

import pysam

from unlock_atlas.paths import resolve_data_dir  # path lookup only; no annotation code

DATA = resolve_data_dir(None)          # $UNLOCK_ATLAS_DATA, else ../shared/data (as tests/conftest.py)
FASTA = DATA / "reference_grch38" / "panel_genes.GRCh38.fa"
GTF = DATA / "transcripts_grch38" / "panel_mane_select.GRCh38.gtf"
REGIONS = DATA / "reference_grch38" / "panel_genes.GRCh38.regions.tsv"
OUT = Path(__file__).with_name("hgvs_published_examples.tsv")
COMP = str.maketrans("ACGT", "TGCA")


def rc(s: str) -> str:
    return s.translate(COMP)[::-1]


def load_tx(gene: str) -> tuple[str, str, list[tuple[int, int]], list[tuple[int, int]]]:
    exons, cds, chrom, strand = [], [], "", ""
    with open(GTF) as fh:
        for line in fh:
            f = line.rstrip("\n").split("\t")
            if len(f) < 9 or f'gene_name "{gene}"' not in f[8]:
                continue
            chrom, strand = f[0], f[6]
            if f[2] == "exon":
                exons.append((int(f[3]), int(f[4])))
            elif f[2] in ("CDS", "stop_codon"):
                cds.append((int(f[3]), int(f[4])))
    plus = strand == "+"
    exons.sort(reverse=not plus)
    cds.sort(reverse=not plus)
    return chrom, strand, exons, cds


class Mapper:
    """c. position -> chromosome position for one MANE transcript (exon walk, no intron maths shortcuts)."""

    def __init__(self, gene: str) -> None:
        self.chrom, self.strand, self.exons, cds = load_tx(gene)
        self.plus = self.strand == "+"
        # transcript-order list of exonic genomic positions
        self.tx: list[int] = []
        for s, e in self.exons:
            self.tx.extend(range(s, e + 1) if self.plus else range(e, s - 1, -1))
        first = cds[0][0] if self.plus else cds[0][1]
        last = cds[-1][1] if self.plus else cds[-1][0]
        self.c1 = self.tx.index(first)          # index of c.1
        self.cend = self.tx.index(last)         # index of the stop codon's last base

    def pos(self, text: str) -> int:
        m = re.fullmatch(r"([-*]?)(\d+)([+-]\d+)?", text)
        assert m, text
        sign, n, off = m.group(1), int(m.group(2)), int(m.group(3) or 0)
        i = self.c1 - n if sign == "-" else self.cend + n if sign == "*" else self.c1 + n - 1
        g = self.tx[i]
        step = 1 if self.plus else -1
        return g + step * off


class Genome:
    def __init__(self) -> None:
        self.fa = pysam.FastaFile(str(FASTA))
        self.regions = []
        with open(REGIONS) as fh:
            for r in csv.DictReader(fh, delimiter="\t"):
                self.regions.append((r["chrom"], int(r["start_1based"]), int(r["end_1based"]), r["contig"]))

    def seq(self, chrom: str, start: int, end: int) -> str:
        for c, s, e, contig in self.regions:
            if c == chrom and s <= start and end <= e:
                return self.fa.fetch(contig, start - s, end - s + 1).upper()
        raise KeyError(f"{chrom}:{start}-{end} not in the shared FASTA")


def left_align(g: Genome, chrom: str, start: int, ref: str, alt: str) -> tuple[int, str, str]:
    """bcftools-norm style: an indel given as (first changed base, deleted, inserted) -> VCF allele."""
    if ref and alt:                                 # delins / inversion: written as is
        return start, ref, alt
    seq = ref or alt
    while g.seq(chrom, start - 1, start - 1) == seq[-1]:
        seq = seq[-1] + seq[:-1]
        start -= 1
    anchor = g.seq(chrom, start - 1, start - 1)
    return (start - 1, anchor + seq, anchor) if ref else (start - 1, anchor, anchor + seq)


def derive(g: Genome, gene: str, desc: str, named: str) -> tuple[str, int, str, str]:
    """VCF allele of ``c.<desc>`` (a del, dup, ins, delins or inv); ``named`` = bases the source states."""
    mp = Mapper(gene)
    m = re.fullmatch(r"([-*]?\d+(?:[+-]\d+)?)(?:_([-*]?\d+(?:[+-]\d+)?))?(del|dup|ins|delins|inv)([ACGT]*)", desc)
    assert m, desc
    a, b, kind, bases = m.group(1), m.group(2) or m.group(1), m.group(3), m.group(4)
    ga, gb = mp.pos(a), mp.pos(b)
    lo, hi = min(ga, gb), max(ga, gb)
    span = g.seq(mp.chrom, lo, hi)
    tx_span = span if mp.plus else rc(span)
    if named:
        assert tx_span == named, f"{gene} c.{desc}: FASTA has {tx_span}, source names {named}"
    if kind == "del":
        return (mp.chrom, *left_align(g, mp.chrom, lo, span, ""))
    if kind == "dup":
        return (mp.chrom, *left_align(g, mp.chrom, hi + 1, "", span))
    if kind == "ins":
        ins = bases if mp.plus else rc(bases)
        assert hi - lo == 1, desc
        return (mp.chrom, *left_align(g, mp.chrom, hi, "", ins))
    if kind == "inv":
        return mp.chrom, lo, span, rc(span)
    return mp.chrom, lo, span, bases if mp.plus else rc(bases)


def main() -> int:
    g = Genome()
    rows, checked = [], 0
    with open(OUT) as fh:
        lines = [ln for ln in fh if not ln.startswith("#")]
    header_comments = [ln for ln in open(OUT) if ln.startswith("#")]
    for r in csv.DictReader(lines, delimiter="\t"):
        if r["derivation"] == "c_position":
            desc = r["hgvsc"].split("c.", 1)[1]
            chrom, pos, ref, alt = derive(g, r["gene"], desc, r["named_bases"])
            r.update(chrom=chrom, pos=str(pos), ref=ref, alt=alt)
        assert g.seq(r["chrom"], int(r["pos"]), int(r["pos"]) + len(r["ref"]) - 1) == r["ref"], r
        if r["derivation"] != "c_position" and ">" not in r["hgvsc"]:   # validate the mapper itself
            src = (r["chrom"], int(r["pos"]), r["ref"], r["alt"])
            if len(src[2]) != len(src[3]) and src[2][0] == src[3][0]:
                src = (src[0], *left_align(g, src[0], src[1] + 1, src[2][1:], src[3][1:]))
            assert derive(g, r["gene"], r["hgvsc"].split("c.", 1)[1], "") == src, (r["id"], src)
            checked += 1
        rows.append(r)
    with open(OUT, "w", newline="") as fh:
        fh.writelines(header_comments)
        w = csv.DictWriter(fh, fieldnames=list(rows[0]), delimiter="\t", lineterminator="\n")
        w.writeheader()
        w.writerows(rows)
    print(f"{len(rows)} rows written to {OUT}; mapper reproduces the source VCF of {checked} rows")
    return 0


if __name__ == "__main__":
    sys.exit(main())
