"""Split multi-allelic VCF records and left-normalise indels, as ``bcftools norm -m -any -f REF``.

Three pieces, used by :mod:`.vcfio` on the text of each record (no htslib round trip, so the
annotator keeps its speed):

* :func:`split_record` — one record per ALT allele. ID, QUAL and FILTER are copied; INFO and
  FORMAT values are split by their header ``Number``: ``A`` keeps the allele's value, ``R`` the
  REF value and the allele's, ``G`` the genotype values of the new biallelic site (diploid:
  ``0/0``, ``0/i``, ``i/i`` at VCF index ``k(k+1)/2 + j``; haploid: ``0``, ``i`` — ploidy is
  read from the value count); GT keeps the allele as ``1`` and turns every other ALT into ``0``
  (phasing and missing alleles kept). A missing ``Number=R`` value becomes ``.,.``. These are
  bcftools' rules (checked field by field in ``tests/test_annotation_norm.py``); other Numbers
  are copied. Biallelic records are never touched.
* :class:`LeftAligner` — Tan, Abecasis & Kang (2015, *Bioinformatics* 31:2202, "Unified
  representation of genetic variants") normalisation: the common suffix, then the common
  prefix of REF and ALT are trimmed (one anchor base kept for indels); a pure insertion or
  deletion is then shifted left while the base before it equals its last base, and written
  with the base before it as anchor. REF is checked against the FASTA; a record whose REF does
  not match (or that lies where the FASTA has no sequence) is written as given and counted,
  like ``bcftools norm -c w``. SNVs (one base each) are passed through without a FASTA look-up
  — they are already normal — which keeps the per-record cost of the annotator unchanged.
* :class:`LocalSorter` — a realigned record can move before records already read; records are
  held until the input has advanced past them by a window (1,000 bp, ``bcftools norm -w``'s
  default, widened to the longest shift seen) and released in position order, ties in input
  order (bcftools' order). Input must be sorted for the output to be; a chromosome change
  flushes the buffer.
"""

from __future__ import annotations

import bisect
import re

from .annotator import minimal
from .seq import Genome

#: bcftools norm -w default: distance behind the current input position within which realigned
#: records are re-sorted.
SORT_WINDOW = 1000
#: FASTA bases read to the left of an indel before reading more (most shifts are short repeats).
_FLANK = 64

_NUMBER = re.compile(r"^##(INFO|FORMAT)=<ID=([^,>]+),(?:.*?,)?Number=([^,>]+)")
_GT_SPLIT = re.compile(r"([/|])")


def header_numbers(header_lines: list[str]) -> tuple[dict[str, str], dict[str, str]]:
    """``Number`` of every INFO and FORMAT field declared in the header lines.

    Returns
    -------
    (info, format)
        Field ID → ``Number`` (``A``, ``R``, ``G``, ``.`` or an integer as text).
    """
    info: dict[str, str] = {}
    fmt: dict[str, str] = {}
    for line in header_lines:
        m = _NUMBER.match(line)
        if m:
            (info if m.group(1) == "INFO" else fmt)[m.group(2)] = m.group(3)
    return info, fmt


def _gvalues(vals: list[str], i: int, n_alleles: int) -> list[str]:
    """Number=G values of the biallelic site REF/ALT_i (ploidy from the value count)."""
    if len(vals) == n_alleles:                        # haploid: one value per allele
        return [vals[0], vals[i]]
    if len(vals) == n_alleles * (n_alleles + 1) // 2:  # diploid: VCF order k(k+1)/2 + j, j <= k
        return [vals[0], vals[i * (i + 1) // 2], vals[i * (i + 1) // 2 + i]]
    return vals


def _split_value(number: str, value: str, i: int, n_alt: int) -> str:
    """One INFO/FORMAT value for ALT ``i`` (1-based) of a record with ``n_alt`` ALTs."""
    if number == "A":
        vals = value.split(",")
        return vals[i - 1] if len(vals) == n_alt else value
    if number == "R":
        if value == ".":
            return ".,."
        vals = value.split(",")
        return f"{vals[0]},{vals[i]}" if len(vals) == n_alt + 1 else value
    if number == "G":
        if value == ".":
            return value
        return ",".join(_gvalues(value.split(","), i, n_alt + 1))
    return value


def _split_gt(gt: str, i: int) -> str:
    key = str(i)
    return "".join(t if t in ("/", "|", ".") else ("1" if t == key else "0") for t in _GT_SPLIT.split(gt))


def split_record(f: list[str], info_num: dict[str, str], fmt_num: dict[str, str]) -> list[list[str]]:
    """Split a multi-allelic record (VCF columns as text) into one record per ALT allele."""
    alts = f[4].split(",")
    n_alt = len(alts)
    if n_alt == 1:
        return [f]
    out = []
    info_items = [] if f[7] in (".", "") else f[7].split(";")
    fmt_keys = f[8].split(":") if len(f) > 9 else []
    for i, alt in enumerate(alts, 1):
        g = f[:]
        g[4] = alt
        if info_items:
            items = []
            for kv in info_items:
                k, eq, v = kv.partition("=")
                num = info_num.get(k)
                items.append(f"{k}={_split_value(num, v, i, n_alt)}" if eq and num in ("A", "R", "G") else kv)
            g[7] = ";".join(items)
        for s in range(9, len(f)):
            vals = f[s].split(":")
            for j, key in enumerate(fmt_keys[:len(vals)]):
                if key == "GT":
                    vals[j] = _split_gt(vals[j], i)
                else:
                    num = fmt_num.get(key)
                    if num in ("A", "R", "G"):
                        vals[j] = _split_value(num, vals[j], i, n_alt)
            g[s] = ":".join(vals)
        out.append(g)
    return out


class LeftAligner:
    """Left-normalise biallelic records against the FASTA (see module docstring).

    Parameters
    ----------
    genome
        The annotator's genome (chromosome coordinates; region-contig FASTAs are lifted).
    """

    def __init__(self, genome: Genome) -> None:
        self.genome = genome
        self.ref_mismatch = 0
        self.realigned = 0
        self.max_shift = 0

    def normalise(self, chrom: str, pos: int, ref: str, alt: str) -> tuple[int, str, str] | None:
        """Normalised ``(pos, ref, alt)`` of one allele in chromosome coordinates.

        Returns None when the record must be written as given: REF does not match the FASTA,
        no sequence there, a symbolic/missing allele, or no anchor base left of the indel.
        """
        if not alt or alt[0] in "<[].*" or "[" in alt or "]" in alt or not ref or ref == ".":
            return None
        R, A = ref.upper(), alt.upper()
        flank = _FLANK
        while True:
            first, seq = self.genome.window(chrom, pos - flank, pos + len(R) - 1)
            off = pos - first
            if off < 0 or seq[off:off + len(R)] != R:
                self.ref_mismatch += 1
                return None
            start, r, a = minimal(pos, R, A)
            if r and a:  # SNV / MNV / complex: minimal form, nothing to shift
                return (pos, ref, alt) if start == pos and len(r) == len(R) and len(a) == len(A) else (start, r, a)
            if not r and not a:  # REF == ALT: leave it
                return None
            ind = r or a
            i = start - first  # index in seq of the first base after the insertion / of the deletion
            while i > 0 and seq[i - 1] == ind[-1] and seq[i - 1] != "N":
                ind = ind[-1] + ind[:-1]
                i -= 1
            if i == 0:
                if first == pos - flank and first > 1:  # ran to the window edge: read further left
                    flank *= 8
                    continue
                return None  # at the start of the sequence: no anchor base (bcftools anchors right)
            new = first + i - 1
            anchor = seq[i - 1]
            out = (new, anchor + ind, anchor) if r else (new, anchor, anchor + ind)
            if new != pos or out[1] != R or out[2] != A:
                self.realigned += 1
                self.max_shift = max(self.max_shift, pos - new)
                return out
            return pos, ref, alt


class LocalSorter:
    """Re-sort records whose position moved left (see module docstring).

    ``push`` records in input order; ``advance`` to the next input position releases the
    records that no later record can precede; ``flush`` releases everything.
    """

    def __init__(self, out: list[str], window: int = SORT_WINDOW) -> None:
        self.out = out
        self.window = window
        self.chrom: str | None = None
        self._keys: list[int] = []
        self._lines: list[str] = []

    def push(self, chrom: str, pos: int, line: str) -> None:
        if chrom != self.chrom:
            self.flush()
            self.chrom = chrom
        keys = self._keys
        if not keys or pos >= keys[-1]:
            keys.append(pos)
            self._lines.append(line)
        else:  # stable: after records already at this position
            k = bisect.bisect_right(keys, pos)
            keys.insert(k, pos)
            self._lines.insert(k, line)

    def advance(self, pos: int, max_shift: int) -> None:
        """Release records more than ``window`` (or the longest shift seen) before ``pos``."""
        if len(self._keys) < 4096:
            return
        cut = bisect.bisect_left(self._keys, pos - max(self.window, max_shift + 1))
        if cut:
            self.out.extend(self._lines[:cut])
            del self._keys[:cut], self._lines[:cut]

    def flush(self) -> None:
        self.out.extend(self._lines)
        self._keys.clear()
        self._lines.clear()
