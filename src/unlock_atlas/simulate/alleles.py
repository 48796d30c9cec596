"""Small-variant helpers: VCF-style alleles, left-normalisation and the protein change of SNVs.

Used to generate passenger and germline variants that are written exactly as a caller will
report them (left-aligned, parsimonious, anchor base for indels) and named (``p.R248Q``) from
the MANE transcript, so downstream annotation can be checked against the truth.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ..reference.transcripts import Transcript

_BASES = "TCAG"
_AA = "FFLLSSSSYY**CC*WLLLLPPPPHHQQRRRRIIIMTTTTNNKKSSRRVVVVAAAADDEEGGGG"
CODON_TABLE = {a + b + c: _AA[16 * i + 4 * j + k]
               for i, a in enumerate(_BASES) for j, b in enumerate(_BASES) for k, c in enumerate(_BASES)}
_COMP = str.maketrans("ACGTN", "TGCAN")


def revcomp(s: str) -> str:
    return s.translate(_COMP)[::-1]


@dataclass(frozen=True, order=True)
class Allele:
    """A VCF-style allele in GRCh38 chromosome coordinates (1-based ``pos``)."""

    chrom: str
    pos: int
    ref: str
    alt: str

    @property
    def kind(self) -> str:
        """``snv`` (1:1), ``mnv`` (n:n, n > 1) or ``indel`` (lengths differ)."""
        if len(self.ref) == len(self.alt):
            return "snv" if len(self.ref) == 1 else "mnv"
        return "indel"

    @property
    def end(self) -> int:
        """One past the last reference base (1-based, exclusive)."""
        return self.pos + len(self.ref)


def left_normalise(allele: Allele, fetch: Callable[[str, int, int], str]) -> Allele:
    """Left-align and trim an allele (the vt/bcftools ``norm`` algorithm).

    Repeatedly drop a shared last base and, when an allele becomes empty, prepend the
    reference base to the left; finally drop shared leading bases while both alleles stay
    non-empty. ``fetch(chrom, pos, n)`` returns reference bases.
    """
    pos, ref, alt = allele.pos, allele.ref, allele.alt
    changed = True
    while changed:
        changed = False
        if ref and alt and ref[-1] == alt[-1] and not (len(ref) == 1 and len(alt) == 1):
            ref, alt = ref[:-1], alt[:-1]
            changed = True
        if not ref or not alt:
            pos -= 1
            b = fetch(allele.chrom, pos, 1)
            ref, alt = b + ref, b + alt
            changed = True
    while len(ref) > 1 and len(alt) > 1 and ref[0] == alt[0]:
        ref, alt, pos = ref[1:], alt[1:], pos + 1
    return Allele(allele.chrom, pos, ref, alt)


_CDS_INDEX: dict[str, dict[int, int]] = {}


def _cds_index(tx: Transcript) -> dict[int, int]:
    if tx.transcript_id not in _CDS_INDEX:
        _CDS_INDEX[tx.transcript_id] = {p: i for i, p in enumerate(tx.cds_positions())}
    return _CDS_INDEX[tx.transcript_id]


def protein_change(tx: Transcript, allele: Allele, fetch: Callable[[str, int, int], str]) -> str:
    """One-letter HGVS protein change (``p.R248Q``, ``p.L858=``, ``p.R213*``) of a substitution.

    Returns ``""`` for indels, for substitutions outside the CDS, and for MNVs that touch more
    than one codon (those are named by the annotation stage, not here).
    """
    if allele.kind == "indel" or tx.chrom != allele.chrom:
        return ""
    idx = _cds_index(tx)
    cpos = [idx.get(allele.pos + k) for k in range(len(allele.ref))]
    if any(c is None for c in cpos):
        return ""
    codons = {c // 3 for c in cpos}
    if len(codons) != 1:
        return ""
    codon_no = codons.pop()
    gpos = tx.cds_positions()[3 * codon_no: 3 * codon_no + 3]
    ref_codon = "".join(fetch(tx.chrom, p, 1) for p in gpos)
    alt_codon = list(ref_codon)
    for k, p in enumerate(range(allele.pos, allele.end)):
        alt_codon[gpos.index(p)] = allele.alt[k]
    alt_codon = "".join(alt_codon)
    if tx.strand == "-":
        ref_codon, alt_codon = ref_codon.translate(_COMP), alt_codon.translate(_COMP)
    ref_aa, alt_aa = CODON_TABLE.get(ref_codon, "X"), CODON_TABLE.get(alt_codon, "X")
    return f"p.{ref_aa}{codon_no + 1}{'=' if alt_aa == ref_aa else alt_aa}"
