"""Per-target fragment depth of one sample, from a duplicate-marked BAM.

What is counted (each choice with its reason):

* **Fragments, not reads.** Each DNA molecule is counted once: a properly paired read pair
  contributes its template span ``[leftmost mate start, leftmost start + |TLEN|)``; reads that
  are not in a proper pair contribute their own aligned span. Only read 1 of a pair (or an
  unpaired read) is used, so overlapping mates are never double counted — in plasma, where
  fragments (~167 bp) are shorter than two 100-150 bp reads, per-read counting would weight
  short tumour-derived fragments differently from long ones.
* **Filters.** Duplicates (flag 0x400), secondary / supplementary / QC-fail / unmapped reads
  and MAPQ < 20 are skipped: duplicates carry no independent information about the DNA amount
  (the reason CNVkit and GATK count deduplicated reads); MAPQ 20 (1 % mis-placement) keeps
  paralogous mis-mapping out of the depth, as CNVkit's default ``--min-mapq``-style filtering does.
* **Depth.** For each target, the summed overlap (bp) of all fragments with it divided by the
  target length: the mean fragment depth over the target (CNVkit's ``depth`` column, computed
  from fragments). ``fragments`` is the number of fragments overlapping the target by ≥ 1 bp —
  the Poisson count whose sampling variance the gene-level model uses.
* **GC** of each target from the reference FASTA (fraction of G/C among A/C/G/T bases), for
  the GC-bias correction in :mod:`.normalise`.

The result is a TSV (``TARGET_COLUMNS``) written atomically.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd
import pysam

from ..atomic import atomic_path
from ..errors import InputError, Problem
from ..reference.panel import Interval, read_bed

logger = logging.getLogger(__name__)

#: minimum mapping quality of a counted read (module docstring)
MIN_MAPQ = 20
#: a template longer than this is treated as not properly paired (only the read span counts):
#: hybrid-capture libraries have essentially no fragments > 1 kb, and longer "templates" are
#: mis-pairings (and the padding of the BAM fetch below must cover the longest one).
MAX_FRAGMENT = 1000
#: targets closer than this are fetched from the BAM together (one region query)
_MERGE_GAP = 10_000
_SKIP_FLAGS = 0x4 | 0x100 | 0x200 | 0x400 | 0x800

TARGET_COLUMNS = ["chrom", "start", "end", "gene", "length", "gc", "fragments", "depth"]


def target_gc(fasta: str | Path, targets: list[Interval]) -> np.ndarray:
    """GC fraction of each target (G+C among A/C/G/T; 0.5 when a target is all N).

    Raises
    ------
    InputError
        If the FASTA cannot be opened or lacks a target's chromosome.
    """
    try:
        fa = pysam.FastaFile(str(fasta))
    except (OSError, ValueError) as exc:
        raise InputError(Problem(str(fasta), f"cannot open the reference FASTA ({exc})",
                                 "give results/reference/genome.fa.gz (indexed: .fai, .gzi)")) from None
    out = np.empty(len(targets))
    with fa:
        names = set(fa.references)
        for i, iv in enumerate(targets):
            if iv.chrom not in names:
                raise InputError(Problem(str(fasta), f"chromosome {iv.chrom} of target {iv.name} is not in the FASTA",
                                         "use the FASTA the panel BED was made for"))
            s = fa.fetch(iv.chrom, iv.start, iv.end).upper()
            acgt = sum(s.count(b) for b in "ACGT")
            out[i] = (s.count("G") + s.count("C")) / acgt if acgt else 0.5
    return out


def _fragment_spans(bam: pysam.AlignmentFile, chrom: str, start: int, end: int) -> tuple[np.ndarray, np.ndarray]:
    """Half-open spans of the counted fragments whose read 1 overlaps ``[start, end)``."""
    s_list: list[int] = []
    e_list: list[int] = []
    for r in bam.fetch(chrom, start, end):
        if r.flag & _SKIP_FLAGS or r.mapping_quality < MIN_MAPQ:
            continue
        if r.is_paired and not r.is_read1:
            continue
        tlen = abs(r.template_length)
        if r.is_paired and r.is_proper_pair and 0 < tlen <= MAX_FRAGMENT and r.next_reference_id == r.reference_id:
            a = min(r.reference_start, r.next_reference_start)
            s_list.append(a)
            e_list.append(a + tlen)
        else:
            s_list.append(r.reference_start)
            e_list.append(r.reference_end or r.reference_start + 1)
    return np.asarray(s_list, dtype=np.int64), np.asarray(e_list, dtype=np.int64)


def _groups(targets: list[Interval]) -> list[list[int]]:
    """Indices of targets grouped into clusters on one chromosome less than _MERGE_GAP apart."""
    order = sorted(range(len(targets)), key=lambda i: (targets[i].chrom, targets[i].start))
    out: list[list[int]] = []
    for i in order:
        t = targets[i]
        if out and targets[out[-1][-1]].chrom == t.chrom and t.start - max(targets[j].end for j in out[-1]) < _MERGE_GAP:
            out[-1].append(i)
        else:
            out.append([i])
    return out


def target_coverage(bam_path: str | Path, panel_bed: str | Path, fasta: str | Path) -> pd.DataFrame:
    """Per-target fragment counts and mean fragment depth of one BAM (module docstring).

    Parameters
    ----------
    bam_path
        Coordinate-sorted, indexed, duplicate-marked BAM in chromosome coordinates.
    panel_bed
        Panel BED (4th column = gene), e.g. ``results/reference/panel.bed``.
    fasta
        Reference FASTA holding the panel's chromosomes (for target GC).

    Returns
    -------
    pandas.DataFrame
        Columns :data:`TARGET_COLUMNS`, one row per target in BED (karyotype) order.

    Raises
    ------
    InputError
        If the BAM is missing / unindexed or lacks a panel chromosome.
    """
    targets = read_bed(panel_bed)
    gc = target_gc(fasta, targets)
    try:
        bam = pysam.AlignmentFile(str(bam_path), "rb")
        bam.check_index()
    except (OSError, ValueError) as exc:
        raise InputError(Problem(str(bam_path), f"cannot read the BAM or its index ({exc})",
                                 "give a coordinate-sorted BAM with a .bai index (samtools index)")) from None
    frags = np.zeros(len(targets), dtype=np.int64)
    covered = np.zeros(len(targets), dtype=np.float64)
    with bam:
        refs = set(bam.references)
        for grp in _groups(targets):
            chrom = targets[grp[0]].chrom
            if chrom not in refs:
                raise InputError(Problem(str(bam_path), f"the BAM has no chromosome {chrom} (panel target "
                                         f"{targets[grp[0]].name})", "align to the same reference as the panel"))
            lo = min(targets[i].start for i in grp)
            hi = max(targets[i].end for i in grp)
            s, e = _fragment_spans(bam, chrom, max(0, lo - MAX_FRAGMENT), hi + MAX_FRAGMENT)
            order = np.argsort(s, kind="stable")
            s, e = s[order], e[order]
            for i in grp:
                t = targets[i]
                j0 = np.searchsorted(s, t.start - MAX_FRAGMENT - 200, side="left")
                j1 = np.searchsorted(s, t.end, side="left")
                ss, ee = s[j0:j1], e[j0:j1]
                ov = np.minimum(ee, t.end) - np.maximum(ss, t.start)
                ov = ov[ov > 0]
                frags[i] = len(ov)
                covered[i] = float(ov.sum())
    lengths = np.array([t.length for t in targets], dtype=np.int64)
    return pd.DataFrame({
        "chrom": [t.chrom for t in targets], "start": [t.start for t in targets], "end": [t.end for t in targets],
        "gene": [t.name for t in targets], "length": lengths, "gc": np.round(gc, 6),
        "fragments": frags, "depth": np.round(covered / lengths, 4),
    })[TARGET_COLUMNS]


def write_coverage(df: pd.DataFrame, path: str | Path) -> Path:
    """Write a coverage table as TSV (atomically)."""
    with atomic_path(path) as tmp:
        df.to_csv(tmp, sep="\t", index=False)
    return Path(path)


def read_coverage(path: str | Path) -> pd.DataFrame:
    """Read a coverage TSV written by :func:`write_coverage`.

    Raises
    ------
    InputError
        If the file is missing or lacks a column of :data:`TARGET_COLUMNS`.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(Problem(str(path), "coverage table not found", "run `unlock-atlas copynumber coverage` first"))
    df = pd.read_csv(path, sep="\t", dtype={"chrom": str, "gene": str})
    missing = [c for c in TARGET_COLUMNS if c not in df.columns]
    if missing:
        raise InputError(Problem(str(path), f"not a coverage table (missing {', '.join(missing)})",
                                 "regenerate it with `unlock-atlas copynumber coverage`"))
    return df
