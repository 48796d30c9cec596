"""Copy number from panel depth (issue 5).

Fast tests check the counting against hand-built BAMs and the copy-number algebra against the
simulator's own clonal model; the slow test runs the stage on a freshly simulated small cohort
and checks it against the simulator's truth/copy_number.tsv.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pysam
import pytest

from unlock_atlas.copynumber.coverage import target_coverage
from unlock_atlas.copynumber.genes import (
    call_gene,
    cn_to_log2,
    log2_to_cn,
    weighted_median,
)
from unlock_atlas.copynumber.normalise import rolling_median

CONTIG = "chr7_55014032_55258620"   # EGFR region contig of the shared data


def _pair(bam: pysam.AlignmentFile, name: str, start: int, tlen: int, *, dup: bool = False, mapq: int = 60) -> None:
    for first in (True, False):
        a = pysam.AlignedSegment(bam.header)
        a.query_name = name
        a.reference_id = 0
        a.reference_start = start if first else start + tlen - 50
        a.next_reference_id = 0
        a.next_reference_start = start + tlen - 50 if first else start
        a.template_length = tlen if first else -tlen
        a.cigarstring = "50M"
        a.query_sequence = "A" * 50
        a.query_qualities = pysam.qualitystring_to_array("I" * 50)
        a.mapping_quality = mapq
        a.flag = 0x1 | 0x2 | (0x40 if first else 0x80) | (0x20 if first else 0x10) | (0x400 if dup else 0)
        bam.write(a)


def test_coverage_counts_each_fragment_once_and_skips_duplicates_and_low_mapq(tmp_path: Path, region_fasta: Path) -> None:
    """One fragment 1000-1200 over target 1100-1300 -> 100 bp / 200 bp = depth 0.5; its duplicate,
    a MAPQ 5 pair and a pair outside the target do not count; GC checked against pysam.faidx."""
    bed = tmp_path / "t.bed"
    bed.write_text(f"{CONTIG}\t1100\t1300\tEGFR\n")
    header = {"HD": {"VN": "1.6", "SO": "coordinate"}, "SQ": [{"SN": CONTIG, "LN": 244589}]}
    raw = tmp_path / "raw.bam"
    with pysam.AlignmentFile(str(raw), "wb", header=header) as bam:
        _pair(bam, "f1", 1000, 200)
        _pair(bam, "f1dup", 1000, 200, dup=True)
        _pair(bam, "lowq", 1150, 100, mapq=5)
        _pair(bam, "far", 5000, 200)
    out = tmp_path / "s.bam"
    pysam.sort("-o", str(out), str(raw))
    pysam.index(str(out))
    df = target_coverage(out, bed, region_fasta)
    assert df.loc[0, "fragments"] == 1
    assert df.loc[0, "depth"] == pytest.approx(0.5)
    fa = tmp_path / "t.fa"
    pysam.faidx(str(region_fasta), f"{CONTIG}:1101-1300", "-o", str(fa))   # samtools, independent of our reader
    seq = "".join(fa.read_text().split("\n")[1:]).upper()
    assert len(seq) == 200
    assert df.loc[0, "gc"] == pytest.approx((seq.count("G") + seq.count("C")) / 200, abs=1e-6)


def test_copy_number_inverts_the_simulators_clonal_model() -> None:
    """The simulator plants ratio (tc*CN + (1-tc)*2)/2 (SamplePlan.gene_ratio); we must recover CN."""
    from unlock_atlas.simulate.cohort import SamplePlan

    for cn, tc in [(10, 0.5), (4, 0.05), (0, 0.6), (1, 0.3), (12, 0.2)]:
        plan = SamplePlan("P", "S", "T-PD", "tissue", "progression", 0, tc, 100, 150, 0, 0, {"MET": cn})
        assert log2_to_cn(math.log2(plan.gene_ratio("MET")), tc) == pytest.approx(cn, abs=1e-9)
        assert cn_to_log2(cn, tc) == pytest.approx(math.log2(plan.gene_ratio("MET")) if cn > 0 or tc < 1 else -math.inf)


def test_calls_follow_thresholds_and_significance() -> None:
    # MET CN 10 at purity 0.5: log2(3) -> amplification with near-certain confidence
    call, conf = call_gene(math.log2(3), 0.05, 0.5)
    assert call == "amplification" and conf > 0.99
    # CN 4 at purity 0.5 (ratio 1.5): gain, not amplification
    assert call_gene(math.log2(1.5), 0.05, 0.5)[0] == "gain"
    # homozygous deletion at purity 0.6: ratio 0.4
    assert call_gene(math.log2(0.4), 0.05, 0.6)[0] == "deep_deletion"
    # the same shift with a large s.e. (< 3 s.e.) stays neutral
    assert call_gene(math.log2(3), 0.6, 0.5)[0] == "neutral"
    # plasma, CN 12 at tf 0.05 (ratio 1.25) with unknown tf (tc = 1 bound, CN >= 2.5): a gain, never amplification
    assert call_gene(math.log2(1.25), 0.03, 1.0)[0] == "gain"
    assert call_gene(math.log2(1.25), 0.03, 0.05)[0] == "amplification"


def test_weighted_and_rolling_median() -> None:
    assert weighted_median(np.array([0.0, 1.0, 10.0]), np.array([1.0, 1.0, 1.0])) == 1.0
    assert weighted_median(np.array([0.0, 1.0, 10.0]), np.array([1.0, 1.0, 5.0])) == 10.0
    x = np.arange(100.0)
    y = np.where(x == 50, 100.0, x * 0.01)   # one outlier must not move the fit
    fit = rolling_median(x, y)
    assert abs(fit[50] - 0.5) < 0.02


# The cohort-level Must-show (MET amplification, CDKN2A deep deletion, no false amplification) runs on
# the shared demo run: tests/test_demo_copynumber.py.


def _synthetic_cov(rng: np.random.Generator, factor: np.ndarray, gc: np.ndarray, length: np.ndarray,
                   genes: list[str], ratio: dict[str, float], gc_slope: float, depth: float) -> pd.DataFrame:
    """Expected fragment depth = depth x per-target capture factor x sample GC bias x gene copy
    ratio, observed as Poisson fragment counts (fragments ~ depth x length / 150)."""
    mu = depth * factor * np.exp(gc_slope * (gc - 0.5)) * np.array([ratio.get(g, 1.0) for g in genes])
    frags = rng.poisson(mu * length / 150)
    start = np.arange(len(genes)) * 1000
    return pd.DataFrame({"chrom": "chr7", "start": start, "end": start + length, "gene": genes, "length": length,
                         "gc": gc, "fragments": frags, "depth": frags * 150 / length})


def test_reference_and_ratios_recover_planted_ratios_despite_sample_gc_bias() -> None:
    """Targets with fixed capture factors (identical in every sample, removed by the reference) and a
    different GC bias per sample (removed by the rolling-median correction): the planted gene
    ratios 3.0 (amplified) and 0.5 (one-copy loss in a pure sample) are recovered, neutral genes stay ~0."""
    from unlock_atlas.copynumber.genes import gene_table
    from unlock_atlas.copynumber.normalise import build_reference, log2_ratios

    rng = np.random.default_rng(11)
    n_genes, per = 20, 12
    genes = [f"G{i:02d}" for i in range(n_genes) for _ in range(per)]
    gc = rng.uniform(0.35, 0.65, len(genes))
    length = rng.integers(100, 300, len(genes))
    factor = np.exp(rng.normal(0, 0.3, len(genes)))
    normals = {f"N{i}": _synthetic_cov(rng, factor, gc, length, genes, {}, rng.normal(0, 1.5), 300) for i in range(4)}
    ref = build_reference(normals)
    tumour = _synthetic_cov(rng, factor, gc, length, genes, {"G03": 3.0, "G11": 0.5}, 2.0, 400)
    g = gene_table(log2_ratios(tumour, ref, "T"), 1.0, "tissue").set_index("gene")
    assert g.loc["G03", "log2_ratio"] == pytest.approx(math.log2(3.0), abs=0.1)
    assert g.loc["G11", "log2_ratio"] == pytest.approx(-1.0, abs=0.1)
    assert g.loc["G03", "call"] == "amplification" and g.loc["G03", "copy_number"] == pytest.approx(6.0, rel=0.15)
    assert g.loc["G11", "call"] == "loss"
    neutral = g.drop(index=["G03", "G11"])
    assert neutral["log2_ratio"].abs().max() < 0.1
    assert (neutral["call"] == "neutral").all()
    # a normal of the reference is compared with the OTHER normals (leave-one-out): not all zeros
    gn = gene_table(log2_ratios(normals["N0"], ref, "N0"), None, "normal")
    assert (gn["call"] == "neutral").all() and gn["log2_ratio"].abs().max() > 0


def test_copy_number_schema_documents_every_column_and_accepts_a_part(tmp_path: Path, monkeypatch) -> None:
    import json

    import pyarrow.parquet as pq

    from unlock_atlas.contract import parts, schema
    from unlock_atlas.contract.schema_copy_number import CALLS, SCHEMA, SORT_KEYS

    for f in SCHEMA:
        assert f.metadata and f.metadata[b"description"], f.name
    assert json.loads(SCHEMA.field("call").metadata[b"allowed"]) == CALLS
    assert set(SORT_KEYS) <= set(SCHEMA.names)
    monkeypatch.setitem(schema.TABLES, "copy_number", SCHEMA)
    row = {"patient_id": "P1", "sample_id": "P1-T", "gene": "MET", "chrom": "chr7", "n_targets": 20,
           "log2_ratio": 1.58, "call": "amplification"}
    out = parts.write_part(pd.DataFrame([row]), "copy_number", tmp_path / "P1-T.parquet")
    t = pq.read_table(out)
    assert t.num_rows == 1 and t.column("copy_number").null_count == 1
