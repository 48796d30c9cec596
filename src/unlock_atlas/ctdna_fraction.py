"""Tumour fraction of a patient's tumour samples from its variants part — the ONE definition.

Two stages need it: the copy-number stage (plasma copy number is adjusted for the tumour fraction,
:mod:`unlock_atlas.copynumber`) and the classification stage (CCF scaling and the ``ctdna`` table,
:mod:`unlock_atlas.classify.ctdna`). Neither stage imports the other's internals: both import this
domain module. The workflow runs it once per patient as ``unlock-atlas copynumber tumour-fraction``
(``results/copynumber/<patient>/tumour_fraction.tsv``) before plasma copy-number calling.

Tumour fraction (TF)
--------------------
A clonal heterozygous mutation in a diploid region has VAF = TF / 2, so TF = 2 x VAF. Which
mutations are "clonal heterozygous" is decided from the tissue, whose tumour content is known
(samples.tsv ``purity``):

* **Truncal set.** Somatic (:func:`unlock_atlas.domain.is_somatic`: ``origin`` somatic, ``filter``
  PASS — clonal haematopoiesis, germline and artefacts excluded, resistance-biology.md §4)
  variants (SNVs, MNVs and indels: a patient's truncal driver is often an indel, e.g. EGFR exon-19
  deletions) called in EVERY tissue sample of the
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
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from .atomic import atomic_path
from .domain import allele_id, is_somatic, wilson
from .tables import missing_to_none as _na
from .tables import read_table

#: Multiplicity-adjusted fraction window of a truncal heterozygous mutation (module docstring).
TRUNCAL_K = (0.75, 1.35)
#: Plasma tumour fraction under which a negative result is non-informative (module docstring).
MIN_INFORMATIVE_TF = 0.03
#: Columns of the samples frame :func:`tumour_fractions` reads (a patient's rows of samples.tsv).
SAMPLE_COLUMNS = ["sample_id", "sample_type", "timepoint", "collection_day", "purity", "histology"]
#: Columns of the per-patient tumour-fraction table (``tumour_fraction.tsv``), in order.
TF_COLUMNS = ["patient_id", "sample_id", "sample_type", "timepoint", "collection_day", "method", "n_variants",
              "alt_reads", "depth", "tumour_fraction", "tf_ci_low", "tf_ci_high", "informative"]


def patient_samples(run: object, patient_id: str) -> pd.DataFrame:
    """The patient's rows of a validated samples sheet (:func:`unlock_atlas.inputs.load_run`),
    :data:`SAMPLE_COLUMNS` only, with plain Python missing values (None) and integer days."""
    samples = run.samples[run.samples["patient_id"].astype(str) == patient_id].copy()
    samples = samples[SAMPLE_COLUMNS]
    samples["sample_id"] = samples["sample_id"].astype(str)
    samples["collection_day"] = samples["collection_day"].astype(int)
    samples["purity"] = [None if _na(x) is None else float(x) for x in samples["purity"]]
    samples["histology"] = [_na(x) for x in samples["histology"]]
    samples["timepoint"] = [_na(x) for x in samples["timepoint"]]
    return samples.reset_index(drop=True)


def tumour_samples(samples: pd.DataFrame) -> pd.DataFrame:
    """Tissue and plasma samples, ordered by collection day."""
    s = samples[samples["sample_type"].isin(["tissue", "plasma"])]
    return s.sort_values(["collection_day", "sample_type", "sample_id"], kind="stable")


def truncal_variants(samples: pd.DataFrame, variants: pd.DataFrame) -> list[str]:
    """Keys (chrom:pos:ref>alt) of the patient's truncal heterozygous variants (module docstring)."""
    tissue = samples[(samples["sample_type"] == "tissue") & samples["purity"].notna()]
    if tissue.empty:
        return []
    purity = dict(zip(tissue["sample_id"], tissue["purity"].astype(float)))
    v = variants[is_somatic(variants)]
    v = v[v["sample_id"].isin(list(purity))].assign(key=lambda d: allele_id(d))
    out = []
    for key, g in v.groupby("key", sort=True):
        if len(g) < len(purity) or not (g["status"] == "called").all():
            continue
        k = [2 * float(r.vaf) / purity[r.sample_id] for r in g.itertuples() if purity[r.sample_id] > 0]
        if k and TRUNCAL_K[0] <= sum(k) / len(k) <= TRUNCAL_K[1]:
            out.append(key)
    return out


def tumour_fractions(patient_id: str, samples: pd.DataFrame, variants: pd.DataFrame) -> pd.DataFrame:
    """Tumour fraction (with interval and method) of every tissue and plasma sample of a patient.

    Parameters
    ----------
    patient_id
        The patient (raw ID).
    samples
        The patient's samples (:data:`SAMPLE_COLUMNS`; :func:`patient_samples`), normals included.
    variants
        The patient's variants part (long: variant x sample; schema_variants.py).

    Returns
    -------
    pandas.DataFrame
        One row per tumour sample (collection order), columns :data:`TF_COLUMNS`
        (``alt_reads``/``depth``/``tumour_fraction``/CI missing when ``method`` is ``none``).
    """
    truncal = set(truncal_variants(samples, variants))
    v = variants[is_somatic(variants)].assign(key=lambda d: allele_id(d))
    rows = []
    for s in tumour_samples(samples).itertuples():
        mine = v[v["sample_id"] == s.sample_id]
        row = {"patient_id": patient_id, "sample_id": s.sample_id, "sample_type": s.sample_type,
               "timepoint": s.timepoint, "collection_day": int(s.collection_day)}
        t = mine[mine["key"].isin(truncal) & (mine["depth"] > 0)]
        called = mine[mine["status"] == "called"]
        if len(t):
            alt, depth = int(t["alt_reads"].sum()), int(t["depth"].sum())
            lo, hi = (float(x) for x in wilson(alt, depth))
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
    return pd.DataFrame(rows, columns=TF_COLUMNS) if rows else pd.DataFrame(columns=TF_COLUMNS)


def write_tumour_fractions(tf: pd.DataFrame, path: str | Path) -> None:
    """Write the per-patient tumour-fraction table (TSV, :data:`TF_COLUMNS`) atomically."""
    with atomic_path(path) as tmp:
        tf.reindex(columns=TF_COLUMNS).to_csv(tmp, sep="\t", index=False, float_format="%.6g")


def read_tumour_fractions(path: str | Path) -> pd.DataFrame:
    """Read a table written by :func:`write_tumour_fractions`.

    Raises
    ------
    InputError
        If the file is missing or lacks a column.
    """
    return read_table(path, "tumour-fraction table", "run `unlock-atlas copynumber tumour-fraction` for this patient",
                      columns=["sample_id", "method", "tumour_fraction", "tf_ci_low", "tf_ci_high"], fmt="tsv",
                      fix_columns="rebuild it with the current `unlock-atlas copynumber tumour-fraction`",
                      dtype={"sample_id": str, "patient_id": str, "method": str})
