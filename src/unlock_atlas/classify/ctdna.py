"""ctDNA: tumour fraction per sample, tissue–plasma concordance.

Tumour fraction (TF)
--------------------
A clonal heterozygous mutation in a diploid region has VAF = TF / 2, so TF = 2 x VAF. Which
mutations are "clonal heterozygous" is decided from the tissue, whose tumour content is known
(samples.tsv ``purity``):

* **Truncal set.** Somatic (``origin`` somatic, ``filter`` PASS — clonal haematopoiesis, germline
  and artefacts excluded, resistance-biology.md §4) variants (SNVs, MNVs and indels: a patient's
  truncal driver is often an indel, e.g. EGFR exon-19 deletions) called in EVERY tissue sample of the
  patient that has a purity, whose mean multiplicity-adjusted fraction k = 2 x VAF / purity lies
  in [0.75, 1.35] (:data:`TRUNCAL_K`). k = 1 for a clonal heterozygous mutation; the window drops
  subclonal mutations (CCF <= 0.6 gives k <= 0.6), mutations with LOH or on gained alleles
  (k ~ 2) and resistance subclones (absent from the baseline biopsy). At the demo's tissue depth
  (~300 fragments, purity 0.5) the standard error of k for a clonal mutation is ~0.07, so the
  window keeps clonal ones at > 3 s.e.; a pathologist purity off by up to ~25 % still keeps them.
* **Estimate** (``truncal_vaf``): TF = 2 x (pooled ALT fragments / pooled depth) over the truncal
  set in the sample (all its rows, called or not — a sample where they are absent gives TF ~ 0);
  the 95 % interval is 2 x the Wilson interval of the pooled proportion (pooling treats the
  variants' fragments as exchangeable, which holds for truncal mutations by construction).
* **Fallback** (``max_vaf``, no tissue with purity or no truncal mutation): 2 x the highest VAF
  among somatic variants called in the sample (the usual "maximum somatic VAF" rule,
  resistance-biology.md §4 [R]); it over-estimates TF when that variant has LOH.
* ``none``: nothing to estimate from (TF null).

A plasma TF below :data:`MIN_INFORMATIVE_TF` = 0.03 is *non-informative*: the detection floor of
about 3 % TF used for ctDNA panels (resistance-biology.md §4 [V, secondary]); a negative result
there does not mean the tumour lacks an alteration.

Concordance
-----------
For each plasma sample with a tissue sample of the same timepoint: somatic PASS mutations called
in the tissue, how many of them are called in the plasma (positive percent agreement, the
"sensitivity versus tissue" of NILE, Leighl 2019), and how many are plasma-only.
"""

from __future__ import annotations

import pandas as pd
from scipy.stats import binomtest

from .patient import PatientData

#: Multiplicity-adjusted fraction window of a truncal heterozygous mutation (module docstring).
TRUNCAL_K = (0.75, 1.35)
#: Plasma tumour fraction under which a negative result is non-informative (module docstring).
MIN_INFORMATIVE_TF = 0.03
#: Confidence level of the intervals.
CONFIDENCE = 0.95


def somatic(variants: pd.DataFrame) -> pd.DataFrame:
    """Rows of somatic, PASS variants (no germline, CH or artefact)."""
    return variants[(variants["origin"] == "somatic") & (variants["filter"] == "PASS")]


def _key(df: pd.DataFrame) -> pd.Series:
    return df["chrom"].astype(str) + ":" + df["pos"].astype(str) + ":" + df["ref"].astype(str) + ">" + df["alt"].astype(str)


def wilson(alt: int, depth: int) -> tuple[float, float]:
    """95 % Wilson interval of ``alt / depth`` (``(0, 1)`` when depth is 0)."""
    if depth <= 0:
        return 0.0, 1.0
    ci = binomtest(int(alt), int(depth)).proportion_ci(confidence_level=CONFIDENCE, method="wilson")
    return float(ci.low), float(ci.high)


def truncal_variants(pat: PatientData) -> list[str]:
    """Keys (chrom:pos:ref>alt) of the patient's truncal heterozygous variants (module docstring)."""
    tissue = pat.samples[(pat.samples["sample_type"] == "tissue") & pat.samples["purity"].notna()]
    if tissue.empty:
        return []
    purity = dict(zip(tissue["sample_id"], tissue["purity"].astype(float)))
    v = somatic(pat.variants)
    v = v[v["sample_id"].isin(list(purity))].assign(key=lambda d: _key(d))
    out = []
    for key, g in v.groupby("key", sort=True):
        if len(g) < len(purity) or not (g["status"] == "called").all():
            continue
        k = [2 * float(r.vaf) / purity[r.sample_id] for r in g.itertuples() if purity[r.sample_id] > 0]
        if k and TRUNCAL_K[0] <= sum(k) / len(k) <= TRUNCAL_K[1]:
            out.append(key)
    return out


def tumour_fractions(pat: PatientData) -> pd.DataFrame:
    """Tumour fraction (with interval and method) of every tissue and plasma sample of the patient."""
    truncal = set(truncal_variants(pat))
    v = somatic(pat.variants).assign(key=lambda d: _key(d))
    rows = []
    for s in pat.tumour_samples.itertuples():
        mine = v[v["sample_id"] == s.sample_id]
        row = {"patient_id": pat.patient_id, "sample_id": s.sample_id, "sample_type": s.sample_type,
               "timepoint": s.timepoint, "collection_day": int(s.collection_day)}
        t = mine[mine["key"].isin(truncal) & (mine["depth"] > 0)]
        called = mine[mine["status"] == "called"]
        if len(t):
            alt, depth = int(t["alt_reads"].sum()), int(t["depth"].sum())
            lo, hi = wilson(alt, depth)
            row.update(method="truncal_vaf", n_variants=len(t), alt_reads=alt, depth=depth,
                       tumour_fraction=min(1.0, 2 * alt / depth), tf_ci_low=min(1.0, 2 * lo), tf_ci_high=min(1.0, 2 * hi))
        elif len(called):
            top = called.sort_values(["vaf", "depth"], ascending=False).iloc[0]
            row.update(method="max_vaf", n_variants=1, alt_reads=int(top["alt_reads"]), depth=int(top["depth"]),
                       tumour_fraction=min(1.0, 2 * float(top["vaf"])),
                       tf_ci_low=min(1.0, 2 * float(top["vaf_ci_low"])), tf_ci_high=min(1.0, 2 * float(top["vaf_ci_high"])))
        else:
            row.update(method="none", n_variants=0)
        tf = row.get("tumour_fraction")
        row["informative"] = None if tf is None else bool(tf >= MIN_INFORMATIVE_TF)
        rows.append(row)
    out = pd.DataFrame(rows)
    return _add_concordance(pat, out) if len(out) else out


def _add_concordance(pat: PatientData, tf: pd.DataFrame) -> pd.DataFrame:
    v = somatic(pat.variants).assign(key=lambda d: _key(d))
    called = v[v["status"] == "called"]
    by_sample = {sid: set(g["key"]) for sid, g in called.groupby("sample_id")}
    tissue = pat.samples[pat.samples["sample_type"] == "tissue"]
    out = tf.copy()
    for col in ("matched_tissue_sample_id", "n_tissue_mutations", "n_tissue_mutations_in_plasma",
                "n_plasma_only_mutations", "concordance"):
        out[col] = None
    for i, r in out.iterrows():
        if r["sample_type"] != "plasma" or r["timepoint"] is None:
            continue
        match = tissue[tissue["timepoint"] == r["timepoint"]]
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
