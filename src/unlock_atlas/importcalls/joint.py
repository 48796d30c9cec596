"""One patient's imported calls as atlas ``variants`` rows: every allele in every sample (docs/import.md).

The union of the alleles any of the patient's samples reports is written for every sample of the
patient (tissue, plasma and normal), as the caller's joint genotyping does. Per sample:

* the caller states the sample's status (``caller_status``: an unlock-atlas VCF's ``ST``) -> that;
* the allele is in that sample's calls with ALT reads: ``called``, unless the caller's genotype
  leaves the ALT out (``not_called``: it saw the reads but did not call them) ->
  ``detected_below_threshold``. The caller's FILTER stays the variant's ``filter`` (a filtered call
  is still a call; :func:`unlock_atlas.domain.is_somatic` needs PASS);
* it is there with 0 ALT reads: ``not_detected`` at depth >= :data:`MIN_INFORMATIVE_DEPTH`, else
  ``not_covered`` (the atlas contract's threshold, docs/calling.md "Status thresholds");
* it is not in that sample's calls: ``not_covered`` with depth 0 — the caller reports no evidence
  either way, and calling it ``not_detected`` would make every later variant look acquired. BAMs,
  when given, replace this by genotyping (docs/import.md step 4).

``vaf_ci_low``/``vaf_ci_high``: Wilson 95 % interval (:func:`unlock_atlas.domain.wilson`).
``detection_score`` is null (it needs our background model, i.e. the BAMs). The variant's
``filter`` is PASS when any sample's record passes, else the samples' filters joined with ``;``.
``origin``: what the callers state (``stated_origin``): germline when any file says germline,
else somatic when any says somatic, else the one other origin an unlock-atlas VCF states, else
``default_origin``; an allele with none of these is an
error listing the alleles (set ``calls_origin`` for files whose caller states nothing).
"""

from __future__ import annotations

import pandas as pd

from ..contract.vocab import VARIANT_STATUSES
from ..domain import wilson
from ..errors import InputError, Problem

#: depth below which a sample without ALT reads is not_covered (variants.status contract, docs/calling.md)
MIN_INFORMATIVE_DEPTH = 20
KEY = ["chrom", "pos", "ref", "alt"]


def kind_of(ref: str, alt: str) -> str:
    """``snv``, ``mnv`` (same length > 1) or ``indel``."""
    if len(ref) == len(alt):
        return "snv" if len(ref) == 1 else "mnv"
    return "indel"


def _status(alt: int, depth: int, caller_status: str) -> str:
    if caller_status in VARIANT_STATUSES:
        return caller_status
    if alt > 0:
        return "detected_below_threshold" if caller_status == "not_called" else "called"
    return "not_detected" if depth >= MIN_INFORMATIVE_DEPTH else "not_covered"


def _origin(stated: set[str], default: str | None) -> str | None:
    if "germline" in stated:
        return "germline"
    if "somatic" in stated:
        return "somatic"
    if len(stated) == 1:            # an unlock-atlas VCF's own origin (chip, ch_not_excluded, artefact)
        return next(iter(stated))
    return default


def patient_variants(imported: pd.DataFrame, patient: str, sample_types: dict[str, str],
                     default_origin: str | None = None) -> pd.DataFrame:
    """Atlas ``variants`` rows (before annotation) of one patient from its imported-calls tables.

    Parameters
    ----------
    imported
        The patient's imported calls (``importcalls.IMPORT_COLUMNS``), all samples concatenated.
    sample_types
        ``sample_id -> sample_type`` of every sample of the patient in the sheet (each gets a row
        per allele).
    default_origin
        Origin for alleles whose callers state none (``calls_origin`` of the sheet), or None.
    """
    imported = imported.drop_duplicates(["sample_id", *KEY])
    rows, unknown = [], []
    for key, grp in imported.groupby(KEY, sort=True):
        chrom, pos, ref, alt = key
        by_sample = grp.set_index("sample_id")
        passed = by_sample["filter"] == "PASS"
        filt = "PASS" if passed.any() else ";".join(dict.fromkeys(";".join(by_sample["filter"]).split(";")))
        origin = _origin(set(grp["stated_origin"]) - {""}, default_origin)
        if origin is None:
            first = grp.iloc[0]
            unknown.append(Problem(first["source_file"], f"{first['source_record']}: the caller states no origin "
                                   "(somatic/germline) for this allele", "set calls_origin for this calls file in "
                                   "samples.tsv (e.g. somatic for a tumour-normal somatic caller)"))
            continue
        for sample, stype in sample_types.items():
            if sample in by_sample.index:
                r = by_sample.loc[sample]
                a, d, rr = int(r["alt_reads"]), int(r["depth"]), int(r["ref_reads"])
                status = _status(a, d, r["caller_status"])
            else:
                a, d, rr, status = 0, 0, 0, "not_covered"
            rows.append({"patient_id": patient, "sample_id": sample, "sample_type": stype, "chrom": chrom,
                         "pos": int(pos), "ref": ref, "alt": alt, "kind": kind_of(ref, alt), "alt_reads": a,
                         "ref_reads": rr, "depth": d, "status": status, "filter": filt, "origin": origin})
    if unknown:
        raise InputError(unknown, header=f"patient {patient}: imported calls without an origin")
    df = pd.DataFrame(rows)
    if not len(df):
        return pd.DataFrame({"patient_id": pd.Series([], dtype=str)})
    lo, hi = wilson(df["alt_reads"].to_numpy(), df["depth"].to_numpy())
    df["vaf"] = (df["alt_reads"] / df["depth"].where(df["depth"] > 0)).astype(float)
    df["vaf_ci_low"], df["vaf_ci_high"] = lo, hi
    df["detection_score"] = float("nan")
    return df
