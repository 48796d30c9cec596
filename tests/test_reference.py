"""Reference preparation: sparse full-length GRCh38, panel BED, transcript index, gene table.

Expected values come from independent sources: GRCh38 coordinates and bases quoted in
resistance-biology.md §3b / the SOURCE.md files, the shared region FASTA read through pysam,
samtools (via pysam) for indexes, raw line counts of the GTF, and GENCODE v44 exons (another
release) for exon numbering and panel bounds.
"""

from __future__ import annotations

import gzip
import random
import shutil
import struct
from pathlib import Path

import pysam
import pytest
from conftest import DEMO_PANEL_GENES

from unlock_atlas.cli import main as cli_main
from unlock_atlas.errors import InputError
from unlock_atlas.reference.prepare import prepare_reference
from unlock_atlas.reference.sparse import BGZF_EOF, build_sparse_genome, read_region_contigs, write_sparse_fasta

CHR7_LENGTH = 159_345_973  # GRCh38 primary assembly (design.md §3)
EOF_HEX = "1f8b08040000000000ff0600424302001b0003000000000000000000"  # SAM spec §4.1.2


# ----------------------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def sparse(tmp_path_factory, region_fasta: Path) -> Path:
    """The sparse genome, built once for this module."""
    return build_sparse_genome(region_fasta, tmp_path_factory.mktemp("sparse") / "genome.fa.gz")


@pytest.fixture(scope="module")
def sparse_fa(sparse: Path):
    with pysam.FastaFile(str(sparse)) as fa:
        yield fa


@pytest.fixture(scope="module")
def regions(region_fasta: Path) -> list[tuple[str, int, int]]:
    """(chrom, start, end) of every region contig, parsed in the test from the shared .fai."""
    out = []
    for line in open(f"{region_fasta}.fai"):
        chrom, start, end = line.split("\t")[0].rsplit("_", 2)
        out.append((chrom, int(start), int(end)))
    return out


@pytest.fixture(scope="module")
def prepared(tmp_path_factory, region_fasta: Path, mane_gtf: Path):
    return prepare_reference(region_fasta, mane_gtf, tmp_path_factory.mktemp("ref"), panel_genes=DEMO_PANEL_GENES)


def _gtf_records(gtf: Path, feature: str, gene: str) -> list[tuple[int, int]]:
    """(start, end) of raw GTF lines of ``feature`` for ``gene`` — an awk-style count, no loader."""
    out = []
    for line in open(gtf):
        f = line.rstrip("\n").split("\t")
        if len(f) == 9 and f[2] == feature and f'gene_name "{gene}";' in f[8]:
            out.append((int(f[3]), int(f[4])))
    return out


def _tsv(path: Path) -> list[dict[str, str]]:
    lines = path.read_text().splitlines()
    header = lines[0].split("\t")
    return [dict(zip(header, ln.split("\t"))) for ln in lines[1:]]


def _bgzf_members(path: Path) -> list[tuple[int, int]]:
    """(compressed offset, uncompressed size) of every BGZF member, read from the raw headers."""
    data = path.read_bytes()
    out, off = [], 0
    while off < len(data):
        assert data[off:off + 4] == b"\x1f\x8b\x08\x04" and data[off + 12:off + 14] == b"BC"
        bsize = struct.unpack_from("<H", data, off + 16)[0] + 1
        isize = struct.unpack_from("<I", data, off + bsize - 4)[0]
        out.append((off, isize))
        off += bsize
    return out


# ----------------------------------------------------------------------------- sparse genome
def test_sparse_chromosomes_and_lengths(sparse_fa):
    assert sparse_fa.get_reference_length("chr7") == CHR7_LENGTH
    names = list(sparse_fa.references)
    assert names[:3] == ["chr1", "chr2", "chr3"] and names[-3:] == ["chrX", "chrY", "chrM"] and len(names) == 25
    assert sparse_fa.get_reference_length("chrM") == 16_569


@pytest.mark.parametrize("chrom,pos,base", [
    ("chr7", 55181378, "C"),   # EGFR T790M ref (c.2369C)
    ("chr7", 55191822, "T"),   # EGFR L858R ref (c.2573T)
    ("chr12", 25245351, "C"),  # KRAS G12C ref (+ strand)
    ("chr7", 140753336, "A"),  # BRAF V600E ref (+ strand)
])
def test_sparse_hotspot_reference_bases(sparse_fa, chrom, pos, base):
    assert sparse_fa.fetch(chrom, pos - 1, pos).upper() == base


def test_sparse_regions_copied_exactly(sparse_fa, region_fasta, regions):
    with pysam.FastaFile(str(region_fasta)) as src:
        for chrom, start, end in regions:
            contig = f"{chrom}_{start}_{end}"
            seq = src.fetch(contig)
            assert sparse_fa.fetch(chrom, start - 1, start) == seq[0]
            assert sparse_fa.fetch(chrom, end - 1, end) == seq[-1]
            assert sparse_fa.fetch(chrom, start - 1, end) == seq, contig  # case preserved
            for p in (start - 1, end + 1):
                covered = any(c == chrom and s <= p <= e for c, s, e in regions)
                if not covered and 1 <= p <= sparse_fa.get_reference_length(chrom):
                    assert sparse_fa.fetch(chrom, p - 1, p) == "N", f"{chrom}:{p}"


def test_sparse_soft_masked_case_is_preserved(sparse_fa, region_fasta, regions):
    with pysam.FastaFile(str(region_fasta)) as src:
        lowers = sum(sum(ch.islower() for ch in src.fetch(f"{c}_{s}_{e}")) for c, s, e in regions)
        copied = sum(sum(ch.islower() for ch in sparse_fa.fetch(c, s - 1, e)) for c, s, e in regions)
    assert copied == lowers


def test_sparse_chromosomes_without_region_are_all_n(sparse_fa, regions):
    with_region = {c for c, _, _ in regions}
    rng = random.Random(7)
    for chrom in ("chr6", "chrX", "chrY", "chr20"):
        assert chrom not in with_region
        length = sparse_fa.get_reference_length(chrom)
        for pos in [1, length] + [rng.randint(1, length) for _ in range(50)]:
            assert sparse_fa.fetch(chrom, pos - 1, pos) == "N"
        assert set(sparse_fa.fetch(chrom, length - 5000, length)) == {"N"}


def test_samtools_faidx_agrees_with_fastafile(sparse, sparse_fa, tmp_path):
    for region in ("chr7:55181370-55181390", "chr12:25245340-25245360", "chr1:1-70", "chrM:16500-16569"):
        pysam.faidx(str(sparse), region, "-o", str(tmp_path / "out.fa"))
        out = (tmp_path / "out.fa").read_text().splitlines()
        chrom, span = region.split(":")
        s, e = map(int, span.split("-"))
        assert out[0] == f">{region}"
        assert "".join(out[1:]) == sparse_fa.fetch(chrom, s - 1, e)


def test_sparse_bgzf_structure_and_gzi(sparse):
    members = _bgzf_members(sparse)
    assert sparse.read_bytes()[-28:].hex() == EOF_HEX and members[-1][1] == 0
    data = [m for m in members if m[1] > 0]
    assert len(members) == len(data) + 1
    raw = Path(f"{sparse}.gzi").read_bytes()
    (n,) = struct.unpack_from("<Q", raw)
    assert n == len(data) - 1 and len(raw) == 8 + 16 * n
    pairs = [struct.unpack_from("<QQ", raw, 8 + 16 * i) for i in range(n)]
    uoff = [0]
    for _, isize in data:
        uoff.append(uoff[-1] + isize)
    assert pairs == [(c, u) for (c, _), u in zip(data[1:], uoff[1:-1])]
    assert all(isize <= 65280 for _, isize in data)
    # the .fai offsets: chr1 follows its header; total uncompressed = what 60-base lines give
    fai = [ln.split("\t") for ln in Path(f"{sparse}.fai").read_text().splitlines()]
    assert fai[0][:3] == ["chr1", "248956422", str(len(">chr1\n"))] and fai[0][3:] == ["60", "61"]
    expect = sum(len(f">{f[0]}\n") + int(f[1]) + -(-int(f[1]) // 60) for f in fai)
    assert uoff[-1] == expect


def test_sparse_is_deterministic(sparse, region_fasta, tmp_path):
    again = build_sparse_genome(region_fasta, tmp_path / "again.fa.gz")
    assert again.read_bytes() == sparse.read_bytes()
    assert Path(f"{again}.gzi").read_bytes() == Path(f"{sparse}.gzi").read_bytes()


def test_write_sparse_fasta_matches_samtools_and_naive_text(tmp_path):
    rng = random.Random(3)
    chroms = {"c1": 300_001, "c2": 64_201, "c3": 64_200, "c4": 5}
    pieces = [("c1", 1, b"ACGTacgt" * 10), ("c1", 65_000, bytes(rng.choice(b"ACGTNacgt") for _ in range(140_000))),
              ("c2", 64_201, b"G"), ("c4", 2, b"TT")]
    out = tmp_path / "s.fa.gz"
    write_sparse_fasta(chroms, pieces, out)
    naive = []
    for name, length in chroms.items():
        seq = bytearray(b"N" * length)
        for c, s, q in pieces:
            if c == name:
                seq[s - 1:s - 1 + len(q)] = q
        naive.append(b">" + name.encode() + b"\n" + b"".join(seq[i:i + 60] + b"\n" for i in range(0, length, 60)))
    assert gzip.decompress(out.read_bytes()) == b"".join(naive)
    ref = tmp_path / "t.fa.gz"
    shutil.copy(out, ref)
    pysam.faidx(str(ref))  # samtools builds its own .fai and .gzi
    assert Path(f"{out}.fai").read_text() == Path(f"{ref}.fai").read_text()
    assert Path(f"{out}.gzi").read_bytes() == Path(f"{ref}.gzi").read_bytes()
    assert out.read_bytes().endswith(BGZF_EOF)


@pytest.mark.slow
def test_full_sparse_indexes_identical_to_samtools(sparse, tmp_path):
    ref = tmp_path / "copy.fa.gz"
    shutil.copy(sparse, ref)
    pysam.faidx(str(ref))  # decompresses all 3.1 GB
    assert Path(f"{ref}.fai").read_text() == Path(f"{sparse}.fai").read_text()
    assert Path(f"{ref}.gzi").read_bytes() == Path(f"{sparse}.gzi").read_bytes()


def test_region_fasta_problems_name_the_file(tmp_path):
    bad = tmp_path / "bad.fa"
    bad.write_text(">chr7_100_109\nACGTACGTAC\n>chr7_200_205\nACG\n>scaffold_1\nACGT\n>chr7_200000000_200000001\nAC\n")
    with pytest.raises(InputError) as exc:
        read_region_contigs(bad)
    msgs = [str(p) for p in exc.value.problems]
    assert len(msgs) == 3 and all(str(bad) in m for m in msgs)
    assert "chr7_200_205" in msgs[0] and "scaffold_1" in msgs[1] and "ends past chr7" in msgs[2]


# ----------------------------------------------------------------------------- panel BED
def test_panel_from_gtf_covers_cds_within_gencode_exons(prepared, mane_gtf, shared_data):
    bed = [ln.split("\t") for ln in prepared.panel_bed.read_text().splitlines()]
    assert {f[3] for f in bed} == set(DEMO_PANEL_GENES)
    gencode: dict[str, list[tuple[str, int, int]]] = {}
    for line in open(shared_data / "transcripts_grch38" / "gencode_v44_mane_select_exons.panel_genes.bed"):
        if not line.startswith("#"):
            f = line.split("\t")
            gencode.setdefault(f[4], []).append((f[0], int(f[1]), int(f[2])))
    for chrom, s, e, gene in ((f[0], int(f[1]), int(f[2]), f[3]) for f in bed):
        cds = _gtf_records(mane_gtf, "CDS", gene)
        assert any(s < cs and ce <= e for cs, ce in cds), f"{gene} {chrom}:{s}-{e} holds no CDS segment"
        assert any(c == chrom and es - 20 <= s and e <= ee + 20 for c, es, ee in gencode[gene]), (gene, s, e)
    for gene in DEMO_PANEL_GENES:  # every coding base is targeted, with 20 bp on each side
        ivs = [(int(f[1]), int(f[2])) for f in bed if f[3] == gene]
        for cs, ce in _gtf_records(mane_gtf, "CDS", gene):
            assert any(s <= cs - 1 - 20 and ce + 20 <= e for s, e in ivs)


def test_panel_bed_is_karyotype_sorted(prepared, sparse_fa):
    order = {c: i for i, c in enumerate(sparse_fa.references)}
    keys = [(order[f[0]], int(f[1])) for f in (ln.split("\t") for ln in prepared.panel_bed.read_text().splitlines())]
    assert keys == sorted(keys)


@pytest.mark.parametrize("line,problem", [
    ("chrUn_foo\t100\t200\tX", "not in the genome"),
    ("7\t55181300\t55181400\tEGFR", "not in the genome"),
    (f"chr7\t{CHR7_LENGTH - 10}\t{CHR7_LENGTH + 1}\tEND", "ends past the end of chr7"),
    ("chr7\t55181300\tabc\tEGFR", "not integers"),
])
def test_bad_bed_names_file_and_line(tmp_path, region_fasta, mane_gtf, line, problem):
    bed = tmp_path / "panel.bed"
    bed.write_text(f"# my panel\nchr7\t55181300\t55181400\tEGFR\n{line}\n")
    out = tmp_path / "out"
    with pytest.raises(InputError) as exc:
        prepare_reference(region_fasta, mane_gtf, out, panel_bed=bed)
    (p,) = exc.value.problems
    assert p.file == str(bed) and p.row == 3 and problem in p.message
    assert not (out / "genome.fa.gz").exists()  # checked before anything is written


def test_configured_bed_is_kept_and_sorted(tmp_path, region_fasta, mane_gtf):
    bed = tmp_path / "panel.bed"
    bed.write_text("chr12\t25245300\t25245400\tKRAS_G12\nchr7\t55181300\t55181400\tEGFR_T790\n")
    ref = prepare_reference(region_fasta, mane_gtf, tmp_path / "out", panel_bed=bed)
    assert ref.panel_bed.read_text() == "chr7\t55181300\t55181400\tEGFR_T790\nchr12\t25245300\t25245400\tKRAS_G12\n"
    genes = {r["gene"]: r for r in _tsv(ref.genes)}
    assert set(genes) == {"EGFR", "KRAS"} and genes["KRAS"]["n_targets"] == "1" and genes["KRAS"]["target_bp"] == "100"


# ----------------------------------------------------------------------------- transcript index / genes
def test_transcript_index_counts_match_the_gtf(prepared, mane_gtf):
    rows = _tsv(prepared.transcripts)
    assert list(rows[0]) == ["gene", "transcript_id", "refseq_transcript", "chrom", "strand", "feature",
                             "number", "start", "end"]
    for gene in DEMO_PANEL_GENES:
        for feature in ("exon", "CDS"):
            got = sorted((int(r["start"]), int(r["end"])) for r in rows if r["gene"] == gene and r["feature"] == feature)
            raw = sorted(_gtf_records(mane_gtf, feature, gene))
            if feature == "CDS":  # the index's CDS includes the stop codon (GTF CDS excludes it)
                stops = _gtf_records(mane_gtf, "stop_codon", gene)
                assert len(got) == len(raw) and sum(e - s + 1 for s, e in got) == sum(e - s + 1 for s, e in raw + stops)
            else:
                assert got == raw, gene
    assert sum(r["gene"] == "EGFR" and r["feature"] == "exon" for r in rows) == len(_gtf_records(mane_gtf, "exon", "EGFR")) == 28


def test_exon_numbers_follow_gencode_and_hotspot_exons(prepared, shared_data):
    rows = _tsv(prepared.transcripts)
    gencode = {}
    for line in open(shared_data / "transcripts_grch38" / "gencode_v44_mane_select_exons.panel_genes.bed"):
        if not line.startswith("#"):
            f = line.rstrip("\n").split("\t")
            gencode[(f[4], int(f[5]))] = (int(f[1]) + 1, int(f[2]), f[6])
    exons = [r for r in rows if r["feature"] == "exon"]
    assert exons and all(gencode[(r["gene"], int(r["number"]))] == (int(r["start"]), int(r["end"]), r["transcript_id"])
                         for r in exons)

    def exon_at(gene: str, pos: int) -> int:
        (n,) = [int(r["number"]) for r in exons if r["gene"] == gene and int(r["start"]) <= pos <= int(r["end"])]
        return n

    assert exon_at("EGFR", 55181378) == 20 and exon_at("EGFR", 55191822) == 21  # T790M exon 20, L858R exon 21
    assert exon_at("KRAS", 25245351) == 2 and exon_at("BRAF", 140753336) == 15  # G12 exon 2, V600 exon 15


def test_genes_table(prepared):
    genes = {r["gene"]: r for r in _tsv(prepared.genes)}
    assert set(genes) == set(DEMO_PANEL_GENES)
    egfr, kras = genes["EGFR"], genes["KRAS"]
    assert (egfr["chrom"], egfr["strand"], egfr["transcript_id"], egfr["refseq_transcript"]) == \
        ("chr7", "+", "ENST00000275493.7", "NM_005228.5")  # resistance-biology.md §3b
    assert (kras["chrom"], kras["strand"], kras["transcript_id"], kras["refseq_transcript"]) == \
        ("chr12", "-", "ENST00000311936.8", "NM_004985.5")
    assert int(egfr["start"]) <= 55181378 <= int(egfr["end"])
    bed = [ln.split("\t") for ln in prepared.panel_bed.read_text().splitlines()]
    for gene, row in genes.items():
        mine = [int(f[2]) - int(f[1]) for f in bed if f[3] == gene]
        assert int(row["n_targets"]) == len(mine) and int(row["target_bp"]) == sum(mine)
    assert prepared.sparse and prepared.genome.name == "genome.fa.gz"


def test_gtf_without_cds_is_an_input_error(tmp_path, region_fasta, mane_gtf):
    gtf = tmp_path / "no_cds.gtf"
    gtf.write_text("".join(ln for ln in open(mane_gtf) if "\tCDS\t" not in ln and "_codon\t" not in ln))
    bed = tmp_path / "p.bed"
    bed.write_text("chr7\t55181300\t55181400\tEGFR\n")
    for kwargs in ({"panel_genes": ["EGFR", "KRAS"]}, {"panel_bed": bed}, {}):
        with pytest.raises(InputError) as exc:
            prepare_reference(region_fasta, gtf, tmp_path / "out", **kwargs)
        assert "GTF without CDS" in str(exc.value) and str(gtf) in str(exc.value)


# ----------------------------------------------------------------------------- ordinary FASTA / CLI
@pytest.fixture(scope="module")
def chrom_fasta(tmp_path_factory, region_fasta: Path) -> Path:
    """A chromosome-named FASTA: chr19 up to 1.3 Mb, N except the real STK11 region."""
    d = tmp_path_factory.mktemp("chromfa")
    with pysam.FastaFile(str(region_fasta)) as src:
        (contig,) = [c for c in src.references if c.startswith("chr19_1")]
        _, start, _ = contig.rsplit("_", 2)
        seq = bytearray(b"N" * 1_300_000)
        stk11 = src.fetch(contig).encode()
        seq[int(start) - 1:int(start) - 1 + len(stk11)] = stk11
    path = d / "chr19.fa"
    path.write_bytes(b">chr19\n" + b"".join(seq[i:i + 60] + b"\n" for i in range(0, len(seq), 60)))
    return path


@pytest.mark.parametrize("bgzip", [False, True])
def test_ordinary_fasta_is_linked_not_copied(tmp_path, chrom_fasta, mane_gtf, region_fasta, bgzip):
    fasta = chrom_fasta
    if bgzip:
        (tmp_path / "src").mkdir()
        fasta = tmp_path / "src" / "chr19.fa.gz"
        pysam.tabix_compress(str(chrom_fasta), str(fasta))
    before = sorted(p.name for p in fasta.parent.iterdir())
    ref = prepare_reference(fasta, mane_gtf, tmp_path / "out", panel_genes=["STK11"])
    assert not ref.sparse and ref.genome.is_symlink() and ref.genome.resolve() == fasta.resolve()
    assert ref.genome.name == ("genome.fa.gz" if bgzip else "genome.fa")
    assert sorted(p.name for p in fasta.parent.iterdir()) == before  # nothing written beside the user's FASTA
    with pysam.FastaFile(str(ref.genome)) as fa, pysam.FastaFile(str(region_fasta)) as src:
        (contig,) = [c for c in src.references if c.startswith("chr19_1")]
        start = int(contig.split("_")[1])
        assert list(fa.references) == ["chr19"]
        assert fa.fetch("chr19", start - 1, start + 99) == src.fetch(contig, 0, 100)
    assert {r["gene"] for r in _tsv(ref.genes)} == {"STK11"}
    bed = tmp_path / "egfr.bed"
    bed.write_text("chr7\t55181300\t55181400\tEGFR\n")
    with pytest.raises(InputError, match="not in the genome"):
        prepare_reference(fasta, mane_gtf, tmp_path / "out2", panel_bed=bed)


def test_plain_gzip_fasta_is_rejected(tmp_path, chrom_fasta, mane_gtf):
    gz = tmp_path / "chr19.fa.gz"
    gz.write_bytes(gzip.compress(chrom_fasta.read_bytes()))
    with pytest.raises(InputError, match="not BGZF"):
        prepare_reference(gz, mane_gtf, tmp_path / "out", panel_genes=["STK11"])


def test_cli(tmp_path, region_fasta, mane_gtf, capsys):
    out = tmp_path / "ref"
    rc = cli_main(["prepare-reference", "--fasta", str(region_fasta), "--gtf", str(mane_gtf), "--outdir", str(out),
                   "--panel-genes", "EGFR,KRAS", "--padding", "10"])
    assert rc == 0
    for name in ("genome.fa.gz", "genome.fa.gz.fai", "genome.fa.gz.gzi", "panel.bed", "transcripts.tsv", "genes.tsv"):
        assert (out / name).is_file(), name
    bed = [ln.split("\t") for ln in (out / "panel.bed").read_text().splitlines()]
    assert {f[3] for f in bed} == {"EGFR", "KRAS"}
    # KRAS is on the - strand: its lowest coding base is the stop codon's, padded by 10
    coding = _gtf_records(mane_gtf, "CDS", "KRAS") + _gtf_records(mane_gtf, "stop_codon", "KRAS")
    assert min(int(f[1]) for f in bed if f[3] == "KRAS") == min(s for s, _ in coding) - 1 - 10
    bad = tmp_path / "bad.bed"
    bad.write_text("chr99\t1\t10\tX\n")
    rc = cli_main(["prepare-reference", "--fasta", str(region_fasta), "--gtf", str(mane_gtf), "--outdir", str(out),
                   "--panel-bed", str(bad)])
    err = capsys.readouterr().err
    assert rc == 2 and str(bad) in err and "line 1" in err
