"""UMI simulator: planted molecules are recovered as families; consensus removes planted errors.

Truth is the simulator's planted molecules (read names carry molecule and strand). Tolerance:
>= 99 % of planted molecules recovered as exactly one family with exactly their reads. A
molecule can only be split by two errors in one read's 16-bp UMI (~1e-4 per read at 1e-3 per
UMI base) or merged with another molecule sharing both 5' ends and a UMI within one mismatch
(~16 x 3 / 4^16 per pair of such molecules): both far below 1 %.
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np
import pysam
import pytest

from unlock_atlas.simulate.umi.molecules import UmiSimParams, pcr_substitutions, regions_from_fasta, simulate_umi_reads
from unlock_atlas.umi.grouping import iter_families
from unlock_atlas.umi.stage import umi_consensus

KRAS = "chr12_25205246_25250929"


def _planted(bam) -> dict[str, set[str]]:
    out = defaultdict(set)
    with pysam.AlignmentFile(str(bam)) as fh:
        for r in fh:
            out[r.query_name.split(":")[0]].add(r.query_name)
    return out


def _sim(tmp_path, region_fasta, duplex: bool, molecules: int = 300, **kw):
    regions = regions_from_fasta(region_fasta, [KRAS])
    regions[0].intervals = [(20_000, 22_000)]      # 2 kb: many molecules share 5' ends
    bam = tmp_path / "sim.bam"
    truth = simulate_umi_reads(regions, UmiSimParams(molecules=molecules, duplex=duplex, seed=7, **kw), bam,
                               tmp_path / "truth.tsv")
    return regions[0], bam, truth


def test_duplex_families_equal_planted_molecules(tmp_path, region_fasta):
    _, bam, truth = _sim(tmp_path, region_fasta, duplex=True)
    planted = {frozenset(v) for v in _planted(bam).values()}
    fams = [frozenset(t.name for t in f.a + f.b) for f in iter_families(str(bam), "RX", duplex=True)]
    assert len(planted) == truth["molecule"].nunique() >= 250
    exact = len(planted & set(fams))
    assert exact >= 0.99 * len(planted), (exact, len(planted), len(fams))
    assert abs(len(fams) - len(planted)) <= 0.01 * len(planted)
    # strand labels: every strand-A read of a family is a planted strand-A read
    for f in iter_families(str(bam), "RX", duplex=True):
        assert {t.name.split(":")[1] for t in f.a} <= {"A"} and {t.name.split(":")[1] for t in f.b} <= {"B"}


def test_single_mode_families_are_planted_strands(tmp_path, region_fasta):
    _, bam, truth = _sim(tmp_path, region_fasta, duplex=False)
    by_strand = defaultdict(set)
    with pysam.AlignmentFile(str(bam)) as fh:
        for r in fh:
            m, s, _ = r.query_name.split(":")
            by_strand[(m, s)].add(r.query_name)
    planted = {frozenset(v) for v in by_strand.values()}
    fams = {frozenset(t.name for t in f.a) for f in iter_families(str(bam), "RX", duplex=False)}
    assert len(planted) == len(truth)
    assert len(planted & fams) >= 0.99 * len(planted)


def test_duplex_consensus_removes_planted_damage(tmp_path, region_fasta):
    # strand damage 1e-3 per base (33x the default) so the sample holds hundreds of single-strand errors
    reg, bam, _ = _sim(tmp_path, region_fasta, duplex=True, molecules=200, damage_rate=1e-3)
    ref = reg.seq
    rates = {}
    for mode in ("single", "duplex"):
        out = tmp_path / f"{mode}.bam"
        umi_consensus(bam, out, mode, {"min_family_size": 2})
        err = tot = 0
        with pysam.AlignmentFile(str(out)) as fh:
            for r in fh:
                q = np.asarray(r.query_qualities)
                for (qp, rp) in r.get_aligned_pairs(matches_only=True):
                    b = r.query_sequence[qp]
                    if b != "N" and q[qp] >= 20:
                        tot += 1
                        err += b != ref[rp]
        rates[mode] = err / tot
    # damage is on one strand: single-strand consensus keeps it (~1e-3), duplex removes it
    assert 3e-4 < rates["single"] < 3e-3
    assert rates["duplex"] < 5e-5


def test_pcr_genealogy_shares_early_errors():
    rng = np.random.default_rng(1)
    # a high rate so that errors occur: an error in the first copy is carried by ~half the reads
    muts = pcr_substitutions(rng, 64, 100, 12, 1e-3)
    shared = defaultdict(int)
    for m in muts:
        for x in set(m):
            shared[x] += 1
    assert max(shared.values()) >= 8                 # some error reached many reads
    assert min(shared.values()) == 1                 # late errors are private


@pytest.mark.slow  # ~15-30 s (two simulations, two consensus runs, the caller); no workflow run
def test_existing_caller_on_duplex_consensus_calls_the_planted_snv_only(tmp_path, region_fasta):
    """The consensus BAM goes to the unchanged caller: the planted KRAS c.35G>A (G12D; chr12:25,245,350
    C>T on the + strand, 0-based 40,104 in the region contig) is called, and nothing else is."""
    from unlock_atlas.calling import call_patient

    pos0 = 25_245_350 - 25_205_246
    regions = regions_from_fasta(region_fasta, [KRAS])
    assert regions[0].seq[pos0] == "C"
    regions[0].intervals = [(pos0 - 500, pos0 + 500)]
    panel = tmp_path / "panel.bed"
    panel.write_text(f"{KRAS}\t{pos0 - 300}\t{pos0 + 300}\tKRAS\n")
    sim = UmiSimParams(molecules=900, seed=11, variants=((KRAS, pos0, "T", 0.06),))
    truth = simulate_umi_reads(regions, sim, tmp_path / "pl.bam", tmp_path / "pl.tsv", "PL")
    simulate_umi_reads(regions, UmiSimParams(molecules=500, seed=12), tmp_path / "no.bam", tmp_path / "no.tsv", "NO")
    for s in ("pl", "no"):
        umi_consensus(tmp_path / f"{s}.bam", tmp_path / f"{s}.dx.bam", "duplex", {})
    calls = call_patient("P", {"PL": tmp_path / "pl.dx.bam", "NO": tmp_path / "no.dx.bam"}, "NO",
                         {"PL": "plasma", "NO": "normal"}, panel, region_fasta)
    called = calls[(calls.sample_id == "PL") & (calls.status == "called") & (calls["filter"] == "PASS")]
    assert [(r.pos, r.v_ref, r.v_alt, r.origin) for r in called.itertuples()] == [(pos0 + 1, "C", "T", "somatic")]
    # planted: carriers among molecules seen on both strands whose fragment spans the site
    both = truth.groupby("molecule").filter(lambda g: len(g) == 2 and g["start"].iloc[0] <= pos0 < g["end"].iloc[0])
    mols = both.drop_duplicates("molecule")
    planted_af = (mols["alts"] != "").mean()
    row = called.iloc[0]
    assert row.af_lo <= planted_af <= row.af_hi, (row.af, planted_af)


def test_chromosome_coordinates_with_two_regions_on_one_chromosome(tmp_path, region_fasta):
    # EGFR and BRAF are both on chr7: one @SQ line with the GRCh38 length, reads at chromosome positions
    regions = regions_from_fasta(region_fasta, ["chr7_55014032_55258620", "chr7_140717327_140929764"],
                                 chromosome_coordinates=True)
    for r in regions:
        r.intervals = [(r.offset + 1000, r.offset + 1600)]
    truth = simulate_umi_reads(regions, UmiSimParams(molecules=20, seed=3), tmp_path / "c.bam", tmp_path / "c.tsv")
    with pysam.AlignmentFile(str(tmp_path / "c.bam")) as fh:
        assert [(c, n) for c, n in zip(fh.references, fh.lengths)] == [("chr7", 159_345_973)]
        starts = {r.reference_start for r in fh}
    assert set(truth["contig"]) == {"chr7"}
    assert min(starts) >= 55_014_031 + 1000 and max(starts) < 140_717_326 + 1600
