"""The ``cohort_summary`` table: the programme's headline figures, COMPUTED from the atlas tables.

Called by the atlas stage on the assembled (pseudonymised) tables, so every figure can be
reproduced from the atlas by an analyst. Each metric is computed for the whole cohort (stratum
``all``), each regimen (``drug:<regimen>``: the treatment lines on it) and tumour type
(``tumour_type:<type>``), and, when a patient has several treatment lines, each line number
(``line:<n>``; :func:`cohort_summary`).

Counting rules (mission.md: the programme counts resistance ALTERATIONS, not patients, in "17
mutations, of which 15 bypass and 2 on-target"):

* an alteration is a distinct (patient, ``alteration_id``) among mechanism rows of class
  on_target / bypass / other that carry an alteration (LINEAGE_HISTOLOGIC rows have none and are
  counted with patients instead); a combination classified per component drug counts once, as
  on_target if it is on-target for any component (it hits a target of the regimen), else bypass,
  else other;
* a cis compound (mutations phased on the same molecules, ``compound_id``) is ONE mechanism
  (e.g. EGFR T790M + C797S in cis: one molecule resists; in trans they are two clones);
* an alteration whose acquisition is ``indeterminate`` (neither acquired nor ``emerged``: the
  baseline could not exclude a pre-existing subclone of >= 0.5 % CCF and its CCF was not shown to
  rise) is NOT counted; ``emerged`` ones (the CCF rose beyond chance: selected by the drug whether
  it pre-existed at a low level or not) are; the excluded ones are reported as
  ``resistance_alterations_indeterminate``;
* lead time is counted only for alterations not present at baseline (``pre_existing`` excluded);
  the tumour-informed lead time (first plasma sample called OR detected by the tumour-informed test,
  docs/calling.md §3b) is reported beside the de-novo one, over the same alterations;
* ``n`` is the denominator or population of each metric, given in :data:`METRICS`.
"""

from __future__ import annotations

import pandas as pd

#: metric ID -> (unit, definition incl. what ``n`` is). The first eight are the fixed IDs of design.md §4.
METRICS: dict[str, tuple[str, str]] = {
    "patients_included": ("patients", "patients in the atlas; n = the same count"),
    "biopsies": ("samples", "tissue biopsies sequenced; n = patients"),
    "sequenced_samples": ("samples", "sequenced samples of every type (tissue, plasma, white-cell normal); n = patients"),
    "resistance_alterations_at_progression": (
        "alterations", "distinct genomic alterations classified as a resistance mechanism (on_target, bypass or "
        "other) at progression; n = progressed patients"),
    "resistance_alterations_bypass": ("alterations", "of those, bypass (BYPASS_*); n = resistance_alterations_at_progression"),
    "resistance_alterations_on_target": (
        "alterations", "of those, on-target (ON_TARGET_*) for at least one drug of the regimen; n = "
        "resistance_alterations_at_progression"),
    "patients_with_mechanism": ("patients", "progressed patients with at least one mechanism (any class but "
                                "unknown, histologic transformation included); n = progressed patients"),
    "pct_early_phase_trial": ("percent", "percent of patients treated in an early-phase trial after progression; "
                              "n = patients with early_trial_after recorded"),
    "resistance_alterations_other": ("alterations", "of the resistance alterations, class other (pathway "
                                     "restoration, immune escape); n = resistance_alterations_at_progression"),
    "patients_progressed": ("patients", "patients with a progression day; n = patients"),
    "patients_primary_resistance": ("patients", "patients with resistance_type primary; n = patients"),
    "patients_acquired_resistance": ("patients", "patients with resistance_type acquired; n = patients"),
    "patients_multiple_mechanisms": ("patients", "progressed patients with more than one mechanism; n = progressed patients"),
    "patients_unknown_mechanism": ("patients", "progressed patients whose only row is UNKNOWN; n = progressed patients"),
    "patients_non_informative": ("patients", "progressed patients whose only row is NON_INFORMATIVE; n = progressed patients"),
    "median_days_to_progression": ("days", "median progression_day of progressed patients; n = progressed patients"),
    "tissue_plasma_concordance": ("fraction", "pooled share of somatic mutations called in a tissue biopsy that are "
                                  "also called in the plasma sample of the same timepoint; n = those tissue mutations"),
    "median_lead_time_days": ("days", "median molecular lead time (progression day minus first plasma detection) "
                              "of counted resistance alterations seen in plasma and not present at baseline "
                              "(pre-existing ones excluded); n = those alterations"),
    "median_lead_time_tumour_informed_days": (
        "days", "median tumour-informed molecular lead time (progression day minus the first plasma sample in which "
        "the alteration was called or detected by the tumour-informed test, docs/calling.md 3b) of counted resistance "
        "alterations seen in plasma that way and not present at baseline; n = those alterations"),
    "resistance_alterations_indeterminate": (
        "alterations", "knowledge-base resistance alterations at progression whose acquisition is indeterminate "
        "(neither acquired nor emerged): listed in the mechanisms table but NOT counted in the resistance_alterations_* "
        "and patients_* metrics; n = progressed patients"),
}


def _col(m: pd.DataFrame, name: str) -> pd.Series:
    return m[name] if name in m.columns else pd.Series([None] * len(m), index=m.index, dtype=object)


def _line_of(m: pd.DataFrame) -> pd.Series:
    """The treatment line of each mechanism row (1 where the column is missing or null: parts written before lines)."""
    return pd.to_numeric(_col(m, "line"), errors="coerce").fillna(1).astype(int)


def _excluded(m: pd.DataFrame) -> pd.Series:
    """Alteration rows that are not counted: acquisition indeterminate (neither acquired nor shown
    to have emerged under treatment; classify/alterations.py)."""
    return (_col(m, "acquisition") == "indeterminate") & m["alteration_id"].notna()


def _unit(m: pd.DataFrame) -> pd.Series:
    """The mechanism a row counts towards: its cis compound, else its alteration (else its label)."""
    return _col(m, "compound_id").fillna(m["alteration_id"]).fillna(m["alteration"].astype(str))


def _alteration_classes(mech: pd.DataFrame) -> pd.Series:
    """(patient_id, mechanism unit) -> on_target / bypass / other, one per distinct alteration / cis compound."""
    m = mech[mech["class"].isin(["on_target", "bypass", "other"]) & mech["alteration_id"].notna()]
    if m.empty:
        return pd.Series(dtype=object)
    rank = {"on_target": 0, "bypass": 1, "other": 2}
    best = m.assign(r=m["class"].map(rank), unit=_unit(m)).groupby(["patient_id", "unit"])["r"].min()
    inv = {v: k for k, v in rank.items()}
    return best.map(inv)


def _metrics_for(pats: pd.DataFrame, samples: pd.DataFrame, mech: pd.DataFrame, ctdna: pd.DataFrame,
                 lines: pd.DataFrame | None = None) -> dict:
    """Metrics over the patients ``pats``; with ``lines`` (rows of the treatments table) over those treatment
    lines only: their mechanism rows, progressions (days from the line start) and resistance types."""
    ids = set(pats["patient_id"])
    s = samples[samples["patient_id"].isin(ids)]
    m = mech[mech["patient_id"].isin(ids)] if len(mech) else mech
    if lines is not None and len(m):
        keys = set(zip(lines["patient_id"], lines["line"].astype(int)))
        m = m[[k in keys for k in zip(m["patient_id"], _line_of(m))]]
    excluded = m[_excluded(m)] if len(m) else m
    n_indet = len(excluded.assign(unit=_unit(excluded)).drop_duplicates(["patient_id", "unit"])) if len(excluded) else 0
    m = m[~_excluded(m)] if len(m) else m
    c = ctdna[ctdna["patient_id"].isin(ids)] if len(ctdna) else ctdna
    if lines is None:
        progressed = pats[pats["progression_day"].notna()]
        days = progressed["progression_day"]
        rt, n_units = pats["resistance_type"], len(pats)
    else:
        progressed = lines[lines["progression_day"].notna()]
        days = progressed["progression_day"] - progressed["start_day"]
        rt, n_units = lines["resistance_type"], len(lines)
    n_prog = len(progressed)
    classes = _alteration_classes(m) if len(m) else pd.Series(dtype=object)
    n_alt = len(classes)
    per_patient = m.groupby("patient_id")["class"].apply(set) if len(m) else pd.Series(dtype=object)
    subs = m.groupby("patient_id")["subclass"].apply(set) if len(m) else pd.Series(dtype=object)
    with_mech = sum(1 for cl in per_patient if cl - {"unknown"})
    mech_rows = m[m["class"] != "unknown"] if len(m) else m
    # more than one mechanism on the SAME line (mechanisms of successive lines are sequential, not polyclonal)
    n_multi = (mech_rows.assign(k=_unit(mech_rows), ln=_line_of(mech_rows)).groupby(["patient_id", "ln"])["k"]
               .nunique().gt(1).groupby(level=0).any().sum() if len(mech_rows) else 0)
    trial = pats["early_trial_after"].dropna()
    not_baseline = mech_rows[_col(mech_rows, "acquisition") != "pre_existing"] if len(mech_rows) else mech_rows
    lead = (not_baseline[not_baseline["alteration_id"].notna()].assign(unit=_unit(not_baseline))
            .drop_duplicates(["patient_id", "unit"])["lead_time_days"].dropna() if len(not_baseline) else [])
    lead_ti = (not_baseline[not_baseline["alteration_id"].notna()]
               .assign(unit=_unit(not_baseline), lt=_col(not_baseline, "lead_time_tumour_informed_days"))
               .drop_duplicates(["patient_id", "unit"])["lt"].dropna() if len(not_baseline) else [])
    tissue_n = int(pd.to_numeric(c["n_tissue_mutations"], errors="coerce").fillna(0).sum()) if len(c) else 0
    tissue_hit = int(pd.to_numeric(c["n_tissue_mutations_in_plasma"], errors="coerce").fillna(0).sum()) if len(c) else 0

    def share(k: int, n: int, scale: float = 1.0) -> float | None:
        return scale * k / n if n else None

    return {
        "patients_included": (len(pats), len(pats)),
        "biopsies": (int((s["sample_type"] == "tissue").sum()), len(pats)),
        "sequenced_samples": (len(s), len(pats)),
        "resistance_alterations_at_progression": (n_alt, n_prog),
        "resistance_alterations_bypass": (int((classes == "bypass").sum()), n_alt),
        "resistance_alterations_on_target": (int((classes == "on_target").sum()), n_alt),
        "patients_with_mechanism": (with_mech, n_prog),
        "pct_early_phase_trial": (share(int(trial.astype(bool).sum()), len(trial), 100.0), len(trial)),
        "resistance_alterations_other": (int((classes == "other").sum()), n_alt),
        "patients_progressed": (n_prog, n_units),
        "patients_primary_resistance": (int((rt == "primary").sum()), n_units),
        "patients_acquired_resistance": (int((rt == "acquired").sum()), n_units),
        "patients_multiple_mechanisms": (int(n_multi), n_prog),
        "patients_unknown_mechanism": (sum(1 for x in subs if x == {"UNKNOWN"}), n_prog),
        "patients_non_informative": (sum(1 for x in subs if x == {"NON_INFORMATIVE"}), n_prog),
        "median_days_to_progression": (float(days.median()) if n_prog else None, n_prog),
        "tissue_plasma_concordance": (share(tissue_hit, tissue_n), tissue_n),
        "median_lead_time_days": (float(pd.Series(lead, dtype=float).median()) if len(lead) else None, len(lead)),
        "median_lead_time_tumour_informed_days": (float(pd.Series(lead_ti, dtype=float).median()) if len(lead_ti)
                                                  else None, len(lead_ti)),
        "resistance_alterations_indeterminate": (n_indet, n_prog),
    }


def single_lines(patients: pd.DataFrame) -> pd.DataFrame:
    """The treatments table of a cohort without treatment lines: each patient's line 1 from day 0 (patients table)."""
    return pd.DataFrame({"patient_id": patients["patient_id"], "line": 1, "drug": patients["drug"], "start_day": 0,
                         "progression_day": patients["progression_day"],
                         "resistance_type": patients["resistance_type"]})


def cohort_summary(patients: pd.DataFrame, samples: pd.DataFrame, mechanisms: pd.DataFrame,
                   ctdna: pd.DataFrame | None = None, treatments: pd.DataFrame | None = None) -> pd.DataFrame:
    """Compute the ``cohort_summary`` rows (columns metric, stratum, value, n, unit, definition).

    Strata: ``all`` and ``tumour_type:<type>`` are patient-level (the patients table; mechanisms of every
    line counted). ``drug:<regimen>`` covers the treatment LINES on that regimen: their mechanism rows,
    progressions (days from the line start) and resistance timing, the samples of their patients; with one
    line per patient this is the patients with that drug. When some patient has more than one line,
    ``line:<n>`` strata are added: the n-th lines, their mechanisms and the samples attached to them.

    Parameters
    ----------
    patients, samples, mechanisms, ctdna, treatments
        The atlas tables of those names (IDs consistent across them, pseudonymised or not);
        ``treatments`` defaults to :func:`single_lines`.
    """
    ctdna = ctdna if ctdna is not None else pd.DataFrame(columns=["patient_id", "n_tissue_mutations",
                                                                  "n_tissue_mutations_in_plasma"])
    lines = treatments if treatments is not None and len(treatments) else single_lines(patients)
    lines = lines.assign(line=lines["line"].astype(int))
    strata: list[tuple[str, pd.DataFrame, pd.DataFrame, pd.DataFrame | None]] = [("all", patients, samples, None)]
    for drug in sorted(lines["drug"].dropna().unique()):
        on = lines[lines["drug"] == drug]
        strata.append((f"drug:{drug}", patients[patients["patient_id"].isin(set(on["patient_id"]))], samples, on))
    for tt in sorted(patients["tumour_type"].dropna().unique()):
        strata.append((f"tumour_type:{tt}", patients[patients["tumour_type"] == tt], samples, None))
    if lines["line"].max() > 1:
        for n in sorted(lines["line"].unique()):
            on = lines[lines["line"] == n]
            smp = samples[samples["line"] == n] if "line" in samples.columns else samples
            strata.append((f"line:{n}", patients[patients["patient_id"].isin(set(on["patient_id"]))], smp, on))
    rows = []
    for name, pats, smp, on in strata:
        values = _metrics_for(pats, smp, mechanisms, ctdna, on)
        for metric, (unit, definition) in METRICS.items():
            value, n = values[metric]
            rows.append({"metric": metric, "stratum": name, "value": None if value is None else float(value),
                         "n": int(n), "unit": unit, "definition": definition})
    return pd.DataFrame(rows)
