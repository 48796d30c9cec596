"""Reference sequence access and the genetic code for the annotator.

The annotator accepts either a FASTA with GRCh38 chromosome names (full or sparse GRCh38) or
the region-contig FASTA of the shared data (contigs ``chr7_55014032_55258620``), which is
lifted exactly by contig name with :class:`~unlock_atlas.reference.genome.RegionLift`.
"""

from __future__ import annotations

from pathlib import Path

import pysam

from ..errors import ReferenceError_
from ..reference.genome import RegionLift, parse_region_contig

_COMP = str.maketrans("ACGTNacgtn", "TGCANtgcan")

_BASES = "TCAG"
_AAS = "FFLLSSSSYY**CC*WLLLLPPPPHHQQRRRRIIIMTTTTNNKKSSRRVVVVAAAADDEEGGGG"
#: The standard genetic code (NCBI translation table 1), codon → one-letter amino acid.
CODON_TABLE: dict[str, str] = {
    a + b + c: _AAS[16 * i + 4 * j + k]
    for i, a in enumerate(_BASES) for j, b in enumerate(_BASES) for k, c in enumerate(_BASES)
}

#: One-letter → three-letter amino-acid codes (HGVS: ``*`` is ``Ter``, unknown ``Xaa``).
THREE = {
    "A": "Ala", "R": "Arg", "N": "Asn", "D": "Asp", "C": "Cys", "Q": "Gln", "E": "Glu", "G": "Gly",
    "H": "His", "I": "Ile", "L": "Leu", "K": "Lys", "M": "Met", "F": "Phe", "P": "Pro", "S": "Ser",
    "T": "Thr", "W": "Trp", "Y": "Tyr", "V": "Val", "*": "Ter", "X": "Xaa", "U": "Sec",
}


def revcomp(seq: str) -> str:
    """Reverse complement of a DNA string (N stays N)."""
    return seq.translate(_COMP)[::-1]


def translate(cds: str, stop_at_stop: bool = False) -> str:
    """Translate a DNA string codon by codon (a trailing partial codon is dropped).

    Codons with a base other than A/C/G/T translate to ``X``. With ``stop_at_stop`` the
    translation ends after the first stop codon (``*`` included).
    """
    out = []
    get = CODON_TABLE.get
    for i in range(0, len(cds) - 2, 3):
        aa = get(cds[i:i + 3], "X")
        out.append(aa)
        if stop_at_stop and aa == "*":
            break
    return "".join(out)


class Genome:
    """Uppercase GRCh38 sequence by chromosome coordinates, from either kind of FASTA.

    Parameters
    ----------
    fasta
        Indexed FASTA (plain or bgzip). If none of its contigs is a GRCh38 chromosome name but
        some are region contigs, positions are lifted by contig name.
    """

    def __init__(self, fasta: str | Path) -> None:
        self.path = str(fasta)
        try:
            self._fa = pysam.FastaFile(self.path)
        except (OSError, ValueError) as exc:
            raise ReferenceError_(f"{fasta}: cannot open the FASTA ({exc}); give an indexed FASTA "
                                  "(samtools faidx) with GRCh38 chromosome or region-contig names") from None
        names = set(self._fa.references)
        self.lengths = dict(zip(self._fa.references, self._fa.lengths))
        self.lift: RegionLift | None = None
        if not any(n.startswith("chr") and parse_region_contig(n) is None for n in names) and any(
                parse_region_contig(n) for n in names):
            self.lift = RegionLift.from_fasta(self.path)

    def window(self, chrom: str, start: int, end: int) -> tuple[int, str]:
        """The sequence available for ``chrom:start-end`` (1-based inclusive), clipped.

        Returns
        -------
        (first_position, sequence)
            ``first_position`` is the 1-based chromosome position of ``sequence[0]``; the
            window is clipped to the chromosome (or, for region contigs, to the region that
            holds the midpoint of the request). An empty sequence means no sequence is there.
        """
        if self.lift is None:
            if chrom not in self.lengths:
                return start, ""
            s, e = max(1, start), min(self.lengths[chrom], end)
            return s, self._fa.fetch(chrom, s - 1, e).upper() if e >= s else ""
        reg = self.lift.region_at(chrom, (start + end) // 2) or self.lift.region_at(chrom, start) \
            or self.lift.region_at(chrom, end)
        if reg is None:
            return start, ""
        s, e = max(start, reg.start), min(end, reg.end)
        return s, self._fa.fetch(reg.contig, s - 1 - reg.offset, e - reg.offset).upper() if e >= s else ""

    def close(self) -> None:
        self._fa.close()
