"""Write one patient's imported calls as the calling stage's outputs (docs/import.md, docs/development.md).

The joint VCF (all the patient's samples as columns) carries the fields imported counts can fill —
FORMAT ``AD``, ``DP``, ``AF``, ``AF_LO``, ``AF_HI``, ``ST`` and INFO ``ORIGIN``, ``KIND`` with the
meanings of ``unlock-atlas call``'s VCF — and ``##source=unlock-atlas import``; the fields that need
our counting and background model (``DS``, ``ADF``/``ADR``, ``BG``) are absent. The annotation stage
reads it like a called VCF; the variants part is written with :func:`unlock_atlas.contract.parts.write_part`.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pysam

from ..atomic import atomic_path
from ..reference import grch38_chromosomes


def write_import_vcf(variants: pd.DataFrame, samples: list[str], out: str | Path, patient: str,
                     sources: list[str]) -> Path:
    """Bgzipped, tabix-indexed VCF 4.2 of ``variants`` (rows of :func:`.joint.patient_variants`), atomically."""
    header = pysam.VariantHeader()
    header.add_line("##fileformat=VCFv4.2")
    header.add_line(f"##source=unlock-atlas import (patient {patient})")
    for src in sources:
        header.add_line(f"##unlock_atlas_import_file={src}")
    for name, length in grch38_chromosomes().items():
        header.contigs.add(name, length=length)
    filters = sorted({f for v in variants.get("filter", pd.Series(dtype=str)) for f in str(v).split(";")} - {"PASS"})
    for f in filters:
        header.filters.add(f, None, None, "Filter of the imported caller")
    header.info.add("ORIGIN", 1, "String", "Variant origin as the imported callers state it (docs/import.md)")
    header.info.add("KIND", 1, "String", "snv, mnv or indel")
    for f in [("AD", "R", "Integer", "Reads supporting REF and ALT as the imported caller counted them"),
              ("DP", 1, "Integer", "Depth at the site as the imported caller reported it (0: not in its calls)"),
              ("AF", "A", "Float", "Alt allele fraction AD[ALT]/DP"),
              ("AF_LO", "A", "Float", "Wilson 95% interval lower bound of AF"),
              ("AF_HI", "A", "Float", "Wilson 95% interval upper bound of AF"),
              ("ST", 1, "String", "Per-sample status: called, detected_below_threshold, not_detected, not_covered")]:
        header.formats.add(*f)
    for s in samples:
        header.add_sample(s)
    order = {c: i for i, c in enumerate(grch38_chromosomes())}
    out = Path(out)
    with atomic_path(out, suffix=".vcf.gz") as tmp:
        with pysam.VariantFile(str(tmp), "wz", header=header) as vf:
            if len(variants):
                v = variants.assign(_c=variants["chrom"].map(order)).sort_values(["_c", "pos", "ref", "alt"])
                for (chrom, pos, ref, alt), grp in v.groupby(["chrom", "pos", "ref", "alt"], sort=False):
                    first = grp.iloc[0]
                    rec = vf.new_record(contig=chrom, start=int(pos) - 1, alleles=(ref, alt),
                                        filter=str(first["filter"]).split(";"),
                                        info={"ORIGIN": first["origin"], "KIND": first["kind"]})
                    for g in grp.itertuples():
                        smp = rec.samples[g.sample_id]
                        smp["AD"] = (int(g.ref_reads), int(g.alt_reads))
                        smp["DP"] = int(g.depth)
                        if g.depth > 0:
                            smp["AF"], smp["AF_LO"], smp["AF_HI"] = (round(float(x), 6) for x in
                                                                     (g.vaf, g.vaf_ci_low, g.vaf_ci_high))
                        smp["ST"] = g.status
                    vf.write(rec)
        pysam.tabix_index(str(tmp), preset="vcf", force=True)
        tbi = Path(f"{tmp}.tbi")
    tbi.replace(f"{out}.tbi")
    return out
