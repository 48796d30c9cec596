"""The ``cohort_summary`` table: the programme's headline figures, COMPUTED from the atlas tables.

Called by the atlas stage on the assembled (pseudonymised) tables, so every figure can be
reproduced from the atlas by an analyst. Each metric is computed for the whole cohort (stratum
``all``) and for each regimen (``drug:<regimen>``) and tumour type (``tumour_type:<type>``).

Counting rules (mission.md: the programme counts resistance ALTERATIONS, not patients, in "17
mutations, of which 15 bypass and 2 on-target"):

* an alteration is a distinct (patient, ``alteration_id``) among mechanism rows of class
  on_target / bypass / other that carry an alteration (LINEAGE_HISTOLOGIC rows have none and are
  counted with patients instead); a combination classified per component drug counts once, as
  on_target if it is on-target for any component (it hits a target of the regimen), else bypass,
  else other;
* ``n`` is the denominator or population of each metric, given in :data:`METRICS`.
"""

from __future__ import annotations

from collections.abc import Callable

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
                              "of resistance alterations seen in plasma; n = those alterations"),
}


def _alteration_classes(mech: pd.DataFrame) -> pd.Series:
    """(patient_id, alteration_id) -> on_target / bypass / other, one per distinct alteration."""
    m = mech[mech["class"].isin(["on_target", "bypass", "other"]) & mech["alteration_id"].notna()]
    if m.empty:
        return pd.Series(dtype=object)
    rank = {"on_target": 0, "bypass": 1, "other": 2}
    best = m.assign(r=m["class"].map(rank)).groupby(["patient_id", "alteration_id"])["r"].min()
    inv = {v: k for k, v in rank.items()}
    return best.map(inv)


def _metrics_for(pats: pd.DataFrame, samples: pd.DataFrame, mech: pd.DataFrame, ctdna: pd.DataFrame) -> dict:
    ids = set(pats["patient_id"])
    s = samples[samples["patient_id"].isin(ids)]
    m = mech[mech["patient_id"].isin(ids)] if len(mech) else mech
    c = ctdna[ctdna["patient_id"].isin(ids)] if len(ctdna) else ctdna
    progressed = pats[pats["progression_day"].notna()]
    n_prog = len(progressed)
    classes = _alteration_classes(m) if len(m) else pd.Series(dtype=object)
    n_alt = len(classes)
    per_patient = m.groupby("patient_id")["class"].apply(set) if len(m) else pd.Series(dtype=object)
    subs = m.groupby("patient_id")["subclass"].apply(set) if len(m) else pd.Series(dtype=object)
    with_mech = sum(1 for cl in per_patient if cl - {"unknown"})
    mech_rows = m[m["class"] != "unknown"] if len(m) else m
    n_multi = (mech_rows.assign(k=mech_rows["alteration_id"].fillna(mech_rows["alteration"].astype(str)))
               .groupby("patient_id")["k"].nunique().gt(1).sum()) if len(mech_rows) else 0
    trial = pats["early_trial_after"].dropna()
    lead = mech_rows.drop_duplicates(["patient_id", "alteration_id"])["lead_time_days"].dropna() if len(mech_rows) else []
    tissue_n = int(pd.to_numeric(c["n_tissue_mutations"], errors="coerce").fillna(0).sum()) if len(c) else 0
    tissue_hit = int(pd.to_numeric(c["n_tissue_mutations_in_plasma"], errors="coerce").fillna(0).sum()) if len(c) else 0
    rt = pats["resistance_type"]

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
        "patients_progressed": (n_prog, len(pats)),
        "patients_primary_resistance": (int((rt == "primary").sum()), len(pats)),
        "patients_acquired_resistance": (int((rt == "acquired").sum()), len(pats)),
        "patients_multiple_mechanisms": (int(n_multi), n_prog),
        "patients_unknown_mechanism": (sum(1 for x in subs if x == {"UNKNOWN"}), n_prog),
        "patients_non_informative": (sum(1 for x in subs if x == {"NON_INFORMATIVE"}), n_prog),
        "median_days_to_progression": (float(progressed["progression_day"].median()) if n_prog else None, n_prog),
        "tissue_plasma_concordance": (share(tissue_hit, tissue_n), tissue_n),
        "median_lead_time_days": (float(pd.Series(lead, dtype=float).median()) if len(lead) else None, len(lead)),
    }


def cohort_summary(patients: pd.DataFrame, samples: pd.DataFrame, mechanisms: pd.DataFrame,
                   ctdna: pd.DataFrame | None = None) -> pd.DataFrame:
    """Compute the ``cohort_summary`` rows (columns metric, stratum, value, n, unit, definition).

    Parameters
    ----------
    patients, samples, mechanisms, ctdna
        The atlas tables of those names (IDs consistent across them, pseudonymised or not).
    """
    ctdna = ctdna if ctdna is not None else pd.DataFrame(columns=["patient_id", "n_tissue_mutations",
                                                                  "n_tissue_mutations_in_plasma"])
    strata: list[tuple[str, Callable[[pd.DataFrame], pd.Series]]] = [("all", lambda p: p["patient_id"].notna())]
    for drug in sorted(patients["drug"].dropna().unique()):
        strata.append((f"drug:{drug}", lambda p, d=drug: p["drug"] == d))
    for tt in sorted(patients["tumour_type"].dropna().unique()):
        strata.append((f"tumour_type:{tt}", lambda p, t=tt: p["tumour_type"] == t))
    rows = []
    for name, pick in strata:
        values = _metrics_for(patients[pick(patients)], samples, mechanisms, ctdna)
        for metric, (unit, definition) in METRICS.items():
            value, n = values[metric]
            rows.append({"metric": metric, "stratum": name, "value": None if value is None else float(value),
                         "n": int(n), "unit": unit, "definition": definition})
    return pd.DataFrame(rows)
