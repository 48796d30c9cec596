"""Annotation rules on a hand-built two-exon transcript, on both strands.

Truth: the toy gene below is written out base by base, and every expected HGVS / consequence is
derived by hand from it with the HGVS v21 rules and VEP's SO definitions (quoted per test). The
minus-strand copy is the exact reverse complement, so every expectation must hold unchanged.

    pos   1-10  AAAAAAAAAA                      upstream
          11-25 GCC ATG AAA CCC GGG             exon 1: 5'UTR c.-3..-1, CDS c.1..12
          26-35 GTAAGTCCAG                      intron 1 (c.12+1 .. c.13-1)
          36-50 TTT TAA CCCTAGCCC               exon 2: c.13..18 (TAA stop), 3'UTR c.*1..*9
          51-60 AAAAAAAAAA                      downstream
    protein M K P G F *
"""

from __future__ import annotations

import pysam
import pytest

from unlock_atlas.annotation import Annotator, annotate_vcf
from unlock_atlas.annotation.seq import revcomp

SEQ = "A" * 10 + "GCCATGAAACCCGGG" + "GTAAGTCCAG" + "TTTTAACCCTAGCCC" + "A" * 10
N = len(SEQ)


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    d = tmp_path_factory.mktemp("toy")
    fa = d / "toy.fa"
    fa.write_text(f">chr1\n{SEQ}\n>chr2\n{revcomp(SEQ)}\n")
    pysam.faidx(str(fa))

    def gtf_lines(chrom: str, strand: str, tid: str, gene: str, flip) -> list[str]:
        feats = [("transcript", 11, 50), ("exon", 11, 25), ("exon", 36, 50), ("CDS", 14, 25), ("CDS", 36, 38),
                 ("stop_codon", 39, 41)]
        out = []
        for f, s, e in feats:
            a, b = sorted((flip(s), flip(e)))
            out.append(f'{chrom}\tt\t{f}\t{a}\t{b}\t.\t{strand}\t.\tgene_id "G{gene}"; transcript_id "{tid}"; '
                       f'gene_name "{gene}"; tag "MANE_Select";')
        return out
    gtf = d / "toy.gtf"
    gtf.write_text("\n".join(gtf_lines("chr1", "+", "TX1", "PLUS", lambda p: p)
                             + gtf_lines("chr2", "-", "TX2", "MINUS", lambda p: N + 1 - p)) + "\n")
    return Annotator(fa, gtf), fa, gtf


def _call(ann: Annotator, strand: str, pos: int, ref: str, alt: str):
    """Annotate a + strand description; for '-' the mirrored allele on chr2."""
    if strand == "+":
        return ann.annotate("chr1", pos, ref, alt)[0]
    return ann.annotate("chr2", N + 1 - pos, revcomp(ref), revcomp(alt))[0]


SNVS = [  # (pos, ref, alt, HGVSc, consequence, HGVSp short)
    (12, "C", "T", "c.-2C>T", "5_prime_UTR_variant", ""),
    (15, "T", "C", "c.2T>C", "start_lost", "p.M1?"),
    (17, "A", "T", "c.4A>T", "stop_gained", "p.K2*"),
    (24, "G", "A", "c.11G>A", "missense_variant&splice_region_variant", "p.G4E"),
    (27, "T", "C", "c.12+2T>C", "splice_donor_variant&intron_variant", "p.?"),  # canonical site: p.? (VariantValidator)
    (30, "G", "A", "c.12+5G>A", "splice_region_variant&intron_variant", ""),
    (31, "T", "C", "c.13-5T>C", "splice_region_variant&intron_variant", ""),
    (34, "A", "G", "c.13-2A>G", "splice_acceptor_variant&intron_variant", "p.?"),
    (40, "A", "C", "c.17A>C", "stop_lost", "p.*6Sext*2"),
    (41, "A", "G", "c.18A>G", "stop_retained_variant", "p.*6="),
    (45, "T", "C", "c.*4T>C", "3_prime_UTR_variant", ""),
    (5, "A", "G", "c.-9A>G", "upstream_gene_variant", ""),
    (55, "A", "G", "c.*14A>G", "downstream_gene_variant", ""),
]


@pytest.mark.parametrize("strand", ["+", "-"])
@pytest.mark.parametrize("snv", SNVS, ids=[s[3] for s in SNVS])
def test_snv_rules(toy, strand, snv):
    pos, ref, alt, hgvsc, csq, short = snv
    assert SEQ[pos - 1] == ref
    c = _call(toy[0], strand, pos, ref, alt)
    assert (c.hgvsc, c.consequence, c.hgvsp_short) == (hgvsc, csq, short)


def test_long_forms_and_numbers(toy):
    ann = toy[0]
    c = ann.annotate("chr1", 40, "A", "C")[0]
    assert c.hgvsp == "p.Ter6SerextTer2" and c.exon == "2/2"
    c = ann.annotate("chr1", 27, "T", "C")[0]
    assert c.intron == "1/1" and c.exon == ""


@pytest.mark.parametrize("strand", ["+", "-"])
def test_indels(toy, strand):
    ann = toy[0]
    # A inserted into the AAA run of codon 2: shifted 3' (to after c.6) and written as dup (HGVS);
    # frame +1 reads ACC CGG GTT TTA ACC CTA GCC C: no stop before the transcript ends -> fsTer?
    if strand == "+":
        c = ann.annotate("chr1", 16, "G", "GA")[0]         # left-normalised: after c.3
    else:
        c = ann.annotate("chr2", N + 1 - 20, "G", "GT")[0]  # after c.6 on the minus strand
    assert (c.hgvsc, c.consequence, c.hgvsp) == ("c.6dup", "frameshift_variant", "p.Pro3ThrfsTer?")
    # in-frame TGG between c.6 and c.7: not a copy of c.4_6 -> ins; protein M K W P G F
    c = ann.annotate("chr1", 19, "A", "ATGG")[0] if strand == "+" else ann.annotate("chr2", N + 1 - 20, "G", "GCCA")[0]
    assert (c.hgvsc, c.consequence, c.hgvsp) == ("c.6_7insTGG", "inframe_insertion", "p.Lys2_Pro3insTrp")
    # deletion of codon 3 (CCC, c.7_9)
    c = ann.annotate("chr1", 19, "ACCC", "A")[0] if strand == "+" else ann.annotate("chr2", N + 1 - 22, "GGGG", "G")[0]
    assert (c.hgvsc, c.consequence, c.hgvsp_short) == ("c.7_9del", "inframe_deletion", "p.P3del")


def test_vcf_roundtrip(toy, tmp_path):
    """CSQ header ends with VEP's field list; IDs, FILTER and other INFO are kept; a multi-allelic
    record is split into one record per ALT (bcftools norm -m -any), each with its CSQ; VEP
    escapes '=' in HGVSp as %3D."""
    ann = toy[0]
    vcf = tmp_path / "in.vcf"
    vcf.write_text("##fileformat=VCFv4.2\n##contig=<ID=chr1,length=60>\n"
                   '##INFO=<ID=DP,Number=1,Type=Integer,Description="depth">\n'
                   "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"
                   "chr1\t17\trsK2\tA\tT,C\t50\tPASS\tDP=10\n"
                   "chr1\t41\tstop\tA\tG\t.\tq10\t.\n")
    out = tmp_path / "out.vcf.gz"
    stats = annotate_vcf(vcf, out, ann, tsv=tmp_path / "o.tsv")
    assert stats["records"] == 2 and stats["alleles"] == 3
    with pysam.VariantFile(str(out)) as vf:
        desc = vf.header.info["CSQ"].description
        assert desc.endswith("Format: Allele|Consequence|SYMBOL|Gene|Feature|HGVSc|HGVSp|HGVSp_Short|EXON|INTRON|"
                             "Protein_position|Amino_acids|Codons")
        recs = list(vf)
    assert [r.id for r in recs] == ["rsK2", "rsK2", "stop"] and [r.alts for r in recs[:2]] == [("T",), ("C",)]
    assert recs[0].info["DP"] == recs[1].info["DP"] == 10 and list(recs[2].filter) == ["q10"]
    csq0 = [recs[i].info["CSQ"][0].split("|") for i in (0, 1)]
    assert [(e[0], e[1], e[7]) for e in csq0] == [("T", "stop_gained", "p.K2*"), ("C", "missense_variant", "p.K2Q")]
    assert recs[2].info["CSQ"][0].split("|")[6] == "TX1:p.Ter6%3D"
    assert (tmp_path / "out.vcf.gz.tbi").exists()
    rows = (tmp_path / "o.tsv").read_text().splitlines()
    assert len(rows) == 4 and rows[1].split("\t")[:5] == ["chr1", "17", "rsK2", "A", "T"]


def _left_norm(seq: str, pos: int, ref: str, alt: str) -> tuple[int, str, str]:
    """bcftools-norm left alignment of an anchored indel on ``seq`` (1-based), for hand-made inputs."""
    while len(ref) != len(alt) and ref[-1] == alt[-1] and pos > 1:
        base = seq[pos - 2]
        ref, alt, pos = base + ref[:-1], base + alt[:-1], pos - 1
    return pos, ref, alt


@pytest.mark.parametrize("strand", ["+", "-"])
def test_three_prime_rule_crosses_into_the_donor(toy, strand):
    """One G deleted from CCC GGG|Gtaag (exon 1 ends c.10-12 = GGG, c.12+1 = G).

    HGVS (Recommendations > DNA > Deletion, exon/intron example LRG_199t1:c.1704+1del, "not
    c.1704del"): the 3' rule shifts the deletion across the exon/intron border to c.12+1, which
    hits the donor, so the protein effect is unpredictable (p.?). VCF left-normalisation puts it at
    c.10 on the + strand and at c.12+1 on the - strand; both must describe the same event.
    """
    ann = toy[0]
    if strand == "+":
        pos, ref, alt = _left_norm(SEQ, 26, "GG", "G")
        assert (pos, ref, alt) == (22, "CG", "C") and SEQ[21:23] == ref   # written in the exon (c.10)
        c = ann.annotate("chr1", pos, ref, alt)[0]
    else:
        rseq = revcomp(SEQ)                                   # the G run is C at chr2 35-38
        pos, ref, alt = _left_norm(rseq, N + 1 - 24, "CC", "C")
        assert (pos, ref, alt) == (34, "AC", "A")            # written at c.12+1 already
        assert rseq[pos - 1:pos - 1 + len(ref)] == ref
        c = ann.annotate("chr2", pos, ref, alt)[0]
    assert (c.hgvsc, c.consequence, c.hgvsp, c.hgvsp_short) == (
        "c.12+1del", "splice_donor_variant&intron_variant", "p.?", "p.?")
    assert c.protein_position == "" and c.codons == ""


@pytest.mark.parametrize("strand", ["+", "-"])
def test_inversion_and_delins(toy, strand):
    """c.7_8 = CC (codon 3 CCC, Pro). CC>GG is its reverse complement: HGVS prioritises inversion
    over delins (Recommendations > General, prioritisation), c.7_8inv; codon GGC = Gly -> p.P3G.
    CC>AT is not: c.7_8delinsAT, codon ATC = Ile -> p.P3I."""
    ann = toy[0]
    for alt, hgvsc, short in (("GG", "c.7_8inv", "p.P3G"), ("AT", "c.7_8delinsAT", "p.P3I")):
        if strand == "+":
            c = ann.annotate("chr1", 20, "CC", alt)[0]
        else:
            c = ann.annotate("chr2", N + 1 - 21, "GG", revcomp(alt))[0]
        assert (c.hgvsc, c.hgvsp_short, c.consequence) == (hgvsc, short, "missense_variant")


@pytest.mark.parametrize("strand", ["+", "-"])
def test_insertions_at_the_donor(toy, strand):
    """A C inserted between c.12 and c.12+1 (exactly at the exon/intron junction) leaves the protein
    unpredictable, p.? (VariantValidator: NM_000546.6:c.375_375+1insAAG -> p.?); between c.12+2 and
    c.12+3 the GT donor stays intact: splice region, no protein description."""
    ann = toy[0]
    for left, hgvsc, csq, p in ((25, "c.12_12+1insC", None, "p.?"),
                                (27, "c.12+2_12+3insC", "splice_region_variant&intron_variant", "")):
        if strand == "+":
            c = ann.annotate("chr1", left, SEQ[left - 1], SEQ[left - 1] + "C")[0]
        else:
            rseq, pos = revcomp(SEQ), N - left           # the same gap on chr2: between pos and pos + 1
            c = ann.annotate("chr2", pos, rseq[pos - 1], rseq[pos - 1] + "G")[0]
        assert (c.hgvsc, c.hgvsp) == (hgvsc, p)
        if csq:
            assert c.consequence == csq
