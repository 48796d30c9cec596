"""Per-sample QC metrics from a coordinate-sorted, duplicate-marked BAM, in one streaming pass.

Conventions (chosen to match the tools analysts compare against, and documented here because
every number in the atlas's ``samples`` table comes from them):

* **Read classes.** ``n_reads`` counts primary records (neither secondary 0x100 nor
  supplementary 0x800), mapped or not, so it equals the number of sequenced reads.
  ``n_mapped`` counts primary records without 0x4. ``duplicate_rate`` is the share of mapped
  primary reads flagged 0x400 (the duplicate marker of ``samtools markdup`` / Picard); it is
  the fraction of the library that is PCR/optical copies, which is what limits unique depth.
* **On-target fraction** = mapped, primary, non-duplicate reads whose aligned reference span
  ``[reference_start, reference_end)`` contains at least one panel base, divided by all mapped,
  primary, non-duplicate reads. Duplicates are left out of both sides so the value describes
  the capture of unique molecules (duplicates are concentrated on target and would inflate it).
* **Depth** at a panel base = number of mapped, primary, non-duplicate, non-QC-fail (0x200)
  reads with an aligned base (CIGAR M/=/X) there; deletions and reference skips do not count.
  Where the two mates of a pair overlap, the shared bases are counted once — the convention of
  mosdepth and ``samtools depth -s`` — because both mates sequence the same molecule and double
  counting would overstate the evidence for a variant in short cfDNA fragments (plasma
  fragments of ~167 bp are shorter than 2×150 bp reads, so nearly every pair overlaps). No MAPQ
  or base-quality filter is applied: depth describes what was sequenced; the variant caller
  applies its own quality filters. Unlike ``samtools depth``/mosdepth, supplementary records
  are excluded (primary only), so a chimeric read is counted once at its primary locus.
* **Panel bases** are the union of the BED intervals (overlapping targets are merged so a base
  is counted once). ``mean_target_depth`` / ``median_target_depth`` are over those bases,
  zero-depth bases included. ``fraction_target_bases_ge_0_2x_mean`` is the fraction of panel
  bases with depth ≥ 0.2 × mean — the uniformity measure used by Illumina/GATK HsMetrics
  (``PCT_TARGET_BASES`` at a fraction of the mean) because it is independent of absolute depth;
  it is ``None`` when the mean is 0 (undefined). ``zero_coverage_targets`` counts BED intervals
  (as given, not merged) in which no base has depth > 0 (e.g. a dropped-out amplicon or exon).
* **Insert size** is ``|TLEN|`` of proper pairs (0x2) taken once per pair, from the
  first-of-pair read (0x40) with ``TLEN > 0`` — a random half of pairs, since which mate is
  leftmost is independent of fragment length — restricted to the depth read class (mapped,
  primary, non-duplicate, non-QC-fail). Median and inter-quartile range (Q3 − Q1, linear
  interpolation between order statistics) are robust to the long tail of chimeric fragments.
  ``None`` when there are no such pairs (single-end data).

Implementation: reads are streamed once (``fetch(until_eof=True)``). Panel bases of each
chromosome are laid out in one sorted position array; an aligned block ``[s, e)`` covers the
contiguous index range ``[searchsorted(s), searchsorted(e))`` of that array, so depth is a
difference array over panel bases filled by ``numpy.bincount`` per chromosome — no per-base
Python loop; memory is O(panel size + reads buffered for one chromosome).
"""

from __future__ import annotations

import json
import logging
import math
from array import array
from pathlib import Path
from typing import Any

import numpy as np
import pysam

from ..atomic import atomic_path
from ..errors import UnlockError
from ..reference.panel import Interval, read_bed

logger = logging.getLogger(__name__)

_UNMAP, _SECONDARY, _QCFAIL, _DUP, _SUPPL = 0x4, 0x100, 0x200, 0x400, 0x800
_PAIRED, _PROPER, _MATE_UNMAP, _READ1 = 0x1, 0x2, 0x8, 0x40
#: Reads are processed in batches of this many blocks before the numpy flush (bounds memory).
_FLUSH_BLOCKS = 2_000_000
_PROGRESS_EVERY = 1_000_000


class BamError(UnlockError):
    """A BAM file cannot be used for QC (base class)."""


class BamNotFoundError(BamError):
    """The BAM file does not exist."""


class BamUnreadableError(BamError):
    """The BAM is not a valid BAM or is truncated (no BGZF EOF block, or a damaged block)."""


class BamNotSortedError(BamError):
    """The BAM is not coordinate-sorted."""


class BamIndexError(BamError):
    """The BAM has no index (.bai/.csi)."""


class _PanelLayout:
    """Panel bases per chromosome as sorted position arrays, with offsets into one depth array."""

    def __init__(self, intervals: list[Interval]) -> None:
        self.targets = intervals
        by_chrom: dict[str, list[tuple[int, int]]] = {}
        for iv in intervals:
            by_chrom.setdefault(iv.chrom, []).append((iv.start, iv.end))
        self.positions: dict[str, np.ndarray] = {}
        self.offset: dict[str, int] = {}
        total = 0
        for chrom, spans in by_chrom.items():
            merged: list[list[int]] = []
            for s, e in sorted(spans):
                if merged and s <= merged[-1][1]:
                    merged[-1][1] = max(merged[-1][1], e)
                else:
                    merged.append([s, e])
            pos = np.concatenate([np.arange(s, e, dtype=np.int64) for s, e in merged])
            self.positions[chrom] = pos
            self.offset[chrom] = total
            total += pos.size
        self.size = total

    def index(self, chrom: str, coords: np.ndarray) -> np.ndarray:
        """Global depth-array index of the first panel base ≥ each coordinate on ``chrom``."""
        return np.searchsorted(self.positions[chrom], coords, side="left") + self.offset[chrom]


class _ChromBuffer:
    """Aligned blocks and read spans of one chromosome, flushed into the depth difference array."""

    def __init__(self) -> None:
        self.add_s, self.add_e = array("q"), array("q")
        self.sub_s, self.sub_e = array("q"), array("q")
        self.span_s, self.span_e = array("q"), array("q")

    def __len__(self) -> int:
        return len(self.add_s) + len(self.span_s)

    def flush(self, chrom: str | None, layout: _PanelLayout, diff: np.ndarray) -> int:
        """Add buffered blocks to ``diff``; return how many buffered read spans touch the panel."""
        on_target = 0
        if chrom is not None and chrom in layout.positions:
            n = diff.size
            for starts, ends, sign in ((self.add_s, self.add_e, 1), (self.sub_s, self.sub_e, -1)):
                if len(starts):
                    i0 = layout.index(chrom, np.frombuffer(starts, dtype=np.int64))
                    i1 = layout.index(chrom, np.frombuffer(ends, dtype=np.int64))
                    diff += sign * (np.bincount(i0, minlength=n) - np.bincount(i1, minlength=n))
            if len(self.span_s):
                i0 = layout.index(chrom, np.frombuffer(self.span_s, dtype=np.int64))
                i1 = layout.index(chrom, np.frombuffer(self.span_e, dtype=np.int64))
                on_target = int(np.count_nonzero(i1 > i0))
        self.__init__()
        return on_target


def _intersect(a: list[tuple[int, int]], b: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Intersection of two sorted lists of half-open blocks."""
    out: list[tuple[int, int]] = []
    i = j = 0
    while i < len(a) and j < len(b):
        s, e = max(a[i][0], b[j][0]), min(a[i][1], b[j][1])
        if s < e:
            out.append((s, e))
        if a[i][1] < b[j][1]:
            i += 1
        else:
            j += 1
    return out


def _open_bam(bam: Path) -> pysam.AlignmentFile:
    """Open ``bam`` and check it is present, complete, coordinate-sorted and indexed."""
    if not bam.exists():
        raise BamNotFoundError(f"BAM file not found: {bam} -> check the `bam` column of samples.tsv "
                               "or that the align step produced it")
    try:
        fh = pysam.AlignmentFile(str(bam), "rb")
    except (OSError, ValueError) as exc:
        raise BamUnreadableError(
            f"cannot read BAM {bam}: {exc} -> the file is not a BAM or is truncated (no BGZF EOF "
            "block); re-copy it or regenerate it (e.g. rerun the aligner / `samtools sort`)") from exc
    sort_order = fh.header.to_dict().get("HD", {}).get("SO")
    if sort_order is not None and sort_order != "coordinate":
        fh.close()
        raise BamNotSortedError(f"BAM {bam} is sorted by '{sort_order}', not by coordinate -> run "
                                f"`samtools sort -o sorted.bam {bam}` and `samtools index sorted.bam`")
    if not fh.has_index():
        fh.close()
        raise BamIndexError(f"BAM {bam} has no index (.bai or .csi) -> run `samtools index {bam}`")
    return fh


def bam_qc(bam: Path, panel_bed: Path, sample_id: str) -> dict[str, Any]:
    """Compute QC metrics of one sample's BAM over a target panel, in one pass.

    Parameters
    ----------
    bam
        Coordinate-sorted, duplicate-marked, indexed BAM (chromosome names as in the BED).
    panel_bed
        Target intervals (BED, 0-based half-open), e.g. ``results/reference/panel.bed``.
    sample_id
        Recorded in the output.

    Returns
    -------
    dict
        ``sample_id, bam, panel_bed, panel_bases, n_targets, n_reads, n_mapped, n_duplicates,
        duplicate_rate, on_target_fraction, mean_target_depth, median_target_depth,
        fraction_target_bases_ge_0_2x_mean, insert_size_median, insert_size_iqr, n_insert_pairs,
        zero_coverage_targets`` (definitions in the module docstring). Rates are in [0, 1];
        depths in reads; insert sizes in bp.

    Raises
    ------
    BamError
        Missing, unreadable/truncated, unsorted or unindexed BAM (the message says what to run).
    InputError
        A malformed BED, or none of its chromosomes in the BAM header.
    """
    bam, panel_bed = Path(bam), Path(panel_bed)
    layout = _PanelLayout(read_bed(panel_bed))
    fh = _open_bam(bam)
    try:
        header_refs = set(fh.references)
        absent = sorted(set(layout.positions) - header_refs)
        if len(absent) == len(layout.positions):
            from ..errors import InputError, Problem

            raise InputError(Problem(
                str(panel_bed), f"none of the panel's chromosomes ({', '.join(absent[:5])}) is in the "
                f"header of {bam} (it has e.g. {', '.join(list(fh.references)[:3])})",
                "use a BED and BAM on the same reference with the same chromosome names"))
        if absent:
            logger.warning("%s: panel chromosomes absent from the BAM header (depth 0): %s", bam, absent)
        counts, diff, inserts = _stream(fh, bam, layout)
    finally:
        fh.close()
    return _summarise(counts, diff, inserts, layout, bam, panel_bed, sample_id)


def _stream(fh: pysam.AlignmentFile, bam: Path, layout: _PanelLayout) -> tuple[dict[str, int], np.ndarray, np.ndarray]:
    """The single pass: counters, panel depth difference array, insert sizes."""
    c = {"n_reads": 0, "n_mapped": 0, "n_duplicates": 0, "n_unique_mapped": 0, "n_on_target": 0}
    diff = np.zeros(layout.size + 1, dtype=np.int64)
    inserts = array("q")
    buf = _ChromBuffer()
    pending: dict[str, tuple[int, list[tuple[int, int]]]] = {}
    cur_tid, cur_chrom, last_pos, in_panel = -2, None, -1, False
    references = fh.references
    try:
        for rec in fh.fetch(until_eof=True):
            flag = rec.flag
            if flag & (_SECONDARY | _SUPPL):
                continue
            c["n_reads"] += 1
            if c["n_reads"] % _PROGRESS_EVERY == 0:
                logger.info("%s: %d reads", bam.name, c["n_reads"])
            tid, pos = rec.reference_id, rec.reference_start
            if tid != cur_tid:
                if tid != -1 and 0 <= tid < cur_tid or cur_tid == -1:
                    raise _unsorted(bam, rec)
                c["n_on_target"] += buf.flush(cur_chrom, layout, diff)
                cur_tid, cur_chrom, last_pos = tid, (references[tid] if tid >= 0 else None), -1
                in_panel = cur_chrom in layout.positions
                pending.clear()
            elif tid >= 0 and pos < last_pos:
                raise _unsorted(bam, rec)
            last_pos = pos
            if flag & _UNMAP:
                continue
            c["n_mapped"] += 1
            if flag & _DUP:
                c["n_duplicates"] += 1
                continue
            c["n_unique_mapped"] += 1
            if flag & _PROPER and flag & _READ1 and not flag & _QCFAIL and rec.template_length > 0:
                inserts.append(rec.template_length)
            if not in_panel:
                continue
            end = rec.reference_end
            if end is None:  # mapped flag without a CIGAR: no aligned bases to count
                continue
            buf.span_s.append(pos)
            buf.span_e.append(end)
            if flag & _QCFAIL:
                continue
            blocks = rec.get_blocks()
            for s, e in blocks:
                buf.add_s.append(s)
                buf.add_e.append(e)
            if flag & _PAIRED and not flag & _MATE_UNMAP and rec.next_reference_id == tid:
                mate = pending.pop(rec.query_name, None)
                if mate is not None:
                    for s, e in _intersect(mate[1], blocks):
                        buf.sub_s.append(s)
                        buf.sub_e.append(e)
                elif pos <= rec.next_reference_start < end:
                    pending[rec.query_name] = (rec.next_reference_start, blocks)
            if len(buf) >= _FLUSH_BLOCKS:
                c["n_on_target"] += buf.flush(cur_chrom, layout, diff)
                # a mate starting before the current position has been seen (or was filtered)
                pending = {k: v for k, v in pending.items() if v[0] >= pos}
        c["n_on_target"] += buf.flush(cur_chrom, layout, diff)
    except OSError as exc:
        raise BamUnreadableError(
            f"BAM {bam} is damaged or truncated ({exc}) after {c['n_reads']} reads -> re-copy or "
            "regenerate it") from exc
    return c, diff, np.frombuffer(inserts, dtype=np.int64) if len(inserts) else np.zeros(0, np.int64)


def _unsorted(bam: Path, rec: pysam.AlignedSegment) -> BamNotSortedError:
    return BamNotSortedError(
        f"BAM {bam} is not coordinate-sorted (read {rec.query_name} at {rec.reference_name}:"
        f"{rec.reference_start + 1} is out of order) -> run `samtools sort -o sorted.bam {bam}` "
        "and `samtools index sorted.bam`")


def _summarise(c: dict[str, int], diff: np.ndarray, inserts: np.ndarray, layout: _PanelLayout,
               bam: Path, panel_bed: Path, sample_id: str) -> dict[str, Any]:
    depth = np.cumsum(diff[:-1])
    mean = float(depth.mean()) if depth.size else 0.0
    covered = np.concatenate([[0], np.cumsum(depth > 0)])
    zero_targets = 0
    for chrom in layout.positions:
        spans = np.array([(iv.start, iv.end) for iv in layout.targets if iv.chrom == chrom], dtype=np.int64)
        i0, i1 = layout.index(chrom, spans[:, 0]), layout.index(chrom, spans[:, 1])
        zero_targets += int(np.count_nonzero(covered[i1] - covered[i0] == 0))
    if inserts.size:
        q1, med, q3 = (float(x) for x in np.percentile(inserts, [25, 50, 75]))
    else:
        q1 = med = q3 = math.nan
    return {
        "sample_id": sample_id,
        "bam": str(bam),
        "panel_bed": str(panel_bed),
        "panel_bases": int(layout.size),
        "n_targets": len(layout.targets),
        "n_reads": c["n_reads"],
        "n_mapped": c["n_mapped"],
        "n_duplicates": c["n_duplicates"],
        "duplicate_rate": c["n_duplicates"] / c["n_mapped"] if c["n_mapped"] else None,
        "on_target_fraction": c["n_on_target"] / c["n_unique_mapped"] if c["n_unique_mapped"] else None,
        "mean_target_depth": mean,
        "median_target_depth": float(np.median(depth)) if depth.size else 0.0,
        "fraction_target_bases_ge_0_2x_mean": float(np.mean(depth >= 0.2 * mean)) if mean > 0 else None,
        "insert_size_median": None if math.isnan(med) else med,
        "insert_size_iqr": None if math.isnan(med) else q3 - q1,
        "n_insert_pairs": int(inserts.size),
        "zero_coverage_targets": zero_targets,
    }


def write_qc_json(metrics: dict[str, Any], path: Path) -> None:
    """Write ``metrics`` as pretty, key-sorted JSON, atomically (temp file + rename)."""
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(metrics, indent=2, sort_keys=True) + "\n")


def read_qc_json(path: Path) -> dict[str, Any]:
    """Read a QC JSON written by :func:`write_qc_json` (error names the file when unusable)."""
    path = Path(path)
    try:
        return json.loads(path.read_text())
    except FileNotFoundError as exc:
        raise UnlockError(f"QC file not found: {path} -> run `unlock-atlas qc` for this sample first") from exc
    except json.JSONDecodeError as exc:
        raise UnlockError(f"QC file {path} is not valid JSON ({exc}) -> delete it and rerun `unlock-atlas qc`") from exc
