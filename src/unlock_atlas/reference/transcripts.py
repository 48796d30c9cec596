"""Transcript models from a GTF (MANE Select), in GRCh38 chromosome coordinates.

One loader for the whole package: every stage that needs genes, exons or CDS goes through
:func:`load_transcripts`. Coordinates are 1-based inclusive, as in the GTF.
"""

from __future__ import annotations

import gzip
import re
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import InputError, Problem

_ATTR_RE = re.compile(r'(\S+) "([^"]*)"')


@dataclass
class Transcript:
    """A transcript model: exons and CDS segments, sorted by genomic position."""

    transcript_id: str
    gene: str
    gene_id: str
    chrom: str
    strand: str
    exons: list[tuple[int, int]] = field(default_factory=list)
    cds: list[tuple[int, int]] = field(default_factory=list)
    attrs: dict[str, str] = field(default_factory=dict)

    @property
    def refseq(self) -> str | None:
        return self.attrs.get("refseq_transcript")

    @property
    def is_mane_select(self) -> bool:
        return self.attrs.get("_tag_MANE_Select") == "1"

    @property
    def start(self) -> int:
        return min(s for s, _ in self.exons)

    @property
    def end(self) -> int:
        return max(e for _, e in self.exons)

    def cds_positions(self) -> list[int]:
        """Genomic positions of every CDS base in transcript (5'→3') order: ``c.N`` is index N-1.

        The GTF CDS excludes the stop codon; it is appended from ``stop_codon`` records when
        the GTF has them (see :func:`load_transcripts`).
        """
        pos: list[int] = []
        for s, e in sorted(self.cds):
            pos.extend(range(s, e + 1))
        return pos if self.strand == "+" else pos[::-1]


def _open(path: Path):
    return gzip.open(path, "rt") if str(path).endswith(".gz") else open(path)


def load_transcripts(gtf: str | Path, mane_only: bool = False) -> dict[str, Transcript]:
    """Load transcript models keyed by ``transcript_id``.

    Parameters
    ----------
    gtf
        GTF (optionally gzipped). ``stop_codon`` features are merged into the CDS so that the
        CDS spans start codon to stop codon inclusive (GENCODE/Ensembl GTFs exclude the stop
        from ``CDS``).
    mane_only
        Keep only transcripts tagged ``MANE_Select``.

    Raises
    ------
    InputError
        Naming the file and line of a malformed record.
    """
    gtf = Path(gtf)
    txs: dict[str, Transcript] = {}
    stops: dict[str, list[tuple[int, int]]] = {}
    with _open(gtf) as fh:
        for lineno, line in enumerate(fh, 1):
            if line.startswith("#") or not line.strip():
                continue
            f = line.rstrip("\n").split("\t")
            if len(f) != 9:
                raise InputError(Problem(str(gtf), f"expected 9 tab-separated GTF columns, found {len(f)}",
                                         "check the file is a GTF (not GFF3 or BED)", row=lineno))
            feature = f[2]
            if feature not in ("transcript", "exon", "CDS", "stop_codon"):
                continue
            attrs = dict(_ATTR_RE.findall(f[8]))
            for tag in re.findall(r'tag "([^"]*)"', f[8]):
                attrs[f"_tag_{tag}"] = "1"
            tid = attrs.get("transcript_id")
            if not tid:
                raise InputError(Problem(str(gtf), "record without transcript_id", "fix the GTF attributes", row=lineno))
            try:
                start, end = int(f[3]), int(f[4])
            except ValueError:
                raise InputError(Problem(str(gtf), f"non-integer start/end {f[3]!r}/{f[4]!r}", "fix the GTF",
                                         row=lineno)) from None
            tx = txs.get(tid)
            if tx is None:
                tx = txs[tid] = Transcript(tid, attrs.get("gene_name", attrs.get("gene_id", "")), attrs.get("gene_id", ""),
                                           f[0], f[6], attrs=attrs)
            if feature == "exon":
                tx.exons.append((start, end))
            elif feature == "CDS":
                tx.cds.append((start, end))
            elif feature == "stop_codon":
                stops.setdefault(tid, []).append((start, end))
    for tid, segs in stops.items():
        tx = txs[tid]
        if not tx.cds:
            continue
        merged = sorted(tx.cds + segs)
        out: list[tuple[int, int]] = []
        for s, e in merged:
            if out and s <= out[-1][1] + 1:
                out[-1] = (out[-1][0], max(out[-1][1], e))
            else:
                out.append((s, e))
        tx.cds = out
    for tx in txs.values():
        tx.exons.sort()
        tx.cds.sort()
    if mane_only:
        txs = {k: v for k, v in txs.items() if v.is_mane_select}
    return txs


def mane_by_gene(gtf: str | Path) -> dict[str, Transcript]:
    """The MANE Select transcript of each gene (falls back to all transcripts if none tagged)."""
    txs = load_transcripts(gtf)
    mane = {t.gene: t for t in txs.values() if t.is_mane_select}
    if mane:
        return mane
    out: dict[str, Transcript] = {}
    for t in txs.values():
        out.setdefault(t.gene, t)
    return out


def numbered_segments(tx: Transcript, feature: str) -> list[tuple[int, int, int]]:
    """Exons or CDS segments of ``tx`` numbered in transcript (5'→3') order.

    Parameters
    ----------
    tx
        The transcript.
    feature
        ``"exon"`` or ``"CDS"`` (CDS segments include the stop codon, see :func:`load_transcripts`).

    Returns
    -------
    list of (number, start, end)
        1-based numbers (exon 1 is the 5'-most: the lowest position on ``+``, the highest on
        ``-``), genomic 1-based inclusive coordinates, in number order.
    """
    if feature not in ("exon", "CDS"):
        raise ValueError(f"feature must be 'exon' or 'CDS', not {feature!r}")
    segs = sorted(tx.exons if feature == "exon" else tx.cds)
    if tx.strand == "-":
        segs = segs[::-1]
    return [(i, s, e) for i, (s, e) in enumerate(segs, 1)]
