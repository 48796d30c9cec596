"""Gene fusions from split reads and discordant pairs, checked for orientation and against the
normals.

Read-level evidence (junctions, breakends, kept sides) is :mod:`.fusion_reads`. Here (each
choice with its reason):

* **Clustering.** Evidence joins an event when its junction has the same chromosomes and kept
  sides (connection type) and both breakends lie within ``CLUSTER_BP`` = 1 kb (>= the longest
  fragment, so a pair's read end and the exact split junction meet) of the event's first.
  Each fragment (query name) counts once per event. Breakpoints: the mode of the split-read
  junctions; without split reads, the innermost read end of the pairs (the breakpoint lies
  beyond it, within a fragment length).
* **Partners and orientation.** A breakend in an annotated gene (``genes.tsv``: gene, chrom,
  start, end, strand) keeps that gene's 5' part when it keeps the bases below it on a + strand
  gene or above it on a - strand gene, and the 3' part otherwise. A junction can make a fusion
  transcript only when it joins one gene's 5' part to the other's 3' part (the 5' partner's
  promoter and start, then the 3' partner's remaining exons, read in one direction). Events
  whose two kept parts are both 5' or both 3' are flagged ``orientation`` and not reported; a
  reported event gives the 5' partner as ``a`` and the 3' partner as ``b``. A partner outside
  the annotated genes (e.g. an off-panel partner such as EML4) takes the role the annotated
  gene leaves (gene and strand empty); events with no annotated gene (``no_gene``) or both
  breakends in one gene (``intragenic``) are not gene fusions. There is **no minimum distance**
  between the partners: FGFR3-TACC3 (~70 kb, tandem-duplication-type), EML4-ALK (~12 Mb
  inversion), KIF5B-RET (~10 Mb inversion) and interchromosomal fusions such as CD74-ROS1 are
  all reachable; what separates a fusion from a normal molecule is two genes joined in
  transcript orientation by evidence no normal shows.
* **Support** (``low_support``): >= ``MIN_FRAGMENTS`` = 3 distinct fragments with >= 1 split
  read, or >= 3 discordant pairs: 3 independent molecules make a chance chimera from library
  artefacts (~1e-4 of fragments, spread over the genome) vanishingly unlikely at one site.
* **Normals.** A junction with >= 1 supporting fragment in the patient's own (white-cell)
  normal is germline or an artefact of the locus (``in_normal``): somatic SV callers treat any
  normal support as disqualifying (SvABA, Wala et al., Genome Res 2018; Manta's somatic model
  likewise requires the normal to be reference, Chen et al., Bioinformatics 2016). A junction
  seen in >= ``MIN_NORMALS_RECURRENT`` = 2 normals of the cohort (any patients) is a recurrent
  artefact or a common germline rearrangement (``recurrent_in_normals``): 2 rather than 1 so
  that a single read hopping from another patient's tumour into one normal cannot veto a real
  fusion. A normal's evidence matches when it has the same chromosomes and connection type and
  both breakends within ``CLUSTER_BP``.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ..atomic import atomic_path
from ..errors import InputError, Problem
from .fusion_reads import Evidence, collect_evidence

CLUSTER_BP = 1_000
MIN_FRAGMENTS = 3
MIN_NORMALS_RECURRENT = 2

#: Columns of the evidence table: every junction cluster of a sample, canonical breakend order.
EVIDENCE_COLUMNS = ["chrom_a", "pos_a", "chrom_b", "pos_b", "connection", "split_reads", "discordant_pairs",
                    "fragments", "breakpoint_source"]
#: Columns of the candidate table (evidence + partners + normals + filter).
CANDIDATE_COLUMNS = EVIDENCE_COLUMNS[:4] + ["gene_a", "strand_a", "gene_b", "strand_b"] + EVIDENCE_COLUMNS[4:] + [
    "normal_fragments", "normals_with_evidence", "filter"]
#: Columns of the reported fusions: ``a`` is the 5' partner, ``b`` the 3' partner.
FUSION_COLUMNS = ["chrom_a", "pos_a", "gene_a", "strand_a", "chrom_b", "pos_b", "gene_b", "strand_b", "connection",
                  "split_reads", "discordant_pairs", "fragments", "breakpoint_source", "normal_fragments",
                  "normals_with_evidence"]


@dataclass
class _Event:
    chrom_a: str
    pos_a: int
    left_a: bool
    chrom_b: str
    pos_b: int
    left_b: bool
    split: dict[str, tuple[int, int]] = field(default_factory=dict)   # qname -> exact (pos_a, pos_b)
    pairs: dict[str, tuple[int, int]] = field(default_factory=dict)   # qname -> read ends


def connection(left_a: bool, left_b: bool) -> str:
    """Delly connection type of a junction (``3`` = joined at the breakend's 3' end, kept side left)."""
    return f"{'3' if left_a else '5'}to{'3' if left_b else '5'}"


def cluster(evidence: list[Evidence]) -> list[_Event]:
    """Greedy clustering of evidence into events (module docstring).

    Evidence is visited by junction type, then position, so an event's anchor (its first
    evidence) is never after the current one: the backwards scan stops at the first anchor more
    than ``CLUSTER_BP`` before it, which keeps clustering near-linear in the evidence.
    """
    ordered = sorted(evidence, key=lambda e: (e.chrom_a, e.chrom_b, e.left_a, e.left_b, e.pos_a, e.pos_b, e.kind))
    events: list[_Event] = []
    by_type: dict[tuple[str, str, bool, bool], list[_Event]] = {}
    for e in ordered:
        same = by_type.setdefault((e.chrom_a, e.chrom_b, e.left_a, e.left_b), [])
        ev = None
        for x in reversed(same):
            if x.pos_a < e.pos_a - CLUSTER_BP:
                break
            if abs(x.pos_b - e.pos_b) <= CLUSTER_BP:
                ev = x
                break
        if ev is None:
            ev = _Event(e.chrom_a, e.pos_a, e.left_a, e.chrom_b, e.pos_b, e.left_b)
            events.append(ev)
            same.append(ev)
        (ev.split if e.kind == "split" else ev.pairs)[e.qname] = (e.pos_a, e.pos_b)
    return events


def evidence_table(events: list[_Event]) -> pd.DataFrame:
    """One row per event (columns :data:`EVIDENCE_COLUMNS`, 1-based breakpoints)."""
    rows = []
    for ev in events:
        if ev.split:
            pa, pb = Counter(ev.split.values()).most_common(1)[0][0]
            src = "split_reads"
        else:   # innermost read ends: the breakpoint lies beyond them
            a = [p for p, _ in ev.pairs.values()]
            b = [p for _, p in ev.pairs.values()]
            pa, pb, src = max(a) if ev.left_a else min(a), max(b) if ev.left_b else min(b), "discordant_pairs"
        rows.append({"chrom_a": ev.chrom_a, "pos_a": int(pa), "chrom_b": ev.chrom_b, "pos_b": int(pb),
                     "connection": connection(ev.left_a, ev.left_b), "split_reads": len(ev.split),
                     "discordant_pairs": len(ev.pairs), "fragments": len(set(ev.split) | set(ev.pairs)),
                     "breakpoint_source": src})
    return pd.DataFrame(rows, columns=EVIDENCE_COLUMNS)


def scan_bam(bam_path: str | Path, regions: list[tuple[str, int, int]] | None = None) -> pd.DataFrame:
    """Evidence table of one BAM: every junction cluster, unfiltered (the normals' input)."""
    return evidence_table(cluster(collect_evidence(bam_path, regions)))


# -- partners and orientation ---------------------------------------------------------------------
def _genes_at(genes: pd.DataFrame, chrom: str, pos: int) -> list[tuple[str, str]]:
    hit = genes[(genes["chrom"] == chrom) & (genes["start"] <= pos) & (genes["end"] >= pos)]
    return sorted(zip(hit["gene"].astype(str), hit["strand"].astype(str)))


def role(strand: str, kept_left: bool) -> str:
    """Which part of a gene a breakend keeps: ``5`` (promoter side) or ``3`` (module docstring)."""
    return "5" if (strand == "+") == kept_left else "3"


def partners(genes: pd.DataFrame, row: pd.Series) -> tuple[str, dict]:
    """(filter reason or "", partner fields with ``a`` = 5' partner) of one evidence row."""
    left = {"a": row["connection"][0] == "3", "b": row["connection"][-1] == "3"}
    at = {s: _genes_at(genes, row[f"chrom_{s}"], int(row[f"pos_{s}"])) for s in "ab"}
    flip = False
    fields = {"gene_a": "", "strand_a": "", "gene_b": "", "strand_b": ""}
    if not at["a"] and not at["b"]:
        return "no_gene", fields
    if at["a"] and at["b"] and {g for g, _ in at["a"]} & {g for g, _ in at["b"]}:
        g = sorted({g for g, _ in at["a"]} & {g for g, _ in at["b"]})[0]
        return "intragenic", {**fields, "gene_a": g, "gene_b": g}
    if at["a"] and at["b"]:
        good = [(ga, gb) for ga in at["a"] for gb in at["b"] if role(ga[1], left["a"]) != role(gb[1], left["b"])]
        if not good:
            (ga, sa), (gb, sb) = at["a"][0], at["b"][0]
            return "orientation", {"gene_a": ga, "strand_a": sa, "gene_b": gb, "strand_b": sb}
        (ga, sa), (gb, sb) = good[0]
        flip = role(sa, left["a"]) == "3"
        fields = {"gene_a": ga, "strand_a": sa, "gene_b": gb, "strand_b": sb}
    else:   # one annotated partner: the other takes the role it leaves
        s = "a" if at["a"] else "b"
        g, st = at[s][0]
        fields[f"gene_{s}"], fields[f"strand_{s}"] = g, st
        flip = (role(st, left[s]) == "3") == (s == "a")
    if flip:
        fields = {"gene_a": fields["gene_b"], "strand_a": fields["strand_b"],
                  "gene_b": fields["gene_a"], "strand_b": fields["strand_a"]}
    return ("flip" if flip else ""), fields


# -- normals ----------------------------------------------------------------------------------------
def read_evidence(path: str | Path, sample_id: str | None = None) -> pd.DataFrame:
    """An evidence table (``fusion-evidence`` output, or a pooled one with ``sample_id``)."""
    try:
        df = pd.read_csv(path, sep="\t", dtype={"chrom_a": str, "chrom_b": str, "connection": str})
    except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise InputError(Problem(str(path), f"cannot read the fusion evidence ({exc})",
                                 "rerun `unlock-atlas copynumber fusion-evidence` for that sample")) from None
    need = EVIDENCE_COLUMNS + ([] if sample_id else ["sample_id"])
    missing = [c for c in need if c not in df.columns]
    if missing:
        raise InputError(Problem(str(path), f"missing columns {', '.join(missing)}", "give a table written by "
                                 "`unlock-atlas copynumber fusion-evidence` / `fusion-normals`"))
    if sample_id:
        df["sample_id"] = sample_id
    return df


def pool_normals(tables: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """The normals' evidence tables stacked, with a ``sample_id`` column."""
    frames = [t.assign(sample_id=s)[["sample_id"] + EVIDENCE_COLUMNS] for s, t in tables.items() if len(t)]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=["sample_id"] + EVIDENCE_COLUMNS)


class _NormalIndex:
    """Normals' evidence grouped by (chrom_a, chrom_b, connection), sorted by pos_a, for lookups of
    "the same junction" (module docstring) in time logarithmic in the pooled table's size."""

    def __init__(self, normals: pd.DataFrame) -> None:
        self.groups: dict[tuple[str, str, str], tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = {}
        if normals.empty:
            return
        sid = normals["sample_id"] if "sample_id" in normals.columns else pd.Series("", index=normals.index)
        df = normals.assign(_sid=sid.astype(str)).sort_values("pos_a")
        for key, g in df.groupby(["chrom_a", "chrom_b", "connection"], sort=False):
            self.groups[tuple(map(str, key))] = (g["pos_a"].to_numpy(np.int64), g["pos_b"].to_numpy(np.int64),
                                                 g["fragments"].to_numpy(np.int64), g["_sid"].to_numpy())

    def support(self, ev: pd.Series) -> tuple[int, int]:
        """(fragments, distinct samples) of the normals' evidence for the event's junction."""
        g = self.groups.get((str(ev["chrom_a"]), str(ev["chrom_b"]), str(ev["connection"])))
        if g is None:
            return 0, 0
        pa, pb, frag, sid = g
        lo, hi = np.searchsorted(pa, ev["pos_a"] - CLUSTER_BP, "left"), np.searchsorted(pa, ev["pos_a"] + CLUSTER_BP, "right")
        m = np.abs(pb[lo:hi] - ev["pos_b"]) <= CLUSTER_BP
        return int(frag[lo:hi][m].sum()), len(set(sid[lo:hi][m]))


# -- calling ----------------------------------------------------------------------------------------
def call_fusions(evidence: pd.DataFrame, genes: pd.DataFrame, normal: pd.DataFrame | None = None,
                 panel_normals: pd.DataFrame | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(reported fusions, every candidate with its filter) from a sample's evidence table.

    Parameters
    ----------
    evidence
        The sample's evidence table (:func:`scan_bam`).
    genes
        Gene spans with columns gene, chrom, start, end, strand (``results/reference/genes.tsv``).
    normal
        The patient's normal's evidence table; None = not checked (``normal_fragments`` empty).
    panel_normals
        The cohort's normals' evidence, pooled (:func:`pool_normals`), for recurrence.
    """
    cands, reported = [], []
    own = _NormalIndex(normal) if normal is not None else None
    pon = _NormalIndex(panel_normals) if panel_normals is not None else None
    for _, ev in evidence.iterrows():
        why, fields = partners(genes, ev)
        flip = why == "flip"
        reasons = [] if why in ("", "flip") else [why]
        if ev["fragments"] < MIN_FRAGMENTS or not (ev["split_reads"] or ev["discordant_pairs"] >= MIN_FRAGMENTS):
            reasons.append("low_support")
        n_frag = own.support(ev)[0] if own is not None else None
        if n_frag:
            reasons.append("in_normal")
        n_norm = pon.support(ev)[1] if pon is not None else None
        if n_norm is not None and n_norm >= MIN_NORMALS_RECURRENT:
            reasons.append("recurrent_in_normals")
        base = {**ev.to_dict(), "normal_fragments": n_frag, "normals_with_evidence": n_norm}
        unflipped = fields if not flip else {"gene_a": fields["gene_b"], "strand_a": fields["strand_b"],
                                              "gene_b": fields["gene_a"], "strand_b": fields["strand_a"]}
        cands.append({**base, **unflipped, "filter": ";".join(reasons) or "PASS"})
        if not reasons:
            row = {**base, **fields}
            if flip:
                for k in ("chrom", "pos"):
                    row[f"{k}_a"], row[f"{k}_b"] = ev[f"{k}_b"], ev[f"{k}_a"]
                row["connection"] = f"{ev['connection'][-1]}to{ev['connection'][0]}"
            reported.append(row)
    out = pd.DataFrame(reported, columns=FUSION_COLUMNS)
    for c in ("normal_fragments", "normals_with_evidence"):
        out[c] = out[c].astype("Int64")
    return out, pd.DataFrame(cands, columns=CANDIDATE_COLUMNS)


def detect_fusions(bam_path: str | Path, genes: pd.DataFrame, regions: list[tuple[str, int, int]] | None = None,
                   normal: pd.DataFrame | None = None, panel_normals: pd.DataFrame | None = None) -> pd.DataFrame:
    """Reported fusion events of one BAM (columns :data:`FUSION_COLUMNS`; :func:`call_fusions`)."""
    return call_fusions(scan_bam(bam_path, regions), genes, normal, panel_normals)[0]


def read_genes(path: str | Path) -> pd.DataFrame:
    """``genes.tsv`` (gene, chrom, start, end, strand), checked."""
    try:
        genes = pd.read_csv(path, sep="\t", dtype={"chrom": str, "gene": str, "strand": str})
    except FileNotFoundError:
        raise InputError(Problem(str(path), "gene table not found", "run `unlock-atlas prepare-reference`")) from None
    missing = {"gene", "chrom", "start", "end", "strand"} - set(genes.columns)
    if missing:
        raise InputError(Problem(str(path), f"missing columns {', '.join(sorted(missing))}",
                                 "give results/reference/genes.tsv"))
    bad = genes.index[~genes["strand"].isin(["+", "-"])]
    if len(bad):
        raise InputError(Problem(str(path), f"strand {genes.loc[bad[0], 'strand']!r} is not + or -",
                                 "give results/reference/genes.tsv", row=int(bad[0]) + 2, column="strand"))
    return genes


def write_table(df: pd.DataFrame, path: str | Path) -> None:
    """Write a fusion / evidence / candidate table as TSV (atomically)."""
    with atomic_path(path) as tmp:
        df.to_csv(tmp, sep="\t", index=False)


write_fusions = write_table
