"""Sparse full-length GRCh38 FASTA (BGZF + ``.fai`` + ``.gzi``) built from region contigs.

The shared development data hold only whole-gene regions (contigs like
``chr7_55014032_55258620``). Calling and annotation want real chromosome coordinates and
contig names that match the BAM headers of real GRCh38 data (design.md §3), so this module
writes every GRCh38 primary chromosome at its real length, ``N`` everywhere except the regions,
whose bases are copied exactly (case preserved) to their chromosome position.

The output is ~3.2 GB uncompressed, so it is written as BGZF directly rather than through a
general-purpose compressor:

* BGZF (SAM specification §4.1) is a series of gzip members, each with a ``BC`` extra
  subfield holding the member size minus one, followed by the fixed 28-byte EOF member.
* Each member's uncompressed payload is a whole number of 61-byte FASTA lines (60 bases +
  newline), at most ``0xFF00`` (65,280) bytes — htslib's ``BGZF_BLOCK_SIZE``, chosen there so
  that even incompressible data (deflate adds ≤5 bytes per 16 KiB stored block) fits the
  64 KiB member limit. 1,070 lines = 65,270 bytes per member.
* Because blocks start on line boundaries of each chromosome, every all-``N`` block with the
  same number of bases is byte-identical: it is deflated once and the compressed member
  reused (~48,000 members, a few dozen distinct). Only the ~80 blocks that touch a region are
  compressed individually, so the whole genome takes about a second.
* MTIME is 0, so the same input gives a byte-identical output (reproducible builds).
* ``.gzi`` (htslib ``bgzf_index_dump``): little-endian uint64 entry count, then one
  ``(compressed_offset, uncompressed_offset)`` uint64 pair for every data block after the
  first (the implicit ``(0, 0)`` entry and the EOF member are not listed) — byte-identical to
  what ``samtools faidx`` builds for the same file.
* ``.fai``: ``name, length, offset of the first base (uncompressed), 60, 61`` (a sequence
  shorter than one line gets its own width, as samtools writes it).
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import struct
import time
import zlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import pysam

from ..atomic import atomic_path
from ..errors import InputError, Problem
from .genome import Region, RegionLift, grch38_chromosomes, parse_region_contig

logger = logging.getLogger(__name__)

#: Bases per FASTA line (the samtools/Ensembl/UCSC convention) and bytes per line with "\n".
LINE_BASES = 60
LINE_BYTES = LINE_BASES + 1
#: Largest uncompressed BGZF payload (htslib BGZF_BLOCK_SIZE = 0xFF00; see module docstring).
BGZF_MAX_PAYLOAD = 0xFF00
#: Whole FASTA lines per full block: 1,070 lines = 65,270 bytes.
LINES_PER_BLOCK = BGZF_MAX_PAYLOAD // LINE_BYTES
#: zlib level 6: the bgzip/htslib default; level 9 shrinks the ~1.3 MB of real sequence by <2%
#: at 3-4x the time, and the all-N blocks are compressed once regardless.
COMPRESSION_LEVEL = 6
#: The standard empty BGZF member that marks end of file (SAM spec §4.1.2).
BGZF_EOF = bytes.fromhex("1f8b08040000000000ff0600424302001b0003000000000000000000")

_HEADER = struct.Struct("<4BI2BH2BHH")
_TRAILER = struct.Struct("<II")
_NON_LETTER = re.compile(rb"[^A-Za-z]")


@dataclass(frozen=True)
class SparseStats:
    """What :func:`write_sparse_fasta` wrote."""

    n_chromosomes: int
    n_blocks: int
    n_distinct_n_blocks: int
    n_sequence_blocks: int
    uncompressed_bytes: int
    compressed_bytes: int
    seconds: float


def bgzf_member(payload: bytes, level: int = COMPRESSION_LEVEL) -> bytes:
    """One BGZF member (gzip member with the ``BC`` extra subfield) holding ``payload``."""
    if len(payload) > BGZF_MAX_PAYLOAD:
        raise ValueError(f"BGZF payload of {len(payload)} bytes exceeds {BGZF_MAX_PAYLOAD}")
    comp = zlib.compressobj(level, zlib.DEFLATED, -15)
    cdata = comp.compress(payload) + comp.flush()
    bsize = _HEADER.size + len(cdata) + _TRAILER.size
    # ID1 ID2 CM FLG(FEXTRA) MTIME XFL OS XLEN | SI1 SI2 SLEN BSIZE-1
    header = _HEADER.pack(31, 139, 8, 4, 0, 0, 255, 6, 66, 67, 2, bsize - 1)
    return header + cdata + _TRAILER.pack(zlib.crc32(payload) & 0xFFFFFFFF, len(payload))


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _lines(seq: bytes | bytearray) -> bytes:
    """Wrap ``seq`` at :data:`LINE_BASES`, every line (the last included) ending in a newline."""
    mv = memoryview(seq)
    return b"".join(bytes(mv[i:i + LINE_BASES]) + b"\n" for i in range(0, len(seq), LINE_BASES))


def write_sparse_fasta(
    chromosomes: Mapping[str, int],
    pieces: Iterable[tuple[str, int, bytes]],
    out_fa_gz: str | os.PathLike,
) -> SparseStats:
    """Write ``N``-filled chromosomes with real sequence pasted in, as BGZF + ``.fai`` + ``.gzi``.

    Parameters
    ----------
    chromosomes
        Chromosome name → length, in output order.
    pieces
        ``(chromosome, 1-based start, bases)``: sequence to paste at its chromosome position.
        Pieces must lie within their chromosome and not overlap (checked by the caller).
    out_fa_gz
        Output path; ``<out>.fai`` and ``<out>.gzi`` are written beside it. The three files are
        written to temporary names and renamed data first, then ``.gzi``, then ``.fai`` (old
        indexes are removed before the data is renamed), so a reader never pairs new data with
        an old index and the ``.fai`` — what readers open first — is never older than the data.

    Returns
    -------
    SparseStats
    """
    t0 = time.perf_counter()
    out = Path(out_fa_gz)
    by_chrom: dict[str, list[tuple[int, bytes]]] = {}
    for chrom, start, seq in pieces:
        by_chrom.setdefault(chrom, []).append((start - 1, seq))  # 0-based start
    for plist in by_chrom.values():
        plist.sort(key=lambda p: p[0])

    cache: dict[tuple[bytes, int], bytes] = {}
    fai_lines: list[str] = []
    gzi: list[tuple[int, int]] = []
    coff = uoff = n_blocks = n_seq_blocks = 0
    fai_path, gzi_path = Path(f"{out}.fai"), Path(f"{out}.gzi")
    with atomic_path(fai_path) as tmp_fai, atomic_path(gzi_path) as tmp_gzi, atomic_path(out) as tmp_out:
        with open(tmp_out, "wb", buffering=1 << 20) as fh:
            for chrom, length in chromosomes.items():
                header = f">{chrom}\n".encode()
                first_lines = (BGZF_MAX_PAYLOAD - len(header)) // LINE_BYTES
                if first_lines < 1:
                    raise ValueError(f"chromosome name too long for a BGZF block: {chrom[:50]}...")
                if length <= 0:
                    raise ValueError(f"chromosome {chrom} has length {length}")
                # samtools records a single short line's own width (e.g. "5 6" for 5 bases)
                width = min(length, LINE_BASES)
                fai_lines.append(f"{chrom}\t{length}\t{uoff + len(header)}\t{width}\t{width + 1}\n")
                plist = by_chrom.get(chrom, [])
                n_lines = -(-length // LINE_BASES)
                line = 0
                while line < n_lines:
                    take = first_lines if line == 0 else LINES_PER_BLOCK
                    head = header if line == 0 else b""
                    b0, b1 = line * LINE_BASES, min((line + take) * LINE_BASES, length)
                    # bytes of this block: header + bases + one newline per (possibly short) line
                    payload_len = len(head) + (b1 - b0) + -(-(b1 - b0) // LINE_BASES)
                    hits = [(s, q) for s, q in plist if s < b1 and s + len(q) > b0]
                    if hits:
                        buf = bytearray(b"N" * (b1 - b0))
                        for s, q in hits:
                            lo, hi = max(s, b0), min(s + len(q), b1)
                            buf[lo - b0:hi - b0] = q[lo - s:hi - s]
                        member = bgzf_member(head + _lines(buf))
                        n_seq_blocks += 1
                    else:
                        member = cache.get((head, b1 - b0))
                        if member is None:
                            member = cache[(head, b1 - b0)] = bgzf_member(head + _lines(b"N" * (b1 - b0)))
                    if n_blocks:
                        gzi.append((coff, uoff))
                    fh.write(member)
                    coff += len(member)
                    uoff += payload_len
                    n_blocks += 1
                    line += take
            fh.write(BGZF_EOF)
            coff += len(BGZF_EOF)
        with open(tmp_gzi, "wb") as g:
            g.write(struct.pack("<Q", len(gzi)))
            g.write(b"".join(struct.pack("<QQ", c, u) for c, u in gzi))
        tmp_fai.write_text("".join(fai_lines))
        for tmp in (tmp_fai, tmp_gzi, tmp_out):  # mkstemp makes 0600; a reference is shared
            os.chmod(tmp, 0o666 & ~_umask())
        for stale in (fai_path, gzi_path):
            with contextlib.suppress(FileNotFoundError):
                stale.unlink()
    return SparseStats(len(chromosomes), n_blocks, len(cache), n_seq_blocks, uoff, coff,
                       time.perf_counter() - t0)


def read_region_contigs(region_fasta: str | os.PathLike) -> list[tuple[Region, bytes]]:
    """Read a FASTA of region contigs (plain or gzip/BGZF) and check it against GRCh38.

    Every contig must be named ``<chrom>_<start>_<end>`` (1-based inclusive span), be exactly
    as long as its span, lie on a GRCh38 primary chromosome within its length, hold only
    letters (IUPAC codes, any case), and not overlap another contig.

    Raises
    ------
    InputError
        Listing every bad contig, naming the FASTA file.
    """
    path = Path(region_fasta)
    if not path.is_file():
        raise InputError(Problem(str(path), "region FASTA not found", "check reference.fasta in the config"))
    chroms = grch38_chromosomes()
    problems: list[Problem] = []
    out: list[tuple[Region, bytes]] = []
    with pysam.FastxFile(str(path)) as fx:
        for rec in fx:
            name, seq = rec.name, (rec.sequence or "").encode()
            reg = parse_region_contig(name)
            if reg is None:
                problems.append(Problem(str(path), f"contig {name!r} is not a region contig",
                                        "name region contigs <chrom>_<start>_<end> (e.g. chr7_55014032_55258620), "
                                        "or configure a FASTA whose contigs are whole chromosomes"))
                continue
            if reg.chrom not in chroms:
                problems.append(Problem(str(path), f"contig {name}: {reg.chrom} is not a GRCh38 primary chromosome",
                                        f"use one of {', '.join(chroms)}"))
                continue
            if reg.end > chroms[reg.chrom]:
                problems.append(Problem(str(path), f"contig {name} ends past {reg.chrom} "
                                        f"({chroms[reg.chrom]:,} bp in GRCh38)", "check the region is GRCh38"))
                continue
            if len(seq) != reg.length:
                problems.append(Problem(str(path), f"contig {name} has {len(seq):,} bases but its name spans "
                                        f"{reg.length:,}", "the name's start/end are 1-based inclusive"))
                continue
            bad = _NON_LETTER.search(seq)
            if bad:
                problems.append(Problem(str(path), f"contig {name} has a non-letter base {bad.group()!r} at "
                                        f"local position {bad.start() + 1}", "FASTA bases must be IUPAC letters"))
                continue
            out.append((reg, seq))
    if problems:
        raise InputError(problems, header=f"{len(problems)} problem(s) in region FASTA {path}")
    if not out:
        raise InputError(Problem(str(path), "no sequences in the FASTA", "check reference.fasta in the config"))
    RegionLift([r for r, _ in out])  # raises ReferenceError_ naming the two contigs if any overlap
    return out


def build_sparse_genome(region_fasta: str | os.PathLike, out_fa_gz: str | os.PathLike) -> Path:
    """Write the sparse full-length GRCh38 FASTA for a FASTA of region contigs.

    Every chromosome of :func:`~unlock_atlas.reference.genome.grch38_chromosomes` is written,
    in that order and at its GRCh38 length, ``N`` outside the regions; region bases are
    copied exactly (case preserved) at chromosome position ``local + start - 1``.

    Parameters
    ----------
    region_fasta
        FASTA (plain or bgzipped) of region contigs such as ``chr7_55014032_55258620``.
    out_fa_gz
        Output BGZF FASTA; ``.fai`` and ``.gzi`` are written beside it (atomically).

    Returns
    -------
    Path
        ``out_fa_gz``.

    Raises
    ------
    InputError
        A contig that is not a region contig, off GRCh38, of the wrong length (see
        :func:`read_region_contigs`).
    """
    return write_sparse_genome(read_region_contigs(region_fasta), out_fa_gz)


def write_sparse_genome(regions: list[tuple[Region, bytes]], out_fa_gz: str | os.PathLike) -> Path:
    """:func:`build_sparse_genome` for regions already read by :func:`read_region_contigs`."""
    stats = write_sparse_fasta(grch38_chromosomes(), ((r.chrom, r.start, s) for r, s in regions), out_fa_gz)
    logger.info(
        "sparse genome %s: %d chromosomes, %d regions (%s bp of sequence), %d BGZF blocks "
        "(%d with sequence, %d distinct all-N), %.2f GB uncompressed -> %.1f MB, %.1f s",
        out_fa_gz, stats.n_chromosomes, len(regions), f"{sum(r.length for r, _ in regions):,}",
        stats.n_blocks, stats.n_sequence_blocks, stats.n_distinct_n_blocks,
        stats.uncompressed_bytes / 1e9, stats.compressed_bytes / 1e6, stats.seconds,
    )
    return Path(out_fa_gz)
