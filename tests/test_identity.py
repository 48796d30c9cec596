"""Sample identity (unlock_atlas.identity): fingerprints, concordance, LOD, contamination, verdicts.

Expected values come from construction (seeded simulated genotypes, planted swaps and mixing
fractions, hand-built reads) and from the LOD formula in docs/identity.md evaluated by hand --
never from the code under test. The workflow-level must-show (two tumour BAMs swapped between
patients of the small cohort, detected and reported) is in tests/test_faults.py, which holds the
one shared small-cohort run.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pysam
import pytest

from unlock_atlas.identity.compare import Matrices, genotypes, lod_tables
from unlock_atlas.identity.fingerprint import fingerprint
from unlock_atlas.identity.sites import cohort_sites
from unlock_atlas.identity.verdict import judge

N_SITES = 60


def _people(n: int, seed: int) -> np.ndarray:
    """Germline genotypes (0/1/2) of n unrelated people at N_SITES sites of allele frequency 0.5."""
    return np.random.default_rng(seed).binomial(2, 0.5, size=(n, N_SITES))


def _sample(gt: np.ndarray, rng: np.random.Generator, depth: int = 100, mix: tuple[np.ndarray, float] | None = None):
    """Fragment counts of a sample with genotypes ``gt`` (optionally mixed with another person)."""
    af = gt / 2
    if mix is not None:
        af = (1 - mix[1]) * af + mix[1] * mix[0] / 2
    alt = rng.binomial(depth, af)
    return depth - alt, alt


def _run(samples: dict[str, tuple[str, str, np.ndarray, np.ndarray]]):
    names = list(samples)
    meta = pd.DataFrame([(samples[s][0], s, samples[s][1]) for s in names],
                        columns=["patient_id", "sample_id", "sample_type"])
    ref = np.array([samples[s][2] for s in names])
    alt = np.array([samples[s][3] for s in names])
    return Matrices(names, ref, alt, np.zeros_like(ref)), meta


def _cohort(swap: bool = False, mix: float | None = None, depth: int = 100, seed: int = 7):
    """3 patients x (normal, tissue, plasma); optionally P1-T <-> P2-T swapped, or P3-N mixed with person 1."""
    people = _people(3, seed)
    rng = np.random.default_rng(seed + 1)
    owner = {f"P{i + 1}-{k}": i for i in range(3) for k in ("N", "T", "C")}
    if swap:
        owner["P1-T"], owner["P2-T"] = 1, 0
    samples = {}
    for s, who in owner.items():
        kind = {"N": "normal", "T": "tissue", "C": "plasma"}[s[-1]]
        m = (people[0], mix) if (mix is not None and s == "P3-N") else None
        r, a = _sample(people[who], rng, depth, m)
        samples[s] = (s.split("-")[0], kind, r, a)
    return _run(samples)


def test_lod_table_matches_the_formula_by_hand():
    # p = 0.5, eps = 0.05: P(g) = .25/.5/.25, P(c|g) = .95 on the diagonal, .025 off it
    t = lod_tables(np.array([0.5]))[0]
    same_het = 0.25 * 0.025 ** 2 * 2 + 0.5 * 0.95 ** 2          # both calls het
    p_het = 0.25 * 0.025 * 2 + 0.5 * 0.95
    assert t[1, 1] == pytest.approx(math.log10(same_het / p_het ** 2), abs=1e-9)   # +0.2788
    same_opp = 0.25 * 0.95 * 0.025 * 2 + 0.5 * 0.025 ** 2          # hom-ref vs hom-alt
    p_hom = 0.25 * 0.95 + 0.5 * 0.025 + 0.25 * 0.025
    assert t[0, 2] == pytest.approx(math.log10(same_opp / p_hom ** 2), abs=1e-9)  # -0.71
    assert t[0, 0] > t[1, 1] > 0 > t[0, 2]


def test_genotype_calls_and_depth_cut():
    m = Matrices(["s"], np.array([[95, 50, 10, 15]]), np.array([[5, 50, 90, 0]]), np.zeros((1, 4), dtype=int))
    assert genotypes(m, 20).tolist() == [[0, 1, 2, -1]]   # 15 fragments < 20: no call


def test_clean_cohort_all_ok():
    m, meta = _cohort()
    res = judge(m, meta)
    assert res.samples["status"].tolist() == ["ok"] * 9
    assert res.samples["identity_ok"].tolist() == [True] * 9
    assert (res.patients["classify"] == "run").all()
    within = res.pairs[res.pairs.same_patient]
    assert len(within) == 9 and (within.verdict == "match").all()
    assert (within.discordance < 0.05).all()
    assert res.pairs.same_patient.all()        # no cross-patient pair looks like one person
    # unrelated people differ at ~62.5 % of sites of allele frequency 0.5 (1 - 0.25^2*2 - 0.5^2)
    assert (res.samples.best_other_patient_lod < -3).all()


def test_swapped_tumours_are_flagged_and_point_to_each_other():
    m, meta = _cohort(swap=True)
    res = judge(m, meta)
    s = res.samples.set_index("sample_id")
    assert s.loc["P1-T", "status"] == s.loc["P2-T", "status"] == "mismatch"
    assert s.loc["P1-T", "identity_ok"] == False and s.loc["P2-T", "identity_ok"] == False  # noqa: E712
    assert s.loc["P1-T", "matches_patient"] == "P2" and s.loc["P2-T", "matches_patient"] == "P1"
    assert 0.4 < s.loc["P1-T", "discordance_vs_group"] < 0.85
    assert (s.drop(["P1-T", "P2-T"]).status == "ok").all()
    pts = res.patients.set_index("patient_id")
    assert pts.loc["P1", "classify"] == "withheld" and pts.loc["P3", "classify"] == "run"
    assert pts.loc["P1", "failed_samples"] == "P1-T"
    res2 = judge(m, meta, {"override": ["P1"]})
    assert res2.patients.set_index("patient_id").loc["P1", "classify"] == "override"


def test_swapped_normal_is_the_odd_one_out():
    people = _people(2, 3)
    rng = np.random.default_rng(4)
    samples = {}
    for p, who_n in (("P1", 1), ("P2", 0)):           # the two normals are swapped
        own = 0 if p == "P1" else 1
        samples[f"{p}-N"] = (p, "normal", *_sample(people[who_n], rng))
        for k in ("T", "C"):
            samples[f"{p}-{k}"] = (p, "tissue" if k == "T" else "plasma", *_sample(people[own], rng))
    res = judge(*_run(samples))
    s = res.samples.set_index("sample_id")["status"]
    assert s["P1-N"] == s["P2-N"] == "mismatch" and s["P1-T"] == s["P1-C"] == "ok"


def test_two_sample_patient_mismatch_flags_both():
    people = _people(2, 5)
    rng = np.random.default_rng(6)
    samples = {"P1-N": ("P1", "normal", *_sample(people[0], rng)), "P1-T": ("P1", "tissue", *_sample(people[1], rng))}
    res = judge(*_run(samples))
    assert res.samples["status"].tolist() == ["mismatch", "mismatch"]
    assert "cannot tell which" in res.samples["note"][0]


@pytest.mark.parametrize(("frac", "status"), [(0.02, "ok"), (0.05, "mixed"), (0.10, "mixed"), (0.20, "mixed")])
def test_contamination_of_a_normal_is_estimated_and_flagged(frac, status):
    m, meta = _cohort(mix=frac, depth=400)
    res = judge(m, meta)
    s = res.samples.set_index("sample_id")
    # the estimate recovers the planted mixing fraction (moment estimator; default threshold 0.03)
    assert s.loc["P3-N", "contamination"] == pytest.approx(frac, abs=0.25 * frac + 0.005)
    assert s.loc["P3-N", "status"] == status
    assert (s.drop("P3-N").query("sample_type == 'normal'").contamination < 0.01).all()
    assert res.patients.set_index("patient_id").loc["P3", "classify"] == ("withheld" if status == "mixed" else "run")


def test_low_depth_is_inconclusive_and_does_not_stop_classification():
    people = _people(1, 9)
    rng = np.random.default_rng(10)
    samples = {"P1-N": ("P1", "normal", *_sample(people[0], rng)),
               "P1-T": ("P1", "tissue", *_sample(people[0], rng)),
               "P1-C": ("P1", "plasma", *_sample(people[0], rng, depth=10))}   # every site < 20x
    res = judge(*_run(samples))
    s = res.samples.set_index("sample_id")
    assert s.loc["P1-C", "status"] == "inconclusive" and pd.isna(s.loc["P1-C", "identity_ok"])
    assert res.patients.loc[0, "classify"] == "run"


def _bam(path: Path, reads: list[tuple]) -> Path:
    """A sorted, indexed BAM on chr1 of hand-made reads: (name, flag, pos0, seq, mapq, baseq)."""
    header = {"HD": {"VN": "1.6", "SO": "coordinate"}, "SQ": [{"SN": "chr1", "LN": 10_000}]}
    with pysam.AlignmentFile(str(path), "wb", header=header) as fh:
        for name, flag, pos, seq, mapq, bq in sorted(reads, key=lambda r: r[2]):
            a = pysam.AlignedSegment(fh.header)
            a.query_name, a.flag, a.reference_id, a.reference_start = name, flag, 0, pos
            a.mapping_quality, a.cigarstring, a.query_sequence = mapq, f"{len(seq)}M", seq
            a.query_qualities = pysam.qualitystring_to_array(chr(33 + bq) * len(seq))
            fh.write(a)
    pysam.index(str(path))
    return path


def test_fingerprint_counts_fragments_once(tmp_path):
    # site chr1:1001 (0-based 1000), ref A, alt G; reads of 10 bp starting at 995 -> base at offset 5
    def seq(b):
        return "CCCCC" + b + "CCCC"

    reads = [
        ("f1", 99, 995, seq("G"), 60, 30), ("f1", 147, 995, seq("G"), 60, 30),   # overlapping mates agree: 1 alt
        ("f2", 99, 995, seq("A"), 60, 30), ("f2", 147, 995, seq("G"), 60, 30),   # mates disagree: neither
        ("f3", 0, 995, seq("A"), 60, 30),                                       # ref
        ("f4", 0, 995, seq("A"), 60, 30), ("f5", 0, 995, seq("T"), 60, 30),     # ref, other
        ("d1", 1024, 995, seq("G"), 60, 30),                                    # duplicate: skipped
        ("q1", 0, 995, seq("G"), 5, 30),                                        # MAPQ 5: skipped
        ("b1", 0, 995, seq("G"), 60, 10),                                       # base quality 10: skipped
        ("s1", 256, 995, seq("G"), 60, 30),                                     # secondary: skipped
    ]
    bam = _bam(tmp_path / "s.bam", reads)
    sites = pd.DataFrame({"chrom": ["chr1", "chr2"], "pos": [1001, 5], "ref": ["A", "A"], "alt": ["G", "C"],
                          "n_normals": [1, 1]})
    fp = fingerprint(bam, sites)
    assert fp.loc[0, ["ref_count", "alt_count", "other_count", "depth"]].tolist() == [2, 1, 1, 4]
    assert fp.loc[1, "depth"] == 0       # contig absent from the BAM


def test_cohort_sites_from_normals_only(tmp_path):
    rows = [  # sample, chrom, pos, ref, alt, status, origin
        ("N1", "chr7", 100, "A", "G", "called", "germline"),
        ("N2", "chr7", 100, "A", "G", "called", "germline"),
        ("N2", "chr2", 50, "C", "T", "called", "germline"),
        ("T1", "chr1", 10, "A", "C", "called", "germline"),       # not a normal
        ("N1", "chr1", 20, "A", "C", "not_detected", "germline"),  # not called
        ("N1", "chr1", 30, "A", "AT", "called", "germline"),      # indel
        ("N1", "chr3", 5, "A", "C", "called", "germline"), ("N2", "chr3", 5, "A", "T", "called", "germline"),  # multi-allelic
        ("N1", "chr1", 40, "G", "A", "called", "somatic"),
    ]
    df = pd.DataFrame(rows, columns=["sample_id", "chrom", "pos", "ref", "alt", "status", "origin"])
    df.to_parquet(tmp_path / "v.parquet")
    sites = cohort_sites([tmp_path / "v.parquet"], {"N1", "N2"})
    # karyotype order: chr2 before chr7
    assert sites[["chrom", "pos", "n_normals"]].values.tolist() == [["chr2", 50, 1], ["chr7", 100, 2]]


def test_classification_withheld_writes_empty_parts(tmp_path):
    from unlock_atlas.classify.stage import identity_withheld, withheld, write_parts

    v = tmp_path / "patients.tsv"
    v.write_text("patient_id\tidentity_ok\tn_samples\tfailed_samples\toverride\tclassify\n"
                 "P1\tFalse\t3\tP1-T\tFalse\twithheld\nP2\tFalse\t3\tP2-T\tTrue\toverride\nP3\tTrue\t3\t\tFalse\trun\n")
    assert identity_withheld(v, "P1") and not identity_withheld(v, "P2") and not identity_withheld(v, "P3")
    out = {t: tmp_path / f"{t}.parquet" for t in ("ctdna", "alterations", "mechanisms")}
    write_parts(withheld(), **out)
    assert all(len(pd.read_parquet(p)) == 0 for p in out.values())
    assert "class" in pd.read_parquet(out["mechanisms"]).columns     # full schema, zero rows


def test_a_panel_without_fingerprint_sites_is_not_assessable_not_a_crash():
    # a small panel (e.g. 2 genes) can hold no common SNP site: every fingerprint is empty
    from unlock_atlas.identity.compare import stack

    empty = pd.DataFrame({"chrom": pd.Series([], dtype=str), "pos": pd.Series([], dtype=int),
                          "alt": pd.Series([], dtype=str), "ref_count": pd.Series([], dtype=int),
                          "alt_count": pd.Series([], dtype=int), "other_count": pd.Series([], dtype=int)})
    m = stack({"P1-N": empty, "P1-T": empty.copy()})
    assert m.ref.shape == (2, 0)
    meta = pd.DataFrame({"sample_id": ["P1-N", "P1-T"], "patient_id": ["P1", "P1"], "sample_type": ["normal", "tissue"]})
    res = judge(m, meta)
    assert res.samples["status"].tolist() == ["inconclusive", "inconclusive"]
    assert res.samples["identity_ok"].isna().all()
    assert res.patients["classify"].tolist() == ["run"]      # no evidence of a swap: classification goes on
