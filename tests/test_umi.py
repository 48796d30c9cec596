"""UMI grouping and consensus on hand-made reads (issue 16; docs/umi.md).

Expected values are written by hand from the published rules: the UMI-tools directional edge
``count(a) >= 2 count(b) - 1`` (Smith et al. 2017) and the fgbio consensus likelihood, computed
here with plain ``math`` on the numbers of each case.
"""

from __future__ import annotations

import math
from pathlib import Path

import pysam
import pytest
from test_inputs import run_dir  # noqa: F401 (fixture)

from unlock_atlas.errors import InputError
from unlock_atlas.umi.consensus import ConsensusOptions, call_bases, duplex_bases
from unlock_atlas.umi.grouping import directional_groups, iter_families
from unlock_atlas.umi.stage import umi_consensus, umi_tag_problem

REF = "ACGTTGCAAGGCTTACCGATGCATCGATCGGATCCTAGCTAGGCTTAACGGTACCATGCAGTCAGTACGATCGATTGCA" * 4  # 320 bp
CODE = {"A": 0, "C": 1, "G": 2, "T": 3, "N": 4}


# ----------------------------------------------------------------------------- directional rule
def test_one_mismatch_merges_when_count_rule_holds():
    # AAAA (10) -> AAAT (4): 10 >= 2*4-1 = 7, one mismatch: one molecule
    assert directional_groups({"AAAA": 10, "AAAT": 4}) == [["AAAA", "AAAT"]]


def test_two_mismatches_do_not_merge():
    assert directional_groups({"AAAA": 10, "ACCA": 1}) == [["AAAA"], ["ACCA"]]


def test_count_ratio_rule():
    # 5 >= 2*3-1 = 5 merges; 5 >= 2*4-1 = 7 fails (and 4 >= 2*5-1 fails): two molecules
    assert directional_groups({"AAAA": 5, "AAAT": 3}) == [["AAAA", "AAAT"]]
    assert directional_groups({"AAAA": 5, "AAAT": 4}) == [["AAAA"], ["AAAT"]]


def test_directional_chain_follows_edges_from_the_most_abundant():
    # AAAA(20) -> AAAT(6) -> AATT(2): 20 >= 11, 6 >= 3; AATT is 2 mismatches from AAAA but
    # reachable along directed edges, so it joins (UMI-tools' directional network)
    assert directional_groups({"AAAA": 20, "AAAT": 6, "AATT": 2}) == [["AAAA", "AAAT", "AATT"]]


# ----------------------------------------------------------------------------- BAM helpers
def _header() -> pysam.AlignmentHeader:
    return pysam.AlignmentHeader.from_dict({"HD": {"VN": "1.6", "SO": "coordinate"},
                                            "SQ": [{"SN": "chr1", "LN": len(REF)}],
                                            "RG": [{"ID": "S1", "SM": "S1"}]})


def _pair(header, name: str, lo: int, hi_end: int, umi: str | None, r1_lo: bool = True, rl: int = 50,
          edits: dict | None = None, qual: int = 30, soft_clip_lo: int = 0):
    """Forward read at [lo, lo+rl) and reverse read ending at hi_end; ``edits`` = {(which, offset): base}."""
    out = []
    for which, start, rev in (("lo", lo, False), ("hi", hi_end - rl, True)):
        seq = list(REF[start:start + rl])
        for (w, off), b in (edits or {}).items():
            if w == which:
                seq[off] = b
        a = pysam.AlignedSegment(header)
        a.query_name = name
        is_r1 = (which == "lo") == r1_lo
        a.flag = 0x1 | 0x2 | (0x40 if is_r1 else 0x80) | (0x10 if rev else 0x20)
        a.reference_id = 0
        a.reference_start = start
        a.mapping_quality = 60
        if which == "lo" and soft_clip_lo:
            a.reference_start = start + soft_clip_lo
            a.cigarstring = f"{soft_clip_lo}S{rl - soft_clip_lo}M"
        else:
            a.cigarstring = f"{rl}M"
        a.query_sequence = "".join(seq)
        a.query_qualities = pysam.qualitystring_to_array(chr(qual + 33) * rl)
        a.next_reference_id = 0
        a.set_tag("RG", "S1")
        if umi is not None:
            a.set_tag("RX", umi)
        out.append(a)
    out[0].next_reference_start, out[1].next_reference_start = out[1].reference_start, out[0].reference_start
    return out


def _write(path: Path, reads) -> Path:
    header = _header()
    unsorted = path.with_suffix(".u.bam")
    with pysam.AlignmentFile(str(unsorted), "wb", header=header) as fh:
        for r in reads:
            fh.write(r)
    pysam.sort("-o", str(path), str(unsorted))
    pysam.index(str(path))
    return path


def _families(bam: Path, duplex: bool = False):
    return [sorted(t.name for t in f.a) + sorted(t.name for t in f.b)
            for f in iter_families(str(bam), "RX", duplex)]


# ----------------------------------------------------------------------------- grouping on a BAM
def test_grouping_hand_made_reads(tmp_path):
    h = _header()
    reads = []
    for i in range(4):
        reads += _pair(h, f"m1_{i}", 10, 200, "AAAACCCC")           # molecule 1
    reads += _pair(h, "m1_err", 10, 200, "AAAACCCG")                # 1 mismatch, 1 vs 4 reads: joins m1
    reads += _pair(h, "m2_0", 10, 200, "AAAAGGCC")                  # 2 mismatches: own molecule
    reads += _pair(h, "m3_0", 12, 200, "AAAACCCC")                  # another 5' end: own molecule
    reads += _pair(h, "m4_0", 10, 200, "AAAACCCC", r1_lo=False)     # other orientation: own family
    reads += _pair(h, "m5_0", 10, 200, "AAAACCCC", soft_clip_lo=4)  # aligned at 14, unclipped 5' = 10: molecule 1
    fams = _families(_write(tmp_path / "g.bam", reads))
    assert sorted(fams) == sorted([["m1_0", "m1_1", "m1_2", "m1_3", "m1_err", "m5_0"], ["m2_0"], ["m3_0"], ["m4_0"]])


def test_duplex_strands_share_a_family(tmp_path):
    h = _header()
    reads = _pair(h, "a0", 10, 200, "AAAA-CCCC") + _pair(h, "a1", 10, 200, "AAAA-CCCC")
    reads += _pair(h, "b0", 10, 200, "CCCC-AAAA", r1_lo=False)   # bottom strand: R1 at the upper end, UMI swapped
    reads += _pair(h, "x0", 10, 200, "AAAA-CCCC", r1_lo=False)   # same UMI order but other strand: another molecule
    fams = list(iter_families(str(_write(tmp_path / "d.bam", reads)), "RX", True))
    got = sorted((sorted(t.name for t in f.a), sorted(t.name for t in f.b)) for f in fams)
    assert got == sorted([(["a0", "a1"], ["b0"]), ([], ["x0"])])


def test_missing_tag_is_a_clear_error(tmp_path):
    h = _header()
    bam = _write(tmp_path / "n.bam", _pair(h, "r0", 10, 200, None))
    with pytest.raises(InputError, match="no RX tag"):
        list(iter_families(str(bam), "RX", False))
    prob = umi_tag_problem(bam, "RX", "P01-plasma", "samples.tsv", row=3)
    assert prob is not None and "P01-plasma" in prob.message and "RX" in prob.message
    ok = _write(tmp_path / "y.bam", _pair(h, "r0", 10, 200, "AAAA"))
    assert umi_tag_problem(ok, "RX", "S", "samples.tsv") is None


# ----------------------------------------------------------------------------- consensus model
def _adj(q: float, post: float = 40) -> float:
    p1, p2 = 10 ** (-q / 10), 10 ** (-post / 10)
    return p1 * (1 - p2) + (1 - p1) * p2 + p1 * p2 * 2 / 3


def _phred_after_pre(p: float, pre: float = 45) -> int:
    p2 = 10 ** (-pre / 10)
    return round(-10 * math.log10(p * (1 - p2) + (1 - p) * p2 + p * p2 * 2 / 3))


def _calls(columns: list[str], qual: int = 30):
    bases = [[CODE[c[i]] for i in range(len(columns))] for c in [list(x) for x in zip(*columns)]]
    quals = [[qual] * len(columns) for _ in bases]
    return call_bases(bases, quals, ConsensusOptions())


def test_consensus_two_against_one():
    e = _adj(30)
    la, lc, lo = (1 - e) ** 2 * (e / 3), (1 - e) * (e / 3) ** 2, (e / 3) ** 3
    p_err = (lc + 2 * lo) / (la + lc + 2 * lo)
    c = _calls(["AAC"])
    assert c.bases.tolist() == [0]
    assert c.quals.tolist() == [_phred_after_pre(p_err)] == [34]
    assert c.depth.tolist() == [3] and c.errors().tolist() == [1]


def test_unanimous_family_is_capped_by_pre_umi_rate():
    assert _calls(["GGG"]).quals.tolist() == [45]   # error-rate-pre-umi 45: no consensus beats it


def test_tie_gives_low_quality_and_ignores_low_quality_bases():
    c = _calls(["AC"])
    assert c.quals.tolist() == [3]                   # posterior 0.5 -> Q3
    low = call_bases([[0], [1], [1]], [[30], [5], [5]], ConsensusOptions())   # Q5 < min input 10: ignored
    assert low.bases.tolist() == [0] and low.depth.tolist() == [1]


def test_duplex_disagreement_is_n():
    a, b = _calls(["AAA", "CCC", "GGG"]), _calls(["AAA", "CCC", "TTT"])
    bases, quals = duplex_bases(a, b)
    assert bases.tolist() == [0, 1, 4]
    assert quals.tolist() == [90, 90, 2]             # 45 + 45 capped at 90; disagreement: N, Q2


# ----------------------------------------------------------------------------- consensus BAM
def test_consensus_bam_single_and_duplex(tmp_path):
    h = _header()
    reads = []
    for i in range(3):   # top strand, one PCR/sequencing error at lo offset 5 in one read
        reads += _pair(h, f"a{i}", 20, 220, "ACGT-TTGA", edits={("lo", 5): "T"} if i == 0 else None)
    for i in range(3):   # bottom strand carries an error shared by all its reads at lo offset 7 (early PCR)
        reads += _pair(h, f"b{i}", 20, 220, "TTGA-ACGT", r1_lo=False, edits={("lo", 7): "A"})
    bam = _write(tmp_path / "in.bam", reads)
    m = umi_consensus(bam, tmp_path / "single.bam", "single", {"min_family_size": 3})
    assert m["templates"] == 6 and m["consensus_pairs"] == 2
    with pysam.AlignmentFile(str(tmp_path / "single.bam")) as fh:
        recs = list(fh)
    assert len(recs) == 4 and {r.get_tag("MI") for r in recs} == {"1", "2"}
    top_lo = next(r for r in recs if not r.is_reverse and r.is_read1)
    assert top_lo.query_sequence == REF[20:70]      # the one-read error is outvoted
    assert top_lo.get_tag("cD") == 3 and top_lo.get_tag("cM") == 3
    assert top_lo.get_tag("cE") == pytest.approx(1 / 150, abs=1e-6)
    bottom_lo = next(r for r in recs if not r.is_reverse and r.is_read2)
    assert bottom_lo.query_sequence[7] == "A"        # single-strand consensus keeps a shared PCR error

    m = umi_consensus(bam, tmp_path / "duplex.bam", "duplex", {"min_family_size": 3})
    assert m["consensus_pairs"] == 1
    with pysam.AlignmentFile(str(tmp_path / "duplex.bam")) as fh:
        recs = list(fh)
    lo = next(r for r in recs if not r.is_reverse)
    assert lo.query_sequence[7] == "N"               # strands disagree: N
    assert lo.query_sequence[:7] + lo.query_sequence[8:] == REF[20:27] + REF[28:70]
    assert (lo.get_tag("aD"), lo.get_tag("bD"), lo.get_tag("cD")) == (3, 3, 6)
    assert lo.template_length == 200 and lo.next_reference_start == 170
    assert Path(f"{tmp_path / 'duplex.bam'}.bai").is_file()


# ----------------------------------------------------------------------------- run validation
def _reads_bam(path: Path, umi: str | None) -> None:
    from test_inputs import GRCH38

    header = pysam.AlignmentHeader.from_dict({"HD": {"VN": "1.6", "SO": "coordinate"},
                                              "SQ": [{"SN": c, "LN": n} for c, n in GRCH38.items()]})
    reads = []
    for i in range(3):
        a = pysam.AlignedSegment(header)
        a.query_name, a.flag, a.reference_id, a.reference_start = f"r{i}", 0, 1, 55_019_000 + i
        a.mapping_quality, a.cigarstring, a.query_sequence = 60, "4M", "ACGT"
        a.query_qualities = pysam.qualitystring_to_array("IIII")
        if umi:
            a.set_tag("RX", umi)
        reads.append(a)
    with pysam.AlignmentFile(str(path), "wb", header=header) as fh:
        for r in reads:
            fh.write(r)
    pysam.index(str(path))


def test_umi_mode_on_bam_without_tag_fails_validation_naming_sample_and_tag(run_dir):  # noqa: F811
    from unlock_atlas.inputs import load_run

    cfg = run_dir / "config" / "config.yaml"
    cfg.write_text(cfg.read_text() + "umi:\n  mode: duplex\n  sample_types: [plasma]\n")
    _reads_bam(run_dir / "bams" / "P01-C3.bam", None)        # plasma, no RX: the error
    _reads_bam(run_dir / "bams" / "P02-C1.bam", "AAAA-CCCC")  # plasma with RX: fine
    _reads_bam(run_dir / "bams" / "P01-T0.bam", None)        # tissue is not in sample_types: fine
    with pytest.raises(InputError) as exc:
        load_run(cfg, run_dir)
    probs = exc.value.problems
    assert len(probs) == 1, exc.value.render()
    assert probs[0].row == 4 and probs[0].column == "bam"
    assert "P01-C3" in probs[0].message and "RX tag" in probs[0].message


def test_config_without_umi_is_unchanged_and_defaults_match_schema(run_dir):  # noqa: F811
    from unlock_atlas.inputs import load_run
    from unlock_atlas.inputs.config import load_schema
    from unlock_atlas.umi.stage import DEFAULTS

    run = load_run(run_dir / "config" / "config.yaml", run_dir)
    assert "umi" not in run.config                             # same effective config / config_hash as before
    props = load_schema("config")["properties"]["umi"]["properties"]
    assert {k: v["default"] for k, v in props.items()} == DEFAULTS
