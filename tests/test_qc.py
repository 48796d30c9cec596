"""QC metrics on BAMs written here with pysam: expected values are worked out by hand from the
reads written (small BAM) or come from samtools run through pysam (large BAM)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pysam
import pytest

from unlock_atlas.qc import (
    BamIndexError,
    BamNotFoundError,
    BamNotSortedError,
    BamUnreadableError,
    bam_qc,
    write_qc_json,
)

CHR7, CHR12 = 159_345_973, 133_275_309  # GRCh38 primary-assembly lengths


def _header(sort_order: str = "coordinate") -> dict:
    return {"HD": {"VN": "1.6", "SO": sort_order},
            "SQ": [{"SN": "chr7", "LN": CHR7}, {"SN": "chr12", "LN": CHR12}]}


def _read(name, flag, tid, pos, cigar, mate_tid=-1, mate_pos=-1, tlen=0, length=None):
    a = pysam.AlignedSegment()
    a.query_name = name
    a.flag = flag
    a.reference_id = tid
    a.reference_start = pos
    a.mapping_quality = 60 if not flag & 0x4 else 0
    if cigar:
        a.cigarstring = cigar
    n = length or (a.query_length if cigar else 50)
    a.query_sequence = "A" * n
    a.query_qualities = pysam.qualitystring_to_array("I" * n)
    a.next_reference_id = mate_tid
    a.next_reference_start = mate_pos
    a.template_length = tlen
    return a


def _write_sorted(path: Path, reads: list, sort_order: str = "coordinate", index: bool = True) -> Path:
    raw = path.with_suffix(".unsorted.bam")
    with pysam.AlignmentFile(str(raw), "wb", header=_header("unsorted")) as out:
        for r in reads:
            out.write(r)
    if sort_order == "coordinate":
        pysam.samtools.sort("-o", str(path), str(raw))
        if index:
            pysam.samtools.index(str(path))
    else:
        with pysam.AlignmentFile(str(path), "wb", header=_header(sort_order)) as out:
            for r in reads:
                out.write(r)
    raw.unlink()
    return path


# flags: paired 0x1, proper 0x2, unmapped 0x4, mate unmapped 0x8, reverse 0x10, mate reverse 0x20,
# read1 0x40, read2 0x80, secondary 0x100, QC-fail 0x200, duplicate 0x400, supplementary 0x800
R1F, R2R = 0x1 | 0x2 | 0x40 | 0x20, 0x1 | 0x2 | 0x80 | 0x10
R1R, R2F = 0x1 | 0x2 | 0x40 | 0x10, 0x1 | 0x2 | 0x80 | 0x20


def _small_reads() -> list:
    return [
        # A: proper pair, mates overlap on 1030-1050 (counted once); insert 80 from read1
        _read("A", R1F, 0, 1000, "50M", 0, 1030, 80), _read("A", R2R, 0, 1030, "50M", 0, 1000, -80),
        # B: read2 leftmost (1060-1110), read1 1100-1150; read1 has TLEN<0 -> no insert sample
        _read("B", R2F, 0, 1060, "50M", 0, 1100, 90), _read("B", R1R, 0, 1100, "50M", 0, 1060, -90),
        # C: duplicate of A (both mates flagged) -> no depth, not in on-target
        _read("C", R1F | 0x400, 0, 1000, "50M", 0, 1030, 80), _read("C", R2R | 0x400, 0, 1030, "50M", 0, 1000, -80),
        # D: off-target proper pair, insert 150
        _read("D", R1F, 0, 3000, "50M", 0, 3100, 150), _read("D", R2R, 0, 3100, "50M", 0, 3000, -150),
        # E: chr12, read1 with a 10 bp deletion (blocks 2000-2020, 2030-2060), read2 2070-2120; insert 120
        _read("E", R1F, 1, 2000, "20M10D30M", 1, 2070, 120), _read("E", R2R, 1, 2070, "50M", 1, 2000, -120),
        # F: unmapped, unpaired
        _read("F", 0x4, -1, -1, None),
        # G: QC-fail read on target: mapped and on-target, but no depth
        _read("G", 0x200, 0, 1150, "50M"),
        # H: secondary and I: supplementary alignments -> ignored entirely
        _read("H", 0x100, 0, 1000, "50M"), _read("I", 0x800, 1, 2000, "50M"),
        # J: read1 mapped (mate unmapped), read2 unmapped placed at its mate
        _read("J", 0x1 | 0x40 | 0x8, 0, 1180, "50M", 0, 1180, 0),
        _read("J", 0x1 | 0x80 | 0x4, 0, 1180, None, 0, 1180, 0),
    ]


@pytest.fixture()
def small_bam(tmp_path: Path) -> tuple[Path, Path]:
    bed = tmp_path / "panel.bed"
    # T1 and T2 overlap (merged: 1000-1200); T3 gets no reads; T4 on chr12
    bed.write_text("chr7\t1000\t1100\tT1\nchr7\t1050\t1200\tT2\nchr7\t5000\t5100\tT3\nchr12\t2000\t2100\tT4\n")
    return _write_sorted(tmp_path / "small.bam", _small_reads()), bed


def test_small_bam_every_metric_by_hand(small_bam):
    bam, bed = small_bam
    m = bam_qc(bam, bed, "S1")
    assert m["sample_id"] == "S1"
    assert m["panel_bases"] == 400 and m["n_targets"] == 4
    assert m["n_reads"] == 14          # primary records: 2*6 pairs... A,B,C,D,E,J + F + G
    assert m["n_mapped"] == 12         # minus F and J's read2
    assert m["duplicate_rate"] == pytest.approx(2 / 12)
    assert m["on_target_fraction"] == pytest.approx(8 / 10)  # D1, D2 off target of 10 unique mapped
    # depth: chr7 1000-1060:1, 1060-1080:2, 1080-1150:1, 1150-1180:0, 1180-1200:1; chr7 5000-5100:0;
    # chr12 2000-2020:1, 2020-2030:0 (deletion), 2030-2060:1, 2060-2070:0, 2070-2100:1  -> 270 / 400
    assert m["mean_target_depth"] == pytest.approx(270 / 400)
    assert m["median_target_depth"] == 1.0   # 150 zeros, 230 ones, 20 twos
    assert m["fraction_target_bases_ge_0_2x_mean"] == pytest.approx(250 / 400)
    assert m["zero_coverage_targets"] == 1   # T3
    assert m["insert_size_median"] == 120.0  # inserts 80, 120, 150
    assert m["insert_size_iqr"] == pytest.approx(135 - 100)
    assert m["n_insert_pairs"] == 3


def test_overlapping_mates_counted_once_equals_samtools(small_bam, tmp_path):
    """samtools depth -s counts the A/B mate overlaps once as well (secondary/supplementary aside)."""
    bam, bed = small_bam
    # samtools counts supplementary records; drop I so both tools see the same reads
    reads = [r for r in _small_reads() if r.query_name != "I"]
    bam2 = _write_sorted(tmp_path / "nosup.bam", reads)
    merged = tmp_path / "merged.bed"
    merged.write_text("chr7\t1000\t1200\nchr7\t5000\t5100\nchr12\t2000\t2100\n")
    out = pysam.samtools.depth("-a", "-s", "-b", str(merged), str(bam2))
    depths = [int(line.split("\t")[2]) for line in out.splitlines()]
    assert len(depths) == 400
    assert bam_qc(bam2, bed, "S1")["mean_target_depth"] == pytest.approx(sum(depths) / 400)


def _synthetic_reads(rng: np.random.Generator, n_pairs: int, read_len: int = 100) -> list:
    reads = []
    for i in range(n_pairs):
        off_target = rng.random() < 0.15
        start = int(rng.integers(50_000, 60_000)) if off_target else int(rng.integers(9_800, 12_400))
        frag = int(rng.integers(120, 450))
        dup = 0x400 if rng.random() < 0.1 else 0
        qcfail = 0x200 if rng.random() < 0.01 else 0
        m1 = f"{read_len}M"
        if rng.random() < 0.05:
            m1 = f"{read_len // 2}M3D{read_len - read_len // 2}M"
        p2 = start + frag - read_len
        r1 = _read(f"p{i}", R1F | dup | qcfail, 0, start, m1, 0, p2, frag)
        r2 = _read(f"p{i}", R2R | dup, 0, p2, f"{read_len}M", 0, start, -frag)
        if rng.random() < 0.5:  # read2 leftmost in half the pairs
            r1.flag, r2.flag = R2F | dup | qcfail, R1R | dup
            r1.template_length, r2.template_length = frag, -frag
        reads += [r1, r2]
    return reads


def test_mean_depth_matches_samtools_depth_on_synthetic_bam(tmp_path):
    rng = np.random.default_rng(7)
    bam = _write_sorted(tmp_path / "big.bam", _synthetic_reads(rng, 20_000))
    bed = tmp_path / "panel.bed"
    bed.write_text("chr7\t10000\t10400\tEX1\nchr7\t11000\t11250\tEX2\nchr7\t12000\t12500\tEX3\n"
                   "chr7\t20000\t20100\tEX4\n")
    m = bam_qc(bam, bed, "SYN")
    out = pysam.samtools.depth("-a", "-s", "-b", str(bed), str(bam))
    depths = np.array([int(line.split("\t")[2]) for line in out.splitlines()])
    assert depths.size == 1250 == m["panel_bases"]
    truth = depths.mean()
    assert truth > 500  # the panel is well covered, so the comparison is meaningful
    assert m["mean_target_depth"] == pytest.approx(truth, rel=0.005)
    assert m["median_target_depth"] == pytest.approx(float(np.median(depths)), rel=0.01)
    assert m["zero_coverage_targets"] == 1  # EX4 lies outside every simulated fragment
    # duplicates: samtools view -c counts as the independent count
    n_dup = int(pysam.view("-c", "-f", "0x400", "-F", "0x904", str(bam)).strip())
    n_map = int(pysam.view("-c", "-F", "0x904", str(bam)).strip())
    assert m["n_mapped"] == n_map == 40_000
    assert m["duplicate_rate"] == pytest.approx(n_dup / n_map)


def test_missing_bam(tmp_path):
    bed = tmp_path / "p.bed"
    bed.write_text("chr7\t0\t10\n")
    with pytest.raises(BamNotFoundError, match="not found"):
        bam_qc(tmp_path / "nope.bam", bed, "S")


def test_truncated_bam(small_bam, tmp_path):
    bam, bed = small_bam
    data = bam.read_bytes()
    cut = tmp_path / "cut.bam"
    cut.write_bytes(data[:-28])  # drop the 28-byte BGZF EOF block
    pysam.samtools.index(str(bam), str(cut) + ".bai")
    with pytest.raises(BamUnreadableError, match="truncated"):
        bam_qc(cut, bed, "S")


def test_unsorted_and_unindexed(tmp_path, small_bam):
    _, bed = small_bam
    qs = _write_sorted(tmp_path / "qname.bam", _small_reads(), sort_order="queryname")
    with pytest.raises(BamNotSortedError, match="samtools sort"):
        bam_qc(qs, bed, "S")
    noidx = _write_sorted(tmp_path / "noidx.bam", _small_reads(), index=False)
    with pytest.raises(BamIndexError, match="samtools index"):
        bam_qc(noidx, bed, "S")


def test_cli_writes_json(small_bam, tmp_path):
    bam, bed = small_bam
    out = tmp_path / "qc" / "P1" / "S1.json"
    proc = subprocess.run([sys.executable, "-m", "unlock_atlas.cli", "qc", str(bam), "--panel", str(bed),
                           "--sample-id", "S1", "-o", str(out)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    data = json.loads(out.read_text())
    assert data["n_reads"] == 14 and data["zero_coverage_targets"] == 1
    bad = subprocess.run([sys.executable, "-m", "unlock_atlas.cli", "qc", str(tmp_path / "x.bam"), "--panel",
                          str(bed), "--sample-id", "S1", "-o", str(out)], capture_output=True, text=True)
    assert bad.returncode == 2 and "not found" in bad.stderr and "Traceback" not in bad.stderr


def test_write_qc_json_roundtrip(tmp_path):
    p = tmp_path / "a" / "m.json"
    write_qc_json({"b": 1, "a": None}, p)
    assert json.loads(p.read_text()) == {"a": None, "b": 1}
    assert not [f for f in p.parent.iterdir() if f.name.startswith(".")]
