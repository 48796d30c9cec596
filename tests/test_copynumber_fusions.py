"""Fusion detection from split reads (SA tag) and discordant pairs on a hand-built BAM whose
chimeric molecules are planted at known junctions (ALK with SOS1 standing in for EML4, which has
no sequence in the shared data)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pysam

from unlock_atlas.copynumber.fusions import detect_fusions
from unlock_atlas.reference.genome import grch38_chromosomes
from unlock_atlas.reference.transcripts import mane_by_gene

ALK_BP = 29_223_700      # last ALK base of the junction (1-based)
SOS1_BP = 39_000_001     # first SOS1 base of the junction (1-based)


def _read(h, name, chrom_id, start0, cigar, flag, mate=(None, 0), mapq=60, sa=None, tlen=0):
    a = pysam.AlignedSegment(h)
    a.query_name, a.reference_id, a.reference_start, a.cigarstring = name, chrom_id, start0, cigar
    n = sum(int(x) for x in __import__("re").findall(r"(\d+)[MIS=X]", cigar))
    a.query_sequence, a.query_qualities = "A" * n, pysam.qualitystring_to_array("I" * n)
    a.flag, a.mapping_quality = flag, mapq
    a.next_reference_id, a.next_reference_start, a.template_length = mate[0] if mate[0] is not None else -1, mate[1], tlen
    if sa:
        a.set_tag("SA", sa)
    return a


def test_split_reads_and_discordant_pairs_make_one_event(tmp_path: Path, mane_gtf: Path) -> None:
    chroms = grch38_chromosomes()
    header = pysam.AlignmentHeader.from_dict({"HD": {"VN": "1.6", "SO": "coordinate"},
                                              "SQ": [{"SN": c, "LN": chroms[c]} for c in ("chr2", "chr10")]})
    reads = []
    # 4 split reads: 100 bp of ALK ending at ALK_BP, then 50 bp of SOS1 starting at SOS1_BP
    for i in range(4):
        reads.append(_read(header, f"split{i}", 0, ALK_BP - 100, "100M50S", 0x1 | 0x40 | 0x20, (0, ALK_BP - 300),
                           sa=f"chr2,{SOS1_BP},+,100S50M,60,0;"))
    reads.append(_read(header, "splitdup", 0, ALK_BP - 100, "100M50S", 0x1 | 0x40 | 0x20 | 0x400, (0, ALK_BP - 300),
                       sa=f"chr2,{SOS1_BP},+,100S50M,60,0;"))                       # duplicate: ignored
    reads.append(_read(header, "splitlowq", 0, ALK_BP - 100, "100M50S", 0x1 | 0x40 | 0x20, (0, ALK_BP - 300),
                       sa=f"chr2,{SOS1_BP},+,100S50M,3,0;"))                        # SA MAPQ 3: ignored
    # 3 discordant pairs: read 1 in ALK before the junction, mate in SOS1 after it
    for i in range(3):
        reads.append(_read(header, f"pair{i}", 0, ALK_BP - 250 + 20 * i, "100M", 0x1 | 0x40 | 0x20,
                           (0, SOS1_BP + 150 + 10 * i)))
    # a lone ALK-RET pair: 1 fragment, not an event
    reads.append(_read(header, "lone", 0, ALK_BP - 5000, "100M", 0x1 | 0x40, (1, 43_100_000)))
    raw = tmp_path / "raw.bam"
    with pysam.AlignmentFile(str(raw), "wb", header=header) as out:
        for r in reads:
            out.write(r)
    bam = tmp_path / "s.bam"
    pysam.sort("-o", str(bam), str(raw))
    pysam.index(str(bam))
    mane = mane_by_gene(mane_gtf)
    genes = pd.DataFrame([{"gene": g, "chrom": t.chrom, "start": t.start, "end": t.end} for g, t in mane.items()])
    got = detect_fusions(bam, genes)
    assert len(got) == 1, got
    ev = got.iloc[0]
    assert (ev.chrom_a, ev.pos_a, ev.gene_a) == ("chr2", ALK_BP, "ALK")
    assert (ev.chrom_b, ev.pos_b, ev.gene_b) == ("chr2", SOS1_BP, "SOS1")
    assert (ev.split_reads, ev.discordant_pairs, ev.fragments) == (4, 3, 7)
    assert ev.breakpoint_source == "split_reads"


def test_fusions_cli_finds_nothing_without_chimeras_and_rejects_a_bad_gene_table(tmp_path: Path) -> None:
    import argparse

    import pytest

    from unlock_atlas.copynumber import _cli
    from unlock_atlas.errors import InputError

    chroms = grch38_chromosomes()
    header = {"HD": {"VN": "1.6", "SO": "coordinate"}, "SQ": [{"SN": "chr2", "LN": chroms["chr2"]}]}
    raw, bam = tmp_path / "raw.bam", tmp_path / "s.bam"
    with pysam.AlignmentFile(str(raw), "wb", header=header) as out:
        h = out.header
        for i in range(5):   # ordinary proper pairs 300 bp apart
            out.write(_read(h, f"p{i}", 0, ALK_BP + 10 * i, "100M", 0x1 | 0x2 | 0x40 | 0x20, (0, ALK_BP + 200), tlen=300))
    pysam.sort("-o", str(bam), str(raw))
    pysam.index(str(bam))
    genes = tmp_path / "genes.tsv"
    genes.write_text("gene\tchrom\tstart\tend\nALK\tchr2\t29192774\t29921586\n")
    p = argparse.ArgumentParser()
    _cli.register(p.add_subparsers())
    a = p.parse_args(["copynumber", "fusions", str(bam), "--genes", str(genes), "-o", str(tmp_path / "f.tsv")])
    assert a.func(a) == 0
    assert len(pd.read_csv(tmp_path / "f.tsv", sep="\t")) == 0
    genes.write_text("gene\tchrom\n")
    with pytest.raises(InputError, match="missing columns end, start"):
        a.func(a)
