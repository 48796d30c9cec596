"""Classification per treatment line (issue 17 item 1) on a hand-built two-line patient.

Truth written by hand from resistance-biology.md §2 rule 1 and §3: EGFR T790M is on-target
resistance to a 1st-generation EGFR TKI (erlotinib; Yu 2013, resources/kb row "EGFR TKI EGFR
T790M"); KRAS G12D is a by-pass (BYPASS_DOWNSTREAM) on osimertinib (Schoenfeld 2020). The patient
(erlotinib day 0-300, then osimertinib from day 314, progressing on day 600) acquires T790M under
line 1 and KRAS G12D under line 2; T790M, called at the line-1 progression (= the line-2
baseline), is pre-existing for line 2.
"""

from __future__ import annotations

import pandas as pd
from test_classify_rules import TRUNCAL, _vrow

from unlock_atlas.classify.lines import line_samples
from unlock_atlas.classify.patient import PatientData
from unlock_atlas.classify.stage import classify
from unlock_atlas.inputs import Line
from unlock_atlas.knowledge.drugs import resolve_regimen

# (sample, type, timepoint, day, purity, histology, line)
SAMPLES = [("N", "normal", None, 0, None, None, None),
           ("T-BL", "tissue", "baseline", -7, 0.5, "adenocarcinoma", 1),
           ("P-BL", "plasma", "baseline", 0, None, None, 1),
           ("T-PD", "tissue", "progression", 300, 0.5, "adenocarcinoma", 1),
           ("P-PD", "plasma", "progression", 300, None, None, 1),
           ("T-PD2", "tissue", "progression", 600, 0.5, "adenocarcinoma", 2),
           ("P-PD2", "plasma", "progression", 600, None, None, 2)]
TYPE = {s[0]: s[1] for s in SAMPLES}
LINES = [Line(1, resolve_regimen("erlotinib"), 0, None, 300, "PR"),
         Line(2, resolve_regimen("osimertinib"), 314, None, 600, "PR")]
T790M = ("chr7", 55181378, "C", "T", "EGFR", "p.Thr790Met")
G12D = ("chr12", 25245350, "C", "T", "KRAS", "p.Gly12Asp")


def _v(sample, site, alt_reads, depth):
    chrom, pos, ref, alt, gene, hgvsp = site
    return _vrow(sample, TYPE[sample], chrom, pos, ref, alt, gene, alt_reads, depth, hgvsp=hgvsp)


def two_line_patient(lines=LINES, *, kras_in_line1: bool = False, t790m_in_line2: bool = True) -> PatientData:
    s = pd.DataFrame(SAMPLES, columns=["sample_id", "sample_type", "timepoint", "collection_day", "purity",
                                       "histology", "line"])
    rows = []
    for sid, stype, *_ in SAMPLES:   # truncal: tissue VAF 0.25 (purity 0.5), plasma VAF 0.1 (tf 0.2)
        if stype == "normal":
            continue
        depth = 2000 if stype == "tissue" else 4000
        frac = 0.25 if stype == "tissue" else 0.1
        for chrom, pos, ref, alt, gene in TRUNCAL:
            rows.append(_vrow(sid, stype, chrom, pos, ref, alt, gene, round(frac * depth), depth,
                              csq="synonymous_variant"))
    # T790M: absent before erlotinib (deep baseline: excludes a 0.5 % CCF subclone), ~40 % CCF at both progressions
    late = (80, 60) if t790m_in_line2 else (0, 0)
    rows += [_v("T-BL", T790M, 0, 2000), _v("P-BL", T790M, 0, 4000), _v("T-PD", T790M, 80, 400),
             _v("P-PD", T790M, 60, 1000), _v("T-PD2", T790M, late[0], 400), _v("P-PD2", T790M, late[1], 1000)]
    # KRAS G12D: absent through line 1 (deep line-1 progression samples), called at the line-2 progression
    early = ((80, 400), (60, 1000)) if kras_in_line1 else ((0, 2000), (0, 4000))
    rows += [_v("T-BL", G12D, 0, 2000), _v("P-BL", G12D, 0, 4000), _v("T-PD", G12D, *early[0]),
             _v("P-PD", G12D, *early[1]), _v("T-PD2", G12D, 80, 400), _v("P-PD2", G12D, 60, 1000)]
    return PatientData("PX", "NSCLC", resolve_regimen("erlotinib"), 300, "PR", s, pd.DataFrame(rows), lines=lines)


def test_one_mechanism_per_line_with_the_class_of_that_lines_drug():
    res = classify(two_line_patient())
    m = res.mechanisms
    got = sorted(m[["line", "regimen", "class", "subclass", "gene", "alteration", "acquisition"]]
                 .itertuples(index=False, name=None))
    assert got == [(1, "erlotinib", "on_target", "ON_TARGET_MUT", "EGFR", "p.T790M", "acquired"),
                   (2, "osimertinib", "bypass", "BYPASS_DOWNSTREAM", "KRAS", "p.G12D", "acquired")]
    assert m.set_index("line").loc[2, "progression_day"] == 600
    assert not m["multiple_mechanisms"].any()


def test_an_alteration_acquired_in_line_1_is_pre_existing_for_line_2():
    a = classify(two_line_patient()).alterations.set_index(["alteration_id", "line"])
    t790m = "chr7:55181378:C>T"
    assert a.loc[(t790m, 1), "acquisition"] == "acquired"
    assert a.loc[(t790m, 2), "acquisition"] == "pre_existing"
    assert "T-PD" in a.loc[(t790m, 2), "acquisition_basis"]     # the line-1 progression biopsy is line 2's baseline
    assert bool(a.loc[(t790m, 2), "present_baseline_tissue"])
    assert a.loc[(t790m, 2), "resistance_relevance"] == "none"   # stable (~40 % -> ~40 %) under osimertinib
    # KRAS G12D was never called in line 1: it has a line-2 row only
    assert ("chr12:25245350:C>T", 1) not in a.index and a.loc[("chr12:25245350:C>T", 2), "acquisition"] == "acquired"


def test_line_samples_borrow_the_previous_progression_as_baseline():
    s, borrowed = line_samples(two_line_patient(), 2)
    assert borrowed == ["T-PD", "P-PD"]
    assert dict(zip(s["sample_id"], s["timepoint"])) == {"N": None, "T-PD": "baseline", "P-PD": "baseline",
                                                          "T-PD2": "progression", "P-PD2": "progression"}
    s1, b1 = line_samples(two_line_patient(), 1)
    assert b1 == [] and list(s1["sample_id"]) == ["N", "T-BL", "P-BL", "T-PD", "P-PD"]


def test_resistance_timing_counts_from_the_line_start():
    """Line 2 (osimertinib from day 530) progresses on day 600 with no response recorded: 70 days on the drug is
    primary resistance (domain.resistance_type rule 6), so a pre-existing, stable KRAS G12D (acquired under
    erlotinib) explains it (§2 rule 3). Counted from day 0 (600 days) the timing would be `unknown` and KRAS
    would not count. T790M is lost at the line-2 progression (not called), so it is no line-2 mechanism."""
    lines = [LINES[0], Line(2, resolve_regimen("osimertinib"), 530, None, 600, None)]
    m = classify(two_line_patient(lines, kras_in_line1=True, t790m_in_line2=False)).mechanisms
    got = sorted(m[["line", "class", "gene", "acquisition"]].itertuples(index=False, name=None))
    assert got == [(1, "bypass", "KRAS", "acquired"), (1, "on_target", "EGFR", "acquired"),
                   (2, "bypass", "KRAS", "pre_existing")]
    # the same sheets with line 2 from day 314 (286 days, no response): timing unknown -> stable KRAS not counted
    lines = [LINES[0], Line(2, resolve_regimen("osimertinib"), 314, None, 600, None)]
    m = classify(two_line_patient(lines, kras_in_line1=True, t790m_in_line2=False)).mechanisms
    assert set(m.loc[m["line"] == 2, "subclass"]) == {"UNKNOWN"}


def test_samples_without_a_line_column_attach_by_day():
    pat = two_line_patient()
    pat.samples = pat.samples.drop(columns="line")
    got = sorted(classify(pat).mechanisms[["line", "gene"]].itertuples(index=False, name=None))
    assert got == [(1, "EGFR"), (2, "KRAS")]


def test_a_patient_without_lines_is_classified_as_one_line():
    pat = two_line_patient(lines=[])
    res = classify(pat)
    assert set(res.mechanisms["line"]) == {1} and set(res.alterations["line"]) == {1}
    # one line = every sample in it, the erlotinib progression on day 300 judged against T-BL / P-BL
    assert set(res.mechanisms["regimen"]) == {"erlotinib"}


def test_cohort_summary_per_line_and_per_line_drug():
    """PX: erlotinib (line 1, T790M) then osimertinib (line 2, from day 314, progression day 600: KRAS G12D);
    PY: osimertinib only (progression day 300: MET amplification). Counts written by hand."""
    from unlock_atlas.atlas.summary import cohort_summary

    px = classify(two_line_patient()).mechanisms
    py = pd.DataFrame([{"patient_id": "PY", "line": 1, "regimen": "osimertinib", "drug": "osimertinib",
                        "class": "bypass", "subclass": "BYPASS_RTK", "gene": "MET", "alteration": "amplification",
                        "alteration_id": "MET:amplification", "acquisition": "acquired", "lead_time_days": None}])
    mech = pd.concat([px, py], ignore_index=True)
    pts = pd.DataFrame([{"patient_id": "PX", "drug": "erlotinib", "tumour_type": "NSCLC", "progression_day": 300,
                         "resistance_type": "acquired", "early_trial_after": None},
                        {"patient_id": "PY", "drug": "osimertinib", "tumour_type": "NSCLC", "progression_day": 300,
                         "resistance_type": "acquired", "early_trial_after": None}])
    treatments = pd.DataFrame([("PX", 1, "erlotinib", 0, 300, "acquired"), ("PX", 2, "osimertinib", 314, 600, "acquired"),
                               ("PY", 1, "osimertinib", 0, 300, "acquired")],
                              columns=["patient_id", "line", "drug", "start_day", "progression_day", "resistance_type"])
    samples = pd.DataFrame({"patient_id": ["PX", "PX", "PX", "PY"], "sample_type": ["tissue", "tissue", "normal", "tissue"],
                            "line": [1, 2, None, 1]})
    s = cohort_summary(pts, samples, mech, treatments=treatments).set_index(["stratum", "metric"])

    def get(stratum, metric):
        return s.loc[(stratum, metric), "value"], s.loc[(stratum, metric), "n"]

    assert get("all", "resistance_alterations_at_progression") == (3, 2)
    assert get("all", "resistance_alterations_on_target") == (1, 3)
    assert get("all", "patients_multiple_mechanisms") == (0, 2)    # one mechanism per line: sequential, not polyclonal
    assert get("drug:osimertinib", "resistance_alterations_bypass") == (2, 2)
    assert get("drug:osimertinib", "patients_included") == (2, 2)
    assert get("drug:osimertinib", "median_days_to_progression") == ((286 + 300) / 2, 2)   # days from each line start
    assert get("drug:erlotinib", "resistance_alterations_on_target") == (1, 1)
    assert get("line:1", "resistance_alterations_at_progression") == (2, 2)
    assert get("line:2", "resistance_alterations_at_progression") == (1, 1)
    assert get("line:2", "biopsies") == (1, 1) and get("line:1", "biopsies") == (2, 2)
    # a single-line cohort gets no line strata
    one = cohort_summary(pts.iloc[1:], samples.iloc[3:], py)
    assert not one["stratum"].str.startswith("line:").any()


def test_swimmer_lane_shows_each_treatment_line():
    """The report's swimmer lane of a two-line patient: two bands starting at days 0 and 314 labelled with the
    line drugs, progression bars at days 300 and 600, and the line-2 mechanism labelled with its line."""
    from unlock_atlas.report import svg
    from unlock_atlas.report.clinical import build_lanes, mechanism_label
    from unlock_atlas.report.data import ReportData

    pts = pd.DataFrame([{"patient_id": "PX", "tumour_type": "NSCLC", "drug": "erlotinib", "progression_day": 300,
                         "resistance_type": "acquired"}])
    samples = pd.DataFrame([("PX", "PX-T-PD2", "tissue", "progression", 600, "pass")],
                           columns=["patient_id", "sample_id", "sample_type", "timepoint", "collection_day", "qc_status"])
    treatments = pd.DataFrame([("PX", 1, "erlotinib", 0, None, 300, "acquired"),
                               ("PX", 2, "osimertinib", 314, None, 600, "acquired")],
                              columns=["patient_id", "line", "drug", "start_day", "end_day", "progression_day",
                                       "resistance_type"])
    data = ReportData(atlas=None, tables={"patients": pts, "samples": samples, "mechanisms": None,
                                          "treatments": treatments})
    lane = build_lanes(data)["PX"]
    assert [(a, b, short) for a, b, short, _ in lane.lines] == [(0.0, 300.0, "erlotinib"), (314.0, 600.0, "osimertinib")]
    assert lane.progression_day == 300 and lane.later_progressions == [600.0]
    assert lane.label == "PX erlotinib → osimertinib"
    fig = svg.swimmer([lane], "t")
    assert fig.count('class="line-band"') == 2 and fig.count("progression, day") == 2
    assert ">osimertinib<" in fig and "line 2: osimertinib from day 314, progression day 600" in fig
    row = pd.Series({"gene": "MET", "alteration": "amplification", "line": 2, "regimen": "osimertinib"})
    assert mechanism_label(row) == "MET amplification (line 2: osimertinib)"
    assert mechanism_label(row.drop("line")) == "MET amplification"
