"""Windowed counting (calling/pileup.py ``COUNT_WINDOW``): a long interval counted window by
window gives the same counts as the interval counted at once, for reads, mates, indels and MNVs
that straddle a window edge. Truth: the hand-made reads below (what each one was built to carry)
and the interval counted in one window."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pysam
import pytest

from unlock_atlas.calling import pileup
from unlock_atlas.calling.pileup import count_sample

CONTIG = "chr1_114702457_114721894"  # NRAS region of the shared GRCh38 data
START, LEN = 5000, 400
#: Window edge inside the reference's 10-A homopolymer at 228-237 (0-based; G at 227), so that
#: indels anchored right of the edge left-normalise across it.
EDGE = 233
P1, P2 = 0x1 | 0x2 | 0x20 | 0x40, 0x1 | 0x2 | 0x10 | 0x80  # read 1 forward, read 2 reverse


@pytest.fixture(scope="module")
def ref(region_fasta: Path, tmp_path_factory) -> tuple[Path, str]:
    """A one-contig FASTA (``chrT``) of 400 bp of real NRAS-region sequence."""
    d = tmp_path_factory.mktemp("wref")
    with pysam.FastaFile(str(region_fasta)) as fa:
        seq = fa.fetch(CONTIG, START, START + LEN).upper()
    assert seq[227:238] == "G" + "A" * 10  # the homopolymer the edge sits in
    path = d / "ref.fa"
    path.write_text(f">chrT\n{seq}\n")
    pysam.faidx(str(path))
    return path, seq


def _bam(path: Path, reads: list[dict]) -> Path:
    header = {"HD": {"VN": "1.6", "SO": "coordinate"}, "SQ": [{"SN": "chrT", "LN": LEN}]}
    unsorted = path.with_suffix(".unsorted.bam")
    with pysam.AlignmentFile(str(unsorted), "wb", header=header) as out:
        for r in reads:
            a = pysam.AlignedSegment()
            a.query_name, a.query_sequence, a.flag = r["name"], r["seq"], r.get("flag", 0)
            a.reference_id, a.reference_start, a.mapping_quality = 0, r["pos"], r.get("mapq", 60)
            a.cigar = r.get("cigar", [(0, len(r["seq"]))])
            a.query_qualities = pysam.qualitystring_to_array(r.get("qual", "I" * len(r["seq"])))
            if "mpos" in r:
                a.next_reference_id, a.next_reference_start = 0, r["mpos"]
            out.write(a)
    pysam.sort("-o", str(path), str(unsorted))
    pysam.index(str(path))
    return path


def _sub(seq: str, start: int, end: int, subs: dict[int, str]) -> str:
    """Reference ``start..end`` with the base at absolute position ``p`` replaced by ``subs[p]``."""
    return "".join(subs.get(p, seq[p]) for p in range(start, end))


@pytest.fixture(scope="module")
def edge_bam(ref, tmp_path_factory) -> Path:
    """Reads built to straddle ``EDGE``, plus random noisy overlapping pairs over the whole contig."""
    _, seq = ref
    reads: list[dict] = []

    def pair(name, p1, s1, p2, s2, c1=None, c2=None, f2=P2, mapq2=60):
        reads.append({"name": name, "pos": p1, "seq": s1, "flag": P1, "mpos": p2, **({"cigar": c1} if c1 else {})})
        reads.append({"name": name, "pos": p2, "seq": s2, "flag": f2, "mpos": p1, "mapq": mapq2,
                      **({"cigar": c2} if c2 else {})})

    cg = {EDGE - 1: "C", EDGE: "G"}
    for k in range(3):  # (1) MNV AA>CG on EDGE-1, EDGE carried by both overlapping mates
        pair(f"mnv_both{k}", 150, _sub(seq, 150, 250, cg), 200, _sub(seq, 200, 300, cg))
    for k in range(2):  # (2) one unpaired read, 4-base MNV AAAA>CGTC on EDGE-1..EDGE+2
        reads.append({"name": f"mnv4_{k}", "pos": 180,
                      "seq": _sub(seq, 180, 280, dict(zip(range(EDGE - 1, EDGE + 3), "CGTC")))})
    for k in range(2):  # (3) mates that meet at the edge without overlapping: two fragments, no MNV
        pair(f"meet{k}", EDGE - 100, _sub(seq, EDGE - 100, EDGE, {EDGE - 1: "G"}), EDGE,
             _sub(seq, EDGE, EDGE + 100, {EDGE: "G"}))
    ct = {EDGE - 1: "C", EDGE: "T"}
    for k in range(2):  # (4) first mate ends at the edge, second mate goes on: one fragment, MNV AA>CT
        pair(f"mnv_split{k}", EDGE - 100, _sub(seq, EDGE - 100, EDGE, ct), 180, _sub(seq, 180, 280, ct))
    for k in range(3):  # (5) 1-bp deletion of an A right of the edge: normalises to GA>G at 228 (1-based)
        reads.append({"name": f"del1_{k}", "pos": 150, "seq": seq[150:EDGE + 1] + seq[EDGE + 2:300],
                      "cigar": [(0, EDGE + 1 - 150), (2, 1), (0, 300 - EDGE - 2)]})
    for k in range(2):  # (6) 5-bp deletion anchored left of the edge, deleting across it: GAAAAA>G
        reads.append({"name": f"del5_{k}", "pos": 150, "seq": seq[150:EDGE - 1] + seq[EDGE + 4:300],
                      "cigar": [(0, EDGE - 1 - 150), (2, 5), (0, 300 - EDGE - 4)]})
    for k, clip in enumerate((0, 3)):  # (7) leading insertion TT anchored on EDGE-1 by a read starting at EDGE
        s = "GGG"[:clip] + "TT" + seq[EDGE:EDGE + 95]
        reads.append({"name": f"ins{k}", "pos": EDGE, "seq": s,
                      "cigar": ([(4, clip)] if clip else []) + [(1, 2), (0, 95)]})
    pair("lowmq", 200, seq[200:300], 220, seq[220:320], mapq2=5)  # second mate -> lowmq across the edge
    pair("dup", 190, seq[190:290], 210, seq[210:310], f2=P2 | 0x400)
    rng = np.random.default_rng(16)
    for k in range(60):  # random overlapping pairs with substitution errors, some in runs
        p1 = int(rng.integers(0, 280))
        p2 = min(p1 + int(rng.integers(0, 90)), 300)
        e1 = {int(p): "ACGT"[int(rng.integers(4))] for p in rng.integers(p1, p1 + 100, 4)}
        e1.update({q: "ACGT"[int(rng.integers(4))] for q in (EDGE - 1, EDGE) if k % 5 == 0 and p1 <= q < p1 + 100})
        e2 = {int(p): "ACGT"[int(rng.integers(4))] for p in rng.integers(p2, p2 + 100, 4)}
        pair(f"rnd{k}", p1, _sub(seq, p1, p1 + 100, e1), p2, _sub(seq, p2, p2 + 100, e2))
    return _bam(tmp_path_factory.mktemp("wbam") / "edge.bam", reads)


def _same(a, b) -> None:
    """Counts of two SampleCounts of one interval are equal (MNV read-position sums up to the
    order of float additions; the order in which alleles were first seen is not compared)."""
    (ra,), (rb,) = a.regions, b.regions
    assert (ra.chrom, ra.start, ra.end, ra.ref) == (rb.chrom, rb.start, rb.end, rb.ref)
    for f in ("fwd", "rev", "lowmq"):
        assert np.array_equal(getattr(ra, f), getattr(rb, f)), f
    np.testing.assert_allclose(ra.rpos, rb.rpos, rtol=1e-12)
    assert set(a.events) == set(b.events)
    for k, v in a.events.items():
        w = b.events[k]
        assert (v.fwd, v.rev) == (w.fwd, w.rev) and v.rpos == pytest.approx(w.rpos, rel=1e-12), k


@pytest.mark.parametrize("window", [EDGE, 1, 2, 7, 50, 64, 117, 399])
def test_windowed_counts_equal_the_whole_interval(ref, edge_bam, window: int) -> None:
    fa, _ = ref
    whole = count_sample(edge_bam, fa, [("chrT", 0, LEN)], "S", window=10_000)
    _same(count_sample(edge_bam, fa, [("chrT", 0, LEN)], "S", window=window), whole)
    # an interval that starts and ends inside reads, with the edge inside too
    part = count_sample(edge_bam, fa, [("chrT", 140, 320)], "S", window=10_000)
    _same(count_sample(edge_bam, fa, [("chrT", 140, 320)], "S", window=window), part)


def test_edge_straddling_alleles_counted_once(ref, edge_bam) -> None:
    """The planted alleles, counted with the window edge at ``EDGE``, equal what the reads carry."""
    fa, seq = ref
    sc = count_sample(edge_bam, fa, [("chrT", 0, LEN)], "S", window=EDGE)
    ev = {k[1:]: v.total for k, v in sc.events.items()}
    pos = EDGE  # 1-based position of EDGE - 1
    assert ev[(pos, "AA", "CG")] == 3  # (1) once per fragment, not once per mate or per window
    assert ev[(pos, "AAAA", "CGTC")] == 2  # (2) one run across the edge, not two halves
    assert ev[(pos, "AA", "CT")] == 2  # (4) joined through the second mate's name
    assert (pos, "AA", "GG") not in ev  # (3) two fragments that meet at the edge: no MNV
    assert (pos + 1, "AAA", "GTC") not in ev and (pos + 1, "A", "G") not in ev  # no second halves
    assert ev[(228, "GA", "G")] == 3  # (5) normalised across the edge into the left window
    assert ev[(228, "GAAAAA", "G")] == 2  # (6) deletion running past the window end kept
    assert ev[(pos, "A", "ATT")] == 2  # (7) anchored by reads that start in the next window
    r = sc.regions[0]
    # fragments at EDGE-1 / EDGE from the hand-made reads (1)-(7), the low-MAPQ pair's first mate
    # and the duplicate pair's first mate; the random pairs add to both
    cover = {EDGE - 1: 3 + 2 + 2 + 2 + 3 + 0 + 0 + 1 + 1, EDGE: 3 + 2 + 2 + 2 + 3 + 0 + 2 + 1 + 1}
    rnd = count_sample(edge_bam, fa, [("chrT", 0, LEN)], "S", window=10_000).regions[0].depth
    for p, n in cover.items():
        assert r.depth[p] == rnd[p] >= n
    assert r.lowmq[EDGE] == 1 and r.lowmq[EDGE - 1] == 1  # the low-MAPQ mate, once


def test_intervals_are_tiled_into_windows(ref, edge_bam, monkeypatch) -> None:
    """Each window is counted over its own bases, fetching one base further (leading indels);
    an interval no longer than the window is one call, as before windows existed."""
    fa, _ = ref
    calls: list[tuple[int, int, int]] = []
    real = pileup.collect_region

    def spy(bam, chrom, start, end, ref_codes, min_mapq, min_baseq, fetch_end=None, carry=None):
        assert len(ref_codes) == end - start
        calls.append((start, end, fetch_end))
        return real(bam, chrom, start, end, ref_codes, min_mapq, min_baseq, fetch_end, carry)

    monkeypatch.setattr(pileup, "collect_region", spy)
    count_sample(edge_bam, fa, [("chrT", 10, 330)], "S", window=100)
    assert calls == [(10, 110, 111), (110, 210, 211), (210, 310, 311), (310, 330, 330)]
    calls.clear()
    count_sample(edge_bam, fa, [("chrT", 0, LEN)], "S")
    assert calls == [(0, LEN, LEN)] and pileup.COUNT_WINDOW >= LEN
    with pytest.raises(ValueError, match="window"):
        count_sample(edge_bam, fa, [("chrT", 0, LEN)], "S", window=0)
