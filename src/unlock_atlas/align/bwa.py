"""FASTQ pair → duplicate-marked, coordinate-sorted, indexed BAM in chromosome coordinates.

Pipeline (all in-process; nothing is written under the final name until the end):

1. Stream R1/R2 (plain or gzipped) in chunks of ``chunk_pairs`` pairs (bounded memory), checking
   that both files have the same number of records and that mates carry the same name (after
   dropping a ``/1`` ``/2`` suffix); a mismatch is an :class:`~unlock_atlas.errors.InputError`
   naming both files and the record number.
2. Align each chunk with bwa mem in paired-end mode (pybwa ``BwaMem`` with
   ``interleaved_paired_end``, i.e. ``bwa mem -p``). pybwa feeds bwa in batches of
   ``chunk_size`` = 10,000,000 bases (``bwa mem -K 10000000``), so results do not depend on
   the thread count; bwa estimates the insert-size distribution per batch, as it always does.
3. Restore the pair flags pybwa 2.3 drops in its (officially unsupported, pybwa issue #54)
   paired path: ``0x40``/``0x80`` from the mate's position in the pair, and ``0x2`` by bwa's own
   proper-pair rule (:class:`ProperPairModel`).
4. Lift every record to chromosome coordinates (:mod:`unlock_atlas.align.lift`) and write a
   name-grouped BAM with ``@RG`` (ID = SM = sample, LB, PL) on every record and ``@PG``.
5. ``samtools fixmate -m`` (mate tags, TLEN of pairs now on one chromosome, ``ms`` score for
   markdup), ``sort``, ``markdup`` (pairs with the same unclipped 5' ends of both mates and
   orientations; the best-quality pair is kept), ``index``; the BAM is renamed into place
   first, then its ``.bai``.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import tempfile
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from importlib.metadata import version
from pathlib import Path

import numpy as np
import pysam

from ..errors import InputError, Problem, UnlockError
from .index import dict_path, index_files
from .lift import LiftPlan, RecordLifter, plan_lift

logger = logging.getLogger(__name__)

#: SAM spec v1 ``@RG PL`` values.
PLATFORMS = ("CAPILLARY", "DNBSEQ", "ELEMENT", "HELICOS", "ILLUMINA", "IONTORRENT", "LS454",
             "ONT", "PACBIO", "SINGULAR", "SOLID", "ULTIMA")
_MATE_SUFFIX = re.compile(r"/[12]$")
_ID_RE = re.compile(r"^[!-~]+$")  # printable, no whitespace (SAM header field values)


@dataclass
class AlignStats:
    """Counts of one ``align_fastq`` run (reads = primary records, one per read)."""

    pairs: int = 0
    reads: int = 0
    mapped_reads: int = 0
    proper_pair_reads: int = 0
    supplementary: int = 0
    duplicate_reads: int = 0
    align_seconds: float = 0.0
    total_seconds: float = 0.0

    @property
    def mapped_fraction(self) -> float:
        return self.mapped_reads / self.reads if self.reads else 0.0

    @property
    def pairs_per_second(self) -> float:
        """Alignment throughput (bwa + lift + BAM writing; excludes fixmate/sort/markdup)."""
        return self.pairs / self.align_seconds if self.align_seconds > 0 else 0.0

    def as_dict(self) -> dict[str, float | int]:
        d = asdict(self)
        d.update(mapped_fraction=self.mapped_fraction, pairs_per_second=self.pairs_per_second)
        return d


class ProperPairModel:
    """bwa mem's proper-pair rule, computed on the primary alignments of each chunk.

    bwa (``mem_pestat``) takes pairs whose two ends each have a unique best hit (sub-optimal
    score ≤ ``MIN_RATIO`` = 0.8 × best; here: ``XS ≤ 0.8·AS``) on the same reference in FR
    orientation, and from their insert sizes (outer span) the quartiles Q1, Q3:
    mean/SD are taken within ``[Q1 − 2·IQR, Q3 + 2·IQR]`` (``OUTLIER_BOUND``), and proper pairs
    are those within ``[Q1 − 3·IQR, Q3 + 3·IQR]`` (``MAPPING_BOUND``), widened to at least
    mean ± 4 SD (``MAX_STDDEV``), low ≥ 1. Fewer than 10 such pairs (``MIN_DIR_CNT``) means no
    estimate; a chunk that small reuses the previous chunk's bounds (bwa would flag none).
    Only FR is considered: the library types this pipeline handles are FR paired-end.
    bwa works on the 5'-to-5' distance (= insert − 1, lh3/bwa#397) and its bounds come out one
    lower than these; the same pairs qualify. bwa estimates per batch of 10 Mbases, this model
    per chunk of ``chunk_pairs`` pairs; both are deterministic for a given input.
    """

    MIN_RATIO, MIN_DIR_CNT, OUTLIER_BOUND, MAPPING_BOUND, MAX_STDDEV = 0.8, 10, 2.0, 3.0, 4.0

    def __init__(self) -> None:
        self.bounds: tuple[int, int] | None = None

    @staticmethod
    def fr_insert(a: pysam.AlignedSegment, b: pysam.AlignedSegment) -> int | None:
        """Outer span of a pair in FR orientation (reads pointing at each other), else None."""
        if a.is_unmapped or b.is_unmapped or a.reference_id != b.reference_id:
            return None
        if a.is_reverse == b.is_reverse:
            return None
        fwd, rev = (a, b) if not a.is_reverse else (b, a)
        if fwd.reference_start > rev.reference_end - 1:  # 5' ends point away from each other
            return None
        return rev.reference_end - fwd.reference_start

    def _unique(self, r: pysam.AlignedSegment) -> bool:
        if not r.has_tag("AS"):
            return False
        xs = r.get_tag("XS") if r.has_tag("XS") else 0
        return xs <= self.MIN_RATIO * r.get_tag("AS")

    def update(self, primaries: list[tuple[pysam.AlignedSegment, pysam.AlignedSegment]]) -> None:
        """Estimate bounds from one chunk's primary pairs (keeps the old ones if too few)."""
        sizes = [ins for a, b in primaries
                 if self._unique(a) and self._unique(b) and (ins := self.fr_insert(a, b))]
        if len(sizes) < self.MIN_DIR_CNT:
            return
        q = np.sort(np.asarray(sizes, dtype=np.int64))
        n = len(q)

        def pct(f: float) -> int:
            return int(q[min(int(f * n + 0.499), n - 1)])

        p25, p75 = pct(0.25), pct(0.75)
        iqr = p75 - p25
        lo = max(1, int(p25 - self.OUTLIER_BOUND * iqr + 0.499))
        hi = int(p75 + self.OUTLIER_BOUND * iqr + 0.499)
        core = q[(q >= lo) & (q <= hi)]
        avg = float(core.mean())
        sd = float(core.std()) if len(core) > 1 else 0.0
        low = int(p25 - self.MAPPING_BOUND * iqr + 0.499)
        high = int(p75 + self.MAPPING_BOUND * iqr + 0.499)
        low = min(low, int(avg - self.MAX_STDDEV * sd + 0.499))
        high = max(high, int(avg + self.MAX_STDDEV * sd + 0.499))
        self.bounds = (max(1, low), high)

    def is_proper(self, a: pysam.AlignedSegment, b: pysam.AlignedSegment) -> bool:
        if self.bounds is None:
            return False
        ins = self.fr_insert(a, b)
        return ins is not None and self.bounds[0] <= ins <= self.bounds[1]


def _open_fastq(path: Path) -> pysam.FastxFile:
    if not Path(path).is_file():
        raise InputError(Problem(str(path), "FASTQ file does not exist",
                                 "check fastq_1/fastq_2 in config/samples.tsv"))
    return pysam.FastxFile(str(path))


def read_pairs(fastq1: Path, fastq2: Path, chunk_pairs: int) -> Iterator[list[tuple[pysam.FastxRecord, pysam.FastxRecord]]]:
    """Yield lists of at most ``chunk_pairs`` validated mate pairs (names made identical).

    Raises
    ------
    InputError
        Different read names at the same record, different record counts, a record without
        qualities, or a malformed FASTQ — naming both files and the 1-based record number.
    """
    n = 0
    chunk: list[tuple[pysam.FastxRecord, pysam.FastxRecord]] = []
    fix = "R1 and R2 must list the same read pairs in the same order; re-export them together"
    with _open_fastq(fastq1) as f1, _open_fastq(fastq2) as f2:
        it1, it2 = iter(f1), iter(f2)
        while True:
            try:
                r1 = next(it1, None)
                r2 = next(it2, None)
            except (ValueError, OSError) as exc:
                raise InputError(Problem(f"{fastq1} / {fastq2}",
                                         f"malformed FASTQ after record {n}: {exc}",
                                         "check the files are complete, valid FASTQ")) from exc
            if r1 is None and r2 is None:
                break
            n += 1
            where = f"{fastq1} / {fastq2}"
            if r1 is None or r2 is None:
                short, other = (fastq1, fastq2) if r1 is None else (fastq2, fastq1)
                raise InputError(Problem(
                    where, f"{short} ends after {n - 1} records but {other} has record {n}",
                    fix, row=4 * n - 3))
            name1, name2 = _MATE_SUFFIX.sub("", r1.name), _MATE_SUFFIX.sub("", r2.name)
            if name1 != name2:
                raise InputError(Problem(
                    where, f"record {n}: read names differ ('{r1.name}' in {fastq1}, "
                           f"'{r2.name}' in {fastq2})", fix, row=4 * n - 3))
            if r1.quality is None or r2.quality is None:
                raise InputError(Problem(where, f"record {n} ('{name1}') has no base qualities",
                                         "give FASTQ, not FASTA", row=4 * n - 3))
            r1.name = name1
            r2.name = name1
            chunk.append((r1, r2))
            if len(chunk) >= chunk_pairs:
                yield chunk
                chunk = []
    if chunk:
        yield chunk


def build_out_header(plan: LiftPlan, sample_id: str, library: str, platform: str,
                     index_prefix: Path, opt_desc: str) -> pysam.AlignmentHeader:
    """Output header: ``@HD SO:unsorted GO:query``, ``@SQ`` of the plan, ``@RG``, ``@PG``, ``@CO``."""
    from .. import __version__

    hdr: dict[str, object] = {
        "HD": {"VN": "1.6", "SO": "unsorted", "GO": "query"},
        "SQ": plan.sq_lines(),
        "RG": [{"ID": sample_id, "SM": sample_id, "LB": library, "PL": platform}],
        "PG": [
            {"ID": "bwa-mem", "PN": "bwa-mem (pybwa)", "VN": f"pybwa-{version('pybwa')}",
             "CL": f"pybwa.BwaMem(index={index_prefix}).align(interleaved pairs, {opt_desc})"},
            {"ID": "unlock-atlas-align", "PN": "unlock-atlas", "VN": __version__, "PP": "bwa-mem",
             "CL": f"unlock-atlas align --index {index_prefix} --sample-id {sample_id}"},
        ],
        "CO": [f"aligned to {index_prefix} ({plan.mode} lift: records in GRCh38 chromosome coordinates)"
               if not plan.is_identity else f"aligned to {index_prefix}"],
    }
    return pysam.AlignmentHeader.from_dict(hdr)


def _check_ids(sample_id: str, library: str, platform: str) -> str:
    problems = []
    for key, val in (("sample_id", sample_id), ("library", library)):
        if not _ID_RE.match(val or ""):
            problems.append(Problem("command line", f"{key} {val!r} is empty or contains whitespace",
                                    "use letters, digits, '-', '_' or '.'", column=key))
    plat = (platform or "").upper()
    if plat not in PLATFORMS:
        problems.append(Problem("command line", f"platform {platform!r} is not a SAM @RG PL value",
                                f"use one of {', '.join(PLATFORMS)}", column="platform"))
    if problems:
        raise InputError(problems)
    return plat


def align_fastq(fastq1: Path, fastq2: Path, index_prefix: Path, out_bam: Path, sample_id: str, *,
                library: str | None = None, platform: str = "ILLUMINA", threads: int = 2,
                chunk_pairs: int = 100_000) -> AlignStats:
    """Align a FASTQ pair and write ``out_bam`` (+ ``.bai``) in chromosome coordinates.

    Parameters
    ----------
    fastq1, fastq2
        R1 and R2 (plain or gzipped), same reads in the same order.
    index_prefix
        bwa index prefix built by :func:`unlock_atlas.align.index.build_bwa_index`.
    out_bam
        Output BAM; its index is written as ``<out_bam>.bai``.
    sample_id
        ``@RG SM`` (and ``ID``).
    library
        ``@RG LB`` (default: ``sample_id``).
    platform
        ``@RG PL`` (SAM spec value, case-insensitive).
    threads
        bwa and samtools threads.
    chunk_pairs
        Pairs held in memory at a time (memory ≈ chunk_pairs × ~2 kB).

    Returns
    -------
    AlignStats
    """
    import pybwa

    t_start = time.monotonic()
    fastq1, fastq2, index_prefix, out_bam = Path(fastq1), Path(fastq2), Path(index_prefix), Path(out_bam)
    library = library or sample_id
    platform = _check_ids(sample_id, library, platform)
    missing = [str(f) for f in index_files(index_prefix) if not f.exists()]
    if missing:
        raise UnlockError(f"bwa index {index_prefix} is incomplete (missing {', '.join(missing)}); "
                          f"build it with `unlock-atlas align-index --fasta FASTA --prefix {index_prefix}`")
    with pysam.AlignmentFile(str(dict_path(index_prefix)), "r") as fh:
        plan = plan_lift(fh.references, fh.lengths, source=str(index_prefix))
    threads = max(1, int(threads))
    opt = pybwa.BwaMemOptions(interleaved_paired_end=True, threads=threads).finalize()
    out_hdr = build_out_header(plan, sample_id, library, platform, index_prefix,
                               f"bwa mem -p -K {opt.chunk_size} -t {threads}")
    stats = AlignStats()
    out_bam.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{out_bam.name}.", dir=out_bam.parent))
    try:
        raw = work / "grouped.bam"
        index = pybwa.BwaIndex(index_prefix)
        lifter = RecordLifter(index.header, out_hdr, plan)
        model = ProperPairModel()
        t_align = time.monotonic()
        with pybwa.BwaMem(index=index) as mem, \
                pysam.AlignmentFile(str(raw), "wb", header=out_hdr, threads=threads) as out:
            for chunk in read_pairs(fastq1, fastq2, chunk_pairs):
                queries = [r for pair in chunk for r in pair]
                results = mem.align(queries, opt)
                _write_chunk(results, lifter, model, sample_id, out, stats)
                stats.pairs += len(chunk)
                el = time.monotonic() - t_align
                logger.info("%s: %d pairs aligned, %.1f%% of reads mapped, %.0f s (%.0f pairs/s)",
                            sample_id, stats.pairs, 100 * stats.mapped_fraction, el,
                            stats.pairs / el if el > 0 else 0.0)
        stats.align_seconds = time.monotonic() - t_align
        if stats.pairs == 0:
            raise InputError(Problem(f"{fastq1} / {fastq2}", "the FASTQ files hold no reads",
                                     "check the files (or the sample sheet)"))
        stats.duplicate_reads = _finish_bam(raw, work, out_bam, threads)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    stats.total_seconds = time.monotonic() - t_start
    logger.info("%s: %d pairs, %.2f%% mapped, %.2f%% properly paired, %d duplicate reads, "
                "%.1f s (%.0f pairs/s aligning) -> %s", sample_id, stats.pairs,
                100 * stats.mapped_fraction, 100 * stats.proper_pair_reads / max(stats.reads, 1),
                stats.duplicate_reads, stats.total_seconds, stats.pairs_per_second, out_bam)
    return stats


def _write_chunk(results: list[list[pysam.AlignedSegment]], lifter: RecordLifter,
                 model: ProperPairModel, sample_id: str, out: pysam.AlignmentFile,
                 stats: AlignStats) -> None:
    """Lift, flag and write one chunk of bwa results (``results[2i]`` = R1, ``[2i+1]`` = R2)."""
    pairs: list[tuple[list[pysam.AlignedSegment], list[pysam.AlignedSegment]]] = []
    primaries = []
    for i in range(0, len(results), 2):
        mates = []
        for recs, read_flag in ((results[i], 0x40), (results[i + 1], 0x80)):
            lifted = []
            for rec in recs:
                r = lifter.lift(rec)
                r.flag = (r.flag & ~0xC0) | read_flag | 0x1
                lifted.append(r)
            mates.append(lifted)
        prim = tuple(next(r for r in m if not (r.is_secondary or r.is_supplementary)) for m in mates)
        pairs.append((mates[0], mates[1]))
        primaries.append(prim)
    model.update(primaries)
    for (m1, m2), (p1, p2) in zip(pairs, primaries):
        proper = model.is_proper(p1, p2)
        for r in (*m1, *m2):
            r.flag = (r.flag | 0x2) if proper else (r.flag & ~0x2)
            r.set_tag("RG", sample_id, value_type="Z")
            out.write(r)
            if r.is_supplementary:
                stats.supplementary += 1
            elif not r.is_secondary:
                stats.reads += 1
                stats.mapped_reads += not r.is_unmapped
                stats.proper_pair_reads += proper


def _finish_bam(raw: Path, work: Path, out_bam: Path, threads: int) -> int:
    """fixmate -m → sort → markdup → index, then rename BAM then BAI. Returns duplicate reads."""
    at = ["-@", str(max(threads - 1, 0))]
    fixed, srt, marked = work / "fixmate.bam", work / "sorted.bam", work / "marked.bam"
    bai, mstats = work / "marked.bam.bai", work / "markdup.txt"
    pysam.samtools.fixmate(*at, "-m", str(raw), str(fixed), catch_stdout=False)
    pysam.samtools.sort(*at, "-T", str(work / "sort"), "-o", str(srt), str(fixed), catch_stdout=False)
    pysam.samtools.markdup(*at, "-T", str(work / "markdup"), "-f", str(mstats), str(srt), str(marked),
                           catch_stdout=False)
    pysam.samtools.index(*at, str(marked), str(bai), catch_stdout=False)
    dups = 0
    for line in mstats.read_text().splitlines():
        if line.startswith("DUPLICATE TOTAL:"):
            dups = int(line.split(":", 1)[1])
    final_bai = Path(f"{out_bam}.bai")
    final_bai.unlink(missing_ok=True)  # never leave a new BAM beside a stale index
    os.replace(marked, out_bam)
    os.replace(bai, final_bai)
    return dups
