"""Import a finished run's own calls back (``unlock-atlas import`` path) and compare with the called variants.

Usage: python benchmarks/import/roundtrip.py RUN_DIR [--as-foreign]

``--as-foreign`` drops the per-sample ``ST`` the unlock-atlas VCF carries (``caller_status`` ""), as
a caller writing neither ST nor GT would: then every sample with ALT reads is ``called``.

For each patient, every sample column of ``results/calling/<patient>/<patient>.vcf.gz`` (the joint
VCF ``unlock-atlas call`` wrote, FORMAT AD per sample, INFO ORIGIN) is read as one per-sample calls
file (:func:`unlock_atlas.importcalls.read_vcf_calls`) and joined
(:func:`unlock_atlas.importcalls.patient_variants`); the rows are compared with the run's
``results/tables/variants/<patient>.parquet`` on (sample, chrom, pos, ref, alt): alleles, read
counts, status and origin. Differences are expected where the status needs our detection score
(an import only knows the caller's FILTER and the counts) — printed as a status cross-table.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd
import pysam

from unlock_atlas.importcalls import patient_variants, read_vcf_calls

KEY = ["sample_id", "chrom", "pos", "ref", "alt"]


def compare(run: Path, as_foreign: bool = False) -> pd.DataFrame:
    both = []
    for vcf in sorted((run / "results" / "calling").glob("*/*.vcf.gz")):
        patient = vcf.parent.name
        called = pd.read_parquet(run / "results" / "tables" / "variants" / f"{patient}.parquet")
        types = dict(zip(called["sample_id"], called["sample_type"]))
        with pysam.VariantFile(str(vcf)) as vf:
            cols = list(vf.header.samples)
        imported = pd.concat([read_vcf_calls(vcf, s, set(cols), vcf_sample=s) for s in cols], ignore_index=True)
        if as_foreign:
            imported["caller_status"] = ""
        imp = patient_variants(imported, patient, {s: types.get(s, "tissue") for s in cols})
        m = called.merge(imp, on=KEY, how="outer", suffixes=("_called", "_imported"), indicator=True)
        m["patient"] = patient
        both.append(m)
    return pd.concat(both, ignore_index=True)


def main(run: str, as_foreign: bool = False) -> None:
    m = compare(Path(run), as_foreign)
    inner = m[m["_merge"] == "both"]
    print(f"rows: {len(m)}; in both: {len(inner)}; only called: {(m['_merge'] == 'left_only').sum()}; "
          f"only imported: {(m['_merge'] == 'right_only').sum()}")
    for col in ("alt_reads", "ref_reads", "depth", "origin", "filter"):
        same = (inner[f"{col}_called"].astype(str) == inner[f"{col}_imported"].astype(str)).mean()
        print(f"{col}: {same:.2%} equal")
    print("status (rows: called run, columns: imported)")
    print(pd.crosstab(inner["status_called"], inner["status_imported"]).to_string())


if __name__ == "__main__":
    main(sys.argv[1], "--as-foreign" in sys.argv[2:])
