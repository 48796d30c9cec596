"""ctDNA: tumour fraction per sample, tissue–plasma concordance (the ``ctdna`` table).

Tumour fraction (TF)
--------------------
One definition, owned by the module :mod:`unlock_atlas.ctdna_fraction` (2 x pooled VAF of
the patient's truncal heterozygous variants, with a Wilson interval; ``max_vaf`` fallback; TF <
:data:`MIN_INFORMATIVE_TF` = 0.03 is non-informative). The copy-number stage uses the same
function, before plasma copy-number calling, so the atlas ``copy_number`` table holds the
TF-adjusted plasma call; this module adds the concordance columns and the tumour content used for
CCF scaling.

Aggregated tumour-informed detection
------------------------------------
The ``ti_*`` columns: per sample, the pooled alt count of the patient's truncal (else known)
somatic variants against the sum of their beta-binomial backgrounds, with a p-value, a detected
flag at ``calling.ti_alpha`` and a background-corrected tumour fraction with an exact interval
(:mod:`.mrd`; docs/calling.md §3b).

Concordance
-----------
For each plasma sample with a tissue sample of the same timepoint (and treatment line): somatic PASS mutations called
in the tissue, how many of them are called in the plasma (positive percent agreement, the
"sensitivity versus tissue" of NILE, Leighl 2019), and how many are plasma-only.
"""

from __future__ import annotations

import pandas as pd

from .. import ctdna_fraction
from ..ctdna_fraction import MIN_INFORMATIVE_TF, TRUNCAL_K
from ..domain import allele_id, is_somatic
from .mrd import aggregated_detection
from .patient import PatientData

__all__ = ["MIN_INFORMATIVE_TF", "TRUNCAL_K", "truncal_variants", "tumour_content", "tumour_fractions"]


def truncal_variants(pat: PatientData) -> list[str]:
    """Keys (chrom:pos:ref>alt) of the patient's truncal heterozygous variants
    (:func:`unlock_atlas.ctdna_fraction.truncal_variants`)."""
    return ctdna_fraction.truncal_variants(pat.samples, pat.variants)


def tumour_fractions(pat: PatientData) -> pd.DataFrame:
    """Tumour fraction (:func:`unlock_atlas.ctdna_fraction.tumour_fractions`) of every tissue and
    plasma sample of the patient, with the concordance columns."""
    out = ctdna_fraction.tumour_fractions(pat.patient_id, pat.samples, pat.variants)
    if not len(out):
        return pd.DataFrame()
    ti = aggregated_detection(pat.patient_id, pat.samples, pat.variants, pat.ti_alpha)
    return _add_concordance(pat, out.merge(ti, on="sample_id", how="left"))


def _add_concordance(pat: PatientData, tf: pd.DataFrame) -> pd.DataFrame:
    v = pat.variants[is_somatic(pat.variants)].assign(key=lambda d: allele_id(d))
    called = v[v["status"] == "called"]
    by_sample = {sid: set(g["key"]) for sid, g in called.groupby("sample_id")}
    tissue = pat.samples[pat.samples["sample_type"] == "tissue"]
    line_of = dict(zip(pat.samples["sample_id"], pat.samples["line"])) if "line" in pat.samples.columns else {}
    out = tf.copy()
    for col in ("matched_tissue_sample_id", "n_tissue_mutations", "n_tissue_mutations_in_plasma",
                "n_plasma_only_mutations", "concordance"):
        out[col] = None
    for i, r in out.iterrows():
        if r["sample_type"] != "plasma" or r["timepoint"] is None:
            continue
        match = tissue[tissue["timepoint"] == r["timepoint"]]
        if "line" in tissue.columns:   # the same timepoint of the same treatment line
            match = match[match["line"] == line_of.get(r["sample_id"])]
        if match.empty:
            continue
        tid = str(match.sort_values("collection_day").iloc[0]["sample_id"])
        t, p = by_sample.get(tid, set()), by_sample.get(r["sample_id"], set())
        out.at[i, "matched_tissue_sample_id"] = tid
        out.at[i, "n_tissue_mutations"] = len(t)
        out.at[i, "n_tissue_mutations_in_plasma"] = len(t & p)
        out.at[i, "n_plasma_only_mutations"] = len(p - t)
        out.at[i, "concordance"] = (len(t & p) / len(t)) if t else None
    return out


def tumour_content(tf: pd.DataFrame, pat: PatientData) -> dict[str, float | None]:
    """Tumour content per sample used by the classifier: tissue purity when given, else the
    estimated tumour fraction (plasma, tissue without purity); ``None`` when neither exists."""
    est = dict(zip(tf["sample_id"], tf["tumour_fraction"])) if len(tf) else {}
    out: dict[str, float | None] = {}
    for s in pat.tumour_samples.itertuples():
        pur = s.purity if s.purity is not None and not pd.isna(s.purity) else None
        val = pur if (s.sample_type == "tissue" and pur) else est.get(s.sample_id)
        out[s.sample_id] = None if val is None or pd.isna(val) or val <= 0 else float(val)
    return out
