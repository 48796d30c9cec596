"""Paired-end reads from fragments: bases, qualities, sequencing errors, CIGARs (vectorised).

* **Reads.** Read 1 and read 2 come from the two ends of the fragment; which end is read 1
  is a fair coin per molecule (both strands are sequenced equally). A fragment shorter than
  the read length gives reads of the fragment length (adapter-trimmed). Reads are written in
  + strand (SAM) orientation; the − strand read's cycles run right to left.
* **Qualities.** Position-dependent Illumina profile: mean Q 37.5 at cycle 1 falling
  quadratically to ~32 at the last cycle for read 1 and to ~28.5 for read 2 (read 2 is
  always worse: phasing and longer time on the flow cell), a per-read offset N(0, 1.5²)
  with 3 % of reads 7 points lower (bubbles / poor clusters), per-base N(0, 2.5²) noise,
  then the 8-level Illumina binning (2, 6, 15, 22, 27, 33, 37, 40) used by HiSeq/NovaSeq RTA.
* **Errors.** Each base is replaced by one of the 3 other bases with probability
  10^(-Q/10) of its reported quality, so qualities are calibrated by construction.
* **Alleles.** Substitutions (SNV/MNV) are written straight into the base matrices of the
  carrier rows. Molecules carrying an indel take a per-molecule path that rebuilds the
  molecule, cuts the reads from it and derives CIGARs with I/D (reads keep their length, so a
  deletion makes the read span more reference); indels at a read end become soft clips.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.stats import norm

from .cohort import PlannedVariant
from .fragments import Fragments, allele_span
from .panelgenome import DECODE, PanelGenome

_BIN_EDGES = [(2, 2), (9, 6), (19, 15), (24, 22), (29, 27), (34, 33), (39, 37), (99, 40)]
BIN_LUT = np.zeros(100, dtype=np.uint8)
_lo = 0
for _hi, _v in _BIN_EDGES:
    BIN_LUT[_lo:_hi + 1] = _v
    _lo = _hi + 1
#: error probability indexed by the quality's ASCII code (Phred + 33)
ERR_ASCII = np.zeros(256, dtype=np.float32)
ERR_ASCII[33:133] = 10.0 ** (-np.arange(100) / 10.0)
NOISE_LUT = (norm.ppf((np.arange(256) + 0.5) / 256) * 2.5).astype(np.float32)
_QUAL_START = {1: 37.5, 2: 37.0}
_QUAL_DROP = {1: 5.5, 2: 8.5}
_OFFSETS = np.arange(-12, 7)   # per-read quality offsets (integer Phred), index 0 = -12
_TABLES: dict[int, np.ndarray] = {}


def _qual_table(read_length: int) -> np.ndarray:
    """Flattened lookup (mate, offset, cycle, noise byte) -> binned quality as ASCII (Phred + 33)."""
    if read_length not in _TABLES:
        c = np.arange(read_length) / max(read_length - 1, 1)
        tabs = []
        for mate in (1, 2):
            mean = _QUAL_START[mate] - _QUAL_DROP[mate] * c * c
            val = mean[None, :, None] + _OFFSETS[:, None, None] + NOISE_LUT[None, None, :]
            tabs.append(BIN_LUT[np.clip(np.rint(val), 2, 41).astype(np.intp)] + 33)
        _TABLES[read_length] = np.stack(tabs).astype(np.uint8).ravel()
    return _TABLES[read_length]


def draw_qualities(rng: np.random.Generator, mate: np.ndarray, read_length: int) -> np.ndarray:
    """Binned qualities (ASCII, Phred + 33) in cycle order, one row per entry of ``mate`` (1/2).

    Per-read offset N(0, 1.5²), 3 % of reads 7 points lower, rounded to whole Phred; per-base
    N(0, 2.5²) noise from 256 quantiles; see the module docstring for the profile.
    """
    n = len(mate)
    off = np.rint(rng.normal(0.0, 1.5, size=n) - 7.0 * (rng.random(n) < 0.03))
    o_idx = (np.clip(off, _OFFSETS[0], _OFFSETS[-1]) - _OFFSETS[0]).astype(np.int32)
    row = (np.asarray(mate, dtype=np.int32) - 1) * len(_OFFSETS) + o_idx
    idx = np.frombuffer(rng.bytes(n * read_length), dtype=np.uint8).reshape(n, read_length).astype(np.int32)
    idx += (np.arange(read_length, dtype=np.int32) * 256)[None, :]
    idx += (row * (read_length * 256))[:, None]
    return _qual_table(read_length)[idx]


def add_errors(rng: np.random.Generator, bases: np.ndarray, quals: np.ndarray) -> None:
    """Substitute bases in place with probability 10^(-Q/10) (``quals`` in ASCII; N and padding kept)."""
    hit = rng.random(bases.shape, dtype=np.float32) < ERR_ASCII[quals]
    idx = np.nonzero(hit)
    keep = bases[idx] < 4
    idx = tuple(i[keep] for i in idx)
    bases[idx] = (bases[idx] + rng.integers(1, 4, size=len(idx[0]), dtype=np.uint8)) % 4


@dataclass
class ReadBatch:
    """A batch of read pairs in SAM orientation (``f`` = + strand read, ``r`` = − strand read)."""

    rows: np.ndarray          # row ids (read names)
    region: np.ndarray        # region index (chromosome) of the pair
    pos_f: np.ndarray         # 1-based chromosome position of each read
    pos_r: np.ndarray
    end_r: np.ndarray         # 1-based inclusive end of the − strand read (for TLEN)
    r1_forward: np.ndarray
    cigar_f: list[bytes]
    cigar_r: list[bytes]
    seq_f: list[bytes]
    seq_r: list[bytes]
    qual_f: list[bytes]
    qual_r: list[bytes]

    def __len__(self) -> int:
        return len(self.rows)


def _rows_to_bytes(mat: np.ndarray) -> list[bytes]:
    mat = np.ascontiguousarray(mat)
    return mat.view(f"S{mat.shape[1]}").ravel().tolist()


def _qual_pair(rng: np.random.Generator, n: int, R: int, r1f: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Qualities of the + strand read and the − strand read (both still in cycle order)."""
    mate_f = np.where(r1f, 1, 2)
    return draw_qualities(rng, mate_f, R), draw_qualities(rng, 3 - mate_f, R)


def vector_batch(genome: PanelGenome, frags: Fragments, rows: np.ndarray, R: int, rng: np.random.Generator,
                 subst: tuple[np.ndarray, np.ndarray, np.ndarray]) -> ReadBatch:
    """Reads of ``rows`` whose molecules carry at most substitutions.

    ``subst`` = (unique molecule, global position, alt base code) arrays sorted by molecule.
    """
    u = frags.src[rows]
    g0, L, r1f = frags.g0[u], frags.length[u], frags.r1_forward[u]
    n = len(rows)
    rp = np.minimum(R, L)
    cols = np.arange(R, dtype=np.int64)
    start_r = g0 + L - rp
    seq = genome.padded_seq(R)
    seq_f = seq[g0[:, None] + cols]
    seq_r = seq[start_r[:, None] + cols]
    su, sg, sb = subst
    if len(su):
        lo, hi = np.searchsorted(su, u, "left"), np.searchsorted(su, u, "right")
        cnt = hi - lo
        if cnt.any():
            ri = np.repeat(np.arange(n), cnt)
            ci = np.concatenate([np.arange(a, b) for a, b in zip(lo[cnt > 0], hi[cnt > 0])])
            for mat, st in ((seq_f, g0), (seq_r, start_r)):
                off = sg[ci] - st[ri]
                ok = (off >= 0) & (off < rp[ri])
                mat[ri[ok], off[ok]] = sb[ci[ok]]
    qf, qr_cyc = _qual_pair(rng, n, R, r1f)
    qr = np.ascontiguousarray(qr_cyc[:, ::-1])
    short = np.flatnonzero(rp < R)
    if len(short):   # − strand read shorter than R: SAM column j is cycle rp-1-j; pad the tails
        rs = rp[short]
        idx = np.clip(rs[:, None] - 1 - cols[None, :], 0, R - 1)
        qr[short] = np.take_along_axis(qr_cyc[short], idx, axis=1)
        pad = cols[None, :] >= rs[:, None]
        for mat in (seq_f, seq_r, qf, qr):
            sub = mat[short]
            sub[pad] = 5 if mat is seq_f or mat is seq_r else 0
            mat[short] = sub
    add_errors(rng, seq_f, qf)
    add_errors(rng, seq_r, qr)
    ri_, pos = genome.locate(g0)
    _, pos_r = genome.locate(start_r)
    full = b"%dM" % R
    cig = [full if x == R else b"%dM" % x for x in rp.tolist()]
    return ReadBatch(rows, ri_, pos, pos_r, pos_r + rp - 1, r1f, cig, cig,
                     _rows_to_bytes(DECODE[seq_f]), _rows_to_bytes(DECODE[seq_r]),
                     _rows_to_bytes(qf), _rows_to_bytes(qr))


def _cigar(refpos: list[int]) -> tuple[int, bytes]:
    """(first aligned reference index, CIGAR) for a read's per-base reference indices (-1 = inserted)."""
    ops: list[list] = []
    prev = None
    for rp in refpos:
        if rp < 0:
            op = "I"
        else:
            if prev is not None and rp > prev + 1:
                ops.append(["D", rp - prev - 1])
            op, prev = "M", rp
        if ops and ops[-1][0] == op:
            ops[-1][1] += 1
        else:
            ops.append([op, 1])
    if ops[0][0] == "I":
        ops[0][0] = "S"
    if ops[-1][0] == "I":
        ops[-1][0] = "S"
    first = next(rp for rp in refpos if rp >= 0)
    return first, "".join(f"{n}{op}" for op, n in ops).encode()


def molecule_batch(genome: PanelGenome, frags: Fragments, rows: np.ndarray, R: int, rng: np.random.Generator,
                   alleles_of: dict[int, list[PlannedVariant]]) -> tuple[ReadBatch, dict[int, tuple[int, int, int, int]]]:
    """Reads of ``rows`` whose molecules carry an indel (per-molecule path).

    Returns the batch and, per unique molecule, the global reference spans of its two reads
    ``(start_f, end_f, start_r, end_r)`` (half-open) for the truth tables.
    """
    n = len(rows)
    u_all = frags.src[rows]
    r1f = frags.r1_forward[u_all]
    qf_all, qr_all = _qual_pair(rng, n, R, r1f)
    out = {k: [] for k in ("pos_f", "pos_r", "end_r", "cigar_f", "cigar_r", "seq_f", "seq_r", "qual_f", "qual_r", "region")}
    spans: dict[int, tuple[int, int, int, int]] = {}
    for j, u in enumerate(u_all.tolist()):
        g0, L = int(frags.g0[u]), int(frags.length[u])
        mol = genome.seq[g0:g0 + L].tolist()
        ref = list(range(g0, g0 + L))
        for v in sorted(alleles_of[u], key=lambda v: -allele_span(genome, v)[0]):  # right to left: indices stay valid
            a = genome.to_global(v.allele.chrom, v.allele.pos) - g0
            alt = ["ACGT".index(b) for b in v.allele.alt]
            nref, nalt = len(v.allele.ref), len(alt)
            if nalt <= nref:   # substitution, or deletion keeping the anchor base(s)
                new_ref = ref[a:a + nalt]
            else:              # insertion after the anchor: inserted bases have no reference index
                new_ref = ref[a:a + nref] + [-1] * (nalt - nref)
            mol[a:a + nref] = alt
            ref[a:a + nref] = new_ref
        M = len(mol)
        rp = min(R, M)
        reads = []
        for lo, q, cyc_rev in ((0, qf_all[j], False), (M - rp, qr_all[j], True)):
            b = np.array(mol[lo:lo + rp], dtype=np.uint8)
            qq = q[:rp][::-1].copy() if cyc_rev else q[:rp].copy()
            add_errors(rng, b, qq)
            first, cig = _cigar(ref[lo:lo + rp])
            last = max(x for x in ref[lo:lo + rp] if x >= 0)
            reads.append((first, last, cig, DECODE[b].tobytes(), qq.tobytes()))
        (f0, f1, cf, sf, qf), (r0, r1, cr, sr, qr) = reads
        spans[u] = (f0, f1 + 1, r0, r1 + 1)
        ri, pos = genome.locate(np.array([f0, r0, r1]))
        for k, val in zip(("region", "pos_f", "pos_r", "end_r", "cigar_f", "cigar_r", "seq_f", "seq_r", "qual_f", "qual_r"),
                          (ri[0], pos[0], pos[1], pos[2], cf, cr, sf, sr, qf, qr)):
            out[k].append(val)
    batch = ReadBatch(rows, np.array(out["region"], dtype=np.int64), np.array(out["pos_f"], dtype=np.int64),
                      np.array(out["pos_r"], dtype=np.int64), np.array(out["end_r"], dtype=np.int64), r1f,
                      out["cigar_f"], out["cigar_r"], out["seq_f"], out["seq_r"], out["qual_f"], out["qual_r"])
    return batch, spans
