"""Variant annotation on real GRCh38 sequence (../shared/data) against independent public truth.

Every expected value names its source: the verified table of resistance-biology.md §3b
("§3b"), the shared SOURCE.md verification files, ClinVar (variant and its GRCh38 position as
ClinVar lists it), or COSMIC. Reference bases are re-read with pysam (samtools faidx) so a test
fails loudly if a coordinate is wrong, not only if the annotator is.
"""

from __future__ import annotations

import pysam
import pytest

from unlock_atlas.annotation import Annotator
from unlock_atlas.reference.genome import RegionLift


@pytest.fixture(scope="module")
def ann(region_fasta, mane_gtf) -> Annotator:
    return Annotator(region_fasta, mane_gtf)


@pytest.fixture(scope="module")
def ref_base(region_fasta):
    lift = RegionLift.from_fasta(region_fasta)
    fa = pysam.FastaFile(str(region_fasta))

    def get(chrom: str, start: int, end: int | None = None) -> str:
        contig, local = lift.to_local(chrom, start)
        return fa.fetch(contig, local - 1, local - 1 + ((end or start) - start + 1)).upper()
    return get


def one(ann: Annotator, gene: str, chrom: str, pos: int, ref: str, alt: str):
    hits = [c for c in ann.annotate(chrom, pos, ref, alt) if c.symbol == gene]
    assert len(hits) == 1, ann.annotate(chrom, pos, ref, alt)
    return hits[0]


# (label, gene, chrom, pos, ref, alt, HGVSc, HGVSp long, HGVSp short, consequence, source)
CASES = [
    ("EGFR T790M", "EGFR", "chr7", 55181378, "C", "T", "c.2369C>T", "p.Thr790Met", "p.T790M", "missense_variant",
     "§3b (VICC cat-VRS fixture) and reference_grch38/SOURCE.md"),
    ("EGFR L858R", "EGFR", "chr7", 55191822, "T", "G", "c.2573T>G", "p.Leu858Arg", "p.L858R", "missense_variant",
     "§3b (varity hg38 tests; cool-seq-tool)"),
    ("EGFR C797S", "EGFR", "chr7", 55181398, "T", "A", "c.2389T>A", "p.Cys797Ser", "p.C797S", "missense_variant", "§3b"),
    ("KRAS G12C", "KRAS", "chr12", 25245351, "C", "A", "c.34G>T", "p.Gly12Cys", "p.G12C", "missense_variant",
     "§3b and reference_grch38/SOURCE.md (minus-strand gene)"),
    ("KRAS G12D", "KRAS", "chr12", 25245350, "C", "T", "c.35G>A", "p.Gly12Asp", "p.G12D", "missense_variant", "§3b"),
    ("NRAS Q61K", "NRAS", "chr1", 114713909, "G", "T", "c.181C>A", "p.Gln61Lys", "p.Q61K", "missense_variant", "§3b (varity)"),
    ("BRAF V600E", "BRAF", "chr7", 140753336, "A", "T", "c.1799T>A", "p.Val600Glu", "p.V600E", "missense_variant",
     "§3b (VICC fixtures)"),
    ("PIK3CA H1047R", "PIK3CA", "chr3", 179234297, "A", "G", "c.3140A>G", "p.His1047Arg", "p.H1047R", "missense_variant",
     "§3b (GDC docs)"),
    ("PIK3CA E545K", "PIK3CA", "chr3", 179218303, "G", "A", "c.1633G>A", "p.Glu545Lys", "p.E545K", "missense_variant", "§3b"),
    ("ALK L1196M", "ALK", "chr2", 29220765, "G", "T", "c.3586C>A", "p.Leu1196Met", "p.L1196M", "missense_variant",
     "§3b (varity)"),
    ("TP53 R175H", "TP53", "chr17", 7675088, "C", "T", "c.524G>A", "p.Arg175His", "p.R175H", "missense_variant",
     "ClinVar NM_000546.6(TP53):c.524G>A, GRCh38 chr17:7675088"),
    ("TP53 R213*", "TP53", "chr17", 7674894, "G", "A", "c.637C>T", "p.Arg213Ter", "p.R213*", "stop_gained",
     "ClinVar NM_000546.6(TP53):c.637C>T (p.Arg213Ter), GRCh38 chr17:7674894"),
    ("EGFR exon 19 del", "EGFR", "chr7", 55174771, "AGGAATTAAGAGAAGC", "A", "c.2235_2249del", "p.Glu746_Ala750del",
     "p.E746_A750del", "inframe_deletion", "COSMIC COSV51765161 / ClinVar c.2235_2249del; issue brief coordinates"),
    ("EGFR exon 19 del, 2nd form", "EGFR", "chr7", 55174772, "GGAATTAAGAGAAGCA", "G", "c.2236_2250del",
     "p.Glu746_Ala750del", "p.E746_A750del", "inframe_deletion", "COSMIC (c.2236_2250del15); §3b notes both forms"),
    ("BRCA1 185delAG", "BRCA1", "chr17", 43124027, "ACT", "A", "c.68_69del", "p.Glu23ValfsTer17", "p.E23Vfs*17",
     "frameshift_variant", "ClinVar NM_007294.4(BRCA1):c.68_69del (p.Glu23fs), GRCh38 chr17:43124027 ACT>A"),
    ("BRCA1 5382insC", "BRCA1", "chr17", 43057062, "T", "TG", "c.5266dup", "p.Gln1756ProfsTer74", "p.Q1756Pfs*74",
     "frameshift_variant", "ClinVar NM_007294.4(BRCA1):c.5266dup (p.Gln1756fs), GRCh38 chr17:43057062 T>TG"),
    ("EGFR Q787Q", "EGFR", "chr7", 55181370, "G", "A", "c.2361G>A", "p.Gln787=", "p.Q787=", "synonymous_variant",
     "ClinVar / dbSNP rs1050171 NM_005228.5:c.2361G>A p.Gln787="),
]


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_known_variants(ann, ref_base, case):
    label, gene, chrom, pos, ref, alt, hgvsc, hgvsp, short, csq, _source = case
    assert ref_base(chrom, pos, pos + len(ref) - 1) == ref, f"{label}: REF does not match GRCh38"
    c = one(ann, gene, chrom, pos, ref, alt)
    assert (c.hgvsc, c.hgvsp, c.hgvsp_short) == (hgvsc, hgvsp, short)
    assert c.consequence.split("&")[0] == csq
    assert c.feature.startswith("ENST")


def test_t790m_fields(ann):
    """Exon 20 of 28 (NM_005228.5 has 28 exons, T790 in exon 20: §3b / UniProt P00533 numbering)."""
    c = one(ann, "EGFR", "chr7", 55181378, "C", "T")
    assert (c.exon, c.intron, c.protein_position, c.amino_acids, c.codons) == ("20/28", "", "790", "T/M", "aCg/aTg")


def test_exon20_insertion_dup_and_3prime_shift(ann, ref_base):
    """EGFR exon 20 insertion A767_V769dup (ClinVar NM_005228.5:c.2300_2308dup, p.Ala767_Val769dup, "ASV").

    Position from the verified anchor c.2369 = chr7:55181378 (§3b); c.2300..c.2369 lie in exon 20
    (exon 20 spans c.2284–c.2470 in NM_005228.5), so c.2308 = 55181378 − 61. The VCF allele is
    left-normalised here with pysam's FASTA, independently of the annotator.
    """
    p2308 = 55181378 - (2369 - 2308)
    assert ref_base("chr7", p2308 - 8, p2308) == "CCAGCGTGG"  # c.2300..c.2308 from the ClinVar dup
    ins, anchor = "CCAGCGTGG", p2308
    while ref_base("chr7", anchor) == ins[-1]:   # left-normalise (bcftools norm rule)
        ins = ins[-1] + ins[:-1]
        anchor -= 1
    base = ref_base("chr7", anchor)
    c = one(ann, "EGFR", "chr7", anchor, base, base + ins)
    assert (c.hgvsc, c.hgvsp, c.hgvsp_short) == ("c.2300_2308dup", "p.Ala767_Val769dup", "p.A767_V769dup")
    assert c.consequence == "inframe_insertion"
    # the un-normalised right-most representation annotates identically
    base = ref_base("chr7", p2308)
    assert one(ann, "EGFR", "chr7", p2308, base, base + "CCAGCGTGG").hgvsc == "c.2300_2308dup"


def test_tp53_splice_donor(ann, ref_base):
    """ClinVar NM_000546.6(TP53):c.375+1G>A, GRCh38 chr17:7675993 (c.375 = chr17:7675994, p.T125=)."""
    assert ref_base("chr17", 7675993) == "C"
    c = one(ann, "TP53", "chr17", 7675993, "C", "T")
    assert c.hgvsc == "c.375+1G>A"
    assert c.consequence.split("&")[0] == "splice_donor_variant"
    # canonical donor hit: protein unpredictable, p.? (VariantValidator gives NP_009225.1:p.? for the
    # analogous NM_007294.3:c.301+1G>C; tests/data/hgvs_published_examples.tsv)
    assert c.intron == "4/10" and (c.hgvsp, c.hgvsp_short) == ("p.?", "p.?")
    syn = one(ann, "TP53", "chr17", 7675994, "C", "T")   # last exon base: synonymous + splice region
    assert syn.hgvsc == "c.375G>A" and syn.hgvsp_short == "p.T125="
    assert set(syn.consequence.split("&")) == {"splice_region_variant", "synonymous_variant"}


def test_multiallelic_and_ids(ann):
    hits = {alt: one(ann, "KRAS", "chr12", 25245350, "C", alt).hgvsp_short for alt in "TAG"}
    # KRAS c.35G>A/T/C = G12D / G12V / G12A (COSMIC KRAS codon-12 spectrum)
    assert hits == {"T": "p.G12D", "A": "p.G12V", "G": "p.G12A"}


def test_region_contig_vcf_is_lifted(ann):
    """SOURCE.md: chr12_25205246_25250929:40106 is chr12:25245351 (KRAS c.34)."""
    c = one(ann, "KRAS", "chr12_25205246_25250929", 40106, "C", "A")
    assert c.hgvsp_short == "p.G12C"


def test_every_mane_transcript_translates(ann, shared_data):
    """Every protein-coding MANE transcript starts with M and ends with its only stop; where
    panel_proteins_translated.GRCh38.fa holds a translation of the same RefSeq transcript (an LRG
    transcript whose refseq_equivalent is the MANE NM_ accession; gffread cross-checked per
    transcripts_grch38/SOURCE.md), the proteins are identical."""
    tdir = shared_data / "transcripts_grch38"
    lrg_to_nm: dict[str, str] = {}
    with open(tdir / "panel_transcripts.GRCh38.gtf") as fh:
        for line in fh:
            if "\ttranscript\t" in line and 'refseq_equivalent "' in line:
                tid = line.split('transcript_id "')[1].split('"')[0]
                lrg_to_nm[tid] = line.split('refseq_equivalent "')[1].split('"')[0].split(".")[0]
    prots: dict[str, str] = {}
    with pysam.FastxFile(str(tdir / "panel_proteins_translated.GRCh38.fa")) as fh:
        for rec in fh:
            prots[lrg_to_nm.get(rec.name, rec.name.split(".")[0])] = rec.sequence.rstrip("*")
    coding = [m for m in ann.models if m.is_coding]
    assert len(coding) == 34 and not ann.missing
    compared = 0
    for m in coding:
        p = m.protein
        assert p[0] == "M" and p[-1] == "*" and "*" not in p[:-1], m.tx.gene
        nm = (m.tx.refseq or "").split(".")[0]
        if nm in prots:
            assert p[:-1] == prots[nm], m.tx.gene
            compared += 1
    assert compared >= 25


def test_chromosome_named_fasta(tmp_path, region_fasta, mane_gtf):
    """A FASTA with GRCh38 chromosome names (here chr12 rebuilt from the KRAS region contig, N
    elsewhere) gives the same annotation as the region-contig FASTA (§3b: KRAS G12C = chr12:25245351 C>A)."""
    with pysam.FastaFile(str(region_fasta)) as fa:
        seq = fa.fetch("chr12_25205246_25250929")
    fa_path = tmp_path / "chr12.fa"
    with open(fa_path, "w") as fh:
        fh.write(">chr12\n" + "N" * (25205246 - 1) + seq + "N" * 1000 + "\n")
    pysam.faidx(str(fa_path))
    ann = Annotator(fa_path, mane_gtf)
    assert [m.tx.gene for m in ann.models] == ["KRAS"] and "EGFR" in ann.missing
    c = one(ann, "KRAS", "chr12", 25245351, "C", "A")
    assert (c.hgvsc, c.hgvsp_short, c.exon) == ("c.34G>T", "p.G12C", "2/5")


def test_cli(tmp_path, region_fasta, mane_gtf):
    """`unlock-atlas annotate` (registered by annotation._cli): VCF.gz + Parquet; a missing VCF is an
    InputError naming the file."""
    import argparse

    import pandas as pd

    from unlock_atlas.annotation import _cli
    from unlock_atlas.errors import InputError

    parser = argparse.ArgumentParser()
    _cli.register(parser.add_subparsers(dest="command"))
    vcf = tmp_path / "in.vcf"
    vcf.write_text("##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"
                   "chr7\t55181378\tT790M\tC\tT\t.\tPASS\t.\n")
    args = parser.parse_args(["annotate", str(vcf), "-o", str(tmp_path / "o.vcf.gz"), "--fasta", str(region_fasta),
                              "--gtf", str(mane_gtf), "--parquet", str(tmp_path / "o.parquet")])
    assert args.func(args) == 0
    df = pd.read_parquet(tmp_path / "o.parquet")
    assert df.loc[0, ["id", "gene", "hgvsp_short"]].tolist() == ["T790M", "EGFR", "p.T790M"]
    args.vcf = str(tmp_path / "missing.vcf")
    with pytest.raises(InputError, match="missing.vcf"):
        args.func(args)
