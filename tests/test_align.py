"""Alignment stage: pybwa index + bwa mem + exact lift to GRCh38 chromosome coordinates.

The reads are simulated here with numpy from real GRCh38 sequence (two whole region contigs of
the shared FASTA: KRAS and CDK4, both on chr12), independently of the project's simulator. The
truth is what this file plants: fragment coordinates (converted to chromosome coordinates with
the SOURCE.md rule ``genomic = local + start - 1`` applied to the contig *name*), the KRAS G12C
SNV chr12:25245351 C>A (resistance-biology.md §3b, SOURCE.md), a 5 bp deletion placed inside
the KRAS MANE CDS exon chr12:25227234-25227412 (read from the MANE GTF), exact duplicate pairs
and pairs/reads spanning the two contigs. samtools (through pysam) is the independent checker
of the BAM itself.
"""

from __future__ import annotations

import gzip
import logging
import math
import os
import time
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np
import pysam
import pytest

from unlock_atlas.align import RecordLifter, align_fastq, build_bwa_index, plan_lift
from unlock_atlas.cli import main as cli_main
from unlock_atlas.errors import InputError, ReferenceError_

KRAS = "chr12_25205246_25250929"
CDK4 = "chr12_57746220_57757381"
OFFSET = {KRAS: 25205246 - 1, CDK4: 57746220 - 1}
G12C_POS = 25245351  # chr12, 1-based; + strand C>A (c.34G>T)
KRAS_EXON3_CDS = (25227234, 25227412)  # MANE CDS segment (checked against the GTF below)
CHR12_LEN = 133_275_309
READ_LEN = 150
COMP = str.maketrans("ACGTN", "TGCAN")


def rc(s: str) -> str:
    return s.translate(COMP)[::-1]


# ----------------------------------------------------------------------------------------- sim
class Sim:
    """Planted truth of the simulated sample."""

    def __init__(self) -> None:
        self.frags: dict[str, tuple[str, int, int]] = {}  # name -> (contig, start0, end0) local
        self.snv_carrier: dict[str, bool] = {}
        self.del_carrier: dict[str, bool] = {}
        self.dup_groups: list[list[str]] = []
        self.cross: dict[str, tuple[int, int]] = {}  # name -> (R1 chrom start0, R2 chrom end0)
        self.chimeric: dict[str, tuple[int, int]] = {}  # name -> (KRAS part start0, CDK4 part start0)
        self.del_start0 = -1


def _quals(rng: np.random.Generator, n: int) -> str:
    return "".join(chr(33 + q) for q in rng.integers(30, 41, n))


def _errors(rng: np.random.Generator, s: str, rate: float = 0.001) -> str:
    arr = np.frombuffer(s.encode(), dtype=np.uint8).copy()
    hit = rng.random(len(arr)) < rate
    for i in np.flatnonzero(hit):
        arr[i] = ord("ACGT".replace(chr(arr[i]), "")[rng.integers(0, 3)])
    return arr.tobytes().decode()


def simulate(seqs: dict[str, str], gtf: Path, out: Path, n_pairs: int = 3000, seed: int = 11) -> tuple[Path, Path, Sim]:
    """Write R1/R2 FASTQ (R1 gzipped, R2 plain) and return the truth."""
    rng = np.random.default_rng(seed)
    sim = Sim()
    kras = seqs[KRAS]
    snv0 = G12C_POS - OFFSET[KRAS] - 1  # local 0-based
    assert kras[snv0] == "C"  # SOURCE.md: + strand base C at chr12:25245351
    # 5 bp deletion in the middle of the exon-3 CDS, at a place where it cannot shift (unique).
    exon = [ln.split("\t") for ln in open(gtf) if '\tCDS\t' in ln and 'gene_name "KRAS"' in ln]
    assert any((int(f[3]), int(f[4])) == KRAS_EXON3_CDS for f in exon)
    mid = (KRAS_EXON3_CDS[0] + KRAS_EXON3_CDS[1]) // 2 - OFFSET[KRAS] - 1
    d = next(s for s in range(mid, mid + 60) if kras[s - 1] != kras[s + 4] and kras[s] != kras[s + 5])
    sim.del_start0 = d

    used: set[tuple[str, int, int]] = set()
    records: list[tuple[str, str, str, str, str]] = []  # name, r1, q1, r2, q2

    def add_fragment(name: str, contig: str, start: int, length: int) -> None:
        seq = seqs[contig]
        frag = seq[start:start + length]
        snv = del_ = False
        if contig == KRAS and start <= snv0 < start + length:
            snv = bool(rng.random() < 0.5)
            if snv:
                frag = frag[:snv0 - start] + "A" + frag[snv0 - start + 1:]
        if contig == KRAS and start + 10 < d and d + 15 < start + length:
            del_ = bool(rng.random() < 0.5)
            if del_:
                frag = frag[:d - start] + frag[d - start + 5:]
        if len(frag) < READ_LEN:
            return
        sim.frags[name] = (contig, start, start + length)
        sim.snv_carrier[name], sim.del_carrier[name] = snv, del_
        a, b = _errors(rng, frag[:READ_LEN]), _errors(rng, rc(frag[-READ_LEN:]))
        if rng.random() < 0.5:  # fragment from the - strand: R1 reads the reverse strand
            a, b = b, a
        records.append((name, a, _quals(rng, READ_LEN), b, _quals(rng, READ_LEN)))

    def draw(contig: str, lo: int, hi: int) -> tuple[int, int]:
        while True:
            length = int(np.clip(rng.normal(300, 45), 200, 480))
            start = int(rng.integers(max(lo, 0), min(hi, len(seqs[contig])) - length))
            if (contig, start, length) not in used and not any(
                    (contig, start, x) in used for x in range(length - 3, length + 4)):
                used.add((contig, start, length))
                return start, length

    n_target = int(n_pairs * 0.6)
    for i in range(n_pairs):
        if i < n_target // 2:  # "captured" around G12C
            contig, (s, ln) = KRAS, draw(KRAS, snv0 - 420, snv0 + 420)
        elif i < n_target:  # around the deletion
            contig, (s, ln) = KRAS, draw(KRAS, d - 420, d + 420)
        else:
            contig = KRAS if rng.random() < 0.75 else CDK4
            s, ln = draw(contig, 0, len(seqs[contig]))
        add_fragment(f"frag{i:05d}", contig, s, ln)
    # exact duplicates of 40 fragments (8 of them triplicated): same sequences and qualities
    originals = records[:: max(1, len(records) // 40)][:40]
    for j, (name, a, qa, b, qb) in enumerate(originals):
        group = [name]
        for k in range(2 if j < 8 else 1):
            dup = f"dup{j:03d}_{k}"
            sim.frags[dup] = sim.frags[name]
            sim.snv_carrier[dup], sim.del_carrier[dup] = sim.snv_carrier[name], sim.del_carrier[name]
            records.append((dup, a, qa, b, qb))
            group.append(dup)
        sim.dup_groups.append(group)
    # 20 pairs with R1 in KRAS (+ strand) and R2 in CDK4 (- strand): two region contigs, one chromosome
    for j in range(20):
        s1 = int(rng.integers(2000, len(kras) - 2000))
        e2 = int(rng.integers(2000, len(seqs[CDK4]) - 2000))
        name = f"cross{j:02d}"
        r1, r2 = kras[s1:s1 + READ_LEN], rc(seqs[CDK4][e2 - READ_LEN:e2])
        sim.cross[name] = (s1 + OFFSET[KRAS], e2 + OFFSET[CDK4])
        records.append((name, r1, _quals(rng, READ_LEN), r2, _quals(rng, READ_LEN)))
    # 10 chimeric R1s: 90 bp KRAS + 60 bp CDK4 (bwa writes a supplementary record + SA tag)
    for j in range(10):
        s1 = int(rng.integers(3000, len(kras) - 3000))
        s2 = int(rng.integers(2000, len(seqs[CDK4]) - 2000))
        name = f"chim{j:02d}"
        r1 = kras[s1:s1 + 90] + seqs[CDK4][s2:s2 + 60]
        r2 = rc(kras[s1 + 150:s1 + 300])
        sim.chimeric[name] = (s1 + OFFSET[KRAS], s2 + OFFSET[CDK4])
        records.append((name, r1, _quals(rng, READ_LEN), r2, _quals(rng, READ_LEN)))
    order = rng.permutation(len(records))
    fq1, fq2 = out / "S1_R1.fastq.gz", out / "S1_R2.fastq"
    with gzip.open(fq1, "wt") as h1, open(fq2, "w") as h2:
        for i in order:
            name, a, qa, b, qb = records[i]
            h1.write(f"@{name}/1\n{a}\n+\n{qa}\n")
            h2.write(f"@{name}/2 extra comment\n{b}\n+\n{qb}\n")
    return fq1, fq2, sim


# ------------------------------------------------------------------------------------ fixtures
@pytest.fixture(scope="module")
def region_seqs(region_fasta: Path) -> dict[str, str]:
    with pysam.FastaFile(str(region_fasta)) as fa:
        return {c: fa.fetch(c).upper() for c in (KRAS, CDK4)}


@pytest.fixture(scope="module")
def aligned(tmp_path_factory, region_seqs, mane_gtf):
    d = tmp_path_factory.mktemp("align")
    fasta = d / "regions.fa"
    fasta.write_text("".join(f">{c}\n{s}\n" for c, s in region_seqs.items()))
    prefix = build_bwa_index(fasta, d / "bwa" / "regions")
    fq1, fq2, sim = simulate(region_seqs, mane_gtf, d)
    bam = d / "out" / "S1.bam"
    stats = align_fastq(fq1, fq2, prefix, bam, "S1", threads=2, chunk_pairs=1000)
    print(f"\nalignment: {stats.pairs} pairs, {stats.pairs_per_second:.0f} pairs/s aligning, "
          f"{stats.total_seconds:.2f} s total, mapped {stats.mapped_fraction:.4f}")
    with pysam.AlignmentFile(str(bam)) as fh:
        recs = list(fh.fetch(until_eof=True))
    return {"dir": d, "fasta": fasta, "prefix": prefix, "bam": bam, "sim": sim, "stats": stats,
            "recs": recs}


def _primaries(recs):
    out: dict[str, dict[int, pysam.AlignedSegment]] = defaultdict(dict)
    for r in recs:
        if not (r.is_secondary or r.is_supplementary):
            out[r.query_name][1 if r.is_read1 else 2] = r
    return out


# ------------------------------------------------------------------------------------- tests
def test_bam_is_valid_sorted_indexed_with_grch38_header(aligned):
    bam = aligned["bam"]
    pysam.samtools.quickcheck(str(bam))  # raises on a truncated / invalid BAM
    assert Path(f"{bam}.bai").is_file()
    assert not [p for p in bam.parent.iterdir() if p.name.startswith(".")]  # no temp leftovers
    with pysam.AlignmentFile(str(bam)) as fh:
        hdr = fh.header.to_dict()
        lengths = dict(zip(fh.references, fh.lengths))
        assert hdr["HD"]["SO"] == "coordinate"
        assert lengths["chr12"] == CHR12_LEN
        assert lengths["chr7"] == 159_345_973 and lengths["chr1"] == 248_956_422
        assert not any("_" in n for n in fh.references)  # no region contig leaks into the header
        assert hdr["RG"] == [{"ID": "S1", "SM": "S1", "LB": "S1", "PL": "ILLUMINA"}]
        assert {"bwa-mem", "unlock-atlas-align"} <= {p["ID"] for p in hdr["PG"]}
        assert fh.count("chr12") > 0  # the index works
    keys = [(r.reference_id, r.reference_start) for r in aligned["recs"] if not r.is_unmapped]
    assert keys == sorted(keys)
    assert all(r.get_tag("RG") == "S1" for r in aligned["recs"])
    # samtools' own count of primary reads equals the reads simulated
    n_reads = 2 * aligned["stats"].pairs
    flagstat = pysam.samtools.flagstat(str(bam))
    assert f"{n_reads} + 0 primary" in flagstat


def test_pairs_map_to_their_true_chromosome_position(aligned):
    sim, prim = aligned["sim"], _primaries(aligned["recs"])
    ok = total = 0
    for name, (contig, s0, e0) in sim.frags.items():
        total += 1
        pair = prim[name]
        fwd = [r for r in pair.values() if not r.is_unmapped and not r.is_reverse]
        rev = [r for r in pair.values() if not r.is_unmapped and r.is_reverse]
        if len(fwd) != 1 or len(rev) != 1:
            continue
        f, r = fwd[0], rev[0]
        clip_f = f.cigartuples[0][1] if f.cigartuples[0][0] == 4 else 0
        clip_r = r.cigartuples[-1][1] if r.cigartuples[-1][0] == 4 else 0
        ok += (f.reference_name == r.reference_name == "chr12"
               and f.reference_start - clip_f == s0 + OFFSET[contig]
               and r.reference_end + clip_r == e0 + OFFSET[contig])
    assert total > 2900
    assert ok / total >= 0.99, (ok, total)
    # properly paired by bwa's rule (all simulated fragments are 200-480 bp FR)
    proper = sum(all(r.is_proper_pair for r in prim[n].values()) for n in sim.frags)
    assert proper / total >= 0.98


def test_mates_are_consistent(aligned):
    prim = _primaries(aligned["recs"])
    checked = 0
    for name, pair in prim.items():
        assert set(pair) == {1, 2}, name  # exactly one R1 (0x40) and one R2 (0x80)
        a, b = pair[1], pair[2]
        assert a.is_paired and b.is_paired and not (a.is_read2 or b.is_read1)
        if a.is_unmapped or b.is_unmapped:
            continue
        for x, y in ((a, b), (b, a)):
            assert x.next_reference_id == y.reference_id
            assert x.next_reference_start == y.reference_start
            assert x.mate_is_reverse == y.is_reverse
        if a.reference_id == b.reference_id:
            assert a.template_length == -b.template_length != 0
            span = max(a.reference_end, b.reference_end) - min(a.reference_start, b.reference_start)
            assert abs(a.template_length) == span
        checked += 1
    assert checked > 2900


def test_pair_on_two_region_contigs_of_one_chromosome(aligned):
    sim, prim = aligned["sim"], _primaries(aligned["recs"])
    for name, (r1_start, r2_end) in sim.cross.items():
        a, b = prim[name][1], prim[name][2]
        assert a.reference_name == b.reference_name == "chr12"
        assert a.reference_start == r1_start and b.reference_end == r2_end
        assert a.next_reference_name == "chr12" and a.next_reference_start == b.reference_start
        assert b.next_reference_start == a.reference_start
        assert a.template_length == -b.template_length == b.reference_end - a.reference_start
        assert not a.is_proper_pair and not b.is_proper_pair


def test_supplementary_sa_tags_are_lifted(aligned):
    sim = aligned["sim"]
    by_name = defaultdict(list)
    for r in aligned["recs"]:
        if r.query_name in sim.chimeric and r.is_read1:
            by_name[r.query_name].append(r)
    good = 0
    for name, (kras_start, cdk4_start) in sim.chimeric.items():
        recs = by_name[name]
        starts = sorted(r.reference_start for r in recs)
        sa = [r.get_tag("SA") for r in recs if r.has_tag("SA")]
        if starts == [kras_start, cdk4_start] and len(sa) == 2:
            sa_pos = sorted(int(t.split(",")[1]) - 1 for t in sa)
            assert sa_pos == [kras_start, cdk4_start]
            assert all(t.startswith("chr12,") for t in sa)
            good += 1
    assert good >= 8, good


def _base_calls_at(recs, pos0: int):
    calls = {}
    for r in recs:
        if r.is_unmapped or r.is_duplicate or r.is_secondary or r.is_supplementary:
            continue
        if not r.reference_start <= pos0 < r.reference_end:
            continue
        for q, ref in r.get_aligned_pairs(matches_only=True):
            if ref == pos0:
                calls.setdefault(r.query_name, []).append(r.query_sequence[q])
    return calls


def test_planted_snv_g12c(aligned, region_seqs):
    sim, recs = aligned["sim"], aligned["recs"]
    calls = _base_calls_at(recs, G12C_POS - 1)
    assert len(calls) > 400
    frag_alt = {n: "A" in c for n, c in calls.items()}
    alt = sum(frag_alt.values())
    n = len(frag_alt)
    frac = alt / n
    # each covering fragment carries the allele with p = 0.5 (Bernoulli): 4-sigma binomial band
    assert abs(frac - 0.5) <= 4 * math.sqrt(0.25 / n), frac
    planted = [sim.snv_carrier[x] for x in frag_alt]
    agree = sum(o == p for o, p in zip(frag_alt.values(), planted))
    assert agree >= n - 2  # only sequencing errors (0.1 %) may disagree
    # and nothing else: the neighbouring base carries no alt allele
    nb = _base_calls_at(recs, G12C_POS - 2)
    ref_nb = region_seqs[KRAS][G12C_POS - 2 - OFFSET[KRAS]]
    assert sum(any(b != ref_nb for b in c) for c in nb.values()) <= 3


def test_planted_deletion(aligned):
    sim, recs = aligned["sim"], aligned["recs"]
    del_chrom0 = sim.del_start0 + OFFSET[KRAS]
    assert KRAS_EXON3_CDS[0] - 1 <= del_chrom0 < KRAS_EXON3_CDS[1]
    seen, wrong = set(), []
    for r in recs:
        if r.is_unmapped or r.is_secondary or r.is_supplementary:
            continue
        pos = r.reference_start
        for op, ln in r.cigartuples:
            if op == 2:
                (seen.add(r.query_name) if (pos, ln) == (del_chrom0, 5) else wrong.append((r.query_name, pos, ln)))
            if op in (0, 2, 3, 7, 8):
                pos += ln
    assert not wrong, wrong[:5]
    carriers = [n for n, c in sim.del_carrier.items() if c]
    assert len(carriers) > 150
    assert set(seen) <= set(carriers)  # D only in reads of planted carriers
    assert len(seen) / len(carriers) >= 0.85  # near read ends bwa may soft-clip instead


def test_only_planted_duplicates_are_flagged(aligned):
    sim, recs = aligned["sim"], aligned["recs"]
    dup_names = Counter(r.query_name for r in recs if r.is_duplicate and not r.is_secondary
                        and not r.is_supplementary)
    assert all(c == 2 for c in dup_names.values())  # both mates of a flagged pair
    expected_total = 0
    for group in sim.dup_groups:
        flagged = [n for n in group if n in dup_names]
        assert len(flagged) == len(group) - 1, group
        expected_total += len(group) - 1
    assert len(dup_names) == expected_total
    assert aligned["stats"].duplicate_reads == 2 * expected_total


def test_index_is_idempotent_and_rebuilt_when_fasta_changes(aligned):
    prefix, fasta = aligned["prefix"], aligned["fasta"]
    files = sorted(prefix.parent.iterdir())
    assert [p.name for p in files] == sorted(["regions.amb", "regions.ann", "regions.bwt",
                                              "regions.pac", "regions.sa", "regions.dict"])
    before = {p.name: p.stat().st_mtime_ns for p in files}
    build_bwa_index(fasta, prefix)
    assert {p.name: p.stat().st_mtime_ns for p in prefix.parent.iterdir()} == before
    future = time.time() + 5
    os.utime(fasta, (future, future))
    build_bwa_index(fasta, prefix)
    after = {p.name: p.stat().st_mtime_ns for p in prefix.parent.iterdir()}
    assert set(after) == set(before) and all(after[k] != before[k] for k in before)


def test_mismatched_fastq_pair_is_a_user_error(aligned, tmp_path):
    r1, r2 = tmp_path / "a_R1.fq", tmp_path / "a_R2.fq"
    seq = "ACGT" * 25
    r1.write_text("".join(f"@p{i}/1\n{seq}\n+\n{'I' * 100}\n" for i in range(5)))
    r2.write_text("".join(f"@{'p' if i != 2 else 'q'}{i}/2\n{seq}\n+\n{'I' * 100}\n" for i in range(5)))
    with pytest.raises(InputError) as exc:
        align_fastq(r1, r2, aligned["prefix"], tmp_path / "x.bam", "S1")
    msg = str(exc.value)
    assert str(r1) in msg and str(r2) in msg and "record 3" in msg
    r2.write_text("".join(f"@p{i}/2\n{seq}\n+\n{'I' * 100}\n" for i in range(4)))
    with pytest.raises(InputError) as exc:
        align_fastq(r1, r2, aligned["prefix"], tmp_path / "x.bam", "S1")
    assert "record 5" in str(exc.value) and str(r2) in str(exc.value)
    r1.write_text("")
    r2.write_text("")
    with pytest.raises(InputError, match="no reads"):
        align_fastq(r1, r2, aligned["prefix"], tmp_path / "x.bam", "S1")
    # through the CLI a user error is exit code 2, not a traceback
    assert cli_main(["align", "--fastq1", str(r1), "--fastq2", str(tmp_path / "missing.fq"), "--index",
                     str(aligned["prefix"]), "--sample-id", "S1", "-o", str(tmp_path / "x.bam")]) == 2
    assert not (tmp_path / "x.bam").exists() and not list(tmp_path.glob(".x.bam*"))


def test_mixed_fasta_is_rejected(tmp_path, region_seqs):
    fa = tmp_path / "mixed.fa"
    fa.write_text(f">{KRAS}\n{region_seqs[KRAS]}\n>chrTest\n{region_seqs[CDK4]}\n")
    with pytest.raises(ReferenceError_, match="region contigs"):
        build_bwa_index(fa, tmp_path / "idx" / "mixed")
    assert not (tmp_path / "idx" / "mixed.bwt").exists()


def test_sa_xa_tag_lift_unit():
    index_hdr = pysam.AlignmentHeader.from_dict(
        {"SQ": [{"SN": KRAS, "LN": 45684}, {"SN": CDK4, "LN": 11162}]})
    plan = plan_lift(index_hdr.references, index_hdr.lengths)
    out_hdr = pysam.AlignmentHeader.from_dict({"SQ": plan.sq_lines()})
    rec = pysam.AlignedSegment(index_hdr)
    rec.query_name, rec.flag, rec.reference_id, rec.reference_start = "r", 65, 1, 99
    rec.cigarstring, rec.query_sequence = "10M", "ACGTACGTAC"
    rec.next_reference_id, rec.next_reference_start, rec.template_length = 0, 40105, 0
    rec.set_tag("SA", f"{KRAS},40106,-,5S5M,60,0;")
    rec.set_tag("XA", f"{CDK4},-200,10M,1;{KRAS},+1,10M,2;")
    out = RecordLifter(index_hdr, out_hdr, plan).lift(rec)
    assert (out.reference_name, out.reference_start) == ("chr12", 57746220 - 1 + 99)
    assert (out.next_reference_name, out.next_reference_start) == ("chr12", G12C_POS - 1)
    assert out.get_tag("SA") == f"chr12,{G12C_POS},-,5S5M,60,0;"
    assert out.get_tag("XA") == f"chr12,-{57746219 + 200},10M,1;chr12,+25205246,10M,2;"
    assert out.cigarstring == "10M" and out.flag == 65 and out.template_length == 0


def test_ordinary_fasta_is_the_identity(tmp_path, region_seqs, caplog):
    caplog.set_level(logging.INFO)
    seq = region_seqs[KRAS][10_000:30_000]
    fa = tmp_path / "plain.fa"
    fa.write_text(f">chrTest\n{seq}\n")
    prefix = tmp_path / "idx" / "plain"
    assert cli_main(["align-index", "--fasta", str(fa), "--prefix", str(prefix)]) == 0
    rng = np.random.default_rng(3)
    truth = {}
    with open(tmp_path / "R1.fq", "w") as h1, open(tmp_path / "R2.fq", "w") as h2:
        for i in range(200):
            ln = int(rng.integers(220, 400))
            s = int(rng.integers(0, len(seq) - ln))
            truth[f"t{i}"] = (s, s + ln)
            h1.write(f"@t{i}\n{seq[s:s + READ_LEN]}\n+\n{'I' * READ_LEN}\n")
            h2.write(f"@t{i}\n{rc(seq[s + ln - READ_LEN:s + ln])}\n+\n{'I' * READ_LEN}\n")
    bam = tmp_path / "plain.bam"
    rc_ = cli_main(["align", "--fastq1", str(tmp_path / "R1.fq"), "--fastq2", str(tmp_path / "R2.fq"),
                    "--index", str(prefix), "--sample-id", "T1", "-o", str(bam), "--threads", "1"])
    assert rc_ == 0
    assert "200 pairs aligned, 100.0% of reads mapped" in caplog.text
    with pysam.AlignmentFile(str(bam)) as fh:
        assert list(zip(fh.references, fh.lengths)) == [("chrTest", 20_000)]
        prim = _primaries(fh.fetch(until_eof=True))
    assert len(prim) == 200
    for name, (s, e) in truth.items():
        assert prim[name][1].reference_name == "chrTest"
        assert prim[name][1].reference_start == s and prim[name][2].reference_end == e
