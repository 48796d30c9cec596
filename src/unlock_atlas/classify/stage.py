"""The classify stage for one patient: files in, three atlas parts out.

``ctdna`` (tumour fraction + concordance per tumour sample), ``alterations`` and ``mechanisms``
parts are written to ``results/tables/<table>/<patient>.parquet`` (raw IDs, atomically, via
:func:`unlock_atlas.contract.parts.write_part`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from ..contract.parts import write_part
from ..contract.schema import table_schema
from .alterations import build_alterations, tumour_content_low
from .ctdna import tumour_content, tumour_fractions
from .lines import line_views
from .mechanisms import classify_patient
from .patient import PatientData

logger = logging.getLogger(__name__)


@dataclass
class PatientResult:
    ctdna: pd.DataFrame
    alterations: pd.DataFrame
    mechanisms: pd.DataFrame


def classify(pat: PatientData) -> PatientResult:
    """Tumour fractions, alterations and mechanisms of one patient (raw IDs).

    Tumour fractions are per sample (the whole patient); alterations and mechanisms are built per
    treatment line (:func:`.lines.line_views`: that line's drug, progression and baseline) and carry
    the line number in ``line``. A patient with one line is classified exactly as before lines existed.
    """
    tf = tumour_fractions(pat)
    tc = tumour_content(tf, pat)
    tc_low = tumour_content_low(tf, pat, tc)
    alt_parts, mech_parts = [], []
    for view, vtf in line_views(pat, tf):
        alts = build_alterations(view, tc, tc_low)
        mech, alts = classify_patient(view, alts, vtf)
        if len(alts):
            alt_parts.append(alts.assign(line=view.line))
        if len(mech):
            mech_parts.append(mech.assign(line=view.line))
    alts = pd.concat(alt_parts, ignore_index=True) if alt_parts else pd.DataFrame()
    mech = pd.concat(mech_parts, ignore_index=True) if mech_parts else pd.DataFrame()
    return PatientResult(tf, alts, mech)


def identity_withheld(verdicts: Path, patient_id: str) -> bool:
    """Whether the sample-identity check withheld this patient's classification.

    ``verdicts`` is ``results/identity/patients.tsv`` (:mod:`unlock_atlas.identity`): a patient
    with a swapped or contaminated sample has ``classify = withheld`` unless config
    ``identity.override`` lists it. A swapped sample turns another person's germline SNPs into
    "somatic" calls and hides the patient's own mutations, so every mechanism derived from it
    would be wrong: the patient then gets NO rows in ctdna, alterations and mechanisms (its
    samples carry ``identity_ok = false`` in the atlas, which says why).
    """
    from ..identity.stage import read_patient_verdicts

    df = read_patient_verdicts(verdicts)
    row = df[df["patient_id"] == patient_id]
    if row.empty or row.iloc[0]["classify"] != "withheld":
        return False
    logger.warning("patient %s: classification withheld, sample identity check failed for %s "
                   "(list the patient in config identity.override to classify anyway)", patient_id,
                   row.iloc[0]["failed_samples"])
    return True


def withheld() -> PatientResult:
    """The empty result of a patient whose classification is withheld."""
    return PatientResult(pd.DataFrame(), pd.DataFrame(), pd.DataFrame())


def write_parts(res: PatientResult, *, ctdna: Path, alterations: Path, mechanisms: Path) -> None:
    """Write the three parts (an empty result still writes a part with the full schema)."""
    for df, table, path in ((res.ctdna, "ctdna", ctdna), (res.alterations, "alterations", alterations),
                            (res.mechanisms, "mechanisms", mechanisms)):
        write_part(df if len(df) else table_schema(table).empty_table(), table, path)
    logger.info("%d tumour samples, %d alterations, %d mechanism rows", len(res.ctdna), len(res.alterations),
                len(res.mechanisms))
