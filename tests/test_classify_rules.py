"""Unit tests of the classification rules (issue 6) on small hand-built patients.

Expected labels come from resistance-biology.md §2 rule 1 (context dependence, written by hand
below), not from the code under test: KRAS is a by-pass on EGFR TKIs and anti-EGFR antibodies
but on-target on G12C inhibitors; MET amplification is a by-pass on osimertinib but on-target on
MET TKIs; MAP2K1 on dabrafenib+trametinib is classified per component drug.
"""

from __future__ import annotations

import math

import pandas as pd
import pytest

from unlock_atlas.atlas.summary import cohort_summary
from unlock_atlas.classify.ctdna import tumour_content, tumour_fractions
from unlock_atlas.classify.lineage import transformation_of
from unlock_atlas.classify.patient import PatientData
from unlock_atlas.classify.phase import decide
from unlock_atlas.classify.stage import classify
from unlock_atlas.knowledge.drugs import resolve_regimen
from unlock_atlas.knowledge.resistance import to_one_letter

# (sample, type, timepoint, day, purity, histology)
SAMPLES = [("N", "normal", None, 0, None, None), ("T-BL", "tissue", "baseline", -7, 0.5, "adenocarcinoma"),
           ("T-PD", "tissue", "progression", 300, 0.5, "adenocarcinoma"),
           ("P-BL", "plasma", "baseline", 0, None, None), ("P-PD", "plasma", "progression", 300, None, None)]
# truncal heterozygous SNVs planted at VAF purity/2 in tissue, tf/2 in plasma (tf 0.2 -> VAF 0.1)
TRUNCAL = [("chr17", 7675088 + i, "C", "T", "TP53") for i in range(3)]
PLASMA_TF = {"P-BL": 0.2, "P-PD": 0.2}


def _short(hgvsp: str | None) -> str | None:
    """The 1-letter form annotation writes to variants.hgvsp_short (p.Cys797Ser -> p.C797S)."""
    return None if hgvsp is None else "p." + to_one_letter(hgvsp)


def _vrow(sample, stype, chrom, pos, ref, alt, gene, alt_reads, depth, *, hgvsp=None, csq="missense_variant",
          origin="somatic", filt="PASS", status=None):
    vaf = alt_reads / depth if depth else None
    if status is None:
        status = "called" if alt_reads >= 3 else ("detected_below_threshold" if alt_reads else "not_detected")
    half = 1.96 * math.sqrt(max(vaf * (1 - vaf), 1e-9) / depth) if depth else 0
    return {"patient_id": "PX", "sample_id": sample, "sample_type": stype, "chrom": chrom, "pos": pos, "ref": ref,
            "alt": alt, "kind": "snv", "gene": gene, "transcript": None, "hgvsc": None, "hgvsp": hgvsp,
            "hgvsp_short": _short(hgvsp), "consequence": csq, "alt_reads": alt_reads,
            "depth": depth, "vaf": vaf,
            "vaf_ci_low": max(0.0, vaf - half), "vaf_ci_high": min(1.0, vaf + half), "status": status,
            "filter": filt, "origin": origin}


def make_patient(drug: str, extra: list[dict] | None = None, *, cn: pd.DataFrame | None = None,
                 samples=SAMPLES, progression_day: int | None = 300, best_response: str = "PR") -> PatientData:
    s = pd.DataFrame(samples, columns=["sample_id", "sample_type", "timepoint", "collection_day", "purity",
                                       "histology"])
    rows = []
    for sid, stype, *_ in samples:
        if stype == "normal":
            continue
        frac = 0.25 if stype == "tissue" else PLASMA_TF[sid] / 2
        depth = 400 if stype == "tissue" else 1000
        for chrom, pos, ref, alt, gene in TRUNCAL:
            rows.append(_vrow(sid, stype, chrom, pos, ref, alt, gene, round(frac * depth), depth, csq="synonymous_variant"))
    present = {x for x, *_ in samples}
    rows += [r for r in (extra or []) if r["sample_id"] in present]
    return PatientData("PX", "NSCLC", resolve_regimen(drug), progression_day, best_response, s, pd.DataFrame(rows),
                       copy_number=cn if cn is not None else pd.DataFrame())


def acquired_snv(gene, pos, hgvsp, *, prog_reads=(80, 60), base_reads=(0, 0), base_depth=(400, 1000), **kw):
    """A variant absent at baseline (by default) and called at progression in tissue and plasma."""
    return [_vrow("T-BL", "tissue", "chr1", pos, "G", "T", gene, base_reads[0], base_depth[0], hgvsp=hgvsp, **kw),
            _vrow("P-BL", "plasma", "chr1", pos, "G", "T", gene, base_reads[1], base_depth[1], hgvsp=hgvsp, **kw),
            _vrow("T-PD", "tissue", "chr1", pos, "G", "T", gene, prog_reads[0], 400, hgvsp=hgvsp, **kw),
            _vrow("P-PD", "plasma", "chr1", pos, "G", "T", gene, prog_reads[1], 1000, hgvsp=hgvsp, **kw)]


#: a baseline deep enough to exclude a 0.5 % CCF subclone (classify.acquisition.ACQUIRED_MAX_CCF): with 0 ALT
#: fragments the 95 % bound is -ln(0.05) / sum(depth x tumour content / 2) = 3.0 / (2000 x 0.5 / 2 + 4000 x 0.1804 / 2)
#: = 0.35 % (plasma at the lower Wilson bound of its tumour fraction, 2 x 0.0902 for 300/3000 truncal fragments)
DEEP_BASELINE = (2000, 4000)


def amplification(gene: str, cn_by_sample: dict[str, float]) -> pd.DataFrame:
    rows = []
    for sid, c in cn_by_sample.items():
        tc = 0.5 if sid.startswith("T") else None
        rows.append({"patient_id": "PX", "sample_id": sid, "sample_type": "tissue" if sid.startswith("T") else "plasma",
                     "gene": gene, "chrom": "chr7", "start": 116672196, "end": 116798377, "n_targets": 21,
                     "mean_depth": 300.0, "log2_ratio": math.log2((0.5 * c + 1.0) / 2), "log2_se": 0.02,
                     "ci_low": math.log2((0.5 * c + 1.0) / 2) - 0.04, "ci_high": math.log2((0.5 * c + 1.0) / 2) + 0.04,
                     "tumour_content": tc, "tumour_content_source": "purity" if tc else "none",
                     "copy_number": c if tc else None, "copy_number_ci_low": c - 0.3 if tc else None,
                     "copy_number_ci_high": c + 0.3 if tc else None,
                     "call": "amplification" if c >= 5 else "neutral", "confidence": 0.99})
    return pd.DataFrame(rows)


def mechanisms(pat: PatientData) -> pd.DataFrame:
    return classify(pat).mechanisms


# -- drug context (resistance-biology.md §2 rule 1) ------------------------------------------------------
@pytest.mark.parametrize("drug, klass, subclass", [
    ("osimertinib", "bypass", "BYPASS_DOWNSTREAM"),     # EGFR TKI
    ("gefitinib", "bypass", "BYPASS_DOWNSTREAM"),       # EGFR TKI (1st generation)
    ("cetuximab", "bypass", "BYPASS_DOWNSTREAM"),       # anti-EGFR antibody
    ("panitumumab", "bypass", "BYPASS_DOWNSTREAM"),     # anti-EGFR antibody
    ("sotorasib", "on_target", "ON_TARGET_MUT"),        # KRAS G12C inhibitor: KRAS is the target
    ("adagrasib", "on_target", "ON_TARGET_MUT"),
])
def test_kras_is_bypass_on_egfr_drugs_and_on_target_on_g12c_inhibitors(drug, klass, subclass):
    m = mechanisms(make_patient(drug, acquired_snv("KRAS", 25245350, "p.Gly12Asp", base_depth=DEEP_BASELINE)))
    assert m[["class", "subclass", "gene", "alteration", "acquisition"]].values.tolist() == [
        [klass, subclass, "KRAS", "p.G12D", "acquired"]]


@pytest.mark.parametrize("drug, klass, subclass", [
    ("osimertinib", "bypass", "BYPASS_RTK"),
    ("capmatinib", "on_target", "ON_TARGET_AMP"),
    ("tepotinib", "on_target", "ON_TARGET_AMP"),
])
def test_met_amplification_bypass_on_osimertinib_on_target_on_met_tkis(drug, klass, subclass):
    pat = make_patient(drug, cn=amplification("MET", {"T-BL": 2.0, "T-PD": 10.0}))
    m = mechanisms(pat)
    # baseline 2.0 copies (95 % CI 1.7-2.3, s.e. 0.153): one-sided bound 2 + 1.645 x 0.153 = 2.25 copies; a subclone
    # carrying the 9.7-copy (CI low at progression) amplification at CCF c adds c x 7.7 copies -> c <= 3.3 %: a 0.5 %
    # subclone cannot be excluded (not acquired), but the CCF rose from <= 3.3 % to clonal (enriched): emerged, counted
    assert m[["class", "subclass", "gene", "alteration", "acquisition", "enriched"]].values.tolist() == [
        [klass, subclass, "MET", "amplification", "emerged", True]]
    alt = classify(pat).alterations.set_index("gene").loc["MET"]
    assert alt["baseline_ccf_upper"] == pytest.approx((1.6448536 * 0.6 / 3.919928) / 7.7, rel=1e-4)


def test_map2k1_on_dabrafenib_trametinib_is_mapped_per_component():
    m = mechanisms(make_patient("dabrafenib+trametinib", acquired_snv("MAP2K1", 66729162, "p.Cys121Ser")))
    got = sorted(m[["drug", "class", "subclass"]].values.tolist())
    assert got == [["dabrafenib", "bypass", "BYPASS_DOWNSTREAM"], ["trametinib", "on_target", "ON_TARGET_MUT"]]
    assert set(m["regimen"]) == {"dabrafenib+trametinib"}
    # one alteration: counted once, as on-target (it hits a target of the regimen)
    pts = pd.DataFrame([{"patient_id": "PX", "drug": "dabrafenib+trametinib", "tumour_type": "melanoma",
                         "progression_day": 300, "resistance_type": "acquired", "early_trial_after": None}])
    s = cohort_summary(pts, pd.DataFrame({"patient_id": ["PX"], "sample_type": ["tissue"]}), m)
    val = s[s["stratum"] == "all"].set_index("metric")["value"]
    assert (val["resistance_alterations_at_progression"], val["resistance_alterations_on_target"],
            val["resistance_alterations_bypass"]) == (1, 1, 0)


# -- what never is a mechanism ------------------------------------------------------------------------------
@pytest.mark.parametrize("origin, filt", [("chip", "chip"), ("germline", "germline"), ("artefact", "strand_bias")])
def test_ch_germline_artefact_never_yield_a_mechanism(origin, filt):
    # a KRAS G12D that would be a textbook bypass on cetuximab, but seen in the white-cell normal (CH)
    v = acquired_snv("KRAS", 25245350, "p.Gly12Asp", origin=origin, filt=filt)
    res = classify(make_patient("cetuximab", v))
    assert "KRAS" not in set(res.alterations.get("gene", pd.Series(dtype=str)))
    assert res.mechanisms[["class", "subclass"]].values.tolist() == [["unknown", "UNKNOWN"]]


def test_stable_pre_existing_alteration_is_not_a_mechanism_of_acquired_resistance():
    # KRAS G12D clonal before cetuximab and unchanged: the drug worked despite it (PR), so it is not
    # the mechanism; the patient is unknown and the note says why
    v = acquired_snv("KRAS", 25245350, "p.Gly12Asp", base_reads=(100, 100), prog_reads=(100, 100))
    res = classify(make_patient("cetuximab", v))
    alt = res.alterations.set_index("gene").loc["KRAS"]
    assert alt["acquisition"] == "pre_existing" and not alt["enriched"]
    assert res.mechanisms["subclass"].tolist() == ["UNKNOWN"]
    assert "p.G12D" in res.mechanisms["note"].iloc[0]
    # ... but for primary resistance (best response PD) the same alteration explains it
    res = classify(make_patient("cetuximab", v, best_response="PD", progression_day=56))
    assert res.mechanisms[["subclass", "acquisition"]].values.tolist() == [["BYPASS_DOWNSTREAM", "pre_existing"]]


def test_enriched_pre_existing_subclone_is_a_pre_existing_mechanism():
    # CCF 2*0.0125/0.5 = 0.05 at baseline -> 2*0.2/0.5 = 0.8 at progression
    v = acquired_snv("NRAS", 114713909, "p.Gln61Lys", base_reads=(5, 5), prog_reads=(80, 80))
    res = classify(make_patient("cetuximab", v))
    assert res.mechanisms[["class", "subclass", "gene", "acquisition"]].values.tolist() == [
        ["bypass", "BYPASS_DOWNSTREAM", "NRAS", "pre_existing"]]
    assert bool(res.alterations.set_index("gene").loc["NRAS", "enriched"])


# -- acquisition statistics ---------------------------------------------------------------------------
def test_acquired_needs_a_baseline_that_excludes_a_one_percent_subclone():
    # 0 ALT fragments in 2000 tissue (purity 0.5) + 4000 plasma (TF lower bound 0.1804) fragments: at CCF 0.5 % the
    # expected count is 0.005 x 860.8 = 4.30, P(0) = exp(-4.30) = 0.0135 < 0.05 -> acquired; bound 3.0/860.8
    deep = classify(make_patient("osimertinib", acquired_snv("EGFR", 55181398, "p.Cys797Ser",
                                                             base_depth=DEEP_BASELINE))).alterations
    row = deep.set_index("gene").loc["EGFR"]
    assert row["acquisition"] == "acquired" and row["acquisition_p"] == pytest.approx(math.exp(-4.304), rel=0.02)
    assert row["baseline_ccf_upper"] == pytest.approx(-math.log(0.05) / 860.8, rel=0.01)
    # the old null ("present at its progression level", CCF ~0.8) would have called 400x + 1000x acquired; against
    # 0.5 % it cannot: sum 400 x 0.25 + 1000 x 0.0902 = 190.2 -> bound 3.0/190.2 = 1.6 % -> not acquired ...
    usual = classify(make_patient("osimertinib", acquired_snv("EGFR", 55181398, "p.Cys797Ser"))).alterations
    row = usual.set_index("gene").loc["EGFR"]
    assert row["acquisition"] == "emerged" and row["acquisition_p"] > 0.05
    assert row["baseline_ccf_upper"] == pytest.approx(-math.log(0.05) / 190.2, rel=0.01)
    # ... but enriched (so `emerged`): progression CCF >= 2 x (0.2 - 1.96 x 0.02) / 0.5 = 0.64 (the helper's
    # interval) > 0.016
    assert bool(row["enriched"])
    # a 4x baseline says nothing: bound far above 0.5 %
    shallow = classify(make_patient("osimertinib", acquired_snv("EGFR", 55181398, "p.Cys797Ser",
                                                                base_depth=(4, 4)))).alterations
    row = shallow.set_index("gene").loc["EGFR"]
    assert row["acquisition"] == "indeterminate" and row["acquisition_p"] > 0.9 and row["baseline_ccf_upper"] > 0.5
    # no baseline sample at all
    no_base = [s for s in SAMPLES if s[2] != "baseline"]
    res = classify(make_patient("osimertinib", acquired_snv("EGFR", 55181398, "p.Cys797Ser"), samples=no_base))
    assert res.alterations.set_index("gene").loc["EGFR", "acquisition"] == "indeterminate"
    m = res.mechanisms
    assert m["acquisition"].tolist() == ["indeterminate"] and "no baseline sample" in m["note"].iloc[0]


# -- unknown / non-informative ------------------------------------------------------------------------------
def test_non_informative_when_no_tissue_and_plasma_tumour_fraction_too_low():
    only_plasma = [s for s in SAMPLES if not (s[1] == "tissue" and s[2] == "progression")]
    PLASMA_TF["P-PD"] = 0.02           # 2% < the 3% floor
    try:
        res = classify(make_patient("osimertinib", samples=only_plasma))
    finally:
        PLASMA_TF["P-PD"] = 0.2
    tf = res.ctdna.set_index("sample_id")
    assert tf.loc["P-PD", "tumour_fraction"] == pytest.approx(0.02, abs=0.01)
    assert not tf.loc["P-PD", "informative"]
    assert res.mechanisms[["class", "subclass"]].values.tolist() == [["unknown", "NON_INFORMATIVE"]]
    # with a tissue biopsy at progression the same negative result is UNKNOWN
    assert mechanisms(make_patient("osimertinib"))["subclass"].tolist() == ["UNKNOWN"]


def test_not_progressed_patient_has_no_mechanism_row():
    assert mechanisms(make_patient("osimertinib", progression_day=None)).empty


# -- histology ------------------------------------------------------------------------------------------
def test_sclc_transformation_is_lineage_histologic():
    s = [x if x[0] != "T-PD" else ("T-PD", "tissue", "progression", 300, 0.5, "SCLC") for x in SAMPLES]
    m = mechanisms(make_patient("osimertinib", samples=s))
    assert m[["class", "subclass", "alteration"]].values.tolist() == [["other", "LINEAGE_HISTOLOGIC", "SCLC"]]
    assert "Lee JK" in m["citation"].iloc[0]


@pytest.mark.parametrize("text, label", [
    ("SCLC", "small-cell (SCLC/NE) transformation"), ("small cell carcinoma", "small-cell (SCLC/NE) transformation"),
    ("squamous cell carcinoma", "squamous transformation"), ("non-small cell lung carcinoma", None),
    ("non small cell carcinoma", None), ("NSCLC", None), ("adenocarcinoma", None), (None, None)])
def test_histology_terms(text, label):
    t = transformation_of(text)
    assert (t.label if t else None) == label


# -- ctDNA tumour fraction -----------------------------------------------------------------------------------
def test_tumour_fraction_from_truncal_variants_with_interval():
    tf = tumour_fractions(make_patient("osimertinib")).set_index("sample_id")
    # planted: plasma 0.2, tissue 0.5 (truncal VAF = TF/2)
    for sid, truth in (("P-BL", 0.2), ("P-PD", 0.2), ("T-BL", 0.5), ("T-PD", 0.5)):
        assert tf.loc[sid, "method"] == "truncal_vaf"
        assert tf.loc[sid, "tf_ci_low"] <= truth <= tf.loc[sid, "tf_ci_high"]
        assert tf.loc[sid, "tumour_fraction"] == pytest.approx(truth, rel=0.02)
    # tissue content used for scaling = purity; plasma = the estimate
    tc = tumour_content(tumour_fractions(make_patient("osimertinib")), make_patient("osimertinib"))
    assert tc["T-BL"] == 0.5 and tc["P-PD"] == pytest.approx(0.2, rel=0.02)


def test_concordance_counts_tissue_mutations_seen_in_plasma():
    # the C797S is called in both progression samples; the 3 truncal SNVs are in all samples
    tf = tumour_fractions(make_patient("osimertinib", acquired_snv("EGFR", 55181398, "p.Cys797Ser")))
    row = tf.set_index("sample_id").loc["P-PD"]
    assert (row["matched_tissue_sample_id"], row["n_tissue_mutations"], row["n_tissue_mutations_in_plasma"],
            row["n_plasma_only_mutations"], row["concordance"]) == ("T-PD", 4, 4, 0, 1.0)


# -- phase / HGVS ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("both, a, b, phase", [
    (20, 0, 1, "cis"), (0, 12, 9, "trans"), (1, 0, 0, "unknown"), (6, 6, 6, "unknown"), (2, 0, 0, "unknown")])
def test_phase_decision(both, a, b, phase):
    assert decide(both, a, b) == phase



def _bam(path, fragments: list[tuple[str, str]]) -> str:
    """A BAM of 50 bp reads at chr1:81-130 whose bases at 100 and 118 are the given alleles."""
    import pysam

    ref = list("ACGT" * 13)[:50]           # positions 81..130
    header = {"HD": {"VN": "1.6", "SO": "coordinate"}, "SQ": [{"SN": "chr1", "LN": 1000}]}
    with pysam.AlignmentFile(str(path), "wb", header=header) as out:
        for i, (x, y) in enumerate(fragments):
            seq = ref.copy()
            seq[100 - 81] = "T" if x == "A" else "G"
            seq[118 - 81] = "T" if y == "A" else "C"
            r = pysam.AlignedSegment()
            r.query_name, r.flag, r.reference_id, r.reference_start = f"f{i}", 0, 0, 80
            r.mapping_quality, r.cigarstring = 60, "50M"
            r.query_sequence, r.query_qualities = "".join(seq), pysam.qualitystring_to_array("I" * 50)
            out.write(r)
    pysam.index(str(path))
    return str(path)


@pytest.mark.parametrize("fragments, phase", [
    ([("A", "A")] * 8 + [("R", "R")] * 20, "cis"),
    ([("A", "R")] * 6 + [("R", "A")] * 5 + [("R", "R")] * 20, "trans"),
    ([("A", "A")] * 1 + [("R", "R")] * 20, "unknown"),
])
def test_phase_from_spanning_fragments(tmp_path, fragments, phase):
    from unlock_atlas.classify.phase import Site, phase_pair

    bam = _bam(tmp_path / "x.bam", fragments)
    res = phase_pair([bam], Site("chr1", 100, "G", "T"), Site("chr1", 118, "C", "T"))
    n_both = sum(f == ("A", "A") for f in fragments)
    assert (res.phase, res.both, res.neither) == (phase, n_both, sum(f == ("R", "R") for f in fragments))


def test_splice_changes_are_labelled_by_their_c_change_not_p_question_mark():
    # two canonical splice-site changes both have p.? (HGVS: protein effect unpredictable); the mechanisms
    # table must still tell them apart (hgvsc strings hand-written)
    from unlock_atlas.classify.mechanisms import alteration_label

    a = {"kind": "snv", "hgvsp_short": "p.?", "hgvsc": "c.1704+1G>A", "alteration_id": "chr10:1:G>A"}
    b = {"kind": "snv", "hgvsp_short": "p.?", "hgvsc": "c.1813-2A>G", "alteration_id": "chr10:2:A>G"}
    assert alteration_label(a) == "c.1704+1G>A" and alteration_label(b) == "c.1813-2A>G"
    assert alteration_label({"kind": "snv", "hgvsp_short": "p.C797S", "hgvsc": "c.2390G>C",
                             "alteration_id": "x"}) == "p.C797S"


# -- rule objects and structured evidence (classify/rules.py) ------------------------------------------
def test_rules_are_ordered_objects_named_in_the_vocabulary():
    from unlock_atlas.classify.rules import RULES
    from unlock_atlas.contract.vocab import MECHANISM_RULES

    assert [r.name for r in RULES] == MECHANISM_RULES
    assert [r.fallback for r in RULES] == [False, False, True, True]


def test_kb_row_carries_its_evidence_as_columns_and_the_text_renders_them():
    m = mechanisms(make_patient("osimertinib", acquired_snv("KRAS", 25245350, "p.Gly12Asp", base_depth=DEEP_BASELINE)))
    row = m.iloc[0]
    # resources/kb/resistance_alterations.tsv: KRAS activating mutations are BYPASS_DOWNSTREAM on EGFR TKIs
    assert row["rule"] == "kb_alteration" and row["kb_evidence_status"] in ("V", "R", "D")
    assert row["kb_pattern"] and row["kb_source"]
    assert row["acquisition_basis"].startswith("baseline") or "baseline" in row["acquisition_basis"]
    assert f"{row['kb_pattern']} -> BYPASS_DOWNSTREAM (status {row['kb_evidence_status']}; {row['kb_source']})" in row["evidence"]
    assert f"Acquisition acquired: {row['acquisition_basis']}" in row["evidence"]


def test_fallback_rows_name_their_rule_and_evidence_columns():
    only_plasma = [s for s in SAMPLES if not (s[1] == "tissue" and s[2] == "progression")]
    PLASMA_TF["P-PD"] = 0.02
    try:
        m = mechanisms(make_patient("osimertinib", samples=only_plasma))
    finally:
        PLASMA_TF["P-PD"] = 0.2
    row = m.iloc[0]
    assert (row["rule"], row["subclass"], bool(row["progression_tissue"])) == ("no_mechanism", "NON_INFORMATIVE", False)
    assert row["progression_plasma_tf"] == pytest.approx(0.02, abs=0.01)
    assert f"best progression plasma tumour fraction {row['progression_plasma_tf']:.3f}" in row["evidence"]
    u = mechanisms(make_patient("osimertinib")).iloc[0]
    assert (u["rule"], u["subclass"], bool(u["progression_tissue"])) == ("no_mechanism", "UNKNOWN", True)
    s = [x if x[0] != "T-PD" else ("T-PD", "tissue", "progression", 300, 0.5, "SCLC") for x in SAMPLES]
    h = mechanisms(make_patient("osimertinib", samples=s)).iloc[0]
    assert (h["rule"], h["histology"]) == ("histologic_transformation", "SCLC")
