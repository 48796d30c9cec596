"""Fusions / rearrangements from split reads (SA tag) and discordant pairs, where the panel
covers a breakpoint intron.

Evidence (each choice with its reason):

* **Split reads**: a primary alignment with an ``SA`` tag (BWA-MEM's chimeric alignment) whose
  supplementary part maps to another chromosome or more than ``MIN_DISTANCE`` away. The
  breakpoint on each side is the alignment end facing the soft clip (the clipped side of the
  primary and of the SA part), so split reads give base-exact junctions.
* **Discordant pairs**: read 1 of a pair whose mate maps to another chromosome or more than
  ``MIN_DISTANCE`` away. They localise a breakpoint only to within a fragment length, so an
  event's breakpoints come from its split reads when it has any.
* **Filters**: duplicates, QC-fail, secondary and MAPQ < 20 alignments (on either side, the SA
  tag's MAPQ included) are skipped — chimeras between paralogues are mapping artefacts.
  Each fragment (query name) counts once per event.
* ``MIN_DISTANCE`` = 100 kb: larger than any gene's intron spans in the panel regions that a
  normal splice could produce in DNA (there is none in DNA) and than the largest insert size,
  but smaller than the distance of the common intrachromosomal inversion fusions
  (EML4-ALK ~12 Mb, KIF5B-RET ~11 Mb, CCDC6-RET ~17 Mb).
* **Clustering**: evidence with both ends within ``CLUSTER_BP`` = 1 kb (≥ the longest fragment)
  of an event's ends on the same chromosome pair joins that event.
* **Reporting**: an event needs ≥ ``MIN_FRAGMENTS`` = 3 distinct supporting fragments (≥ 1 split
  read or ≥ 3 discordant pairs): 3 independent molecules make a chance chimera from library
  artefacts (~1e-4 of fragments, spread over the genome) vanishingly unlikely at one site.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import pysam

from ..atomic import atomic_path
from ..errors import InputError, Problem
from ..reference.genome import grch38_chromosomes

MIN_MAPQ = 20
MIN_DISTANCE = 100_000
CLUSTER_BP = 1_000
MIN_FRAGMENTS = 3
_SKIP = 0x4 | 0x100 | 0x200 | 0x400 | 0x800

FUSION_COLUMNS = ["chrom_a", "pos_a", "gene_a", "chrom_b", "pos_b", "gene_b", "split_reads", "discordant_pairs",
                  "fragments", "breakpoint_source"]


@dataclass
class _Event:
    chrom_a: str
    pos_a: int
    chrom_b: str
    pos_b: int
    split: dict[str, tuple[int, int]] = field(default_factory=dict)   # qname -> exact (pos_a, pos_b)
    pairs: set[str] = field(default_factory=set)


def _order(c1: str, p1: int, c2: str, p2: int) -> tuple[str, int, str, int]:
    rank = {c: i for i, c in enumerate(grch38_chromosomes())}
    k1, k2 = (rank.get(c1, 999), c1, p1), (rank.get(c2, 999), c2, p2)
    return (c1, p1, c2, p2) if k1 <= k2 else (c2, p2, c1, p1)


def _far(c1: str, p1: int, c2: str, p2: int) -> bool:
    return c1 != c2 or abs(p1 - p2) > MIN_DISTANCE


def _cigar_clip(cigar: str) -> tuple[int, int, int]:
    """(leading clip, reference length, trailing clip) of a CIGAR string."""
    import re

    ops = re.findall(r"(\d+)([MIDNSHP=X])", cigar)
    lead = int(ops[0][0]) if ops and ops[0][1] in "SH" else 0
    trail = int(ops[-1][0]) if ops and ops[-1][1] in "SH" and len(ops) > 1 else 0
    ref_len = sum(int(n) for n, op in ops if op in "MDN=X")
    return lead, ref_len, trail


def collect_evidence(bam_path: str | Path, regions: list[tuple[str, int, int]] | None = None) -> list[tuple[str, str, int, str, int, str]]:
    """(kind, chrom1, pos1, chrom2, pos2, qname) for every split read / discordant pair (1-based).

    ``regions`` (chrom, start0, end) limits the scan (e.g. the panel genes); default: whole BAM.
    """
    try:
        bam = pysam.AlignmentFile(str(bam_path), "rb")
    except (OSError, ValueError) as exc:
        raise InputError(Problem(str(bam_path), f"cannot read the BAM ({exc})", "give an indexed BAM")) from None
    out = []
    with bam:
        it = [bam.fetch(c, s, e) for c, s, e in regions] if regions else [bam.fetch(until_eof=True)]
        seen: set[tuple[str, str]] = set()
        for reads in it:
            for r in reads:
                if r.flag & _SKIP or r.mapping_quality < MIN_MAPQ:
                    continue
                chrom = r.reference_name
                if r.has_tag("SA"):
                    sa_chrom, sa_pos, sa_strand, sa_cigar, sa_mapq = r.get_tag("SA").split(";")[0].split(",")[:5]
                    sa_pos, sa_mapq = int(sa_pos), int(sa_mapq)
                    lead, ref_len, trail = _cigar_clip(sa_cigar)
                    # breakpoint at the clipped side of the primary alignment ...
                    cig = r.cigartuples or [(0, 0)]
                    p_lead = cig[0][1] if cig[0][0] in (4, 5) else 0
                    p_trail = cig[-1][1] if cig[-1][0] in (4, 5) and len(cig) > 1 else 0
                    bp1 = r.reference_end if p_trail > p_lead else r.reference_start + 1
                    # ... and at the side of the SA part facing its own clip
                    bp2 = sa_pos if lead >= trail else sa_pos + ref_len - 1
                    if sa_mapq >= MIN_MAPQ and _far(chrom, bp1, sa_chrom, bp2) and ("S", r.query_name) not in seen:
                        seen.add(("S", r.query_name))
                        out.append(("split", chrom, bp1, sa_chrom, bp2, r.query_name))
                if r.is_paired and r.is_read1 and not r.mate_is_unmapped:
                    mchrom = r.next_reference_name
                    mq = r.get_tag("MQ") if r.has_tag("MQ") else MIN_MAPQ
                    if mq >= MIN_MAPQ and _far(chrom, r.reference_start + 1, mchrom, r.next_reference_start + 1) \
                            and ("D", r.query_name) not in seen:
                        seen.add(("D", r.query_name))
                        out.append(("pair", chrom, r.reference_start + 1, mchrom, r.next_reference_start + 1, r.query_name))
    return out


def cluster(evidence: list[tuple[str, str, int, str, int, str]]) -> list[_Event]:
    """Greedy clustering of evidence into events (module docstring)."""
    ordered = sorted((_order(c1, p1, c2, p2), kind, q) for kind, c1, p1, c2, p2, q in evidence)
    events: list[_Event] = []
    for (ca, pa, cb, pb), kind, q in ordered:
        ev = next((e for e in reversed(events) if e.chrom_a == ca and e.chrom_b == cb
                   and abs(e.pos_a - pa) <= CLUSTER_BP and abs(e.pos_b - pb) <= CLUSTER_BP), None)
        if ev is None:
            ev = _Event(ca, pa, cb, pb)
            events.append(ev)
        if kind == "split":
            ev.split[q] = (pa, pb)
        else:
            ev.pairs.add(q)
    return events


def _gene_at(genes: pd.DataFrame, chrom: str, pos: int) -> str:
    hit = genes[(genes["chrom"] == chrom) & (genes["start"] <= pos) & (genes["end"] >= pos)]
    return ",".join(hit["gene"]) if len(hit) else ""


def detect_fusions(bam_path: str | Path, genes: pd.DataFrame,
                   regions: list[tuple[str, int, int]] | None = None) -> pd.DataFrame:
    """Fusion events of one BAM (columns :data:`FUSION_COLUMNS`, 1-based breakpoints).

    Parameters
    ----------
    genes
        Gene spans with columns gene, chrom, start, end (e.g. ``results/reference/genes.tsv``).
    """
    rows = []
    for ev in cluster(collect_evidence(bam_path, regions)):
        frags = set(ev.split) | ev.pairs
        if len(frags) < MIN_FRAGMENTS or not (ev.split or len(ev.pairs) >= MIN_FRAGMENTS):
            continue
        if ev.split:
            pa, pb = pd.Series(list(ev.split.values())).mode().iloc[0]
            src = "split_reads"
        else:
            pa, pb, src = ev.pos_a, ev.pos_b, "discordant_pairs"
        rows.append({"chrom_a": ev.chrom_a, "pos_a": int(pa), "gene_a": _gene_at(genes, ev.chrom_a, pa),
                     "chrom_b": ev.chrom_b, "pos_b": int(pb), "gene_b": _gene_at(genes, ev.chrom_b, pb),
                     "split_reads": len(ev.split), "discordant_pairs": len(ev.pairs), "fragments": len(frags),
                     "breakpoint_source": src})
    return pd.DataFrame(rows, columns=FUSION_COLUMNS)


def write_fusions(df: pd.DataFrame, path: str | Path) -> None:
    """Write the fusion table as TSV (atomically)."""
    with atomic_path(path) as tmp:
        df.to_csv(tmp, sep="\t", index=False)
