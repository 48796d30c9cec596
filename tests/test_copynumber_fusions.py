"""Fusion detection from split reads (all SA parts) and discordant pairs, orientation-checked and
with the normals subtracted: hand-built BAMs whose chimeric molecules are planted at known junctions
(ALK with SOS1 standing in for EML4, which has no sequence in the shared data; FGFR3-TACC3 at GRCh38
coordinates), and the demo scenario's simulator-planted PTEN-RET fusion."""

from __future__ import annotations

import csv
import re
from pathlib import Path

import pandas as pd
import pysam
import pytest
import yaml
from scipy.stats import binom

from unlock_atlas.cli import main
from unlock_atlas.copynumber.fusions import call_fusions, detect_fusions, scan_bam
from unlock_atlas.reference.genome import grch38_chromosomes
from unlock_atlas.reference.prepare import prepare_reference
from unlock_atlas.reference.transcripts import mane_by_gene

ALK_BP = 29_223_700      # last ALK base of the junction (1-based)
SOS1_BP = 39_000_001     # first SOS1 base of the junction (1-based)

P, R1, MREV, SUPP, PROPER = 0x1, 0x40, 0x20, 0x800, 0x2


def _read(h, name, chrom_id, start0, cigar, flag, mate=(None, 0), mapq=60, sa=None, tlen=0):
    a = pysam.AlignedSegment(h)
    a.query_name, a.reference_id, a.reference_start, a.cigarstring = name, chrom_id, start0, cigar
    n = sum(int(x) for x in re.findall(r"(\d+)[MIS=X]", cigar))
    a.query_sequence, a.query_qualities = "A" * n, pysam.qualitystring_to_array("I" * n)
    a.flag, a.mapping_quality = flag, mapq
    a.next_reference_id, a.next_reference_start, a.template_length = mate[0] if mate[0] is not None else -1, mate[1], tlen
    if sa:
        a.set_tag("SA", sa)
    return a


def _bam(path: Path, chroms: list[str], make) -> Path:
    """A sorted, indexed BAM of the records ``make(header)`` returns."""
    lengths = grch38_chromosomes()
    header = pysam.AlignmentHeader.from_dict({"HD": {"VN": "1.6", "SO": "coordinate"},
                                              "SQ": [{"SN": c, "LN": lengths[c]} for c in chroms]})
    raw = path.with_suffix(".raw.bam")
    with pysam.AlignmentFile(str(raw), "wb", header=header) as out:
        for r in make(header):
            out.write(r)
    pysam.sort("-o", str(path), str(raw))
    pysam.index(str(path))
    return path


def test_split_reads_and_discordant_pairs_make_one_event(tmp_path: Path, mane_gtf: Path) -> None:
    def make(h):
        reads = []
        # 4 split reads: 100 bp of ALK ending at ALK_BP, then 50 bp of SOS1 starting at SOS1_BP
        for i in range(4):
            reads.append(_read(h, f"split{i}", 0, ALK_BP - 100, "100M50S", P | R1 | MREV, (0, ALK_BP - 300),
                               sa=f"chr2,{SOS1_BP},+,100S50M,60,0;"))
        reads.append(_read(h, "splitdup", 0, ALK_BP - 100, "100M50S", P | R1 | MREV | 0x400, (0, ALK_BP - 300),
                           sa=f"chr2,{SOS1_BP},+,100S50M,60,0;"))                       # duplicate: ignored
        reads.append(_read(h, "splitlowq", 0, ALK_BP - 100, "100M50S", P | R1 | MREV, (0, ALK_BP - 300),
                           sa=f"chr2,{SOS1_BP},+,100S50M,3,0;"))                        # SA MAPQ 3: ignored
        # 3 discordant pairs: read 1 in ALK before the junction, mate (reverse) in SOS1 after it
        for i in range(3):
            reads.append(_read(h, f"pair{i}", 0, ALK_BP - 250 + 20 * i, "100M", P | R1 | MREV,
                               (0, SOS1_BP + 150 + 10 * i)))
        # a lone ALK-RET pair: 1 fragment, not an event
        reads.append(_read(h, "lone", 0, ALK_BP - 5000, "100M", P | R1, (1, 43_100_000)))
        return reads

    bam = _bam(tmp_path / "s.bam", ["chr2", "chr10"], make)
    mane = mane_by_gene(mane_gtf)
    genes = pd.DataFrame([{"gene": g, "chrom": t.chrom, "start": t.start, "end": t.end, "strand": t.strand}
                          for g, t in mane.items()])
    got = detect_fusions(bam, genes)
    assert len(got) == 1, got
    ev = got.iloc[0]
    # both genes are on the - strand (MANE): the molecule keeps ALK below ALK_BP (its 3' part, the
    # kinase) and SOS1 from SOS1_BP up (its 5' part): SOS1 is the 5' partner
    assert (ev.chrom_a, ev.pos_a, ev.gene_a, ev.strand_a) == ("chr2", SOS1_BP, "SOS1", "-")
    assert (ev.chrom_b, ev.pos_b, ev.gene_b, ev.strand_b) == ("chr2", ALK_BP, "ALK", "-")
    assert ev.connection == "5to3"
    assert (ev.split_reads, ev.discordant_pairs, ev.fragments) == (4, 3, 7)
    assert ev.breakpoint_source == "split_reads"
    assert pd.isna(ev.normal_fragments)   # no normal given


def test_fusions_cli_finds_nothing_without_chimeras_and_rejects_a_bad_gene_table(tmp_path: Path) -> None:
    import argparse

    from unlock_atlas.copynumber import _cli
    from unlock_atlas.errors import InputError

    def make(h):   # ordinary proper pairs 300 bp apart
        return [_read(h, f"p{i}", 0, ALK_BP + 10 * i, "100M", P | PROPER | R1 | MREV, (0, ALK_BP + 200), tlen=300)
                for i in range(5)]

    bam = _bam(tmp_path / "s.bam", ["chr2"], make)
    genes = tmp_path / "genes.tsv"
    genes.write_text("gene\tchrom\tstart\tend\tstrand\nALK\tchr2\t29192774\t29921586\t-\n")
    p = argparse.ArgumentParser()
    _cli.register(p.add_subparsers())
    a = p.parse_args(["copynumber", "fusions", str(bam), "--genes", str(genes), "-o", str(tmp_path / "f.tsv")])
    assert a.func(a) == 0
    assert len(pd.read_csv(tmp_path / "f.tsv", sep="\t")) == 0
    genes.write_text("gene\tchrom\n")
    with pytest.raises(InputError, match="missing columns end, start, strand"):
        a.func(a)
    genes.write_text("gene\tchrom\tstart\tend\tstrand\nALK\tchr2\t29192774\t29921586\t.\n")
    with pytest.raises(InputError, match="not \\+ or -"):
        a.func(a)


# --- FGFR3-TACC3 ---------------------------------------------------------------------------------
# FGFR3-TACC3 joins FGFR3 (5', kinase domain; breakpoints in intron 16/17 or exon 17/18) to TACC3
# (3', the coiled-coil TACC domain; breakpoints around TACC3 introns 7-10) (Singh et al., Science
# 2012;337:1231-1235, PMID 22837387; Williams et al., Hum Mol Genet 2013;22:795-803, PMID 23175443).
# Both genes are on the + strand of chr4 and TACC3 lies ~48 kb upstream of FGFR3, so the fusion is
# a tandem-duplication-type junction (FGFR3's 5' part, then TACC3's 3' part, which lies at lower
# coordinates) of ~70 kb.
# FGFR3 ENST00000440486.8 (MANE, shared data gencode_v44_mane_select_exons.panel_genes.bed): gene
# chr4:1,793,293-1,808,867 (+), exon 17 ends at 1,806,934, exon 18 starts at 1,807,116: F_BP is in
# intron 17. TACC3: chr4:1,721,490-1,745,171 (+) (NCBI Gene 10460, GRCh38.p14 annotation). The
# shared data has no TACC3 exons, so T_BP is a position in the 3' half of the gene (where the
# TACC-domain exons lie), not a verified intron 10 position; only the span and strand matter here.
F_BP = 1_807_000   # last FGFR3 base kept
T_BP = 1_739_500   # first TACC3 base kept
FT_GENES = pd.DataFrame([{"gene": "FGFR3", "chrom": "chr4", "start": 1_793_293, "end": 1_808_867, "strand": "+"},
                         {"gene": "TACC3", "chrom": "chr4", "start": 1_721_490, "end": 1_745_171, "strand": "+"}])


def _fgfr3_tacc3(h, tag: str = "t", n_split: int = 4, n_pairs: int = 3) -> list:
    reads = []
    for i in range(n_split):
        # read 1: 90 bp of FGFR3 up to F_BP, then 60 bp of TACC3 from T_BP; its mate (reverse) lies in
        # TACC3 200 bp on. BWA-MEM writes the TACC3 part as a hard-clipped supplementary record too.
        name = f"{tag}split{i}"
        reads.append(_read(h, name, 0, F_BP - 90, "90M60S", P | R1 | MREV, (0, T_BP + 200),
                           sa=f"chr4,{T_BP},+,90S60M,60,0;"))
        reads.append(_read(h, name, 0, T_BP - 1, "90H60M", P | R1 | MREV | SUPP, (0, T_BP + 200),
                           sa=f"chr4,{F_BP - 89},+,90M60S,60,0;"))
    for i in range(n_pairs):
        reads.append(_read(h, f"{tag}pair{i}", 0, F_BP - 150 - 10 * i, "100M", P | R1 | MREV, (0, T_BP + 100 + 10 * i)))
    return reads


def test_fgfr3_tacc3_tandem_duplication_fusion_called_with_5p_fgfr3_and_3p_tacc3(tmp_path: Path) -> None:
    def make(h):
        reads = _fgfr3_tacc3(h)
        # 3 split reads of FGFR3 joined head-to-head to TACC3's 5' part (inversion-type: the TACC3 part
        # is reverse, kept below its end): both kept parts are 5' parts, no fusion transcript; the mate
        # reads the TACC3 part from the fragment's far end: forward, below the junction
        for i in range(3):
            reads.append(_read(h, f"inv{i}", 0, F_BP - 90 - 300, "90M60S", P | R1, (0, T_BP + 2800),
                               sa=f"chr4,{T_BP + 3000},-,60M90S,60,0;"))
        # a PCR duplicate of split read 0: markdup flagged its primary only; its supplementary must not count
        reads.append(_read(h, "dup", 0, F_BP - 90, "90M60S", P | R1 | MREV | 0x400, (0, T_BP + 200),
                           sa=f"chr4,{T_BP},+,90S60M,60,0;"))
        reads.append(_read(h, "dup", 0, T_BP - 1, "90H60M", P | R1 | MREV | SUPP, (0, T_BP + 200),
                           sa=f"chr4,{F_BP - 89},+,90M60S,60,0;"))
        return reads

    bam = _bam(tmp_path / "t.bam", ["chr4"], make)
    got, cands = call_fusions(scan_bam(bam), FT_GENES)
    assert len(got) == 1, got
    ev = got.iloc[0]
    assert (ev.chrom_a, ev.pos_a, ev.gene_a, ev.strand_a) == ("chr4", F_BP, "FGFR3", "+")
    assert (ev.chrom_b, ev.pos_b, ev.gene_b, ev.strand_b) == ("chr4", T_BP, "TACC3", "+")
    assert F_BP - T_BP == 67_500   # ~70 kb apart: the old 100 kb minimum distance dropped this fusion
    assert ev.connection == "3to5"   # FGFR3 joined at the end of its kept part, TACC3 at the start
    # 4 split reads (primary + supplementary record each: one read), whose mates are discordant too,
    # + 3 discordant pairs
    assert (ev.split_reads, ev.discordant_pairs, ev.fragments) == (4, 7, 7)
    # scanning TACC3 only: the split reads' primaries (FGFR3) lie outside, their supplementary records count
    only_tacc3 = call_fusions(scan_bam(bam, [("chr4", 1_721_489, 1_745_171)]), FT_GENES)[0]
    assert (only_tacc3.iloc[0].gene_a, only_tacc3.iloc[0].pos_a, only_tacc3.iloc[0].split_reads) == ("FGFR3", F_BP, 4)
    inv = cands[cands["filter"] != "PASS"]
    assert len(inv) == 1 and inv.iloc[0]["filter"] == "orientation" and inv.iloc[0]["connection"] == "3to3"
    assert (inv.iloc[0]["split_reads"], inv.iloc[0]["discordant_pairs"]) == (3, 3)
    assert {inv.iloc[0]["gene_a"], inv.iloc[0]["gene_b"]} == {"FGFR3", "TACC3"}


# Known fusions of every junction geometry, planted as the molecule the fusion transcript comes from
# (the 5' gene's 5' part up to its last kept base bp5, then the 3' gene's 3' part from bp3, in
# transcript orientation). Gene strands and spans: MANE (shared data) for ALK, RET, ROS1; NCBI Gene
# GRCh38.p14 for EML4 (27436), KIF5B (3799), CD74 (972). 3' breakpoints in the published introns
# (exon boundaries from the shared gencode_v44_mane_select_exons bed): ALK intron 19 (EML4-ALK, Soda
# et al., Nature 2007), RET intron 11 (KIF5B-RET, Kohno et al., Nat Med 2012), ROS1 intron 33
# (CD74-ROS1 exon 34 variant, Takeuchi et al., Nat Med 2012); 5' breakpoints inside the partner's span.
KNOWN = {
    # name: (5' gene, chrom, bp5, strand, span), (3' gene, chrom, bp3, strand, span), expected connection
    "EML4-ALK (inversion, ~13 Mb)": (("EML4", "chr2", 42_300_000, "+", (42_169_350, 42_332_548)),
                                     ("ALK", "chr2", 29_224_000, "-", (29_192_774, 29_921_586)), "3to3"),
    "KIF5B-RET (inversion, ~11 Mb)": (("KIF5B", "chr10", 32_020_000, "-", (32_009_010, 32_056_443)),
                                      ("RET", "chr10", 43_116_000, "+", (43_077_069, 43_130_351)), "5to5"),
    "CD74-ROS1 (interchromosomal)": (("CD74", "chr5", 150_404_000, "-", (150_401_637, 150_412_929)),
                                     ("ROS1", "chr6", 117_328_000, "-", (117_287_353, 117_425_942)), "5to3"),
    "FGFR3-TACC3 (tandem duplication, ~70 kb)": (("FGFR3", "chr4", F_BP, "+", (1_793_293, 1_808_867)),
                                                 ("TACC3", "chr4", T_BP, "+", (1_721_490, 1_745_171)), "3to5"),
}


def _transcript_read(h, name: str, five: tuple, three: tuple, flip: bool, n5: int = 80, n3: int = 70) -> list:
    """A read of the fusion molecule (module comment above): n5 bases of the 5' gene then n3 of the 3'
    gene in transcript orientation, as BWA-MEM aligns it (primary = the 5' part, supplementary = the
    3' part); ``flip``: the read comes from the other strand (same reference spans, strands swapped)."""
    ids = {c: i for i, c in enumerate(h.references)}
    g5, c5, bp5, s5, _ = five
    g3, c3, bp3, s3, _ = three
    # 5' part: + gene -> forward over [bp5 - n5 + 1, bp5]; - gene -> reverse over [bp5, bp5 + n5 - 1]
    p5 = (bp5 - n5 + 1, f"{n5}M{n3}S", False) if s5 == "+" else (bp5, f"{n3}S{n5}M", True)
    # 3' part: + gene -> forward over [bp3, bp3 + n3 - 1]; - gene -> reverse over [bp3 - n3 + 1, bp3]
    p3 = (bp3, f"{n5}S{n3}M", False) if s3 == "+" else (bp3 - n3 + 1, f"{n3}M{n5}S", True)
    r5, r3 = p5[2] != flip, p3[2] != flip
    prim = _read(h, name, ids[c5], p5[0] - 1, p5[1], 0x10 if r5 else 0,
                 sa=f"{c3},{p3[0]},{'-' if r3 else '+'},{p3[1]},60,0;")
    supp = _read(h, name, ids[c3], p3[0] - 1, p3[1].replace("S", "H"), SUPP | (0x10 if r3 else 0),
                 sa=f"{c5},{p5[0]},{'-' if r5 else '+'},{p5[1]},60,0;")
    return [prim, supp]


@pytest.mark.parametrize("name", list(KNOWN))
def test_known_fusions_of_every_geometry_called_with_their_5p_and_3p_partners(tmp_path: Path, name: str) -> None:
    five, three, conn = KNOWN[name]
    genes = pd.DataFrame([{"gene": g, "chrom": c, "start": sp[0], "end": sp[1], "strand": st}
                          for g, c, _, st, sp in (five, three)])
    chroms = sorted({five[1], three[1]}, key=list(grch38_chromosomes()).index)
    bam = _bam(tmp_path / "k.bam", chroms, lambda h: [r for i in range(6) for r in _transcript_read(
        h, f"r{i}", five, three, flip=i % 2 == 1)])
    got, cands = call_fusions(scan_bam(bam), genes)
    assert len(got) == 1, cands
    ev = got.iloc[0]
    assert (ev.gene_a, ev.chrom_a, ev.pos_a, ev.strand_a) == (five[0], five[1], five[2], five[3])
    assert (ev.gene_b, ev.chrom_b, ev.pos_b, ev.strand_b) == (three[0], three[1], three[2], three[3])
    assert ev.connection == conn and ev.split_reads == 6 and ev.fragments == 6   # both read orientations agree
    # the same junction with the 3' gene annotated on the other strand is no fusion: both parts 5' (or 3')
    wrong = genes.assign(strand=[five[3], "+" if three[3] == "-" else "-"])
    got, cands = call_fusions(scan_bam(bam), wrong)
    assert len(got) == 0 and list(cands["filter"]) == ["orientation"]


def test_every_sa_part_is_read_and_the_junction_comes_from_consecutive_parts(tmp_path: Path) -> None:
    def make(h):
        reads = []
        for i in range(4):
            # 150 bp read: FGFR3 [0, 60) up to F_BP, TACC3 [60, 110) from T_BP, then [110, 150) 600 bp
            # further on in TACC3. The SA tag lists the far TACC3 part FIRST: the old first-SA-only
            # reading joined FGFR3 to T_BP + 600.
            # A fourth part, MAPQ 0 (a repeat copy on chr4 far away), is dropped: no junction to it.
            sa = f"chr4,{T_BP + 600},+,110S40M,60,0;chr4,{T_BP},+,60S50M40S,60,0;chr4,3000000,+,120S30M,0,0;"
            reads.append(_read(h, f"m{i}", 0, F_BP - 60, "60M90S", P | R1 | MREV, (0, T_BP + 700), sa=sa))
        reads.append(_read(h, "m0", 0, T_BP - 1, "60H50M40H", P | R1 | MREV | SUPP, (0, T_BP + 700),
                           sa=f"chr4,{F_BP - 59},+,60M90S,60,0;chr4,{T_BP + 600},+,110S40M,60,0;"))
        return reads

    bam = _bam(tmp_path / "m.bam", ["chr4"], make)
    got, cands = call_fusions(scan_bam(bam), FT_GENES)
    assert len(got) == 1, got
    ev = got.iloc[0]
    assert (ev.gene_a, ev.pos_a, ev.gene_b, ev.pos_b) == ("FGFR3", F_BP, "TACC3", T_BP)
    assert ev.split_reads == 4 and ev.fragments == 4   # the supplementary record adds no read
    # the second junction of each read: TACC3 (kept up to T_BP + 49) to TACC3 from T_BP + 600
    intra = cands[cands["filter"] == "intragenic"]
    assert len(intra) == 1 and len(cands) == 2   # nothing joined to the MAPQ-0 part
    assert (intra.iloc[0]["pos_a"], intra.iloc[0]["pos_b"], intra.iloc[0]["connection"]) == (T_BP + 49, T_BP + 600, "3to5")


def test_rearrangement_in_the_normal_or_recurrent_in_normals_is_subtracted(tmp_path: Path) -> None:
    genes = tmp_path / "genes.tsv"
    FT_GENES.to_csv(genes, sep="\t", index=False)
    tumour = _bam(tmp_path / "T.bam", ["chr4"], _fgfr3_tacc3)

    def run(*extra: str) -> tuple[pd.DataFrame, pd.DataFrame]:
        out, cand = tmp_path / "f.tsv", tmp_path / "c.tsv"
        assert main(["copynumber", "fusions", "--evidence", str(tmp_path / "T.fusion_evidence.tsv"), "--genes",
                     str(genes), "-o", str(out), "--candidates", str(cand), *extra]) == 0
        return pd.read_csv(out, sep="\t"), pd.read_csv(cand, sep="\t")

    def evidence(bam: Path, sid: str) -> Path:
        out = tmp_path / f"{sid}.fusion_evidence.tsv"
        assert main(["copynumber", "fusion-evidence", str(bam), "--genes", str(genes), "-o", str(out)]) == 0
        return out

    evidence(tumour, "T")
    # the patient's normal: ONE discordant pair across the same junction (a germline duplication)
    n_same = evidence(_bam(tmp_path / "N.bam", ["chr4"], lambda h: _fgfr3_tacc3(h, "n", 0, 1)), "N")
    # another patient's normal: a pair across an unrelated FGFR3-TACC3 junction 5 kb away
    n_other = evidence(_bam(tmp_path / "O.bam", ["chr4"], lambda h: [
        _read(h, "o", 0, F_BP - 6000, "100M", P | R1 | MREV, (0, T_BP + 5000))]), "O")
    # two normals of other patients each with one read across the tumour's junction
    n_r1 = evidence(_bam(tmp_path / "R1.bam", ["chr4"], lambda h: _fgfr3_tacc3(h, "r", 1, 0)), "R1")
    n_r2 = evidence(_bam(tmp_path / "R2.bam", ["chr4"], lambda h: _fgfr3_tacc3(h, "s", 0, 1)), "R2")

    got, _ = run("--normal", str(n_other))
    assert len(got) == 1 and int(got.iloc[0].normal_fragments) == 0     # an unrelated junction: kept
    got, cand = run("--normal", str(n_same))
    assert len(got) == 0                                                # seen in the patient's normal
    assert cand.iloc[0]["filter"] == "in_normal" and cand.iloc[0]["normal_fragments"] == 1

    def pool(*paths: Path) -> Path:
        out = tmp_path / "pooled.tsv"
        assert main(["copynumber", "fusion-normals", *map(str, paths), "-o", str(out)]) == 0
        return out

    got, _ = run("--normal", str(n_other), "--panel-normals", str(pool(n_other, n_r1)))
    assert len(got) == 1 and int(got.iloc[0].normals_with_evidence) == 1  # one other normal: not recurrent
    got, cand = run("--normal", str(n_other), "--panel-normals", str(pool(n_other, n_r1, n_r2)))
    assert len(got) == 0
    assert cand.iloc[0]["filter"] == "recurrent_in_normals" and cand.iloc[0]["normals_with_evidence"] == 2

    # a normal's table that is not an evidence table: a clear error naming the file and the columns
    from unlock_atlas.copynumber.fusions import read_evidence
    from unlock_atlas.errors import InputError

    bad = tmp_path / "bad.tsv"
    bad.write_text("chrom_a\tpos_a\nchr4\t1\n")
    with pytest.raises(InputError, match=r"bad\.tsv.*missing columns chrom_b, pos_b, connection"):
        read_evidence(bad, "N")
    assert main(["copynumber", "fusions", "--evidence", str(tmp_path / "T.fusion_evidence.tsv"), "--genes", str(genes),
                 "-o", str(tmp_path / "x.tsv"), "--normal", str(bad)]) != 0


# --- the demo scenario's planted fusion, found by `unlock-atlas copynumber fusions` ----------------
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def fusion_run(small_sim: Path, tmp_path_factory, region_fasta: Path, mane_gtf: Path) -> tuple[Path, Path]:
    """UNL001 (acquired PTEN-RET fusion at progression) in the session's small cohort (conftest
    ``small_sim``, seed 7, cached), and a reference prepared with the simulator's extra baits (RET intron 11)."""
    run, out = small_sim, tmp_path_factory.mktemp("fusion_ref")
    genes = yaml.safe_load((run / "config" / "config.yaml").read_text())["reference"]["panel_genes"]
    ref = prepare_reference(region_fasta, mane_gtf, out / "ref", panel_genes=genes,
                            panel_extra_bed=run / "config" / "panel_extra.bed")
    return run, ref.genes


def _fusions(run: Path, genes: Path, sid: str, *extra: str) -> pd.DataFrame:
    out = genes.parent / f"{sid}.fusions.tsv"  # beside the prepared reference, not in the shared cohort
    assert main(["copynumber", "fusions", str(run / "bams" / f"{sid}.bam"), "--genes", str(genes), "-o", str(out),
                 *extra]) == 0
    return pd.read_csv(out, sep="\t")


def _wild_type_spanning(bam: Path, chrom: str, pos: int, flank: int = 30) -> int:
    """Unique proper-pair templates covering ``flank`` bases on both sides of the junction before
    ``pos`` (the unrearranged molecules that could have shown it)."""
    n = 0
    with pysam.AlignmentFile(str(bam)) as fh:
        for r in fh.fetch(chrom, pos - 1000, pos + 1000):
            if r.is_read1 and r.is_proper_pair and not r.is_duplicate and r.template_length != 0:
                s = min(r.reference_start, r.next_reference_start)
                e = s + abs(r.template_length)
                n += s <= pos - 1 - flank and e >= pos - 1 + flank
    return n


def test_planted_fusion_found_with_partners_breakpoints_and_support(fusion_run: tuple[Path, Path]) -> None:
    run, genes = fusion_run
    raw = next(p for p in yaml.safe_load((ROOT / "resources" / "demo_cohort.yaml").read_text())["patients"]
               if p["id"] == "UNL001")
    fus = raw["fusions"][0]
    with open(run / "truth" / "fusions.tsv") as fh:
        truth = {r["sample_id"]: r for r in csv.DictReader(fh, delimiter="\t")}
    # the panel prepared with the extra baits tiles the RET breakpoint intron
    bed = pd.read_csv(genes.parent / "panel.bed", sep="\t", header=None, names=["chrom", "start", "end", "name"])
    assert ((bed.chrom == fus["chrom3"]) & (bed.start < fus["pos3"]) & (bed.end >= fus["pos3"]) & (bed.name == "RET")).any()

    # checked against the patient's normal (its evidence table, as the workflow does)
    normal = genes.parent / "UNL001-N.fusion_evidence.tsv"
    assert main(["copynumber", "fusion-evidence", str(run / "bams" / "UNL001-N.bam"), "--genes", str(genes),
                 "-o", str(normal)]) == 0
    got = _fusions(run, genes, "UNL001-T-PD", "--normal", str(normal))
    assert len(got) == 1, got
    ev = got.iloc[0]
    # the 5' partner (scenario gene5, both genes on the + strand) first, the 3' partner second
    assert (ev.chrom_a, ev.gene_a, ev.chrom_b, ev.gene_b) == (fus["chrom5"], fus["gene5"], fus["chrom3"], fus["gene3"])
    assert abs(ev.pos_a - fus["pos5"]) <= 3 and abs(ev.pos_b - fus["pos3"]) <= 3
    assert ev.connection == "3to5" and ev.normal_fragments == 0
    assert ev.breakpoint_source == "split_reads" and ev.split_reads >= 5 and ev.discordant_pairs >= 1
    # read support vs the planted fraction: among molecules with >= 30 bases on both sides of the RET
    # junction, a fraction tc * ccf / 2 (clonal model, one rearranged allele; purity and ccf from the
    # scenario) is chimeric; the few chimeras captured at the PTEN side (no bait there) add to it
    f3 = raw["samples"]["T-PD"]["purity"] * fus["ccf"]["T-PD"] / 2
    wt = _wild_type_spanning(run / "bams" / "UNL001-T-PD.bam", fus["chrom3"], fus["pos3"])
    n = wt + int(ev.fragments)
    lo, hi = binom.interval(0.999, n, f3)
    assert lo <= ev.fragments <= hi + 3, (ev.fragments, wt, f3)
    # ... and equals the simulator's count of detectable chimeric molecules (markdup may merge a pair)
    assert int(truth["UNL001-T-PD"]["detectable_molecules"]) - 2 <= ev.fragments <= int(
        truth["UNL001-T-PD"]["detectable_molecules"])

    for sid in ("UNL001-T-BL", "UNL001-N"):   # not planted: nothing found
        assert len(_fusions(run, genes, sid)) == 0, sid
    # plasma at tf 0.08: reported when >= 3 detectable molecules were planted, with the same partners
    pp = _fusions(run, genes, "UNL001-P-PD")
    if int(truth["UNL001-P-PD"]["detectable_molecules"]) >= 3:
        assert len(pp) == 1 and {pp.iloc[0].gene_a, pp.iloc[0].gene_b} == {"PTEN", "RET"}
    else:
        assert len(pp) == 0
