"""Planting gene fusions: chimeric molecules and their reads aligned as BWA-MEM aligns them.

Model (every choice with its reason):

* **Which molecules.** A fusion joins the 5' gene up to its breakpoint to the 3' gene from
  its breakpoint (transcript orientation). Of the molecules drawn by the capture model
  (:mod:`.fragments`) that cross a breakpoint, Binomial(n, f) become chimeric, ``f`` being the
  chimeric fraction of the clonal model (:mod:`.cohort`, one rearranged allele) at that
  breakpoint. Tumour-derived molecules are taken first, as for somatic variants, so in plasma
  the chimeric molecules are the short tumour-derived ones. A chimeric molecule keeps its part
  on the captured (kept) side of the breakpoint and continues into the partner for the rest
  of its length: capture happens through the baited side, so its length and position
  distribution are the captured molecules'. Both breakpoints are handled, so a molecule
  captured by a bait on either partner can be chimeric. Molecules carrying a planted indel are
  never made chimeric (the indel path rebuilds molecules on its own).
* **Reads** come from both ends of the chimeric molecule through the same quality / error /
  PCR-duplicate machinery as every other read (:mod:`.reads`); substitutions carried on the
  kept side are written into the reads.
* **Alignment** as BWA-MEM reports a chimeric read: the longer part is the primary alignment
  (the rest soft-clipped), the other part a supplementary alignment (flag 0x800, hard-clipped,
  as BWA-MEM does without ``-Y``), each with an ``SA`` tag naming the other; a part shorter
  than ``MIN_SPLIT`` = 30 bases is only soft-clipped (BWA-MEM's default minimum output score
  ``-T 30`` at match score 1). Mates whose primary alignments fall on different partners are
  a discordant pair (no proper-pair flag, RNEXT = the mate's chromosome). MAPQ is 60 as for all
  simulated reads (the panel regions are unique sequence).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .cohort import PlannedFusion, SamplePlan
from .fragments import Fragments
from .panelgenome import COMPLEMENT_CODE, DECODE, PanelGenome
from .reads import add_errors, draw_qualities

#: bases a read part needs to get its own (supplementary) alignment (module docstring).
MIN_SPLIT = 30
#: mates within this distance, facing each other, on one chromosome are a proper pair
#: (BWA-MEM infers ~mean + 4 sd of the insert size; simulated inserts are <= 800 bp).
PROPER_MAX = 1000


@dataclass
class Chimera:
    """One chimeric unique molecule: ``a`` bases of the 5' gene then ``b`` bases of the 3' gene."""

    molecule: int
    fusion: int          # index into plan.fusions
    side: str            # "5" or "3": the breakpoint whose capture drew it
    a: int
    b: int
    kept: tuple[int, int]  # global half-open interval of the drawn molecule that is kept


def _kept_left(strand: str, side: str) -> bool:
    """Whether the kept part of a gene lies at lower coordinates than its breakpoint."""
    return (strand == "+") == (side == "5")


def choose_chimeras(genome: PanelGenome, frags: Fragments, plan: SamplePlan, rng: np.random.Generator,
                    exclude: np.ndarray) -> list[Chimera]:
    """Unique molecules made chimeric (module docstring); ``exclude`` marks molecules that cannot be."""
    taken = exclude.copy()
    end = frags.g0 + frags.length          # one past the last base
    out: list[Chimera] = []
    for fi, (pf, f5, f3) in enumerate(plan.fusions):
        for side, g, strand, frac in (("5", pf.g5, pf.strand5, f5), ("3", pf.g3, pf.strand3, f3)):
            left = _kept_left(strand, side)
            # crossing: >= 1 kept base and >= 1 base beyond the breakpoint
            cross = (frags.g0 <= g) & (end > g + 1) if left else (frags.g0 < g) & (end > g)
            cand = np.flatnonzero(cross & ~taken)
            k = int(rng.binomial(np.count_nonzero(cross), min(1.0, frac))) if frac > 0 else 0
            tum = frags.tumour[cand]
            chosen = np.concatenate([rng.permutation(cand[tum]), rng.permutation(cand[~tum])])[:k]
            for u in np.sort(chosen).tolist():
                g0, L = int(frags.g0[u]), int(frags.length[u])
                kept = (g0, g + 1) if left else (g, g0 + L)
                n = kept[1] - kept[0]
                a, b = (n, L - n) if side == "5" else (L - n, n)
                if _partner_fits(genome, pf, a, b):
                    out.append(Chimera(u, fi, side, a, b, kept))
                    taken[u] = True
    return out


def _partner_fits(genome: PanelGenome, pf: PlannedFusion, a: int, b: int) -> bool:
    ok = True
    for g, strand, n, side in ((pf.g5, pf.strand5, a, "5"), (pf.g3, pf.strand3, b, "3")):
        ri = int(np.searchsorted(genome.reg_g0, g, side="right") - 1)
        lo, hi = (g - n + 1, g + 1) if _kept_left(strand, side) else (g, g + n)
        ok &= bool(genome.reg_g0[ri] <= lo and hi <= genome.reg_g1[ri])
    return ok


def _product(genome: PanelGenome, pf: PlannedFusion, a: int, b: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(base codes, global index, + strand?) of the chimeric molecule in transcript orientation."""
    parts = []
    for g, strand, n, side in ((pf.g5, pf.strand5, a, "5"), (pf.g3, pf.strand3, b, "3")):
        if _kept_left(strand, side):
            idx = np.arange(g - n + 1, g + 1) if side == "5" else np.arange(g, g - n, -1)
        else:
            idx = np.arange(g + n - 1, g - 1, -1) if side == "5" else np.arange(g, g + n)
        plus = strand == "+"
        codes = genome.seq[idx] if plus else COMPLEMENT_CODE[genome.seq[idx]]
        parts.append((codes, idx, np.full(n, plus)))
    return tuple(np.concatenate([p[i] for p in parts]) for i in range(3))  # type: ignore[return-value]


@dataclass
class _Aln:
    chrom: str
    pos: int           # 1-based leftmost reference base
    reverse: bool
    lead: int          # clipped bases before / after the aligned part, in SAM orientation
    aligned: int
    trail: int
    nm: int

    def cigar(self, clip: str) -> str:
        return ((f"{self.lead}{clip}" if self.lead else "") + f"{self.aligned}M"
                + (f"{self.trail}{clip}" if self.trail else ""))

    def sa(self) -> str:
        return f"{self.chrom},{self.pos},{'-' if self.reverse else '+'},{self.cigar('S')},60,{self.nm};"


def _align(genome: PanelGenome, codes: np.ndarray, gidx: np.ndarray, plus: np.ndarray) -> list[tuple[int, int, _Aln]]:
    """Alignments of one read (sequencing orientation): [(read start, read end, alignment)], longest first."""
    n = len(codes)
    cut = [0] + [i for i in range(1, n) if plus[i] != plus[i - 1] or abs(int(gidx[i]) - int(gidx[i - 1])) != 1] + [n]
    out = []
    for s, e in zip(cut[:-1], cut[1:]):
        g = gidx[s:e]
        ref = genome.seq[g] if plus[s] else COMPLEMENT_CODE[genome.seq[g]]
        nm = int(np.count_nonzero(ref != codes[s:e]))
        ri, pos = genome.locate(np.array([g.min()]))
        rev = not bool(plus[s])
        lead, trail = (s, n - e) if not rev else (n - e, s)
        out.append((s, e, _Aln(genome.regions[int(ri[0])].chrom, int(pos[0]), rev, lead, e - s, trail, nm)))
    return sorted(out, key=lambda t: (-(t[1] - t[0]), t[0]))


def _revcomp_codes(x: np.ndarray) -> np.ndarray:
    return COMPLEMENT_CODE[x[::-1]]


def fusion_reads(genome: PanelGenome, frags: Fragments, rows: np.ndarray, chim: dict[int, Chimera], plan: SamplePlan,
                 R: int, rng: np.random.Generator, subst: tuple[np.ndarray, np.ndarray, np.ndarray],
                 sample_id: str) -> tuple[bytes, bytes, bytes]:
    """SAM records (name-grouped) and FASTQ read 1 / read 2 text of the rows of chimeric molecules."""
    su, sg, sb = subst
    rg = sample_id.encode()
    sam, fq1, fq2 = [], [], []
    for row in rows.tolist():
        u = int(frags.src[row])
        c = chim[u]
        pf = plan.fusions[c.fusion][0]
        codes, gidx, plus = _product(genome, pf, c.a, c.b)
        codes = codes.copy()
        lo, hi = np.searchsorted(su, u, "left"), np.searchsorted(su, u, "right")
        for g, base in zip(sg[lo:hi].tolist(), sb[lo:hi].tolist()):   # substitutions on the kept part
            hit = np.flatnonzero(gidx == g)
            if len(hit) and c.kept[0] <= g < c.kept[1]:
                codes[hit] = base if plus[hit[0]] else COMPLEMENT_CODE[base]
        L = len(codes)
        rp = min(R, L)
        r1_first = bool(frags.r1_forward[u])
        reads = []
        for k, (sl, rc) in enumerate(((slice(0, rp), False), (slice(L - rp, L), True))):
            mate = 1 if (k == 0) == r1_first else 2
            q = draw_qualities(rng, np.array([mate]), R)[0, :rp].copy()
            b = _revcomp_codes(codes[sl]) if rc else codes[sl].copy()
            gi = gidx[sl][::-1] if rc else gidx[sl]
            pl = ~plus[sl][::-1] if rc else plus[sl]
            add_errors(rng, b, q)
            reads.append((mate, b, q, _align(genome, b, gi, pl)))
        name = b"%s:%d" % (rg, row)
        for mate, b, q, _ in sorted(reads, key=lambda r: r[0]):
            (fq1 if mate == 1 else fq2).append(b"@%s\n%s\n+\n%s\n" % (name, DECODE[b].tobytes(), q.tobytes()))
        prim = [r[3][0][2] for r in reads]
        for k, (mate, b, q, alns) in enumerate(reads):
            me, other = prim[k], prim[1 - k]
            proper = (me.chrom == other.chrom and me.reverse != other.reverse
                      and abs(me.pos - other.pos) < PROPER_MAX
                      and ((me.pos <= other.pos) != me.reverse or me.pos == other.pos))
            tlen = 0
            if me.chrom == other.chrom:
                left = min(me.pos, other.pos)
                right = max(me.pos + me.aligned, other.pos + other.aligned) - 1
                tlen = (right - left + 1) * (1 if me.pos <= other.pos else -1)
            base_flag = 0x1 | (0x2 if proper else 0) | (0x40 if mate == 1 else 0x80) | (0x20 if other.reverse else 0)
            # a second part shorter than MIN_SPLIT gets no alignment: it stays soft-clipped
            split = alns[:2] if len(alns) > 1 and alns[1][1] - alns[1][0] >= MIN_SPLIT else []
            for j, (_, _, aln) in enumerate(split or alns[:1]):
                seq_codes, qual = (b, q) if not aln.reverse else (_revcomp_codes(b), q[::-1])
                if j == 0:
                    cig, sq, ql, flag = aln.cigar("S"), seq_codes, qual, base_flag
                else:
                    a0 = aln.lead
                    cig, sq, ql, flag = aln.cigar("H"), seq_codes[a0:a0 + aln.aligned], qual[a0:a0 + aln.aligned], \
                        base_flag | 0x800
                flag |= 0x10 if aln.reverse else 0
                tags = b"NM:i:%d\tRG:Z:%s" % (aln.nm, rg)
                if split:
                    tags += b"\tSA:Z:%s" % split[1 - j][2].sa().encode()
                sam.append(b"%s\t%d\t%s\t%d\t60\t%s\t%s\t%d\t%d\t%s\t%s\t%s\n" % (
                    name, flag, aln.chrom.encode(), aln.pos, cig.encode(),
                    b"=" if other.chrom == aln.chrom else other.chrom.encode(), other.pos,
                    tlen if j == 0 else 0, DECODE[sq].tobytes(), ql.tobytes(), tags))
    return b"".join(sam), b"".join(fq1), b"".join(fq2)


def chimera_spans(frags: Fragments, chim: dict[int, Chimera], R: int) -> dict[int, tuple[int, int, int, int]]:
    """Per chimeric molecule, the global spans its two reads cover on the kept (captured) side.

    Used by the variant truth counts: a read's bases on the partner side cover no position of
    the drawn gene region; an empty span is ``(0, 0)``.
    """
    out = {}
    for u, c in chim.items():
        g0, L = int(frags.g0[u]), int(frags.length[u])
        rp = min(R, L)
        spans = []
        for s, e in ((g0, g0 + rp), (g0 + L - rp, g0 + L)):
            s, e = max(s, c.kept[0]), min(e, c.kept[1])
            spans.extend((s, e) if s < e else (0, 0))
        out[u] = tuple(spans)   # type: ignore[assignment]
    return out


def detectable(chimera: Chimera) -> bool:
    """Whether a chimeric molecule yields a split read or a discordant pair: both partners
    contribute >= MIN_SPLIT bases (then either a read crosses the junction with two alignable
    parts, or the mates' primary alignments fall on different partners)."""
    return chimera.a >= MIN_SPLIT and chimera.b >= MIN_SPLIT
