"""Fast tests of variant calling: fragment counting on hand-built BAMs (truth = what each test
planted), the statistics against independent implementations (scipy), the origin rule, and the
VCF / atlas-part outputs."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pysam
import pytest
from scipy import stats

from unlock_atlas.calling import model
from unlock_atlas.calling.origin import origin_and_filters
from unlock_atlas.calling.pileup import count_sample
from unlock_atlas.domain import wilson
from unlock_atlas.paths import resolve_data_dir

CONTIG = "chr1_114702457_114721894"  # NRAS region of the shared GRCh38 data
START, LEN = 5000, 400


@pytest.fixture(scope="module")
def small_ref(region_fasta: Path, tmp_path_factory) -> tuple[Path, str]:
    """A one-contig FASTA holding 400 bp of real NRAS-region sequence."""
    d = tmp_path_factory.mktemp("ref")
    with pysam.FastaFile(str(region_fasta)) as fa:
        seq = fa.fetch(CONTIG, START, START + LEN).upper()
    fa_path = d / "ref.fa"
    fa_path.write_text(f">chrT\n{seq}\n")
    pysam.faidx(str(fa_path))
    return fa_path, seq


def _write_bam(path: Path, reads: list[dict]) -> Path:
    header = {"HD": {"VN": "1.6", "SO": "coordinate"}, "SQ": [{"SN": "chrT", "LN": LEN}]}
    unsorted = path.with_suffix(".unsorted.bam")
    with pysam.AlignmentFile(str(unsorted), "wb", header=header) as out:
        for r in reads:
            a = pysam.AlignedSegment()
            a.query_name = r["name"]
            a.query_sequence = r["seq"]
            a.flag = r.get("flag", 0)
            a.reference_id = 0
            a.reference_start = r["pos"]
            a.mapping_quality = r.get("mapq", 60)
            a.cigar = r.get("cigar", [(0, len(r["seq"]))])
            a.query_qualities = pysam.qualitystring_to_array(r.get("qual", "I" * len(r["seq"])))
            if "mpos" in r:
                a.next_reference_id = 0
                a.next_reference_start = r["mpos"]
            out.write(a)
    pysam.sort("-o", str(path), str(unsorted))
    pysam.index(str(path))
    return path


def _mut(seq: str, i: int, base: str) -> str:
    return seq[:i] + base + seq[i + 1:]


def test_fragment_counting_rules(small_ref, tmp_path: Path) -> None:
    """Overlapping mates count once; disagreeing mates count for neither allele; a low-quality
    base lets the other mate's base count; duplicates, low-MAPQ and QC-fail reads never count;
    a deletion is counted once per fragment at its left-normalised position."""
    fa, seq = small_ref
    v = 150  # planted SNV position (0-based in chrT)
    alt = "A" if seq[v] != "A" else "C"
    reads = []
    # 10 fragments, mates overlap over [120, 200): both carry alt -> 10 alt fragments
    for k in range(10):
        s1 = _mut(seq[100:200], v - 100, alt)
        s2 = _mut(seq[120:220], v - 120, alt)
        reads.append({"name": f"agree{k}", "seq": s1, "pos": 100, "flag": 0x1 | 0x2 | 0x20 | 0x40, "mpos": 120})
        reads.append({"name": f"agree{k}", "seq": s2, "pos": 120, "flag": 0x1 | 0x2 | 0x10 | 0x80, "mpos": 100})
    # 3 fragments whose mates disagree (alt vs ref, both Q40) -> neither counts
    for k in range(3):
        reads.append({"name": f"dis{k}", "seq": _mut(seq[100:200], v - 100, alt), "pos": 100,
                      "flag": 0x1 | 0x2 | 0x20 | 0x40, "mpos": 120})
        reads.append({"name": f"dis{k}", "seq": seq[120:220], "pos": 120, "flag": 0x1 | 0x2 | 0x10 | 0x80, "mpos": 100})
    # 2 fragments: alt mate has a Q2 base at v, ref mate Q40 -> counts REF
    for k in range(2):
        q = ["I"] * 100
        q[v - 100] = "#"
        reads.append({"name": f"lowq{k}", "seq": _mut(seq[100:200], v - 100, alt), "pos": 100, "qual": "".join(q),
                      "flag": 0x1 | 0x2 | 0x20 | 0x40, "mpos": 120})
        reads.append({"name": f"lowq{k}", "seq": seq[120:220], "pos": 120, "flag": 0x1 | 0x2 | 0x10 | 0x80, "mpos": 100})
    # never counted: duplicate, QC-fail, MAPQ 10 (all alt)
    for k, (flag, mq) in enumerate([(0x400, 60), (0x200, 60), (0, 10)]):
        reads.append({"name": f"bad{k}", "seq": _mut(seq[100:200], v - 100, alt), "pos": 100, "flag": flag, "mapq": mq})
    # 4 single-end ref reads
    for k in range(4):
        reads.append({"name": f"ref{k}", "seq": seq[100:200], "pos": 100})
    # a 2-bp deletion after position 300, carried by both overlapping mates of 5 fragments
    d0 = 300
    del_read = seq[250:d0 + 1] + seq[d0 + 3:d0 + 52]
    for k in range(5):
        cig = [(0, d0 + 1 - 250), (2, 2), (0, 49)]
        reads.append({"name": f"del{k}", "seq": del_read, "pos": 250, "cigar": cig, "flag": 0x1 | 0x2 | 0x20 | 0x40, "mpos": 260})
        s2 = seq[260:d0 + 1] + seq[d0 + 3:d0 + 62]
        reads.append({"name": f"del{k}", "seq": s2, "pos": 260, "cigar": [(0, d0 + 1 - 260), (2, 2), (0, 59)],
                      "flag": 0x1 | 0x2 | 0x10 | 0x80, "mpos": 250})
    bam = _write_bam(tmp_path / "s.bam", reads)
    sc = count_sample(bam, fa, [("chrT", 0, LEN)], "S")
    r = sc.regions[0]
    ai, ri = "ACGT".index(alt), "ACGT".index(seq[v])
    assert int(r.fwd[v, ai] + r.rev[v, ai]) == 10
    assert int(r.fwd[v, ri] + r.rev[v, ri]) == 2 + 4  # low-quality rescue + single-end ref reads
    assert int(r.depth[v]) == 16  # the 3 disagreeing fragments are not informative
    assert int(r.lowmq[v]) == 1
    # left-normalise the planted deletion independently: shift while the deleted block repeats
    i = d0
    while seq[i] == seq[i + 2]:
        i -= 1
    key = ("chrT", i + 1, seq[i:i + 3], seq[i])
    assert key in sc.events and sc.events[key].total == 5


def test_agreeing_mates_count_on_the_read1_strand(small_ref, tmp_path: Path) -> None:
    """A base or indel both mates agree on counts on the strand of the pair's read 1, whichever
    mate comes first or has the better quality; a base seen by one mate keeps that mate's strand."""
    fa, seq = small_ref
    v, d0 = 150, 300
    alt = "A" if seq[v] != "A" else "C"
    fwd_r2, rev_r1 = 0x1 | 0x2 | 0x20 | 0x80, 0x1 | 0x2 | 0x10 | 0x40  # read 2 forward (left), read 1 reverse
    reads = []
    for k in range(6):  # SNV in both mates; read 2 (left, first seen) has the higher quality at v
        q2 = ["5"] * 100
        q2[v - 100] = "I"
        reads.append({"name": f"s{k}", "seq": _mut(seq[100:200], v - 100, alt), "pos": 100, "flag": fwd_r2,
                      "mpos": 120, "qual": "".join(q2)})
        reads.append({"name": f"s{k}", "seq": _mut(seq[120:220], v - 120, alt), "pos": 120, "flag": rev_r1,
                      "mpos": 100, "qual": "5" * 100})
    for k in range(4):  # 1-bp deletion after d0 in both mates
        reads.append({"name": f"d{k}", "seq": seq[250:d0 + 1] + seq[d0 + 2:d0 + 51], "pos": 250,
                      "cigar": [(0, d0 + 1 - 250), (2, 1), (0, 49)], "flag": fwd_r2, "mpos": 260})
        reads.append({"name": f"d{k}", "seq": seq[260:d0 + 1] + seq[d0 + 2:d0 + 61], "pos": 260,
                      "cigar": [(0, d0 + 1 - 260), (2, 1), (0, 59)], "flag": rev_r1, "mpos": 250})
    bam = _write_bam(tmp_path / "strand.bam", reads)
    sc = count_sample(bam, fa, [("chrT", 0, LEN)], "S")
    r = sc.regions[0]
    ai = "ACGT".index(alt)
    assert (int(r.fwd[v, ai]), int(r.rev[v, ai])) == (0, 6)  # read 1 is reverse
    assert (int(r.fwd[105, "ACGT".index(seq[105])]), int(r.rev[105, "ACGT".index(seq[105])])) == (6, 0)  # read 2 alone
    i = d0
    while seq[i] == seq[i + 1]:  # left-normalise the deletion independently
        i -= 1
    ev = sc.events[("chrT", i + 1, seq[i:i + 2], seq[i])]
    assert (ev.fwd, ev.rev) == (0, 4)


def test_wilson_matches_scipy_and_ds_matches_pmf_sum() -> None:
    for k, n in [(0, 100), (3, 2000), (50, 100), (100, 100), (7, 456)]:
        ci = stats.binomtest(k, n).proportion_ci(0.95, method="wilson")
        lo, hi = wilson(k, n)
        assert lo == pytest.approx(ci.low, abs=1e-9) and hi == pytest.approx(ci.high, abs=1e-9)
    # DS = -10 log10 sum_{x >= k} Binom(x; n, e), summed directly
    for k, n, e in [(4, 2000, 1e-4), (2, 500, 1e-3), (10, 3000, 5e-4)]:
        p = sum(stats.binom.pmf(x, n, e) for x in range(k, n + 1))
        assert float(model.detection_score(k, n, e)) == pytest.approx(-10 * np.log10(p), rel=1e-6)
    assert float(model.detection_score(0, 1000, 1e-4)) == 0.0


def test_status_thresholds() -> None:
    assert model.status(5, 10, 99.0, False) == "not_covered"
    # 0.2 % VAF at 2,000x against a 1e-4 background: 4 fragments -> surfaced but not called de novo
    ds = float(model.detection_score(4, 2000, 1e-4))
    assert model.status(4, 2000, ds, False) == "detected_below_threshold"
    assert model.status(4, 2000, ds, True) == "called"  # already called in another sample of the patient
    ds20 = float(model.detection_score(20, 2000, 1e-4))  # 1 % VAF
    assert model.status(20, 2000, ds20, False) == "called"
    assert model.status(0, 2000, 0.0, True) == "not_detected"


def _g(alt: int, depth: int, e: float = 1e-4) -> dict:
    lo, hi = wilson(alt, depth)
    ds = float(model.detection_score(alt, depth, e))
    return dict(alt=alt, depth=depth, af=alt / depth, af_lo=float(lo), af_hi=float(hi), ds=ds,
                status=model.status(alt, depth, ds, False), adf=alt // 2, adr=alt - alt // 2,
                ref_fwd=(depth - alt) // 2, ref_rev=(depth - alt) - (depth - alt) // 2, rpos=30.0, lowmq_frac=0.0)


def test_origin_rule_resistance_biology_s4() -> None:
    types = {"N": "normal", "T": "tissue", "P": "plasma"}
    # CH (UNL004 type): in the normal at 2 % and plasma at 2 %, absent from tissue -> chip
    o, f = origin_and_filters({"N": _g(40, 2000), "T": _g(0, 500), "P": _g(45, 2000)}, "N", types)
    assert o == "chip" and "chip" in f
    # germline het: normal 50 %
    o, f = origin_and_filters({"N": _g(500, 1000), "T": _g(250, 500), "P": _g(1000, 2000)}, "N", types)
    assert o == "germline" and "germline" in f
    # 20-30 % band ("unknown" in the rule) is never somatic
    assert origin_and_filters({"N": _g(250, 1000), "T": _g(0, 500), "P": _g(500, 2000)}, "N", types)[0] == "germline"
    # tumour: absent from the normal, 0.5 % in plasma, 20 % in tissue -> somatic, PASS
    o, f = origin_and_filters({"N": _g(0, 2000), "T": _g(100, 500), "P": _g(10, 2000)}, "N", types)
    assert o == "somatic" and f == []
    # strand bias: all 40 alt fragments forward -> artefact
    g = _g(40, 2000)
    g.update(adf=40, adr=0)
    o, f = origin_and_filters({"N": _g(0, 2000), "T": _g(0, 500), "P": g}, "N", types)
    assert o == "artefact" and "strand_bias" in f


def test_cli_writes_indexed_vcf_and_part(small_ref, tmp_path: Path, monkeypatch) -> None:
    """End to end on a tumour (20 % SNV) + normal pair: VCF 4.2 with the FORMAT fields, index,
    contigs from the FASTA, and a variants part conforming to the schema."""
    import pyarrow.parquet as pq

    from unlock_atlas.calling import _cli
    from unlock_atlas.contract import schema
    from unlock_atlas.contract.schema_variants import SCHEMA

    monkeypatch.setitem(schema.TABLES, "variants", SCHEMA)
    fa, seq = small_ref
    v = 200
    alt = "T" if seq[v] != "T" else "G"
    tum, nor = [], []
    for k in range(100):
        s = _mut(seq[150:250], v - 150, alt) if k < 20 else seq[150:250]
        tum.append({"name": f"t{k}", "seq": s, "pos": 150, "flag": 0x10 if k % 2 else 0})
        nor.append({"name": f"n{k}", "seq": seq[150:250], "pos": 150, "flag": 0x10 if k % 2 else 0})
    bt = _write_bam(tmp_path / "T.bam", tum)
    bn = _write_bam(tmp_path / "N.bam", nor)
    bed = tmp_path / "p.bed"
    bed.write_text("chrT\t100\t300\tX\n")
    p = argparse.ArgumentParser()
    _cli.register(p.add_subparsers())
    out = tmp_path / "o" / "P1.vcf.gz"
    args = p.parse_args(["call", "--patient", "P1", "--bams", f"T={bt}", f"N={bn}", "--normal", "N",
                         "--panel", str(bed), "--fasta", str(fa), "-o", str(out), "--table", str(tmp_path / "P1.parquet")])
    assert args.func(args) == 0
    assert Path(f"{out}.tbi").exists()
    with pysam.VariantFile(str(out)) as vf:
        assert vf.header.version == "VCFv4.2" and "chrT" in vf.header.contigs
        for fmt in ("AD", "DP", "AF", "AF_LO", "AF_HI", "DS"):
            assert fmt in vf.header.formats
        recs = list(vf.fetch("chrT", 0, LEN))
    assert [(r.pos, r.ref, r.alts[0]) for r in recs] == [(v + 1, seq[v], alt)]
    rec = recs[0]
    assert rec.samples["T"]["AD"] == (80, 20) and rec.samples["N"]["AD"] == (100, 0)
    assert rec.info["ORIGIN"] == "somatic" and rec.samples["T"]["ST"] == "called"
    t = pq.read_table(tmp_path / "P1.parquet").to_pandas()
    assert set(t.sample_id) == {"T", "N"} and t.gene.isna().all()
    assert t.set_index("sample_id").loc["T", "vaf"] == pytest.approx(0.2)


# --- The vectorised pileup (calling/fastpile.py) against the previous per-read implementation ---
# REFERENCE: the per-read implementation of calling/pileup.py as it was before vectorisation
# (verbatim counting logic), kept here as an independent oracle: every count, indel/MNV event, its
# read-position sum and the order in which events were first seen must come out identical.

_R_LUT = np.full(256, 4, dtype=np.uint8)
for _i, _b in enumerate("ACGT"):
    _R_LUT[ord(_b)] = _i
    _R_LUT[ord(_b.lower())] = _i
_R_SKIP = 0x4 | 0x100 | 0x800 | 0x200 | 0x400


def _ref_read_obs(read, start, end, min_baseq):
    seq, quals = read.query_sequence, read.query_qualities
    if seq is None or quals is None:
        return None
    qlen = len(seq)
    codes = _R_LUT[np.frombuffer(seq.encode(), dtype=np.uint8)]
    q = np.asarray(quals, dtype=np.uint8)
    rpos_l, qpos_l, indels = [], [], []
    r, qi = read.reference_start, 0
    for op, ln in read.cigartuples:
        if op in (0, 7, 8):
            rpos_l.append(np.arange(r, r + ln))
            qpos_l.append(np.arange(qi, qi + ln))
            r += ln
            qi += ln
        elif op == 1:
            if start <= r - 1 < end:
                indels.append((r - 1, "I", seq[qi:qi + ln].upper(), min(qi, qlen - qi)))
            qi += ln
        elif op == 2:
            if start <= r - 1 < end:
                indels.append((r - 1, "D", ln, min(qi, qlen - qi)))
            r += ln
        elif op == 3:
            r += ln
        elif op == 4:
            qi += ln
    if not rpos_l:
        return None
    rp, qp = np.concatenate(rpos_l), np.concatenate(qpos_l)
    keep = (rp >= start) & (rp < end) & (q[qp] >= min_baseq)
    rp, qp = rp[keep], qp[keep]
    return rp, codes[qp], q[qp], np.minimum(qp, qlen - 1 - qp), indels


def _ref_merge_mates(a, b, strand_a, strand_b, frag_strand):
    rp_a, base_a, q_a, d_a = a[:4]
    rp_b, base_b, q_b, d_b = b[:4]
    _, ia, ib = np.intersect1d(rp_a, rp_b, assume_unique=True, return_indices=True)
    only_a = np.ones(len(rp_a), bool)
    only_a[ia] = False
    only_b = np.ones(len(rp_b), bool)
    only_b[ib] = False
    agree = base_a[ia] == base_b[ib]
    take_b = agree & (q_b[ib] > q_a[ia])
    take_a = agree & ~take_b
    rp = np.concatenate([rp_a[only_a], rp_b[only_b], rp_a[ia][take_a], rp_b[ib][take_b]])
    base = np.concatenate([base_a[only_a], base_b[only_b], base_a[ia][take_a], base_b[ib][take_b]])
    dist = np.concatenate([d_a[only_a], d_b[only_b], d_a[ia][take_a], d_b[ib][take_b]])
    # bases both mates agree on count on the fragment strand (read 1's strand)
    strand = np.concatenate([np.full(only_a.sum(), strand_a, np.int8), np.full(only_b.sum(), strand_b, np.int8),
                             np.full(take_a.sum() + take_b.sum(), frag_strand, np.int8)])
    ev: dict = {}
    keys_a, keys_b = {e[:3] for e in a[4]}, {e[:3] for e in b[4]}
    for e in a[4] + b[4]:
        k = e[:3]
        ev.setdefault(k, (e[3], frag_strand if k in keys_a and k in keys_b else strand_a if e in a[4] else strand_b))
    return rp, base, dist, strand, ev


def _ref_normalise(ref, start, anchor, kind, val):
    i = anchor - start
    if kind == "D":
        n = int(val)
        if i < 0 or i + n >= len(ref):
            return None
        while i > 0 and ref[i] == ref[i + n]:
            i -= 1
        return start + i, ref[i:i + n + 1], ref[i]
    s = str(val)
    if i < 0 or i >= len(ref) or "N" in s:
        return None
    while i > 0 and ref[i] == s[-1]:
        s = ref[i] + s[:-1]
        i -= 1
    return start + i, ref[i], ref[i] + s


def _ref_add(events, key, strand, dist):
    c = events.setdefault(key, [0, 0, 0.0])
    c[0 if strand == 0 else 1] += 1
    c[2] += dist


def _ref_count_region(bam, fasta, chrom, start, end, events, min_mapq=20, min_baseq=20):
    ref = fasta.fetch(chrom, start, end).upper()
    L = end - start
    ref_codes = _R_LUT[np.frombuffer(ref.encode(), dtype=np.uint8)]
    pos_l, base_l, dist_l, strand_l, low_l = [], [], [], [], []
    pending: dict = {}

    def emit(rp, base, dist, strand, ev):
        pos_l.append(rp - start)
        base_l.append(base)
        dist_l.append(dist)
        strand_l.append(strand)
        for (anchor, kind, val), (d, s) in ev.items():
            norm = _ref_normalise(ref, start, anchor, kind, val)
            if norm is not None:
                _ref_add(events, (chrom, norm[0] + 1, norm[1], norm[2]), s, d)
        mm = np.flatnonzero((base != ref_codes[rp - start]) & (base < 4))
        if len(mm) >= 2:
            mm = mm[np.argsort(rp[mm])]
            p = rp[mm]
            for run in np.split(np.arange(len(mm)), np.flatnonzero(np.diff(p) != 1) + 1):
                if len(run) >= 2:
                    idx = mm[run]
                    p0 = int(rp[idx[0]])
                    alt = "".join("ACGTN"[c] for c in base[idx])
                    _ref_add(events, (chrom, p0 + 1, ref[p0 - start:p0 - start + len(idx)], alt),
                             int(strand[idx[0]]), float(dist[idx].mean()))

    for read in bam.fetch(chrom, start, end):
        if read.flag & _R_SKIP:
            continue
        if read.mapping_quality < min_mapq:
            s, e = max(read.reference_start, start), min(read.reference_end or 0, end)
            if e > s:
                low_l.append(np.arange(s - start, e - start))
            continue
        obs = _ref_read_obs(read, start, end, min_baseq)
        if obs is None:
            continue
        strand = 1 if read.is_reverse else 0
        name = read.query_name
        if name in pending:
            other, other_strand, other_r1 = pending.pop(name)
            frag_strand = strand if read.is_read1 and not other_r1 else other_strand
            emit(*_ref_merge_mates(other, obs, other_strand, strand, frag_strand))
            continue
        if (read.is_paired and not read.mate_is_unmapped and read.next_reference_id == read.reference_id
                and read.reference_start <= read.next_reference_start < (read.reference_end or 0)
                and not (read.next_reference_start == read.reference_start and read.is_read2)):
            pending[name] = (obs, strand, read.is_read1)
        else:
            emit(obs[0], obs[1], obs[3], np.full(len(obs[0]), strand, np.int8), {e[:3]: (e[3], strand) for e in obs[4]})
    for obs, strand, _ in pending.values():
        emit(obs[0], obs[1], obs[3], np.full(len(obs[0]), strand, np.int8), {e[:3]: (e[3], strand) for e in obs[4]})
    fwd, rev, rpos = np.zeros((L, 5), np.int64), np.zeros((L, 5), np.int64), np.zeros((L, 5))
    if pos_l:
        pos, base = np.concatenate(pos_l), np.concatenate(base_l).astype(np.int64)
        dist, strand = np.concatenate(dist_l).astype(np.float64), np.concatenate(strand_l)
        idx = pos.astype(np.int64) * 5 + base
        fwd = np.bincount(idx[strand == 0], minlength=L * 5).reshape(L, 5)
        rev = np.bincount(idx[strand == 1], minlength=L * 5).reshape(L, 5)
        rpos = np.bincount(idx, weights=dist, minlength=L * 5).reshape(L, 5)
    lowmq = np.bincount(np.concatenate(low_l), minlength=L) if low_l else np.zeros(L, np.int64)
    return fwd, rev, rpos, lowmq


def _assert_same_as_reference(bam: Path, fa: Path, intervals: list[tuple[str, int, int]], **kw) -> int:
    """Count with the public API and with the reference; assert identity; return the event count."""
    new = count_sample(bam, fa, intervals, "S", **kw)
    events: dict = {}
    with pysam.AlignmentFile(str(bam)) as b, pysam.FastaFile(str(fa)) as f:
        old = [_ref_count_region(b, f, c, s, e, events, **kw) for c, s, e in intervals]
    assert [(r.chrom, r.start, r.end) for r in new.regions] == list(intervals)
    for r, (fwd, rev, rpos, lowmq) in zip(new.regions, old):
        assert np.array_equal(r.fwd, fwd) and np.array_equal(r.rev, rev)
        assert np.array_equal(r.rpos, rpos) and np.array_equal(r.lowmq, lowmq)
        assert r.fwd.dtype == np.int32 and r.lowmq.dtype == np.int32 and r.rpos.dtype == np.float64
    assert list(new.events) == list(events)  # same alleles, first seen in the same order
    assert {k: [v.fwd, v.rev, v.rpos] for k, v in new.events.items()} == events
    return len(events)


def test_vectorised_pileup_matches_reference_on_edge_cases(small_ref, tmp_path: Path) -> None:
    """Hand-built reads covering every counting rule, including the corner cases of mate pairing
    (same-start mates with read 2 first, a mate filtered out, a mate outside the interval), an
    insertion, MNVs on one and on two mates, an N base, soft clips, a low-MAPQ read and quality
    ties between mates on opposite strands; counted over intervals that split fragments."""
    fa, seq = small_ref
    rng = np.random.default_rng(3)
    P1, P2, R1, R2 = 0x1 | 0x2 | 0x20 | 0x40, 0x1 | 0x2 | 0x10 | 0x80, 0x1 | 0x2 | 0x10 | 0x40, 0x1 | 0x2 | 0x20 | 0x80
    reads = []

    def pair(name, s1, p1, s2, p2, f1=P1, f2=P2, q1=None, q2=None, c1=None, c2=None, **kw):
        reads.append({"name": name, "seq": s1, "pos": p1, "flag": f1, "mpos": p2, **({"qual": q1} if q1 else {}),
                      **({"cigar": c1} if c1 else {}), **kw})
        reads.append({"name": name, "seq": s2, "pos": p2, "flag": f2, "mpos": p1, **({"qual": q2} if q2 else {}),
                      **({"cigar": c2} if c2 else {}), **kw})

    def noisy(s, k):  # k random substitutions
        s = list(s)
        for i in rng.choice(len(s), k, replace=False):
            s[i] = "ACGT"[("ACGT".index(s[i]) + 1 + int(rng.integers(3))) % 4]
        return "".join(s)

    def quals(n, low=()):
        q = ["I"] * n
        for i in low:
            q[i] = "#"
        return "".join(q)

    for k in range(40):  # random overlapping pairs with errors, random low-quality bases
        p1 = int(rng.integers(0, 200))
        p2 = p1 + int(rng.integers(0, 90))
        pair(f"rnd{k}", noisy(seq[p1:p1 + 100], 3), p1, noisy(seq[p2:p2 + 100], 3), p2,
             q1=quals(100, rng.choice(100, 5)), q2=quals(100, rng.choice(100, 5)),
             f1=P1 if k % 2 else R1, f2=P2 if k % 2 else R2)
    mnv = _mut(_mut(seq[150:250], 50, "A" if seq[200] != "A" else "C"), 51, "G" if seq[201] != "G" else "T")
    for k in range(3):  # MNV carried by both mates; then by one mate only (other is ref there)
        pair(f"mnv{k}", mnv, 150, mnv[20:] + seq[250:270], 170)
        pair(f"mnv1_{k}", mnv, 150, seq[180:280], 180)
    for k in range(2):  # same start, read 2 sorted first: the reference never merges these
        pair(f"same{k}", seq[60:160], 60, _mut(seq[60:160], 10, "N"), 60, f1=P2 | 0x80 & ~0x40, f2=P1)
    pair("dupmate", seq[100:200], 100, seq[130:230], 130, f2=P2 | 0x400)  # second mate is a duplicate
    dl = seq[40:70] + seq[71:141]  # 1-bp deletion after 69 on a first mate whose mate is a duplicate:
    pair("deldup", dl, 40, seq[60:160], 60, c1=[(0, 30), (2, 1), (0, 70)], f2=P2 | 0x400)  # seen last
    pair("lowmate", seq[100:200], 100, seq[130:230], 130, mapq=60)
    reads[-1]["mapq"] = 5  # its second mate has MAPQ 5 -> lowmq, first mate counted alone
    ins = seq[200:240] + "TTG" + seq[240:297]  # 3-bp insertion after 239, soft clip at the end
    for k in range(4):
        pair(f"ins{k}", ins, 200, ins[10:], 210, c1=[(0, 40), (1, 3), (0, 52), (4, 5)], c2=[(0, 30), (1, 3), (0, 57)])
    for k in range(3):  # quality tie, opposite strands, the mates agree
        pair(f"tie{k}", seq[300:380], 300, seq[310:390], 310, f1=R1, f2=R2)
    reads.append({"name": "clip", "seq": "GGGGG" + seq[20:115], "pos": 20, "cigar": [(4, 5), (0, 95)]})
    reads.append({"name": "far", "seq": seq[280:380], "pos": 280, "flag": P1, "mpos": 390})  # mate beyond
    bam = _write_bam(tmp_path / "edge.bam", reads)
    for intervals in ([("chrT", 0, LEN)], [("chrT", 0, 140), ("chrT", 141, 205), ("chrT", 205, 320), ("chrT", 330, LEN)]):
        n_events = _assert_same_as_reference(bam, fa, intervals)
        assert n_events >= 3  # the MNV, the insertion and random-error MNVs were exercised
    _assert_same_as_reference(bam, fa, [("chrT", 0, LEN)], min_mapq=1, min_baseq=30)


@pytest.fixture(scope="module")
def small_plasma(tmp_path_factory) -> tuple[Path, Path]:
    """The small cohort's UNL001-P-PD (seed 1; ~500x raw) and the sparse GRCh38 genome."""
    from unlock_atlas.reference.sparse import build_sparse_genome
    from unlock_atlas.simulate.cache import cached_simulation

    run = tmp_path_factory.mktemp("small_plasma")
    cached_simulation(run, 1, cohort="small", threads=1, only_samples=["UNL001-P-PD"])
    data = resolve_data_dir(None)
    fa = build_sparse_genome(data / "reference_grch38" / "panel_genes.GRCh38.fa", run / "genome.fa.gz")
    return run / "bams" / "UNL001-P-PD.bam", fa


@pytest.mark.slow
def test_vectorised_pileup_matches_reference_on_plasma_bam(small_plasma) -> None:
    """A simulated plasma BAM (the small cohort's UNL001-P-PD), five panel intervals chosen to
    hold an indel and other indel/MNV alleles (re-chosen after the simulator changed), against the reference implementation."""
    bam, fa = small_plasma
    intervals = [("chr10", 43124862, 43125002), ("chr12", 25209774, 25209931), ("chr13", 48362794, 48362977),
                 ("chr2", 29222496, 29222627), ("chr7", 116759370, 116759510)]
    assert _assert_same_as_reference(bam, fa, intervals) >= 2  # indel/MNV alleles compared, not only SNV arrays


def test_indel_prior_scales_with_the_repeat_tract() -> None:
    """An indel error anywhere in a homopolymer/STR gives the same left-normalised allele, so its prior
    is the per-position indel rate times the positions that produce it (counted by hand below)."""
    from unlock_atlas.calling.genotype import (
        INDEL_CLASS,
        allele_prior,
        repeat_multiplicity,
    )
    from unlock_atlas.calling.pileup import RegionCounts, SampleCounts

    seq = "TTCGGGGTACACACAGT"  # 0-based: C at 2, GGGG at 3-6, T at 7, ACACACA at 8-14 (period 2), G, T
    z = np.zeros((len(seq), 5), np.int32)
    sc = SampleCounts("s", [RegionCounts("chr1", 100, 100 + len(seq), seq, z, z, z.astype(float), z[:, 0])])
    pos = 100 + 2 + 1  # VCF position of the C before GGGG
    assert repeat_multiplicity(sc, ("chr1", pos, "CG", "C")) == 4  # delete any of the 4 Gs
    assert repeat_multiplicity(sc, ("chr1", pos, "CGG", "C")) == 3  # GG at offsets 0, 1, 2
    assert repeat_multiplicity(sc, ("chr1", pos, "C", "CG")) == 5  # 5 insertion points around GGGG
    assert repeat_multiplicity(sc, ("chr1", pos, "C", "CA")) == 1  # no A tract after the anchor
    t = 100 + 7 + 1  # the T before ACACAC (6 bases periodic with "AC", then A, G)
    assert repeat_multiplicity(sc, ("chr1", t, "TAC", "T")) == 7 - 2 + 1  # AC deletable at 6 offsets of ACACACA
    assert repeat_multiplicity(sc, ("chr1", pos, "C", "T")) == 1  # SNV
    assert repeat_multiplicity(sc, ("chr1", pos, "CG", "TA")) == 1  # MNV
    priors = {INDEL_CLASS: 2e-5, "C>T": 1e-4}
    assert allele_prior(priors, sc, ("chr1", pos, "CG", "C")) == pytest.approx(8e-5)
    assert allele_prior(priors, sc, ("chr1", pos, "C", "T")) == pytest.approx(1e-4)


def test_filter_registry_lists_every_filter_with_its_thresholds() -> None:
    from unlock_atlas.calling import filters

    reg = filters.REGISTRY
    # the FILTER values docs/calling.md documents, in FILTER-column order for the evidence filters
    assert [n for n, f in reg.items() if f.test is not None] == [
        "strand_bias", "read_position", "low_mapq", "pon", "slippage", "low_depth", "low_evidence"]
    assert {n for n, f in reg.items() if f.kind == "origin"} == {"germline", "germline_ambiguous", "chip", "ch_not_excluded"}
    assert {n for n, f in reg.items() if f.kind == "artefact"} == {"strand_bias", "read_position", "low_mapq", "pon",
                                                                   "slippage"}
    # the VCF header states the run's thresholds
    assert reg["strand_bias"].header() == ("Alt fragments >= 90% on one strand and Fisher exact p < 0.0001 "
                                           "vs ref strand balance")
    strict = model.CallingParams.from_mapping({"strand_bias_p": 1e-6, "germline_af": 0.35})
    assert "p < 1e-06" in reg["strand_bias"].header(strict)
    assert reg["germline"].header(strict) == "Normal (white-cell) VAF >= 35%: germline"
    with pytest.raises(ValueError, match="registered twice"):
        filters.origin_filter("chip", "again", ())
    with pytest.raises(ValueError, match="not CallingParams fields"):
        filters.evidence_filter("new_one", "quality", "x", ("depth",), ("no_such_threshold",))(lambda ev, p: False)


def test_a_config_threshold_reaches_a_filter() -> None:
    types = {"N": "normal", "T": "tissue", "P": "plasma"}
    g = _g(40, 2000)
    g.update(adf=36, adr=4)          # 90 % forward: fires at the default fraction 0.9, not at 0.95
    assert "strand_bias" in origin_and_filters({"N": _g(0, 2000), "T": _g(0, 500), "P": g}, "N", types)[1]
    loose = model.CallingParams.from_mapping({"strand_bias_fraction": 0.95})
    assert "strand_bias" not in origin_and_filters({"N": _g(0, 2000), "T": _g(0, 500), "P": g}, "N", types,
                                                   params=loose)[1]


# -- slippage: a one-unit indel in a long tandem repeat (GATK Mutect2 PolymeraseSlippageFilter) --------
def _indel_evidence(context: str, offset: int, ref: str, alt: str, alt_reads: int, depth: int = 1000):
    from unlock_atlas.calling.filters import VariantEvidence

    per = {"N": _g(0, 500), "P": _g(alt_reads, depth)}
    return VariantEvidence(per, "N", {"N": "normal", "P": "plasma"}, key=("chr1", 1000, ref, alt),
                           context=context, context_offset=offset)


@pytest.mark.parametrize("context, ref, alt, alt_reads, fires", [
    ("TTG" + "A" * 10 + "CTT", "GA", "G", 30, True),      # 1-A deletion in a 10-A run, 3 % VAF: slippage not excluded
    ("TTG" + "A" * 10 + "CTT", "G", "GA", 30, True),      # 1-A insertion, same run
    ("TTG" + "A" * 10 + "CTT", "GA", "G", 400, False),    # 40 %: lower bound far above the 10 % slippage rate
    ("TTG" + "A" * 5 + "CTTTT", "GA", "G", 30, False),    # 5-base run: below the 8-base tract
    ("TTG" + "A" * 10 + "CTT", "GAA", "G", 30, False),    # two units removed: not a one-unit slip
    ("TTG" + "CA" * 5 + "GTT", "GCA", "G", 30, True),     # one CA unit of a 10-base dinucleotide repeat
    ("TTG" + "ACGTAC" + "TTT", "GACG", "G", 30, False),   # no repeat after the anchor
])
def test_slippage_filter(context, ref, alt, alt_reads, fires) -> None:
    from unlock_atlas.calling.origin import classify_variant

    origin, filt = classify_variant(_indel_evidence(context, 2, ref, alt, alt_reads))
    assert ("slippage" in filt) is fires
    assert (origin == "artefact") is fires


def test_slippage_thresholds_come_from_the_config() -> None:
    from unlock_atlas.calling.origin import classify_variant

    ev = _indel_evidence("TTG" + "A" * 6 + "CTT", 2, "GA", "G", 30)     # a 6-base run
    assert "slippage" not in classify_variant(ev)[1]
    shorter = model.CallingParams.from_mapping({"slippage_min_length": 6})
    assert "slippage" in classify_variant(ev, shorter)[1]
