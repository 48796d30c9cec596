"""Writing simulated reads: name-grouped SAM → samtools fixmate/sort/markdup/index, or FASTQ.

Duplicates are marked for real, exactly as the pipeline's ``align`` stage does for FASTQ
input: ``samtools fixmate -m`` (mate score and MC tags), ``sort``, ``markdup``, ``index``, all
in-process through pysam. The header has one ``@SQ`` per GRCh38 primary chromosome with its
real length in karyotype order (so the BAM matches a real GRCh38 header), an ``@RG``
(``ID``/``SM`` = sample id, ``LB``, ``PL:ILLUMINA``) and an ``@PG`` naming the simulator,
version and seed. samtools' own ``@PG`` lines are suppressed (``--no-PG``): they would carry
temporary file names and make the header depend on the run directory. Intermediate files
are uncompressed BAM (``-O bam,level=0``; fixmate's ``-u`` still compresses in samtools 1.24).
"""

from __future__ import annotations

import gzip
import os
import shutil
import tempfile
from pathlib import Path
from typing import BinaryIO

import pysam

from .. import __version__
from ..atomic import atomic_path
from ..reference.genome import grch38_chromosomes
from .reads import ReadBatch

_REVCOMP = bytes.maketrans(b"ACGTN", b"TGCAN")
#: zlib level of the final BAM. The pysam-bundled htslib compresses with plain zlib, where the
#: default level 6 costs ~4x the CPU of level 1 for ~20 % smaller files; the demo must simulate
#: in minutes, so level 1 (intermediates are uncompressed, level 0).
BAM_LEVEL = 1


def sam_header(sample_id: str, command_line: str, sorted_: bool = False) -> str:
    """SAM header text for one sample (see the module docstring)."""
    lines = [f"@HD\tVN:1.6\tSO:{'coordinate' if sorted_ else 'unsorted'}" + ("" if sorted_ else "\tGO:query")]
    lines += [f"@SQ\tSN:{c}\tLN:{n}" for c, n in grch38_chromosomes().items()]
    lines.append(f"@RG\tID:{sample_id}\tSM:{sample_id}\tLB:{sample_id}.lib1\tPL:ILLUMINA\tDS:simulated hybrid-capture panel")
    lines.append(f"@PG\tID:unlock-atlas-simulate\tPN:unlock-atlas simulate\tVN:{__version__}\tCL:{command_line}")
    return "\n".join(lines) + "\n"


def format_sam(batch: ReadBatch, sample_id: str, chroms: list[bytes]) -> bytes:
    """SAM text of a batch, mates adjacent (+ strand read first), flags 99/147 or 163/83."""
    rg = sample_id.encode()
    fmt = b"%s:%d\t%d\t%s\t%d\t60\t%s\t=\t%d\t%d\t%s\t%s\tRG:Z:%s\n"
    out = []
    for row, reg, pf, pr, er, r1f, cf, cr, sf, sr, qf, qr in zip(
            batch.rows.tolist(), batch.region.tolist(), batch.pos_f.tolist(), batch.pos_r.tolist(),
            batch.end_r.tolist(), batch.r1_forward.tolist(), batch.cigar_f, batch.cigar_r,
            batch.seq_f, batch.seq_r, batch.qual_f, batch.qual_r):
        tlen = er - pf + 1
        ch = chroms[reg]
        out.append(fmt % (rg, row, 99 if r1f else 163, ch, pf, cf, pr, tlen, sf, qf, rg))
        out.append(fmt % (rg, row, 147 if r1f else 83, ch, pr, cr, pf, -tlen, sr, qr, rg))
    return b"".join(out)


def format_fastq(batch: ReadBatch, sample_id: str) -> tuple[bytes, bytes]:
    """FASTQ text of read 1 and read 2 in sequencing orientation (− strand read reverse-complemented)."""
    name = sample_id.encode()
    r1, r2 = [], []
    for row, r1f, sf, sr, qf, qr in zip(batch.rows.tolist(), batch.r1_forward.tolist(),
                                         batch.seq_f, batch.seq_r, batch.qual_f, batch.qual_r):
        fwd = b"@%s:%d\n%s\n+\n%s\n" % (name, row, sf, qf)
        rev = b"@%s:%d\n%s\n+\n%s\n" % (name, row, sr.translate(_REVCOMP)[::-1], qr[::-1])
        (r1 if r1f else r2).append(fwd)
        (r2 if r1f else r1).append(rev)
    return b"".join(r1), b"".join(r2)


class SamSink:
    """Collects SAM text in a temporary file, then produces the final duplicate-marked BAM."""

    def __init__(self, workdir: Path, sample_id: str, command_line: str, chroms: list[str]) -> None:
        self.workdir = workdir
        self.sample_id = sample_id
        self.chroms = [c.encode() for c in chroms]
        self.sam = workdir / f"{sample_id}.grouped.sam"
        self.fh: BinaryIO = open(self.sam, "wb")
        self.fh.write(sam_header(sample_id, command_line).encode())

    def write(self, batch: ReadBatch) -> None:
        self.fh.write(format_sam(batch, self.sample_id, self.chroms))

    def write_raw(self, sam: bytes, fq1: bytes, fq2: bytes) -> None:
        """Add ready-made SAM records (e.g. chimeric reads, :mod:`.fusion`); FASTQ text is unused."""
        self.fh.write(sam)

    def abort(self) -> None:
        self.fh.close()

    def finish(self, bam: Path) -> dict[str, int]:
        """fixmate -m → sort → markdup → index into ``bam`` (+ ``.bai``), atomically.

        Returns markdup's counts (``reads``, ``duplicates``).
        """
        self.fh.close()
        w = self.workdir
        fixed, srt, stats = w / "fixmate.bam", w / "sorted.bam", w / "markdup.txt"
        pysam.samtools.fixmate("-m", "-O", "bam,level=0", "--no-PG", str(self.sam), str(fixed))
        self.sam.unlink()
        pysam.samtools.sort("-O", "bam,level=0", "-m", "768M", "-T", str(w / "sort"), "--no-PG",
                            "-o", str(srt), str(fixed))
        fixed.unlink()
        with atomic_path(bam, suffix=".bam") as tmp_bam:
            pysam.samtools.markdup("--no-PG", "-f", str(stats), "-T", str(w / "markdup"),
                                   "-O", f"bam,level={BAM_LEVEL}", str(srt), str(tmp_bam))
            with atomic_path(str(bam) + ".bai", suffix=".bai") as tmp_bai:
                pysam.samtools.index("-b", "-o", str(tmp_bai), str(tmp_bam))
        srt.unlink()
        counts = {}
        for line in stats.read_text().splitlines():
            key, _, val = line.partition(":")
            if key.strip() in ("READ", "DUPLICATE TOTAL"):
                counts[{"READ": "reads", "DUPLICATE TOTAL": "duplicates"}[key.strip()]] = int(val.strip())
        return counts


class FastqSink:
    """Writes gzipped FASTQ pairs (gzip mtime 0, so the files are byte-stable) atomically."""

    def __init__(self, r1: Path, r2: Path, sample_id: str) -> None:
        self.sample_id = sample_id
        self.targets = (Path(r1), Path(r2))
        for t in self.targets:
            t.parent.mkdir(parents=True, exist_ok=True)
        self.tmp = [t.with_name(f".{t.name}.{os.getpid()}.tmp") for t in self.targets]
        self.raw = [open(t, "wb") for t in self.tmp]
        self.fh = [gzip.GzipFile(filename="", mode="wb", fileobj=r, compresslevel=4, mtime=0) for r in self.raw]

    def write(self, batch: ReadBatch) -> None:
        a, b = format_fastq(batch, self.sample_id)
        self.fh[0].write(a)
        self.fh[1].write(b)

    def write_raw(self, sam: bytes, fq1: bytes, fq2: bytes) -> None:
        """Add ready-made read 1 / read 2 FASTQ text (e.g. chimeric reads); SAM text is unused."""
        self.fh[0].write(fq1)
        self.fh[1].write(fq2)

    def _close(self) -> None:
        for fh, raw in zip(self.fh, self.raw):
            fh.close()
            raw.close()

    def finish(self) -> None:
        self._close()
        for tmp, target in zip(self.tmp, self.targets):
            os.replace(tmp, target)

    def abort(self) -> None:
        self._close()
        for tmp in self.tmp:
            tmp.unlink(missing_ok=True)


def scratch_dir(parent: Path, sample_id: str) -> Path:
    """A private scratch directory for one sample's intermediate files."""
    parent.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=f".{sample_id}.", dir=parent))


def remove_scratch(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)
