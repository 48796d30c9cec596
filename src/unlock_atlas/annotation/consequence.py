"""Consequence, HGVS c./p., exon/intron and codon fields of one allele on one transcript.

Consequences are Sequence Ontology terms with VEP's definitions and severity order:
``splice_donor_variant`` / ``splice_acceptor_variant`` are the first / last two intronic bases
(``+1,+2`` / ``-1,-2``); ``splice_region_variant`` is 1–3 exonic bases or 3–8 intronic bases
from an exon–intron junction; up/downstream reach 5 kb (:data:`~.txmodel.FLANK`).

A pure insertion or deletion is first shifted to its most 3' position in the transcript (HGVS
3' rule, per transcript strand: toward lower chromosome coordinates for a minus-strand gene,
across exon–intron borders as HGVS's ``c.1704+1del`` example requires), and the consequence,
HGVS c. and p. are all computed on that placement (VEP's ``--shift_3prime 1``), so the left-
and right-aligned VCF spellings of one indel annotate identically. An insertion equal to the
bases 5' of it is a ``dup``; an MNV whose ALT is the reverse complement of its REF is ``inv``.
A change that hits a canonical splice site (intron ±1/±2) or spans an exon–intron boundary gets
``p.?`` (protein not predictable), as VariantValidator writes it.
"""

from __future__ import annotations

from dataclasses import dataclass

from .protein import ProteinChange, extended_change, inframe_change
from .seq import revcomp, translate
from .txmodel import FLANK, TxModel

#: VEP severity order (most severe first), used to sort the terms joined by ``&``.
SEVERITY = [
    "splice_acceptor_variant", "splice_donor_variant", "stop_gained", "frameshift_variant", "stop_lost",
    "start_lost", "inframe_insertion", "inframe_deletion", "missense_variant", "protein_altering_variant",
    "splice_region_variant", "stop_retained_variant", "synonymous_variant", "coding_sequence_variant",
    "5_prime_UTR_variant", "3_prime_UTR_variant", "non_coding_transcript_exon_variant", "intron_variant",
    "upstream_gene_variant", "downstream_gene_variant", "intergenic_variant",
]
_RANK = {t: i for i, t in enumerate(SEVERITY)}
_PKIND = {"missense": "missense_variant", "synonymous": "synonymous_variant", "stop_gained": "stop_gained",
          "stop_lost": "stop_lost", "stop_retained": "stop_retained_variant", "start_lost": "start_lost",
          "frameshift": "frameshift_variant", "inframe_deletion": "inframe_deletion",
          "inframe_insertion": "inframe_insertion", "delins": "protein_altering_variant"}


@dataclass
class Csq:
    """One allele × transcript annotation (the CSQ fields)."""

    consequence: str
    symbol: str = ""
    gene: str = ""
    feature: str = ""
    hgvsc: str = ""
    hgvsp: str = ""
    hgvsp_short: str = ""
    exon: str = ""
    intron: str = ""
    protein_position: str = ""
    amino_acids: str = ""
    codons: str = ""
    protein_id: str = ""


def _site_terms(m: TxModel, cdna: int, off: int, where: int) -> set[str]:
    """Splice / intron / exon-edge terms for one position."""
    if where >= 0:
        terms = set()
        k = where
        s, e = m.exons_tx[k]
        rel5 = cdna - m.exon_cdna[k]            # 0 = the exon's 5' base
        rel3 = (e - s) - rel5                    # 0 = the exon's 3' base
        if (k > 0 and rel5 < 3) or (k < m.n_exons - 1 and rel3 < 3):
            terms.add("splice_region_variant")
        return terms
    if where in (-1000, -2000):
        return set()
    a = abs(off)
    if a <= 2:
        return {"splice_donor_variant" if off > 0 else "splice_acceptor_variant", "intron_variant"}
    if a <= 8:
        return {"splice_region_variant", "intron_variant"}
    return {"intron_variant"}


def _exonic_term(m: TxModel, cdna: int) -> str:
    if not m.is_coding:
        return "non_coding_transcript_exon_variant"
    if cdna < m.cds_c1:
        return "5_prime_UTR_variant"
    if cdna >= m.cds_c1 + m.cds_len:
        return "3_prime_UTR_variant"
    return "coding_sequence_variant"


def _shift3(m: TxModel, start: int, ref: str, alt: str) -> tuple[int, str, str]:
    """Shift a pure insertion/deletion to its most 3' position in the transcript (genomic coords).

    ``start`` is the first deleted base, or for an insertion the base AFTER the insertion point.
    """
    seq, base = m.seq, m.seq_start
    if ref and not alt:
        L = len(ref)
        if m.plus:
            while 0 <= start + L - base < len(seq) and seq[start + L - base] == seq[start - base]:
                start += 1
        else:
            while 0 <= start - 1 - base < len(seq) and seq[start - 1 - base] == seq[start + L - 1 - base]:
                start -= 1
        return start, m.gseq(start, start + len(ref) - 1), ""
    if alt and not ref:
        if m.plus:
            while 0 <= start - base < len(seq) and seq[start - base] == alt[0]:
                alt = alt[1:] + alt[0]
                start += 1
        else:
            while 0 <= start - 1 - base < len(seq) and seq[start - 1 - base] == alt[-1]:
                alt = alt[-1] + alt[:-1]
                start -= 1
    return start, ref, alt


def _describe(m: TxModel, start: int, ref: str, alt: str) -> tuple[int, int, str]:
    """The HGVS event of a trimmed, already 3'-shifted allele: genomic ``(lo, hi, what)``.

    ``what`` is ``del``, ``dup`` (``lo..hi`` = the copied bases), ``ins<seq>`` (insertion between
    ``lo`` and ``hi``), ``inv`` (an MNV whose ALT is the reverse complement of REF, length >= 2;
    HGVS prioritises inversion over delins) or ``delins<seq>``; sequences in transcript orientation.
    """
    if not ref:  # insertion between start-1 and start
        L = len(alt)
        if m.plus and m.gseq(start - L, start - 1) == alt:
            return start - L, start - 1, "dup"
        if not m.plus and m.gseq(start, start + L - 1) == alt:
            return start, start + L - 1, "dup"
        return start - 1, start, "ins" + (alt if m.plus else revcomp(alt))
    end = start + len(ref) - 1
    if not alt:
        return start, end, "del"
    if len(ref) >= 2 and alt == revcomp(ref):
        return start, end, "inv"
    return start, end, "delins" + (alt if m.plus else revcomp(alt))


def _hgvsc(m: TxModel, start: int, ref: str, alt: str) -> str:
    """HGVS c. (or n.) of a trimmed allele; ``start`` as in :func:`_shift3`."""
    if (ref and alt) and len(ref) == len(alt) == 1:
        c, o, _ = m.locate(start)
        r, a = (ref, alt) if m.plus else (revcomp(ref), revcomp(alt))
        return f"{m.cpos(c, o)}{r}>{a}"
    if not ref or not alt:
        start, ref, alt = _shift3(m, start, ref, alt)
    lo, hi, what = _describe(m, start, ref, alt)
    a, b = (lo, hi) if m.plus else (hi, lo)
    ca, cb = m.cpos(*m.locate(a)[:2]), m.cpos(*m.locate(b)[:2])
    return f"{ca}{what}" if ca == cb and not what.startswith("ins") else f"{ca}_{cb}{what}"


def _splice_unpredictable(m: TxModel, lo: int, hi: int, insertion: bool) -> bool:
    """True when the protein effect cannot be predicted from the sequence (HGVS ``p.?``).

    That is when the described change (genomic ``lo..hi``; for an insertion, its two flanking
    bases) touches a canonical splice site (intron positions +1, +2, -2, -1) or spans an
    exon-intron boundary (an insertion exactly at a junction counts: VariantValidator gives
    ``NM_000546.6:c.375_375+1insAAG`` ``p.?``). A change of the exonic bases next to a
    junction alone keeps its predicted protein (HGVS: ``c.1813del``, not ``c.1813-1del``).
    """
    exons = sorted(m.exons_tx)
    for i in range(len(exons) - 1):
        e1, s2 = exons[i][1], exons[i + 1][0]          # intron e1+1 .. s2-1
        sites = ((e1 + 1, min(e1 + 2, s2 - 1)), (max(s2 - 2, e1 + 1), s2 - 1))
        if insertion:
            if (lo, hi) in ((e1, e1 + 1), (s2 - 1, s2)):
                return True
            if any(a <= lo and hi <= b for a, b in sites):
                return True
            continue
        if any(lo <= b and hi >= a for a, b in sites):
            return True
        in_intron = lo <= s2 - 1 and hi >= e1 + 1
        if in_intron and (lo <= e1 or hi >= s2):
            return True
    return False


def annotate_tx(m: TxModel, start: int, ref: str, alt: str) -> Csq:
    """Annotate one trimmed allele on one transcript.

    Parameters
    ----------
    m
        The transcript model.
    start
        Chromosome position of the first reference base (for a pure insertion: of the base
        after the insertion point).
    ref, alt
        Minimal alleles (common prefix/suffix removed; one may be empty).
    """
    tx = m.tx
    if bool(ref) != bool(alt):          # consequence, c. and p. all on the transcript-3'-shifted allele
        start, ref, alt = _shift3(m, start, ref, alt)
    end = start + len(ref) - 1          # end < start for an insertion
    csq = Csq("", tx.gene, tx.gene_id, tx.transcript_id, protein_id=m.protein_id)
    lo_probe, hi_probe = (start, end) if ref else (start - 1, start)
    if hi_probe < m.start or lo_probe > m.end:
        upstream = (hi_probe < m.start) == m.plus
        dist = m.start - hi_probe if hi_probe < m.start else lo_probe - m.end
        csq.consequence = "upstream_gene_variant" if upstream else "downstream_gene_variant"
        if dist <= FLANK:
            csq.hgvsc = ("c." if m.is_coding else "n.") + _hgvsc(m, start, ref, alt)
        return csq
    if len(ref) == 1 and len(alt) == 1:   # SNV fast path (most calls): one position
        loc = m.locate(start)
        terms = _site_terms(m, *loc)
        if loc[2] >= 0:
            csq.exon = f"{loc[2] + 1}/{m.n_exons}"
            term = _exonic_term(m, loc[0])
            if term == "coding_sequence_variant":
                pc = _coding(m, [loc], ref, alt, csq)
                term = _PKIND[pc.kind] if pc is not None else term
            terms.add(term)
        elif loc[2] > -1000:
            csq.intron = f"{-loc[2]}/{m.n_exons - 1}"
        csq.consequence = "&".join(sorted(terms, key=_RANK.__getitem__)) if len(terms) > 1 else (
            next(iter(terms)) if terms else "intron_variant")
        csq.hgvsc = ("c." if m.is_coding else "n.") + _hgvsc(m, start, ref, alt)
        if m.is_coding and -1000 < loc[2] < 0 and abs(loc[1]) <= 2:   # canonical splice site: p.?
            _unpredictable(csq)
        return csq
    probes = range(lo_probe, hi_probe + 1) if hi_probe - lo_probe < 64 else (lo_probe, hi_probe)
    locs = [m.locate(p) for p in probes]
    terms: set[str] = set()
    if ref:
        site_sets = [_site_terms(m, *loc) for loc in locs]
        for t in site_sets:
            terms |= t
    else:  # insertion: donor/acceptor only when both flanks are in the site
        s1, s2 = _site_terms(m, *locs[0]), _site_terms(m, *locs[-1])
        terms = (s1 & s2) | ({"splice_region_variant"} if (s1 | s2) - {"intron_variant"} else set())
        if locs[0][2] < 0 and locs[-1][2] < 0:
            terms.add("intron_variant")
    exonic = [loc for loc in locs if loc[2] >= 0]
    all_exonic = len(exonic) == len(locs)
    for loc in exonic:
        terms.add(_exonic_term(m, loc[0]))
    exon_ids = sorted({loc[2] + 1 for loc in exonic})
    intron_ids = sorted({-loc[2] for loc in locs if -1000 < loc[2] < 0})
    if exon_ids:
        csq.exon = (f"{exon_ids[0]}" if len(exon_ids) == 1 else f"{exon_ids[0]}-{exon_ids[-1]}") + f"/{m.n_exons}"
    if intron_ids:
        csq.intron = (f"{intron_ids[0]}" if len(intron_ids) == 1 else f"{intron_ids[0]}-{intron_ids[-1]}") + f"/{m.n_exons - 1}"
    if "coding_sequence_variant" in terms or (m.is_coding and all_exonic and _spans_start(m, locs)):
        if all_exonic:
            pc = _coding(m, locs, ref, alt, csq)
            if pc is not None:
                terms.discard("coding_sequence_variant")
                terms.add(_PKIND[pc.kind])
                if pc.kind == "stop_gained" and (len(alt) - len(ref)) % 3:
                    terms.add("frameshift_variant")
    csq.consequence = "&".join(sorted(terms, key=_RANK.__getitem__)) or "intron_variant"
    csq.hgvsc = ("c." if m.is_coding else "n.") + _hgvsc(m, start, ref, alt)
    if m.is_coding:
        lo, hi, what = _describe(m, start, ref, alt)
        if _splice_unpredictable(m, lo, hi, what.startswith("ins")):
            _unpredictable(csq)
    return csq


def _unpredictable(csq: Csq) -> None:
    """``p.?``: the protein cannot be predicted (splice site hit); no residue fields."""
    csq.hgvsp = csq.hgvsp_short = "p.?"
    csq.protein_position = csq.amino_acids = csq.codons = ""


def _spans_start(m: TxModel, locs: list[tuple[int, int, int]]) -> bool:
    cs = [loc[0] for loc in locs]
    return min(cs) < m.cds_c1 <= max(cs)


def _coding(m: TxModel, locs: list, ref: str, alt: str, csq: Csq) -> ProteinChange | None:
    """Protein effect of an all-exonic allele that touches the CDS; fills the codon fields."""
    cds0 = m.cds_c1
    if ref:
        idx = sorted(loc[0] - cds0 for loc in locs)
        i, j = idx[0], idx[-1] + 1
        if j - i != len(ref):         # spans an intron: exon-exon junction not contiguous
            return None
    else:  # insertion between the two flanks (transcript order: the smaller cDNA is 5')
        i = j = max(locs[0][0], locs[-1][0]) - cds0
        if abs(locs[0][0] - locs[-1][0]) != 1 or i <= 0 or i >= m.cds_len:
            return None
    if i < 0:
        pc = ProteinChange("start_lost", "p.Met1?", "p.M1?", 1, 1, "M", "-")
        _fill(csq, pc, "", "")
        return pc
    a = alt if m.plus else revcomp(alt)
    coding = m.coding
    delta = len(a) - (j - i)
    c0 = i // 3
    P = m.protein
    alt_coding_from = coding[c0 * 3:i] + a + coding[j:j + 6]
    if delta % 3 == 0:
        c1r = (j + 2) // 3            # codons c0..c1r-1 hold the reference bases [i, j)
        if c1r <= len(P) - 1:         # the stop codon is untouched: translate the window only
            nalt = (c1r - c0) + delta // 3
            alt_w = translate(alt_coding_from[:3 * nalt])
            ref_w = P[c0:c1r]
            pc = inframe_change(P, c0, ref_w, alt_w)
        else:
            pc = extended_change(P, c0, _translate_to_stop(m, c0, i, j, a), frameshift=False)
    else:
        pc = extended_change(P, c0, _translate_to_stop(m, c0, i, j, a), frameshift=True)
    rc0, rc1 = c0 * 3, max(c0 * 3 + 3, ((j + 2) // 3) * 3)
    ref_cod = coding[rc0:rc1]
    alt_cod = coding[rc0:i] + a + coding[j:rc1] if delta == 0 else (a or "-")
    if delta == 0:
        ref_cod = "".join(b if i <= rc0 + n < j else b.lower() for n, b in enumerate(ref_cod))
        alt_cod = "".join(b if i <= rc0 + n < j else b.lower() for n, b in enumerate(alt_cod))
    else:
        ref_cod = coding[i:j] or "-"
    _fill(csq, pc, ref_cod, alt_cod)
    return pc


def _translate_to_stop(m: TxModel, c0: int, i: int, j: int, a: str) -> str:
    """Alternative protein from codon ``c0`` to its first stop, reading into the 3' UTR."""
    return translate(m.coding[c0 * 3:i] + a + m.coding[j:], stop_at_stop=True)


def _fill(csq: Csq, pc: ProteinChange, ref_cod: str, alt_cod: str) -> None:
    csq.hgvsp, csq.hgvsp_short = pc.long, pc.short
    csq.protein_position = str(pc.start) if pc.end <= pc.start else f"{pc.start}-{pc.end}"
    csq.amino_acids = pc.ref_aa if pc.ref_aa == pc.alt_aa else f"{pc.ref_aa}/{pc.alt_aa}"
    csq.codons = f"{ref_cod}/{alt_cod}" if ref_cod else ""
