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
from unlock_atlas.calling.filters import origin_and_filters
from unlock_atlas.calling.pileup import count_sample

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


def test_wilson_matches_scipy_and_ds_matches_pmf_sum() -> None:
    for k, n in [(0, 100), (3, 2000), (50, 100), (100, 100), (7, 456)]:
        ci = stats.binomtest(k, n).proportion_ci(0.95, method="wilson")
        lo, hi = model.wilson(k, n)
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
    lo, hi = model.wilson(alt, depth)
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

    from unlock_atlas.atlas import schema
    from unlock_atlas.atlas.schema_variants import SCHEMA
    from unlock_atlas.calling import _cli

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
