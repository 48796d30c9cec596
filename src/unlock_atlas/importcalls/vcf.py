"""Read one sample's variant calls from a VCF written by another caller (docs/import.md).

Callers found in the wild and what is read from them (FORMAT of the chosen sample column):

* **AD** ``Number=R`` (GATK Mutect2/HaplotypeCaller, VarDict, bcftools, most clinical exports):
  reference then one count per ALT allele.
* **AD** ``Number=1``/``A`` with **RD** (VarScan 2): ALT count in AD, reference count in RD.
* **DP** when present, else the sum of the allele counts; **AF** is not trusted (callers define it
  differently) — the VAF is recomputed as ALT / depth.

Multi-allelic records are split into one row per ALT allele (each with its own AD). Chromosome
names are written UCSC-style (``7`` → ``chr7``, ``MT`` → ``chrM``). Checked, and reported together
as one :class:`~unlock_atlas.errors.InputError` naming the file and the record:

* the reference build: ``##contig`` lengths must be GRCh38's (``resources/grch38_chromosomes.tsv``);
  a ``##reference``/``##assembly`` line naming GRCh37/hg19/b37/hg18 is refused too;
* the sample column: the sheet's sample ID, else Mutect2's ``##tumor_sample``, else the only sample
  column, else ``TUMOR``; a column that is another sheet sample is refused (files swapped);
* every record has the allele counts (AD, or AD+RD), one per allele.

``caller_status`` is what the caller says about the sample: FORMAT ``ST`` of an unlock-atlas VCF
as written; else ``called`` / ``not_called`` from FORMAT ``GT`` (the genotype carries this ALT or
not); else ``""`` (no genotype: a record in a per-sample file is a call). ``stated_origin`` is what
the caller says about the record, or ``""``: INFO ``SOMATIC`` flag
(Strelka, bcftools, clinical exports) or a Mutect2 VCF (``##source=Mutect2`` / ``##GATKCommandLine``
of Mutect2: its calls are somatic candidates) -> somatic; VarDict ``STATUS`` and VarScan 2 ``SS``
(1 germline, 2 somatic, 3 LOH -> germline) as they define them; INFO ``ORIGIN`` of an
unlock-atlas VCF (``unlock-atlas call`` or ``import``) as written.
"""

from __future__ import annotations

import gzip
import re
from pathlib import Path

import pandas as pd
import pysam

from ..contract.vocab import VARIANT_ORIGINS, VARIANT_STATUSES
from ..errors import InputError, Problem
from ..reference import grch38_chromosomes

#: columns of an imported-calls table (one row per sample x ALT allele)
IMPORT_COLUMNS = ["sample_id", "chrom", "pos", "ref", "alt", "ref_reads", "alt_reads", "depth", "vaf", "filter",
                  "stated_origin", "caller_status", "source_file", "source_record"]
#: VarDict INFO/STATUS and VarScan 2 INFO/SS (1 germline, 2 somatic, 3 LOH) -> origin the caller states
_VARDICT_STATUS = {"StrongSomatic": "somatic", "LikelySomatic": "somatic", "Germline": "germline",
                   "StrongLOH": "germline", "LikelyLOH": "germline", "AFDiff": "", "SampleSpecific": ""}
_VARSCAN_SS = {"1": "germline", "2": "somatic", "3": "germline"}
#: chr1 length -> build, to name the build of a VCF whose contigs are not GRCh38 (UCSC hg19 / hg18 chrom.sizes)
OTHER_BUILDS = {249250621: "GRCh37/hg19", 247249719: "NCBI36/hg18"}
_OTHER_BUILD_NAMES = re.compile(r"GRCh37|hg19|b37|hs37|human_g1k_v37|NCBI36|hg18", re.IGNORECASE)


def ucsc_chrom(name: str) -> str:
    """``7`` → ``chr7``, ``MT`` → ``chrM``; names already ``chr``-prefixed are kept."""
    if name.startswith("chr"):
        return name
    return "chrM" if name in ("MT", "M") else f"chr{name}"


def build_problems(header: pysam.VariantHeader, shown: str) -> list[Problem]:
    """Problems when the header says the VCF is not on GRCh38 (contig lengths or a reference line)."""
    grch38 = grch38_chromosomes()
    problems = []
    for name, contig in header.contigs.items():
        chrom, length = ucsc_chrom(name), contig.length
        if chrom in grch38 and length is not None and length != grch38[chrom]:
            build = OTHER_BUILDS.get(length, "another build") if chrom == "chr1" else "another build"
            problems.append(Problem(shown, f"##contig {name} has length {length:,}; GRCh38's {chrom} is "
                                    f"{grch38[chrom]:,}: the calls are on {build}, not GRCh38",
                                    "lift the calls over to GRCh38 (e.g. bcftools +liftover or Picard "
                                    "LiftoverVcf) or give the GRCh38 calls", column="##contig"))
            break
    for rec in header.records:
        if rec.key in ("reference", "assembly") and rec.value and _OTHER_BUILD_NAMES.search(rec.value):
            problems.append(Problem(shown, f"##{rec.key}={rec.value} names another build than GRCh38",
                                    "lift the calls over to GRCh38 or give the GRCh38 calls", column=f"##{rec.key}"))
    return problems


def pick_sample_column(header: pysam.VariantHeader, sample_id: str, sheet_samples: set[str], shown: str,
                       vcf_sample: str | None = None) -> str:
    """The VCF sample column holding ``sample_id``'s calls (rules in the module docstring)."""
    cols = list(header.samples)
    tumour = next((r.value for r in header.records if r.key == "tumor_sample"), None)
    if vcf_sample is not None:
        chosen = vcf_sample if vcf_sample in cols else None
    elif sample_id in cols:
        chosen = sample_id
    elif tumour in cols:
        chosen = tumour
    elif len(cols) == 1:
        chosen = cols[0]
    else:
        chosen = "TUMOR" if "TUMOR" in cols else None
    if chosen is None:
        raise InputError(Problem(shown, f"cannot tell which sample column holds sample {sample_id!r} "
                                 f"(columns: {', '.join(cols) or 'none'})",
                                 "name the column after the sheet's sample_id, or give the column name "
                                 "(calls_sample)", column="#CHROM"))
    if chosen != sample_id and chosen in sheet_samples:
        raise InputError(Problem(shown, f"the calls are in column {chosen!r}, another sample of the sheet, but "
                                 f"the file is given for sample {sample_id!r}", "check which calls file belongs "
                                 "to which sample in samples.tsv", column="#CHROM"))
    return chosen


def _header_lines(path: str | Path) -> int:
    """Number of ``#`` lines at the top of the (plain or gzipped) file, so records get file line numbers."""
    with open(path, "rb") as fh:
        gz = fh.read(2) == b"\x1f\x8b"
    opener = gzip.open if gz else open
    n = 0
    with opener(path, "rt") as fh:
        for line in fh:
            if not line.startswith("#"):
                break
            n += 1
    return n


def _caller_status(st, gt, k: int) -> str:
    """The sample's status as the caller states it for ALT number ``k`` (module docstring)."""
    if isinstance(st, str) and st in VARIANT_STATUSES:
        return st
    if gt is not None and any(a is not None for a in gt):
        return "called" if k in gt else "not_called"
    return ""


def _stated_origin(rec: pysam.VariantRecord, mutect2: bool) -> str:
    """The origin the caller states for a record (module docstring), ``""`` when it states none."""
    info = rec.info
    if "ORIGIN" in info and info["ORIGIN"] in VARIANT_ORIGINS:
        return info["ORIGIN"]
    if "STATUS" in info:
        status = info["STATUS"]
        return _VARDICT_STATUS.get(status if isinstance(status, str) else status[0], "")
    if "SS" in info:
        return _VARSCAN_SS.get(str(info["SS"]), "")
    if "SOMATIC" in info and info["SOMATIC"] is True:
        return "somatic"
    return "somatic" if mutect2 else ""


def _counts(rec: pysam.VariantRecord, col: str, ad_number) -> tuple[list[int], int] | None:
    """Allele counts (REF first) and depth of one record's sample, or None when they are missing."""
    smp = rec.samples[col]
    n_alleles = len(rec.alleles)
    ad = smp.get("AD") if "AD" in rec.format else None
    ad = [ad] if isinstance(ad, int) else list(ad or [])
    if ad_number in (1, "A") and "RD" in rec.format:  # VarScan 2: AD = ALT count(s), RD = REF count
        rd = smp.get("RD")
        counts = [rd, *ad] if rd is not None else []
    else:
        counts = ad
    if len(counts) != n_alleles or any(c is None for c in counts):
        return None
    dp = smp.get("DP") if "DP" in rec.format else None
    return [int(c) for c in counts], int(dp) if dp is not None else sum(int(c) for c in counts)


def read_vcf_calls(path: str | Path, sample_id: str, sheet_samples: set[str],
                   vcf_sample: str | None = None) -> pd.DataFrame:
    """One sample's calls from a VCF as an imported-calls table (columns :data:`IMPORT_COLUMNS`).

    Parameters
    ----------
    path
        VCF (plain or bgzipped) written by any caller.
    sample_id
        The sheet sample the calls belong to.
    sheet_samples
        Every sample ID of the sheet (to refuse a file given for a sample not in the sheet, or a
        column that is another sheet sample).
    vcf_sample
        The VCF column to read, when it is not found by the rules of the module docstring.
    """
    shown = str(path)
    if sample_id not in sheet_samples:
        raise InputError(Problem(shown, f"calls given for sample {sample_id!r}, which is not in samples.tsv",
                                 "add the sample to samples.tsv or drop its calls file"))
    verbosity = pysam.set_verbosity(0)  # htslib would warn that a per-sample VCF has no index (none is needed)
    try:
        vf = pysam.VariantFile(str(path))
    except (OSError, ValueError) as e:
        pysam.set_verbosity(verbosity)
        raise InputError(Problem(shown, f"not a readable VCF: {e}", "give a VCF 4.x file (plain or bgzipped)")) from e
    pysam.set_verbosity(verbosity)
    with vf:
        problems = build_problems(vf.header, shown)
        if problems:
            raise InputError(problems, header="calls not on GRCh38")
        col = pick_sample_column(vf.header, sample_id, sheet_samples, shown, vcf_sample)
        mutect2 = any(r.key == "source" and "Mutect2" in (r.value or "") or
                      r.key == "GATKCommandLine" and r.get("ID") == "Mutect2" for r in vf.header.records)
        ad_number = vf.header.formats["AD"].number if "AD" in vf.header.formats else None
        n_header = _header_lines(path)
        rows, missing = [], []
        for i, rec in enumerate(vf, 1):
            where = f"{rec.chrom}:{rec.pos} {rec.ref}>{','.join(rec.alts or ())}"
            if not rec.alts or all(a in ("*", ".", "<NON_REF>") for a in rec.alts):
                continue
            got = _counts(rec, col, ad_number)
            if got is None:
                missing.append(Problem(shown, f"record {where}: sample {col!r} has no allele counts (FORMAT AD "
                                       "with one count per allele, or VarScan's AD + RD)",
                                       "export the calls with FORMAT/AD (e.g. GATK, VarDict, bcftools -a AD)",
                                       row=n_header + i, column="FORMAT/AD"))
                if len(missing) >= 20:
                    break
                continue
            counts, depth = got
            filt = ";".join(rec.filter.keys()) or "PASS"
            stated = _stated_origin(rec, mutect2)
            smp = rec.samples[col]
            st = smp.get("ST") if "ST" in rec.format else None
            gt = smp.get("GT") if "GT" in rec.format else None
            for k, alt in enumerate(rec.alts, 1):
                if alt in ("*", ".", "<NON_REF>"):
                    continue
                rows.append({"sample_id": sample_id, "chrom": ucsc_chrom(rec.chrom), "pos": rec.pos, "ref": rec.ref,
                             "alt": alt, "ref_reads": counts[0], "alt_reads": counts[k], "depth": depth,
                             "vaf": counts[k] / depth if depth > 0 else float("nan"), "filter": filt,
                             "stated_origin": stated, "caller_status": _caller_status(st, gt, k),
                             "source_file": shown, "source_record": f"line {n_header + i}: {where}"})
        if missing:
            raise InputError(missing, header="calls without allele counts")
    return pd.DataFrame(rows, columns=IMPORT_COLUMNS)
