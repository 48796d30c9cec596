"""The annotator: MANE transcript models + genome → :class:`~.consequence.Csq` per allele.

Alleles are reduced to their minimal form (common suffix, then common prefix removed, as
``bcftools norm`` does) before annotation; VCF records themselves are not rewritten. Each
allele is annotated on every MANE transcript whose span ± 5 kb overlaps it; an allele with no
such transcript is ``intergenic_variant``. Results are cached per allele (recurrent calls in
a cohort VCF are annotated once; the cache is bounded, see ``_CACHE_MAX``).
"""

from __future__ import annotations

import bisect
import logging
from pathlib import Path

from ..errors import ReferenceError_
from ..reference.genome import parse_region_contig
from ..reference.transcripts import mane_by_gene
from .consequence import Csq, annotate_tx
from .seq import Genome
from .txmodel import FLANK, TxModel, build_model

logger = logging.getLogger(__name__)

#: Alleles that are not sequence (symbolic, breakends, the gVCF ``<*>``, missing).
_SYMBOLIC = ("<", "[", "]", "*", ".")
#: Alleles cached (a cohort VCF repeats recurrent calls); ~1 kB each, so ≤ ~100 MB.
_CACHE_MAX = 100_000


def minimal(pos: int, ref: str, alt: str) -> tuple[int, str, str]:
    """Trim a VCF allele to its minimal form.

    Returns
    -------
    (start, ref, alt)
        ``start`` is the chromosome position of the first remaining reference base; for a
        pure insertion (empty ``ref``) it is the base after the insertion point.
    """
    ref, alt = ref.upper(), alt.upper()
    while ref and alt and ref[-1] == alt[-1]:
        ref, alt = ref[:-1], alt[:-1]
    n = 0
    while n < len(ref) and n < len(alt) and ref[n] == alt[n]:
        n += 1
    return pos + n, ref[n:], alt[n:]


class Annotator:
    """Annotate alleles on the MANE Select transcripts of a GTF.

    Parameters
    ----------
    fasta
        Indexed FASTA with chromosome names (full or sparse GRCh38) or region contigs.
    gtf
        GTF with MANE Select transcripts (loaded with the package's one GTF loader).
    genes
        Restrict to these genes (default: all MANE genes of the GTF).

    Raises
    ------
    ReferenceError_
        If no transcript of the GTF has sequence in the FASTA (wrong FASTA/GTF pair).
    """

    def __init__(self, fasta: str | Path, gtf: str | Path, genes: list[str] | None = None) -> None:
        self.genome = Genome(fasta)
        mane = mane_by_gene(gtf)
        self.models: list[TxModel] = []
        self.missing: list[str] = []
        for gene, tx in sorted(mane.items()):
            if genes is not None and gene not in genes:
                continue
            m = build_model(tx, self.genome)
            if m is None:
                self.missing.append(gene)
            else:
                self.models.append(m)
        if not self.models:
            raise ReferenceError_(f"{fasta}: none of the {len(mane)} transcripts of {gtf} has sequence in this FASTA; "
                                  "check that the FASTA and GTF are both GRCh38 and use the same chromosome names")
        if self.missing:
            logger.warning("no sequence for %d gene(s), not annotated: %s", len(self.missing), ", ".join(self.missing))
        self._by_chrom: dict[str, list[TxModel]] = {}
        for m in sorted(self.models, key=lambda m: m.tx.start):
            self._by_chrom.setdefault(m.tx.chrom, []).append(m)
        self._starts = {c: [m.tx.start - FLANK for m in ms] for c, ms in self._by_chrom.items()}
        self._maxlen = {c: max(m.tx.end - m.tx.start + 2 * FLANK for m in ms) for c, ms in self._by_chrom.items()}
        self._cache: dict[tuple[str, int, str, str], list[Csq]] = {}
        self._lift: dict[str, tuple[str, int]] = {}

    def chrom_pos(self, chrom: str, pos: int) -> tuple[str, int]:
        """Lift a region-contig VCF position to the chromosome (other names pass through)."""
        hit = self._lift.get(chrom)
        if hit is None:
            reg = parse_region_contig(chrom)
            hit = self._lift[chrom] = (chrom, 0) if reg is None else (reg.chrom, reg.offset)
        return hit[0], pos + hit[1]

    def annotate(self, chrom: str, pos: int, ref: str, alt: str) -> list[Csq]:
        """Annotations of one VCF allele (chromosome or region-contig coordinates)."""
        key = (chrom, pos, ref, alt)
        hit = self._cache.get(key)
        if hit is not None:
            return hit
        chrom, pos = self.chrom_pos(chrom, pos)
        # symbolic (<DEL>, <*>), missing (., *) or breakend (G]chr7:123], [chr7:123[G, .G) alleles carry no
        # sequence to annotate (VCF 4.2 section 5.4)
        if not alt or alt[0] in _SYMBOLIC or "[" in alt or "]" in alt or alt.endswith("."):
            out = [Csq("")]  # not annotatable: empty consequence, allele still listed
        else:
            start, r, a = minimal(pos, ref, alt)
            if not r and not a:
                out = [Csq("")]
            else:
                end = max(start + len(r) - 1, start)
                out = [annotate_tx(m, start, r, a) for m in self.overlapping(chrom, start - 1, end)]
                if not out:
                    out = [Csq("intergenic_variant")]
        if len(self._cache) >= _CACHE_MAX:   # bounded memory: start afresh (recurrent calls are local)
            self._cache.clear()
        self._cache[key] = out
        return out

    def overlapping(self, chrom: str, start: int, end: int) -> list[TxModel]:
        """Transcripts whose span ± FLANK overlaps ``start..end``."""
        ms = self._by_chrom.get(chrom)
        if not ms:
            return []
        starts = self._starts[chrom]
        hi = bisect.bisect_right(starts, end)
        lo = bisect.bisect_left(starts, start - self._maxlen[chrom])
        return [m for m in ms[lo:hi] if m.end + FLANK >= start]
