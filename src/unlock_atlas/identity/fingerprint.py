"""One sample's fingerprint: fragment counts of the ref and alt base at every cohort site.

Counting rules (the calling stage's, docs/calling.md, so both stages see the same evidence):

* reads that are unmapped, secondary, supplementary, QC-fail or duplicates are skipped
  (a duplicate is a copy of one molecule and would inflate the evidence);
* reads with mapping quality < 20 and bases with base quality < 20 (<= 1 % error) are skipped;
* a fragment counts ONCE: when both mates cover the site and agree, one count; when they
  disagree the fragment counts for neither allele (one mate carries an error, and we cannot
  tell which). Counting mates separately would double the apparent depth where mates overlap
  (most cfDNA fragments) and overstate the confidence of the likelihood-ratio score.

The output (``results/identity/<patient>/<sample>.fp.tsv``) has one row per site, in the site
list's order: ``chrom, pos, ref, alt, ref_count, alt_count, other_count, depth`` (depth =
fragments with a passing base; ``other_count`` = fragments with a third base, used to estimate
the sequencing error rate). A site on a contig missing from the BAM has depth 0.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd
import pysam

from ..atomic import atomic_path
from ..errors import UnlockError
from ..tables import read_table

logger = logging.getLogger(__name__)

MIN_MAPQ = 20
MIN_BASEQ = 20
#: flags never counted: unmapped 0x4, secondary 0x100, QC-fail 0x200, duplicate 0x400, supplementary 0x800
SKIP_FLAGS = 0x4 | 0x100 | 0x200 | 0x400 | 0x800
FP_COLUMNS = ["chrom", "pos", "ref", "alt", "ref_count", "alt_count", "other_count", "depth"]


class FingerprintError(UnlockError):
    """A BAM that cannot be fingerprinted (missing, truncated, unindexed)."""


def _open(bam: Path) -> pysam.AlignmentFile:
    if not bam.is_file():
        raise FingerprintError(f"BAM file not found: {bam} -> check the `bam` column of samples.tsv")
    try:
        fh = pysam.AlignmentFile(str(bam), "rb")
    except (OSError, ValueError) as exc:
        raise FingerprintError(f"cannot read BAM {bam}: {exc} -> the file is not a BAM or is truncated; "
                               "re-copy or regenerate it") from None
    if not fh.has_index():
        fh.close()
        raise FingerprintError(f"BAM {bam} has no index -> run `samtools index {bam}`")
    return fh


def count_site(fh: pysam.AlignmentFile, chrom: str, pos: int, ref: str, alt: str) -> tuple[int, int, int]:
    """``(ref, alt, other)`` fragment counts at 1-based ``pos`` (rules in the module docstring)."""
    frag: dict[str, str | None] = {}
    for col in fh.pileup(chrom, pos - 1, pos, truncate=True, stepper="nofilter", ignore_overlaps=False,
                         min_base_quality=0, max_depth=10_000_000, flag_filter=0):
        for pr in col.pileups:
            aln = pr.alignment
            if aln.flag & SKIP_FLAGS or aln.mapping_quality < MIN_MAPQ or pr.is_del or pr.is_refskip:
                continue
            qpos = pr.query_position
            if qpos is None or aln.query_qualities is None or aln.query_qualities[qpos] < MIN_BASEQ:
                continue
            base = aln.query_sequence[qpos].upper()
            name = aln.query_name
            if name in frag:
                if frag[name] != base:
                    frag[name] = None   # mates disagree: the fragment counts for neither allele
            else:
                frag[name] = base
    n_ref = n_alt = n_other = 0
    for base in frag.values():
        if base is None or base == "N":
            continue
        if base == ref:
            n_ref += 1
        elif base == alt:
            n_alt += 1
        else:
            n_other += 1
    return n_ref, n_alt, n_other


def fingerprint(bam: str | Path, sites: pd.DataFrame) -> pd.DataFrame:
    """Count ref/alt fragments of ``bam`` at every site (columns :data:`FP_COLUMNS`).

    Raises
    ------
    FingerprintError
        Missing, unreadable/truncated or unindexed BAM.
    """
    bam = Path(bam)
    fh = _open(bam)
    rows = []
    try:
        contigs = set(fh.references)
        for s in sites.itertuples(index=False):
            if s.chrom in contigs:
                try:
                    r, a, o = count_site(fh, str(s.chrom), int(s.pos), str(s.ref), str(s.alt))
                except (OSError, ValueError) as exc:
                    raise FingerprintError(f"cannot read BAM {bam} at {s.chrom}:{s.pos}: {exc} -> the file is "
                                           "truncated or corrupt; re-copy or regenerate it") from None
            else:
                r = a = o = 0
            rows.append((s.chrom, int(s.pos), s.ref, s.alt, r, a, o, r + a + o))
    finally:
        fh.close()
    return pd.DataFrame(rows, columns=FP_COLUMNS)


def write_fingerprint(fp: pd.DataFrame, path: str | Path) -> Path:
    with atomic_path(path) as tmp:
        fp.to_csv(tmp, sep="\t", index=False)
    return Path(path)


def read_fingerprint(path: str | Path) -> pd.DataFrame:
    return read_table(path, "fingerprint", "rerun `unlock-atlas identity fingerprint` for this sample",
                      columns=FP_COLUMNS, fmt="tsv", dtype={"chrom": str, "ref": str, "alt": str})
