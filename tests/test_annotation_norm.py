"""Split + left-normalised output of `unlock-atlas annotate` against `bcftools norm -m -any -f REF`.

The independent reference is bcftools norm (htslib 1.2x, through pysam) run on the same VCF and
the same real GRCh38 sequence from ../shared/data: every record our annotator writes (INFO/CSQ
removed) must be identical to bcftools' record, in the same order. The VCF holds what bcftools
rewrites — multi-allelic records with INFO/FORMAT fields of Number=A/R/G/1/0 and GT (diploid,
haploid, phased, missing), indels placed at the right end of a homopolymer / dinucleotide repeat,
an MNP with shared flanking bases, a record that moves before an earlier one, a REF that does
not match the genome (kept as given: `-c w`) — plus records it leaves alone.
"""

from __future__ import annotations

import gzip
from pathlib import Path

import pysam
import pysam.bcftools
import pytest

from unlock_atlas.annotation import Annotator, annotate_vcf

EGFR = "chr7_55014032_55258620"   # region contig: local 1 = chr7:55014032
KRAS = "chr12_25205246_25250929"  # local 1 = chr12:25205246

HEADER = """##fileformat=VCFv4.2
{contigs}##INFO=<ID=AC,Number=A,Type=Integer,Description="allele count">
##INFO=<ID=RC,Number=R,Type=Integer,Description="per-allele read count">
##INFO=<ID=DP,Number=1,Type=Integer,Description="depth">
##INFO=<ID=SOM,Number=0,Type=Flag,Description="somatic">
##INFO=<ID=GL,Number=G,Type=Integer,Description="genotype likelihoods">
##INFO=<ID=CSQ,Number=.,Type=String,Description="old annotation, to be replaced">
##FORMAT=<ID=GT,Number=1,Type=String,Description="genotype">
##FORMAT=<ID=AD,Number=R,Type=Integer,Description="allele depths">
##FORMAT=<ID=AF,Number=A,Type=Float,Description="allele fractions">
##FORMAT=<ID=PL,Number=G,Type=Integer,Description="phred likelihoods">
##FORMAT=<ID=DP,Number=1,Type=Integer,Description="depth">
#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tS1\tS2
"""


def _records(path: Path) -> tuple[list[str], list[str]]:
    """(records with INFO/CSQ removed, CSQ values) of a VCF (plain or gzip)."""
    opener = gzip.open if path.suffix == ".gz" else open
    recs, csqs = [], []
    with opener(path, "rt") as fh:
        for line in fh:
            if line.startswith("#"):
                continue
            f = line.rstrip("\n").split("\t")
            kept = [kv for kv in f[7].split(";") if not kv.startswith("CSQ=")]
            csqs.append(next((kv[4:] for kv in f[7].split(";") if kv.startswith("CSQ=")), ""))
            f[7] = ";".join(kept) or "."
            recs.append("\t".join(f))
    return recs, csqs


def _compare(tmp_path: Path, vcf: Path, fasta: Path, gtf: Path) -> list[str]:
    expected = tmp_path / "bcftools_norm.vcf"
    pysam.bcftools.norm("-m", "-any", "-c", "w", "-f", str(fasta), "-o", str(expected), str(vcf), catch_stdout=False)
    out = tmp_path / "out.vcf.gz"
    annotate_vcf(vcf, out, Annotator(fasta, gtf))
    got, csqs = _records(out)
    want, _ = _records(expected)
    assert got == want
    assert Path(str(out) + ".tbi").exists()  # still sorted (tabix refuses unsorted input)
    return csqs


def test_matches_bcftools_norm_region_contigs(tmp_path, region_fasta, mane_gtf):
    fa = pysam.FastaFile(str(region_fasta))

    def g(p: int, e: int | None = None) -> str:
        return fa.fetch(EGFR, p - 1, e or p).upper()

    hp = 100598  # AAAAAAA at local 100598-100604 (intron of EGFR)
    assert g(hp, hp + 6) == "AAAAAAA" and g(hp - 1) == "T"
    t790 = 55181378 - 55014031  # §3b: EGFR T790M = chr7:55181378 C>T
    assert g(t790) == "C"
    body = [
        f"{EGFR}\t{hp - 2}\tsnv_before\t{g(hp - 2)}\tG\t.\tPASS\tDP=7\tGT\t0/1\t0/0",
        # right-most deletion of one A: moves 5 bases left, before snv_before
        f"{EGFR}\t{hp + 4}\tdelA\t{g(hp + 4, hp + 5)}\t{g(hp + 4)}\t50\tPASS\tAC=1;RC=5,1;DP=9;SOM\t"
        "GT:AD:AF:PL:DP\t0/1:5,4:0.4:10,0,20:9\t0/0:9,0:0:0,10,100:9",
        # tri-allelic: -2 A, -1 A, +1 A; INFO A/R/G, FORMAT GT/AD/AF/PL, one sample all missing
        f"{EGFR}\t{hp + 2}\tmulti\t{g(hp + 2, hp + 4)}\t{g(hp + 2)},{g(hp + 2, hp + 3)},{g(hp + 2, hp + 4)}A\t50\tPASS\t"
        "AC=1,2,3;RC=5,1,2,3;GL=1,2,3,4,5,6,7,8,9,10;CSQ=old|entry\tGT:AD:AF:PL\t"
        "1/2:1,2,3,4:0.1,0.2,0.3:0,1,2,3,4,5,6,7,8,9\t0/3:.:.:.",
        # MNP TTT>TGT (trimmed to an SNV) and a deletion, phased
        f"{EGFR}\t{hp + 22}\tmnp\t{g(hp + 22, hp + 24)}\t{g(hp + 22)}G{g(hp + 24)},{g(hp + 22)}\t.\t.\t.\t"
        "GT:AD\t1|2:3,4,5\t./.:.",
        # haploid genotypes, Number=G with one value per allele
        f"{EGFR}\t{hp + 52}\thap\t{g(hp + 52)}\t{'A' if g(hp + 52) != 'A' else 'C'},G\t.\t.\t.\tGT:PL:AD\t2:0,1,2:1,2,3\t1:.:.",
        # REF does not match the genome: kept as given (bcftools norm -c w)
        f"{EGFR}\t{hp + 80}\tbadref\t{'G' if g(hp + 80) != 'G' else 'C'}TT\tT\t.\t.\t.\tGT\t0/1\t0/1",
        f"{EGFR}\t{t790}\tT790M\tC\tT\t.\tPASS\tDP=100\tGT\t0/1\t0/0",
    ]
    vcf = tmp_path / "in.vcf"
    vcf.write_text(HEADER.format(contigs=f"##contig=<ID={EGFR},length={fa.get_reference_length(EGFR)}>\n")
                   + "\n".join(body) + "\n")
    csqs = _compare(tmp_path, vcf, region_fasta, mane_gtf)
    assert len(csqs) == 11 and all(c and "old" not in c for c in csqs)
    t790m = csqs[-1].split("|")
    assert t790m[0] == "T" and t790m[7] == "p.T790M"


def test_matches_bcftools_norm_chromosome_names(tmp_path, region_fasta, mane_gtf):
    """chr12 named FASTA (KRAS region, N elsewhere). COSMIC KRAS codon-12 spectrum: chr12:25245350
    C>T/A/G = c.35G>A/T/C = p.G12D/V/A (§3b: G12D = chr12:25245350 C>T); the split records keep the ID."""
    with pysam.FastaFile(str(region_fasta)) as fa:
        seq = fa.fetch(KRAS).upper()
    fa_path = tmp_path / "chr12.fa"
    with open(fa_path, "w") as fh:
        fh.write(">chr12\n" + "N" * 25205245 + seq + "N" * 1000 + "\n")
    pysam.faidx(str(fa_path))

    def g(p: int, e: int | None = None) -> str:
        return seq[p - 25205246:(e or p) - 25205245]

    rep = 25205245 + 5006  # TGTGTGTGTGTG (local 5006-5017), intergenic upstream of KRAS
    assert g(rep, rep + 11) == "TGTGTGTGTGTG"
    assert g(25245350) == "C"
    body = [
        f"chr12\t{rep + 9}\tdelTG\t{g(rep + 9, rep + 11)}\t{g(rep + 9)}\t.\tPASS\t.\tGT\t0/1\t0/0",
        "chr12\t25245350\tG12\tC\tT,A,G\t.\tPASS\tAC=1,1,1\tGT:AD\t0/1:10,5,0,0\t2/3:10,0,4,6",
    ]
    vcf = tmp_path / "in.vcf.gz"
    text = HEADER.format(contigs="##contig=<ID=chr12,length=133275309>\n") + "\n".join(body) + "\n"
    with pysam.BGZFile(str(vcf), "wb") as fh:
        fh.write(text.encode())
    csqs = _compare(tmp_path, vcf, fa_path, mane_gtf)
    kras = [next(e.split("|")[7] for e in c.split(",") if e.split("|")[2] == "KRAS") for c in csqs[1:]]
    assert kras == ["p.G12D", "p.G12V", "p.G12A"]
    recs, _ = _records(tmp_path / "out.vcf.gz")
    assert recs[0].split("\t")[:5] == ["chr12", str(rep - 1), "delTG", g(rep - 1, rep + 1), g(rep - 1)]


def test_exon20_insertion_right_shifted_is_normalised(tmp_path, region_fasta, mane_gtf):
    """EGFR A767_V769dup written at its right-most position (ClinVar NM_005228.5:c.2300_2308dup;
    c.2308 = chr7:55181378 - 61 from the §3b anchor) is moved left in the VCF and still annotated
    c.2300_2308dup (HGVS 3' rule), as bcftools norm moves it."""
    p2308 = 55181378 - 61
    local = p2308 - 55014031
    with pysam.FastaFile(str(region_fasta)) as fa:
        base = fa.fetch(EGFR, local - 1, local).upper()
        length = fa.get_reference_length(EGFR)
    vcf = tmp_path / "in.vcf"
    vcf.write_text(HEADER.format(contigs=f"##contig=<ID={EGFR},length={length}>\n")
                   + f"{EGFR}\t{local}\tASV\t{base}\t{base}CCAGCGTGG\t.\tPASS\t.\tGT\t0/1\t0/0\n")
    csqs = _compare(tmp_path, vcf, region_fasta, mane_gtf)
    recs, _ = _records(tmp_path / "out.vcf.gz")
    assert int(recs[0].split("\t")[1]) < local
    egfr = next(e.split("|") for e in csqs[0].split(",") if e.split("|")[2] == "EGFR")
    assert (egfr[5].split(":")[1], egfr[7]) == ("c.2300_2308dup", "p.A767_V769dup")


def test_no_normalise_keeps_records(tmp_path, region_fasta, mane_gtf):
    vcf = tmp_path / "in.vcf"
    vcf.write_text(HEADER.format(contigs="") + f"{KRAS}\t40105\tG12\tC\tT,A\t.\tPASS\t.\tGT\t1/2\t0/0\n")
    annotate_vcf(vcf, tmp_path / "o.vcf.gz", Annotator(region_fasta, mane_gtf), normalise=False)
    recs, csqs = _records(tmp_path / "o.vcf.gz")
    assert recs == [f"{KRAS}\t40105\tG12\tC\tT,A\t.\tPASS\t.\tGT\t1/2\t0/0"]
    assert [e.split("|")[7] for e in csqs[0].split(",")] == ["p.G12D", "p.G12V"]


@pytest.mark.parametrize("number,value,i,expected", [
    # VCF 4.3 spec §1.6.2: genotype order F(j/k) = k(k+1)/2 + j; 3 ALTs -> 10 diploid values
    ("G", "0,1,2,3,4,5,6,7,8,9", 2, "0,3,5"),
    ("G", "0,1,2,3", 3, "0,3"),          # haploid: one value per allele
    ("R", "7,8,9", 2, "7,9"),
    ("A", "0.1,0.2", 2, "0.2"),
    ("1", "12", 2, "12"),
])
def test_split_value_rules(number, value, i, expected):
    from unlock_atlas.annotation.normalize import _split_value

    n_alt = {"G": 3, "R": 2, "A": 2, "1": 2}[number]
    assert _split_value(number, value, i, n_alt) == expected
