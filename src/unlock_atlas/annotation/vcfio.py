"""Stream a VCF through the annotator: INFO/CSQ in VEP's format, optional TSV / Parquet.

The VCF is read as text (plain or bgzip/gzip) and written bgzip-compressed with a tabix index.
Multi-allelic records are split into one record per ALT and indels left-normalised against the
FASTA, as ``bcftools norm -m -any -f`` does (:mod:`.normalize`: IDs, QUAL, FILTER kept, INFO and
FORMAT values split by their header ``Number``); every record then gains one ``CSQ`` entry per
transcript. An existing ``CSQ`` is replaced. With ``normalise=False`` records are written as
given (one ``CSQ`` entry per ALT × transcript). The TSV / Parquet table has one row per allele ×
transcript, with chromosome coordinates.
"""

from __future__ import annotations

import gc
import gzip
import logging
import time
from pathlib import Path

import pysam

from ..atomic import atomic_path
from ..errors import InputError, Problem
from .annotator import Annotator
from .consequence import Csq
from .normalize import LeftAligner, LocalSorter, header_numbers, split_record

logger = logging.getLogger(__name__)

#: CSQ sub-fields, VEP's names and order.
CSQ_FIELDS = ["Allele", "Consequence", "SYMBOL", "Gene", "Feature", "HGVSc", "HGVSp", "HGVSp_Short", "EXON",
              "INTRON", "Protein_position", "Amino_acids", "Codons"]
CSQ_HEADER = ('##INFO=<ID=CSQ,Number=.,Type=String,Description="Consequence annotations from unlock-atlas '
              '(MANE Select). Format: ' + "|".join(CSQ_FIELDS) + '">')
#: Columns of the TSV / Parquet output.
TABLE_COLUMNS = ["chrom", "pos", "id", "ref", "alt", "gene", "gene_id", "transcript", "consequence", "hgvsc",
                 "hgvsp", "hgvsp_short", "exon", "intron", "protein_position", "amino_acids", "codons"]
# VEP URI-escapes these characters inside CSQ values (',' separates entries, '|' fields).
_ESC = str.maketrans({",": "%2C", ";": "%3B", "=": "%3D", "|": "%7C", " ": "%20"})


def vep_allele(ref: str, alt: str) -> str:
    """VEP's ``Allele``: the ALT without the shared first base of an indel, ``-`` if empty."""
    if len(ref) != len(alt) and ref and alt and ref[0] == alt[0]:
        return alt[1:] or "-"
    return alt


def csq_entry(allele: str, c: Csq) -> str:
    """One CSQ entry; only the HGVS fields can hold characters VEP escapes (``p.Thr790=``)."""
    hgvsc = f"{c.feature}:{c.hgvsc}" if c.hgvsc else ""
    hgvsp = f"{c.protein_id or c.feature}:{c.hgvsp}".translate(_ESC) if c.hgvsp else ""
    return "|".join((allele.translate(_ESC), c.consequence, c.symbol, c.gene, c.feature, hgvsc.translate(_ESC), hgvsp,
                     c.hgvsp_short.translate(_ESC), c.exon, c.intron, c.protein_position, c.amino_acids, c.codons))


def _open_text(path: Path):
    with open(path, "rb") as fh:
        magic = fh.read(2)
    return gzip.open(path, "rt") if magic == b"\x1f\x8b" else open(path)


def annotate_vcf(vcf_in: str | Path, vcf_out: str | Path, annotator: Annotator,
                 tsv: str | Path | None = None, parquet: str | Path | None = None, normalise: bool = True) -> dict:
    """Annotate ``vcf_in`` into ``vcf_out`` (bgzip + ``.tbi``); optionally a TSV and/or Parquet table.

    Parameters
    ----------
    normalise
        Split multi-allelic records and left-normalise indels (default; see :mod:`.normalize`).

    Returns
    -------
    dict
        ``records``, ``alleles``, ``seconds`` and ``per_second`` (records per second).

    Raises
    ------
    InputError
        If the input is missing, has no ``#CHROM`` header line, or a record has fewer than 8
        columns or a non-integer POS (file and line named).
    """
    vcf_in, vcf_out = Path(vcf_in), Path(vcf_out)
    if not vcf_in.exists():
        raise InputError(Problem(str(vcf_in), "the VCF does not exist", "give the path of a VCF or VCF.gz"))
    rows: list[list] | None = [] if (tsv or parquet) else None
    t0 = time.perf_counter()
    # The streaming loop makes millions of short-lived acyclic objects; the cyclic GC would rescan
    # the (bounded) annotation cache again and again, so it is paused for the loop.
    gc_was = gc.isenabled()
    gc.disable()
    try:
        n_rec, n_all = _stream(vcf_in, vcf_out, annotator, rows, normalise)
    finally:
        if gc_was:
            gc.enable()
    secs = time.perf_counter() - t0
    if rows is not None:
        _write_table(rows, tsv, parquet)
    logger.info("annotated %d records (%d alleles) in %.1f s", n_rec, n_all, secs)
    return {"records": n_rec, "alleles": n_all, "seconds": secs, "per_second": n_rec / secs if secs else 0.0}


def _stream(vcf_in: Path, vcf_out: Path, annotator: Annotator, rows: list[list] | None,
            normalise: bool = True) -> tuple[int, int]:
    """Read, split, normalise, annotate and write every record; returns (records in, alleles)."""
    n_rec = n_all = 0
    aligner = LeftAligner(annotator.genome)
    info_num: dict[str, str] = {}
    fmt_num: dict[str, str] = {}
    with _open_text(vcf_in) as fin, atomic_path(vcf_out, suffix=".vcf.gz") as tmp:
        out = pysam.BGZFile(str(tmp), "wb")
        buf: list[str] = []
        sorter = LocalSorter(buf)
        seen_chrom = False
        for lineno, line in enumerate(fin, 1):
            if line.startswith("##"):
                if not line.startswith("##INFO=<ID=CSQ,"):
                    buf.append(line)
                continue
            if line.startswith("#"):
                info_num, fmt_num = header_numbers(buf)
                buf.append(CSQ_HEADER + "\n")
                buf.append("##unlock-atlas_annotate=transcripts MANE Select, HGVS 3' rule"
                           + ("; records split per ALT and left-normalised (bcftools norm -m -any -f)\n"
                              if normalise else "\n"))
                buf.append(line)
                seen_chrom = True
                continue
            if not seen_chrom:
                raise InputError(Problem(str(vcf_in), "record before the #CHROM header line",
                                         "give a VCF with its header", row=lineno))
            f = line.rstrip("\n").split("\t")
            if len(f) < 8:
                raise InputError(Problem(str(vcf_in), f"{len(f)} tab-separated columns, a VCF record needs at least 8",
                                         "check the file is a tab-separated VCF", row=lineno))
            try:
                pos = int(f[1])
            except ValueError:
                raise InputError(Problem(str(vcf_in), f"POS {f[1]!r} is not an integer", "fix the record",
                                         row=lineno, column="POS")) from None
            chrom = f[0]
            info = f[7]
            if info != "." and "CSQ=" in info:
                f[7] = ";".join(kv for kv in info.split(";") if not kv.startswith("CSQ=")) or "."
            recs = split_record(f, info_num, fmt_num) if normalise and "," in f[4] else [f]
            for g in recs:
                rpos, ref = pos, g[3]
                if normalise and (len(ref) != 1 or len(g[4]) != 1):
                    gchrom, gpos = annotator.chrom_pos(chrom, pos)
                    res = aligner.normalise(gchrom, gpos, ref, g[4])
                    if res is not None:
                        rpos = pos + res[0] - gpos
                        g[1], g[3], g[4] = str(rpos), res[1], res[2]
                        ref = res[1]
                entries = []
                for alt in g[4].split(","):
                    allele = vep_allele(ref, alt)
                    for c in annotator.annotate(chrom, rpos, ref, alt):
                        entries.append(csq_entry(allele, c))
                        if rows is not None:
                            gchrom, gpos = annotator.chrom_pos(chrom, rpos)
                            rows.append([gchrom, gpos, g[2], ref, alt, c.symbol, c.gene, c.feature, c.consequence,
                                         c.hgvsc, c.hgvsp, c.hgvsp_short, c.exon, c.intron, c.protein_position,
                                         c.amino_acids, c.codons])
                    n_all += 1
                csq = "CSQ=" + ",".join(entries)
                g[7] = csq if g[7] in (".", "") else f"{g[7]};{csq}"
                sorter.push(chrom, rpos, "\t".join(g) + "\n")
            sorter.advance(pos, aligner.max_shift)
            n_rec += 1
            if len(buf) >= 20000:
                out.write("".join(buf).encode())
                buf.clear()
                if n_rec % 200000 == 0:
                    logger.info("%d records annotated", n_rec)
        sorter.flush()
        out.write("".join(buf).encode())
        out.close()
        if not seen_chrom:
            raise InputError(Problem(str(vcf_in), "no #CHROM header line", "give a VCF (with its header)"))
        _index(tmp, vcf_out)
    if aligner.realigned:
        logger.info("%d record(s) left-normalised", aligner.realigned)
    if aligner.ref_mismatch:
        logger.warning("%d record(s) written as given: REF does not match the FASTA there (or no sequence)",
                       aligner.ref_mismatch)
    return n_rec, n_all


def _index(tmp: Path, final: Path) -> None:
    """Tabix-index the output (best effort: an unsorted VCF is still written, without index)."""
    try:
        pysam.tabix_index(str(tmp), preset="vcf", force=True, keep_original=True)
    except (OSError, ValueError) as exc:
        logger.warning("%s: not indexed (%s); sort the input VCF to get a .tbi", final, exc)
        return
    Path(str(tmp) + ".tbi").replace(str(final) + ".tbi")


def _write_table(rows: list[list], tsv, parquet) -> None:
    import pandas as pd

    df = pd.DataFrame(rows, columns=TABLE_COLUMNS)
    if tsv:
        with atomic_path(tsv, suffix=".tsv") as tmp:
            df.to_csv(tmp, sep="\t", index=False)
    if parquet:
        with atomic_path(parquet, suffix=".parquet") as tmp:
            df.to_parquet(tmp, index=False)
