"""Read variant calls from a MAF (GDC / vcf2maf columns) into the imported-calls table (docs/import.md).

Columns read: ``Tumor_Sample_Barcode``, ``Chromosome``, ``Start_Position``, ``Reference_Allele``,
``Tumor_Seq_Allele1``/``Tumor_Seq_Allele2`` (the allele that differs from the reference),
``t_ref_count``, ``t_alt_count`` (required), ``t_depth`` (else their sum), and when present
``NCBI_Build``, ``FILTER`` and ``Mutation_Status`` (``Somatic``/``Germline`` -> ``stated_origin``).
Every MAF row is a call (``caller_status`` called). MAF alleles become VCF alleles — the inverse
of :func:`unlock_atlas.export.maf.maf_alleles` (GDC specification, vcf2maf):

* substitutions keep ``Start_Position`` and the alleles;
* a deletion (``Tumor_Seq_Allele2`` ``-``) starts one base earlier, with that reference base as
  the VCF anchor on both alleles;
* an insertion (``Reference_Allele`` ``-``, ``Start_Position`` = the base before it) is anchored on
  ``Start_Position``'s reference base;
* a complex change with both alleles non-empty keeps ``Start_Position`` and both alleles.

``Reference_Allele`` is checked against the reference sequence (a mismatch means another build or a
wrong file); ``NCBI_Build`` must name GRCh38. Every problem names the file, the line and the column.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

import pandas as pd

from ..errors import InputError, Problem
from .vcf import IMPORT_COLUMNS, ucsc_chrom

REQUIRED = ["Tumor_Sample_Barcode", "Chromosome", "Start_Position", "Reference_Allele", "Tumor_Seq_Allele2",
            "t_ref_count", "t_alt_count"]
GRCH38_NAMES = {"GRCh38", "hg38", "38", "GRCh38.p13", "GRCh38.p14"}


class Reference(Protocol):
    """What is needed of the reference: ``pysam.FastaFile.fetch`` (0-based, end exclusive)."""

    def fetch(self, reference: str, start: int, end: int) -> str: ...


def vcf_alleles(chrom: str, start: int, ref: str, alt: str, reference: Reference) -> tuple[int, str, str]:
    """``(pos, ref, alt)`` in VCF form of a MAF allele (rules in the module docstring)."""
    if alt == "-":                       # deletion: anchor on the base before it
        anchor = reference.fetch(chrom, start - 2, start - 1).upper()
        return start - 1, anchor + ref, anchor
    if ref == "-":                       # insertion after Start_Position
        anchor = reference.fetch(chrom, start - 1, start).upper()
        return start, anchor, anchor + alt
    return start, ref, alt


def _int(v: str) -> int | None:
    try:
        return int(float(v))
    except ValueError:
        return None


def read_maf_calls(path: str | Path, sheet_samples: set[str], reference: Reference,
                   barcode_to_sample: dict[str, str] | None = None) -> pd.DataFrame:
    """All samples' calls of a MAF as an imported-calls table (columns :data:`IMPORT_COLUMNS`).

    Parameters
    ----------
    sheet_samples
        Sample IDs of the sheet; a barcode that is not one (after ``barcode_to_sample``) is refused.
    reference
        The GRCh38 reference (e.g. ``pysam.FastaFile`` of ``results/reference/genome.fa.gz``).
    barcode_to_sample
        ``Tumor_Sample_Barcode`` -> sheet sample ID, for barcodes that are not sample IDs.
    """
    shown = str(path)
    with open(path) as fh:
        skip = 0
        for line in fh:
            if not line.startswith("#"):
                break
            skip += 1
    df = pd.read_csv(path, sep="\t", skiprows=skip, dtype=str, keep_default_na=False)
    header_line = skip + 1
    missing = [c for c in REQUIRED if c not in df.columns]
    if missing:
        raise InputError(Problem(shown, f"MAF columns missing: {', '.join(missing)}",
                                 "give a MAF with the GDC columns and t_ref_count / t_alt_count", row=header_line))
    mapping = barcode_to_sample or {}
    problems: list[Problem] = []
    rows = []
    for i, r in enumerate(df.to_dict("records")):
        line = header_line + 1 + i

        def bad(column: str, message: str, fix: str, line: int = line) -> None:
            problems.append(Problem(shown, message, fix, row=line, column=column))

        build = r.get("NCBI_Build", "")
        if build and build not in GRCH38_NAMES:
            bad("NCBI_Build", f"NCBI_Build {build!r}: the calls are not on GRCh38",
                "lift the calls over to GRCh38 or give the GRCh38 MAF")
            continue
        sample = mapping.get(r["Tumor_Sample_Barcode"], r["Tumor_Sample_Barcode"])
        if sample not in sheet_samples:
            bad("Tumor_Sample_Barcode", f"sample {r['Tumor_Sample_Barcode']!r} is not in samples.tsv",
                "add the sample to samples.tsv, map the barcode to a sample (calls_sample) or drop its rows")
            continue
        ref_a = r["Reference_Allele"]
        alt_a = r["Tumor_Seq_Allele2"] if r["Tumor_Seq_Allele2"] != ref_a else r.get("Tumor_Seq_Allele1", "")
        if alt_a in ("", ref_a):
            bad("Tumor_Seq_Allele2", "neither Tumor_Seq_Allele1 nor Tumor_Seq_Allele2 differs from Reference_Allele",
                "give the variant allele in Tumor_Seq_Allele2")
            continue
        start, t_ref, t_alt = _int(r["Start_Position"]), _int(r["t_ref_count"]), _int(r["t_alt_count"])
        if start is None or t_ref is None or t_alt is None:
            col = "Start_Position" if start is None else ("t_ref_count" if t_ref is None else "t_alt_count")
            bad(col, f"{col} {r[col]!r} is not a number", "give integer positions and read counts")
            continue
        chrom = ucsc_chrom(r["Chromosome"])
        if ref_a != "-":
            seq = reference.fetch(chrom, start - 1, start - 1 + len(ref_a)).upper()
            if seq != ref_a.upper():
                bad("Reference_Allele", f"Reference_Allele {ref_a} at {chrom}:{start} but GRCh38 has {seq or '?'}",
                    "check the build (GRCh38 needed) and the coordinates of the MAF")
                continue
        pos, v_ref, v_alt = vcf_alleles(chrom, start, ref_a, alt_a, reference)
        depth = _int(r.get("t_depth", "")) if r.get("t_depth", "") else None
        depth = depth if depth is not None else t_ref + t_alt
        rows.append({"sample_id": sample, "chrom": chrom, "pos": pos, "ref": v_ref, "alt": v_alt,
                     "ref_reads": t_ref, "alt_reads": t_alt, "depth": depth,
                     "vaf": t_alt / depth if depth > 0 else float("nan"), "filter": r.get("FILTER") or "PASS",
                     "stated_origin": {"Somatic": "somatic", "Germline": "germline"}.get(r.get("Mutation_Status", ""), ""),
                     "caller_status": "called",
                     "source_file": shown, "source_record": f"line {line}: {chrom}:{start} {ref_a}>{alt_a}"})
    if problems:
        raise InputError(problems, header=f"{shown}: {len(problems)} MAF row(s) cannot be imported")
    return pd.DataFrame(rows, columns=IMPORT_COLUMNS)
