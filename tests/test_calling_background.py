"""Background error from a panel of normals (beta-binomial), the CH power check and the
configurable thresholds (issue 18, deliverables 1 and 3).

Expected values come from closed forms written out in the tests (binomial sums, the
beta-binomial pmf summed with scipy's independent implementation) or from planted counts.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import yaml
from scipy import stats

from unlock_atlas.calling import filters, model, origin, pon
from unlock_atlas.calling.caller import genotype_patient
from unlock_atlas.calling.pileup import EventCounts, RegionCounts, SampleCounts
from unlock_atlas.paths import schemas_dir

CHROM = "chr17"
START = 7_674_000  # 0-based start of the synthetic interval (TP53 exon 7 neighbourhood)
L = 400


def _ref(seed: int = 3) -> str:
    rng = np.random.default_rng(seed)
    return "".join(rng.choice(list("ACGT"), size=L))


REF = _ref()


def make_counts(sample_id: str, depth: int, rng: np.random.Generator, err: float = 1e-4,
                alts: dict[int, tuple[str, float]] | None = None) -> SampleCounts:
    """Fragment counts of one sample over the synthetic interval: every position ``depth`` fragments
    (split over strands), each non-reference base at rate ``err / 3``, plus planted alleles
    ``alts[i] = (base, vaf)`` at interval offset ``i``."""
    codes = np.array(["ACGT".index(b) for b in REF])
    tot = np.zeros((L, 5), np.int32)
    for i in range(L):
        probs = np.full(4, err / 3)
        probs[codes[i]] = 1 - err
        if alts and i in alts:
            b, v = alts[i]
            probs[codes[i]] -= v
            probs["ACGT".index(b)] += v
        tot[i, :4] = rng.multinomial(depth, probs / probs.sum())
    fwd = rng.binomial(tot, 0.5).astype(np.int32)
    rev = (tot - fwd).astype(np.int32)
    rpos = tot * 30.0
    region = RegionCounts(CHROM, START, START + L, REF, fwd, rev, rpos, np.zeros(L, np.int32))
    return SampleCounts(sample_id, [region], {})


def key_at(i: int, base: str) -> tuple[str, int, str, str]:
    return (CHROM, START + i + 1, REF[i], base)


def other_base(i: int) -> str:
    return "ACGT"[("ACGT".index(REF[i]) + 1) % 4]


# -- the beta-binomial tail -------------------------------------------------------------------

@pytest.mark.parametrize("k,n,mu,rho", [(5, 2000, 1e-3, 0.01), (20, 2000, 5e-3, 0.002), (3, 500, 1e-4, 1e-4),
                                        (40, 3000, 2e-3, 0.05)])
def test_betabinom_tail_equals_the_pmf_summed_by_scipy(k, n, mu, rho):
    s = 1 / rho - 1
    expected = stats.betabinom.pmf(np.arange(k, n + 1), n, mu * s, (1 - mu) * s).sum()
    assert math.exp(model.betabinom_logsf(k, n, mu, rho)) == pytest.approx(expected, rel=1e-6)


def test_betabinom_tail_keeps_precision_far_in_the_tail_and_tends_to_the_binomial():
    # 60 of 2,000 at mu 1e-4: the binomial tail is ~1e-170; a tiny rho must give nearly the same
    binom = stats.binom.logsf(59, 2000, 1e-4)
    assert model.betabinom_logsf(60, 2000, 1e-4, 1e-9) == pytest.approx(binom, rel=1e-9)
    # overdispersion makes the upper tail heavier
    assert model.betabinom_logsf(10, 2000, 1e-3, 0.01) > stats.binom.logsf(9, 2000, 1e-3)


def test_moment_rho_recovers_a_planted_overdispersion():
    rng = np.random.default_rng(11)
    mu, rho = 0.004, 0.01
    s = 1 / rho - 1
    p = rng.beta(mu * s, (1 - mu) * s, size=400)
    n = rng.integers(1500, 2500, size=400)
    k = rng.binomial(n, p)
    assert model.moment_rho(k, n) == pytest.approx(rho, rel=0.3)
    # binomial counts (no overdispersion) give ~0
    k0 = rng.binomial(n, mu)
    assert model.moment_rho(k0, n) < 0.001


# -- the panel of normals ---------------------------------------------------------------------

def test_panel_sums_are_the_planted_counts_and_carriers_are_left_out(tmp_path):
    rng = np.random.default_rng(5)
    i = 100
    b = other_base(i)
    normals = [make_counts(f"N{j}", 1000, rng, alts={i: (b, 0.006)} if j < 3 else None) for j in range(5)]
    normals.append(make_counts("N5", 1000, rng, alts={i: (b, 0.5)}))  # a germline carrier
    pon.write(pon.build(normals), tmp_path / "pon")
    panel = pon.PanelOfNormals.read(tmp_path / "pon")
    st = panel.stats(key_at(i, b))
    tots = [int(n.regions[0].fwd[i, "ACGT".index(b)] + n.regions[0].rev[i, "ACGT".index(b)]) for n in normals[:5]]
    deps = [int((n.regions[0].fwd[i, :4] + n.regions[0].rev[i, :4]).sum()) for n in normals[:5]]
    assert st.carriers == 1
    assert st.S == 5
    assert st.K == sum(tots)
    assert st.N == sum(deps)
    assert st.K2N == pytest.approx(sum(k * k / d for k, d in zip(tots, deps)))
    assert st.hits == sum(1 for k, d in zip(tots, deps) if k >= 2 and k >= 0.005 * d)
    assert panel.sample_ids == [f"N{j}" for j in range(6)]


def test_panel_file_that_is_missing_gets_a_clear_error(tmp_path):
    from unlock_atlas.errors import InputError

    with pytest.raises(InputError, match="unlock-atlas pon"):
        pon.PanelOfNormals.read(tmp_path / "nothing")


def test_indel_alleles_enter_the_panel(tmp_path):
    rng = np.random.default_rng(9)
    normals = [make_counts(f"N{j}", 800, rng) for j in range(4)]
    key = (CHROM, START + 51, REF[50:52], REF[50])
    for n in normals[:2]:
        n.events[key] = EventCounts(fwd=2, rev=2, rpos=120.0)
    pon.write(pon.build(normals), tmp_path / "p")
    st = pon.PanelOfNormals.read(tmp_path / "p").stats(key)
    assert st.K == 8 and st.hits == 2 and st.S == 4


def _patient(rng, artefact: dict[int, tuple[str, float]], plasma_vaf: dict[int, tuple[str, float]] | None = None,
             normal_depth: int = 500):
    plasma_alts = dict(artefact)
    plasma_alts.update(plasma_vaf or {})
    counts = {"P-PD": make_counts("P-PD", 2000, rng, alts=plasma_alts),
              "N": make_counts("N", normal_depth, rng, alts=artefact)}
    return counts, {"P-PD": "plasma", "N": "normal"}


def test_a_recurrent_low_level_artefact_is_not_called_with_the_panel_but_is_without():
    rng = np.random.default_rng(21)
    i = 200
    b = other_base(i)
    art = {i: (b, 0.008)}  # 0.8 % in every sample of the assay
    normals = [make_counts(f"PON{j}", 1500, rng, alts=art) for j in range(20)]
    panel = pon.build(normals)
    counts, types = _patient(rng, art)
    with_pon = genotype_patient(counts, "N", types, panel)
    row = with_pon[(with_pon["pos"] == START + i + 1) & (with_pon["sample_id"] == "P-PD")]
    assert len(row) == 1, "the artefact is a candidate in plasma"
    assert row["filter"].iloc[0] != "PASS"
    assert row["status"].iloc[0] != "called"
    assert "pon" in row["filter"].iloc[0].split(";")
    assert row["background"].iloc[0] == pytest.approx(0.008, rel=0.15)  # the planted artefact rate
    assert row["pon_normals"].iloc[0] == 21  # 20 panel normals + the matched normal
    # the matched normal alone (500x) knows the site less well: a lower mean, a higher score
    alone = genotype_patient(counts, "N", types, None)
    row0 = alone[(alone["pos"] == START + i + 1) & (alone["sample_id"] == "P-PD")]
    assert row0["background"].iloc[0] < row["background"].iloc[0]
    assert row0["detection_score" if "detection_score" in row0 else "ds"].iloc[0] > row["ds"].iloc[0]


def test_a_true_one_percent_plasma_variant_is_still_called_against_a_clean_panel():
    rng = np.random.default_rng(22)
    i = 300
    b = other_base(i)
    normals = [make_counts(f"PON{j}", 1500, rng) for j in range(20)]
    panel = pon.build(normals)
    counts, types = _patient(rng, {}, {i: (b, 0.01)}, normal_depth=2000)
    out = genotype_patient(counts, "N", types, panel)
    row = out[(out["pos"] == START + i + 1) & (out["sample_id"] == "P-PD")]
    assert row["status"].iloc[0] == "called"
    assert row["filter"].iloc[0] == "PASS"
    assert row["origin"].iloc[0] == "somatic"


# -- clonal haematopoiesis: the normal's power ------------------------------------------------

def test_normal_power_is_the_binomial_chance_of_two_or_more_fragments():
    n, v = 280, 0.01
    expected = 1 - (1 - v) ** n - n * v * (1 - v) ** (n - 1)  # P(K >= 2): 2 fragments reach DS 13 here
    assert origin.normal_power(n, v, 1e-4) == pytest.approx(expected, rel=1e-9)
    assert expected == pytest.approx(0.77, abs=0.01)  # the docstring's example
    assert origin.normal_power(2000, 0.005, 1e-4) > 0.999


def test_planted_ch_variants_with_a_300x_normal_are_never_somatic():
    """Must-show: with a 300x normal (raw; ~280 fragments), >= 95 % of planted 0.25-1 % CH variants
    end as chip or ch_not_excluded, none as somatic. 120 planted; those the caller reports in
    plasma (called or detected) are the denominator; the rest are never reported (no candidate,
    or not detected in plasma) and must not be somatic either where they have a row."""
    rng = np.random.default_rng(2026)
    genes = {CHROM: [(START, START + L, "TP53")]}  # TP53: recurrent CH (resources/kb/ch_genes.tsv)
    seen, all_origins = [], []
    for _ in range(12):
        sites = rng.choice(np.arange(10, L - 10), size=10, replace=False)
        ch = {int(i): (other_base(int(i)), float(rng.uniform(0.0025, 0.01))) for i in sites}
        counts = {"P-PD": make_counts("P-PD", 2000, rng, alts=ch), "N": make_counts("N", 280, rng, alts=ch),
                  "T-BL": make_counts("T-BL", 500, rng)}
        out = genotype_patient(counts, "N", {"P-PD": "plasma", "N": "normal", "T-BL": "tissue"}, None, genes=genes)
        for i in sites:
            row = out[(out["pos"] == START + int(i) + 1) & (out["sample_id"] == "P-PD")]
            if len(row):
                all_origins.append(row["origin"].iloc[0])
            if len(row) and row["status"].iloc[0] in ("called", "detected_below_threshold"):
                seen.append(row["origin"].iloc[0])
    assert len(seen) >= 90, "most of the 120 planted CH variants are visible in plasma"
    assert "somatic" not in all_origins
    assert sum(o in ("chip", "ch_not_excluded") for o in seen) >= 0.95 * len(seen)
    assert seen.count("ch_not_excluded") >= 20  # the power check, not only the detection rule, is exercised


def test_a_plasma_only_variant_outside_ch_genes_or_confirmed_in_tissue_stays_somatic():
    rng = np.random.default_rng(7)
    i = 150
    b = other_base(i)
    counts = {"P-PD": make_counts("P-PD", 2000, rng, alts={i: (b, 0.01)}), "N": make_counts("N", 280, rng),
              "T-PD": make_counts("T-PD", 500, rng, alts={i: (b, 0.2)})}
    types = {"P-PD": "plasma", "N": "normal", "T-PD": "tissue"}
    tp53 = {CHROM: [(START, START + L, "TP53")]}
    egfr = {CHROM: [(START, START + L, "EGFR")]}

    def origins(genes):
        out = genotype_patient(counts, "N", types, None, genes=genes)
        return set(out.loc[out["pos"] == START + i + 1, "origin"])

    assert origins(tp53) == {"somatic"}  # tissue shows tumour DNA above the normal
    del counts["T-PD"]
    types.pop("T-PD")
    assert origins(egfr) == {"somatic"}
    assert origins(tp53) == {"ch_not_excluded"}


def test_ch_genes_all_have_citations():
    genes = filters.ch_genes()
    assert {"DNMT3A", "TET2", "ASXL1", "PPM1D", "TP53", "JAK2"} <= genes
    assert "EGFR" not in genes and "KRAS" not in genes


# -- thresholds from the config ---------------------------------------------------------------

def test_schema_defaults_are_the_model_defaults():
    schema = yaml.safe_load((schemas_dir() / "config.schema.yaml").read_text())
    props = schema["properties"]["calling"]["properties"]
    defaults = {k: v["default"] for k, v in props.items() if k not in ("pon_run_normals", "pon_max_normals")}
    assert model.CallingParams.from_mapping(defaults) == model.CallingParams()
    assert set(defaults) == set(model.CallingParams.__dataclass_fields__)


def test_a_threshold_set_in_config_changes_the_status():
    strict = model.CallingParams.from_mapping({"call_ds": 200})
    assert model.status(20, 2000, 150.0, False) == "called"
    assert model.status(20, 2000, 150.0, False, strict) == "detected_below_threshold"
    with pytest.raises(KeyError, match="call_dss"):
        model.CallingParams.from_mapping({"call_dss": 1})


def test_panel_plan_from_config():
    samples = [(f"S{i}-N", "normal") for i in range(100)] + [("S0-P", "plasma")]
    plan = pon.plan_panel_of_normals({"calling": {"pon_max_normals": 10, "call_ds": 70}}, samples)
    assert len(plan.bams) == 10 and set(plan.bams) <= {s for s, t in samples if t == "normal"}
    assert json.loads(plan.params_json) == {"call_ds": 70}
    assert pon.plan_panel_of_normals({"calling": {"pon_run_normals": False}}, samples).bams == {}
    given = pon.plan_panel_of_normals({"panel_of_normals": ["/x/a.bam", "/y/b.bam"]}, samples)
    assert list(given.bams.values()) == ["/x/a.bam", "/y/b.bam"]
    assert pon.plan_panel_of_normals({"panel_of_normals": "/p/pon"}, samples).prefix == "/p/pon"
    assert pon.spread(list("abcdefghij"), 4) == ["a", "d", "g", "j"]


def test_planning_imports_no_numerical_library():
    """The Snakefile imports the planner at every parse (cluster jobs too): standard library only."""
    import subprocess
    import sys

    code = ("import sys; import unlock_atlas.calling.plan; "
            "print(sorted(m for m in ('numpy', 'scipy', 'pandas', 'pyarrow') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "[]"


def test_unknown_calling_keys_are_rejected_by_the_config_schema():
    from unlock_atlas.inputs.config import validate_config

    base = {"patients": "p.tsv", "samples": "s.tsv", "reference": {"fasta": "f.fa", "gtf": "g.gtf"},
            "calling": {"call_dss": 70}}
    _, problems = validate_config(base, file="config.yaml", line_of={})
    assert any("call_dss" in f"{p.message} {p.column}" for p in problems)
