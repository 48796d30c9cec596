"""Classification per treatment line: one view of the patient per line (docs/classification.md "Lines").

Resistance mechanisms belong to a line: the line's drug decides on-target vs by-pass
(resistance-biology.md §2 rule 1), and acquisition is judged against the samples taken before
THAT line started. :func:`line_views` turns a patient into one :class:`PatientData` per line, which
the unchanged alteration builder and mechanism rules then classify:

* regimen, progression day and best response are the line's (treatments.tsv);
* samples are the tumour samples attached to the line (:mod:`unlock_atlas.inputs.treatments`)
  plus the normal, with their timepoints as written;
* the line's **baseline** is its own ``baseline`` samples; a later line without any takes the
  previous line's ``progression`` samples, relabelled ``baseline`` in the view: the progression
  biopsy / plasma of line L is the pre-treatment state of line L+1 (the usual design of serial
  resistance biopsies, e.g. the T790M-positive erlotinib-progression biopsy before osimertinib).
  So an alteration acquired under line 1 and still called at its progression is ``pre_existing``
  for line 2, and a line-2 alteration is ``acquired`` only if the line-2 baseline excludes it;
* resistance timing (primary / acquired) counts days from the line's start
  (:attr:`PatientData.days_to_progression`).

A patient with one line (no treatments.tsv rows) has ONE view equal to the patient itself: the
classification is exactly that of a run without lines, with ``line`` = 1 on every row.
"""

from __future__ import annotations

from dataclasses import replace

import pandas as pd

from .patient import PatientData

TUMOUR = ("tissue", "plasma")


def _line_column(samples: pd.DataFrame, lines: list | None = None) -> pd.Series:
    """Each tumour sample's line: the ``line`` column of a run; without it, attached by day and timepoint
    (:func:`unlock_atlas.inputs.attach_line`) when there are lines, else 1."""
    if "line" not in samples.columns:
        if lines and len(lines) > 1:
            from ..inputs import attach_line

            return pd.Series([attach_line(lines, int(d), tp) if t in TUMOUR else None for t, d, tp in
                              zip(samples["sample_type"], samples["collection_day"], samples["timepoint"])],
                             index=samples.index, dtype=object)
        return pd.Series([1 if t in TUMOUR else None for t in samples["sample_type"]], index=samples.index, dtype=object)
    return pd.Series([None if t not in TUMOUR else (1 if x is None or pd.isna(x) else int(x))
                      for t, x in zip(samples["sample_type"], samples["line"])], index=samples.index, dtype=object)


def line_samples(pat: PatientData, line: int) -> tuple[pd.DataFrame, list[str]]:
    """The samples of ``line`` (normal included) with view timepoints, and the IDs relabelled ``baseline``."""
    s = pat.samples.assign(line=_line_column(pat.samples, pat.lines))
    normal = s[~s["sample_type"].isin(TUMOUR)]
    own = s[s["line"] == line]
    borrowed = s.iloc[0:0]
    if line > 1 and not (own["timepoint"] == "baseline").any():
        borrowed = s[(s["line"] == line - 1) & (s["timepoint"] == "progression")].assign(timepoint="baseline")
    out = pd.concat([normal, own, borrowed]).sort_index(kind="stable")
    return out.reset_index(drop=True), list(borrowed["sample_id"])


def line_views(pat: PatientData, tf: pd.DataFrame) -> list[tuple[PatientData, pd.DataFrame]]:
    """One ``(patient view, tumour-fraction rows of its samples)`` per treatment line (module docstring).

    Parameters
    ----------
    pat
        The whole patient (:func:`~.patient.patient_from_run`), ``pat.lines`` sorted by number.
    tf
        :func:`~.ctdna.tumour_fractions` of the whole patient; each view gets its samples' rows with
        the view's timepoints.
    """
    if len(pat.lines) <= 1:
        if not pat.lines:
            return [(pat, tf)]
        ln = pat.lines[0]
        return [(replace(pat, regimen=ln.regimen, progression_day=ln.progression_day, best_response=ln.best_response,
                         line=1, line_start_day=ln.start_day), tf)]
    out = []
    for ln in pat.lines:
        samples, _ = line_samples(pat, ln.line)
        tp = dict(zip(samples["sample_id"], samples["timepoint"]))
        sc = pat.sc_programs
        if len(sc) and "sample_id" in sc.columns:
            sc = sc[sc["sample_id"].isin(list(tp))]
            if "timepoint" in sc.columns:
                sc = sc.assign(timepoint=sc["sample_id"].map(tp))
        vtf = tf
        if len(tf):
            vtf = tf[tf["sample_id"].isin(list(tp))].copy()
            vtf["timepoint"] = vtf["sample_id"].map(tp)
        view = replace(pat, regimen=ln.regimen, progression_day=ln.progression_day, best_response=ln.best_response,
                       samples=samples, sc_programs=sc, line=ln.line, line_start_day=ln.start_day)
        out.append((view, vtf))
    return out
