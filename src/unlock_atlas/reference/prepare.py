"""Reference preparation: genome FASTA + index, panel BED, transcript index, gene table.

Writes into one directory (``results/reference/`` in the workflow, docs/development.md):

``genome.fa.gz`` (+ ``.fai``, ``.gzi``)
    The sparse full-length GRCh38 (:mod:`.sparse`) when the configured FASTA holds region
    contigs; otherwise the configured FASTA itself, linked as ``genome.fa`` or ``genome.fa.gz``
    (by its compression) with its index linked (or, when missing, built) beside the link — a
    site's full GRCh38 is used unchanged and never copied.
``panel.bed``
    4-column BED in chromosome coordinates, karyotype-sorted: the configured BED, else the
    MANE coding exons ± ``padding`` of the panel genes; plus the extra baits of
    ``panel_extra_bed`` (e.g. tiled fusion-breakpoint introns), if given.
``transcripts.tsv``
    One row per exon and per CDS segment of the MANE transcript of every gene the panel
    touches (an interval overlaps one of its exons).
``genes.tsv``
    One row per touched gene: span, strand, transcript, number of targets and targeted bases.

Every input is checked before anything is written, so a bad BED leaves no partial outputs.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import pysam

from ..atomic import atomic_path
from ..errors import InputError, Problem
from .genome import RegionLift, grch38_chromosomes, parse_region_contig
from .panel import (
    Interval,
    add_extra_targets,
    check_intervals_in_genome,
    genes_touched,
    merged_length,
    panel_from_gtf,
    read_bed_records,
    sort_intervals,
    write_bed,
)
from .sparse import read_region_contigs, write_sparse_genome
from .transcripts import Transcript, mane_by_gene, numbered_segments

logger = logging.getLogger(__name__)

TRANSCRIPT_COLUMNS = ["gene", "transcript_id", "refseq_transcript", "chrom", "strand", "feature", "number", "start", "end"]
GENE_COLUMNS = ["gene", "chrom", "start", "end", "strand", "transcript_id", "refseq_transcript", "n_targets", "target_bp"]


@dataclass(frozen=True)
class PreparedReference:
    """Paths written by :func:`prepare_reference` (and a few figures for the log)."""

    genome: Path
    genome_fai: Path
    genome_gzi: Path | None
    sparse: bool
    panel_bed: Path
    transcripts: Path
    genes: Path
    panel_genes: tuple[str, ...]
    n_targets: int
    target_bp: int


def _compression(fasta: Path) -> str:
    """``"bgzf"``, ``"plain"``; raises for plain gzip (htslib cannot index it)."""
    with open(fasta, "rb") as fh:
        head = fh.read(18)
    if head[:2] != b"\x1f\x8b":
        return "plain"
    if len(head) >= 14 and head[3] & 4 and head[12:14] == b"BC":
        return "bgzf"
    raise InputError(Problem(str(fasta), "the FASTA is gzip-compressed but not BGZF, so it cannot be indexed",
                             f"recompress it: gunzip -c {fasta} | bgzip > {fasta.with_suffix('')}.bgz.fa.gz",
                             column="reference.fasta"))


def _read_fai(fai: Path) -> dict[str, int]:
    out: dict[str, int] = {}
    with open(fai) as fh:
        for line in fh:
            f = line.split("\t")
            if len(f) >= 2:
                out[f[0]] = int(f[1])
    return out


def _fresh(index: Path, data: Path) -> bool:
    return index.is_file() and index.stat().st_mtime >= data.stat().st_mtime


def _index_fasta(fasta: Path, bgzf: bool, fai: Path, gzi: Path | None) -> None:
    """Build ``fai`` (and ``gzi``) for ``fasta`` with samtools faidx, atomically."""
    with atomic_path(fai) as tmp_fai:
        args = [str(fasta), "--fai-idx", str(tmp_fai)]
        if bgzf:
            assert gzi is not None
            with atomic_path(gzi) as tmp_gzi:
                _faidx(fasta, args + ["--gzi-idx", str(tmp_gzi)])
        else:
            _faidx(fasta, args)


def _faidx(fasta: Path, args: list[str]) -> None:
    try:
        pysam.faidx(*args)
    except pysam.utils.SamtoolsError as exc:
        raise InputError(Problem(str(fasta), f"samtools faidx cannot index the FASTA: {str(exc).strip()}",
                                 "check it is a valid FASTA (plain or bgzip) with equal-width lines",
                                 column="reference.fasta")) from None


def _link(target: Path, link: Path) -> None:
    """Point ``link`` at ``target`` (absolute), replacing whatever is there, atomically."""
    tmp = link.with_name(f".{link.name}.{os.getpid()}.lnk")
    tmp.unlink(missing_ok=True)
    os.symlink(target.resolve(), tmp)
    os.replace(tmp, link)


def _remove(*paths: Path) -> None:
    for p in paths:
        if p.is_symlink() or p.exists():
            p.unlink()


def _genome_contigs(fasta: Path) -> tuple[dict[str, int], str]:
    """Contig names/lengths of the configured FASTA (from its ``.fai``, or a throwaway index)."""
    kind = _compression(fasta)
    fai = Path(f"{fasta}.fai")
    if _fresh(fai, fasta):
        return _read_fai(fai), kind
    with tempfile.TemporaryDirectory(prefix="unlock-faidx-") as tmp:
        tmp_fai = Path(tmp) / "x.fai"
        _index_fasta(fasta, kind == "bgzf", tmp_fai, Path(tmp) / "x.gzi" if kind == "bgzf" else None)
        return _read_fai(tmp_fai), kind


def _link_genome(fasta: Path, kind: str, outdir: Path) -> tuple[Path, Path, Path | None]:
    """Link an ordinary (chromosome-named) FASTA as ``genome.fa[.gz]`` with its index beside."""
    name = "genome.fa.gz" if kind == "bgzf" else "genome.fa"
    other = "genome.fa" if kind == "bgzf" else "genome.fa.gz"
    _remove(*(outdir / f"{other}{ext}" for ext in ("", ".fai", ".gzi")))
    genome = outdir / name
    fai, gzi = Path(f"{genome}.fai"), Path(f"{genome}.gzi") if kind == "bgzf" else None
    src_fai, src_gzi = Path(f"{fasta}.fai"), Path(f"{fasta}.gzi")
    if _fresh(src_fai, fasta) and (kind != "bgzf" or _fresh(src_gzi, fasta)):
        _link(src_fai, fai)
        if gzi is not None:
            _link(src_gzi, gzi)
    else:
        logger.info("indexing %s (no up-to-date index beside it) into %s", fasta, outdir)
        _remove(fai, *([gzi] if gzi else []))
        _index_fasta(fasta, kind == "bgzf", fai, gzi)
    _link(fasta, genome)
    return genome, fai, gzi


def _panel(gtf: Path, mane: dict[str, Transcript], panel_bed: Path | None, panel_genes: list[str] | None,
           padding: int) -> tuple[list[tuple[int | None, Interval]], Path]:
    """The panel intervals (with BED line numbers when from a BED) and the file they come from."""
    coding = {g for g, t in mane.items() if t.cds}
    if panel_bed is not None:
        return read_bed_records(panel_bed), panel_bed
    wanted = panel_genes if panel_genes else sorted(mane)
    if not coding.intersection(wanted):
        raise InputError(Problem(str(gtf), f"GTF without CDS for the panel genes ({', '.join(wanted[:10])}"
                                 f"{', ...' if len(wanted) > 10 else ''}): the panel is made of coding exons",
                                 "use a GTF with CDS records (e.g. the MANE Select GTF), or configure "
                                 "reference.panel_bed", column="reference.gtf"))
    return [(None, iv) for iv in panel_from_gtf(gtf, panel_genes or None, padding)], gtf


def _tsv(path: Path, columns: list[str], rows: list[list[object]]) -> None:
    with atomic_path(path) as tmp, open(tmp, "w") as fh:
        fh.write("\t".join(columns) + "\n")
        for row in rows:
            fh.write("\t".join("" if v is None else str(v) for v in row) + "\n")


def prepare_reference(
    fasta: str | os.PathLike,
    gtf: str | os.PathLike,
    outdir: str | os.PathLike,
    panel_bed: str | os.PathLike | None = None,
    panel_genes: list[str] | None = None,
    padding: int = 20,
    panel_extra_bed: str | os.PathLike | None = None,
) -> PreparedReference:
    """Prepare the reference directory used by every later stage.

    Parameters
    ----------
    fasta
        Configured FASTA: region contigs (``chr7_55014032_55258620``) → a sparse full-length
        GRCh38 is built; chromosome-named (a full GRCh38) → linked unchanged.
    gtf
        Transcript models (MANE Select GTF, chromosome coordinates).
    outdir
        Output directory (created).
    panel_bed
        Configured panel BED (chromosome coordinates). Takes precedence over ``panel_genes``.
    panel_genes
        Genes whose MANE coding exons ± ``padding`` make the panel when no BED is given;
        ``None``/empty: every gene with a CDS in the GTF.
    padding
        Bases added on each side of a coding exon; the default 20 covers the canonical splice
        sites (±1-2) and the splice-region bases (±3-8 intronic) that annotation reports.
    panel_extra_bed
        Extra bait intervals added to the panel (BED, chromosome coordinates, 4th column the
        gene), e.g. the intron where a gene's fusion breakpoints cluster: coding-exon targets
        only reach ~one fragment length into an intron, so a fusion breakpoint is seen only
        where the panel tiles it (:func:`~.panel.add_extra_targets`). An extra interval inside
        a gene's transcript span and named after the gene counts as one of its targets in
        ``genes.tsv``.

    Raises
    ------
    InputError
        Missing files; a gzip (not BGZF) FASTA; BED lines whose contig is not in the genome or
        that end past the contig (file and line named); a GTF without CDS for the panel genes;
        a panel that overlaps no exon of the GTF.
    """
    t0 = time.perf_counter()
    fasta, gtf, outdir = Path(fasta), Path(gtf), Path(outdir)
    missing = [Problem(str(p), "file not found", f"check reference.{key} in the config", column=f"reference.{key}")
               for p, key in ((fasta, "fasta"), (gtf, "gtf"), (Path(panel_bed) if panel_bed else None, "panel_bed"),
                              (Path(panel_extra_bed) if panel_extra_bed else None, "panel_extra_bed"))
               if p is not None and not p.is_file()]
    if missing:
        raise InputError(missing)
    if padding < 0:
        raise InputError(Problem("command line", f"padding must be ≥ 0, not {padding}", "give --padding 20"))

    # 1. what the genome will be, and its contigs (cheap: from the .fai), before writing anything
    src_contigs, kind = _genome_contigs(fasta)
    sparse = any(parse_region_contig(n) for n in src_contigs)
    regions = read_region_contigs(fasta) if sparse else []  # checks every contig against GRCh38
    contigs = dict(grch38_chromosomes()) if sparse else src_contigs

    # 2. panel + transcripts, all checked
    mane = mane_by_gene(gtf)
    if not mane:
        raise InputError(Problem(str(gtf), "no transcripts in the GTF", "configure a MANE Select GTF",
                                 column="reference.gtf"))
    records, source = _panel(gtf, mane, Path(panel_bed) if panel_bed else None, panel_genes, padding)
    check_intervals_in_genome(records, contigs, source, fasta)
    intervals = sort_intervals([iv for _, iv in records])
    if panel_extra_bed:
        extra = read_bed_records(panel_extra_bed)
        check_intervals_in_genome(extra, contigs, panel_extra_bed, fasta)
        intervals = add_extra_targets(intervals, [iv for _, iv in extra])
    touched = genes_touched(intervals, mane)
    for iv in intervals:   # named extra baits inside a gene (intronic: they touch no exon)
        tx = mane.get(iv.name)
        if (iv.name in touched and iv not in touched[iv.name] and tx is not None and tx.chrom == iv.chrom
                and tx.start <= iv.end and iv.start < tx.end):
            touched[iv.name].append(iv)
    if not touched:
        raise InputError(Problem(str(source), "no panel interval overlaps an exon of any transcript in "
                                 f"{gtf}", "check the BED and the GTF use the same build and chromosome names"))
    if not any(mane[g].cds for g in touched):
        raise InputError(Problem(str(gtf), f"GTF without CDS for the genes the panel touches "
                                 f"({', '.join(sorted(touched))})", "use a GTF with CDS records (MANE Select GTF)",
                                 column="reference.gtf"))
    noncoding = sorted(g for g in touched if not mane[g].cds)
    if noncoding:
        logger.warning("panel genes without CDS in %s (exon rows only): %s", gtf, ", ".join(noncoding))

    # 3. write
    outdir.mkdir(parents=True, exist_ok=True)
    if sparse:
        _remove(*(outdir / f"genome.fa{ext}" for ext in ("", ".fai", ".gzi")))
        genome = write_sparse_genome(regions, outdir / "genome.fa.gz")
        fai, gzi = Path(f"{genome}.fai"), Path(f"{genome}.gzi")
        _warn_without_sequence(intervals, RegionLift([r for r, _ in regions]))
    else:
        genome, fai, gzi = _link_genome(fasta, kind, outdir)
    bed = outdir / "panel.bed"
    write_bed(intervals, bed)
    genes_order = sorted(touched, key=lambda g: (list(contigs).index(mane[g].chrom)
                                                 if mane[g].chrom in contigs else len(contigs), mane[g].start, g))
    tx_rows: list[list[object]] = []
    gene_rows: list[list[object]] = []
    for g in genes_order:
        tx = mane[g]
        for feature in ("exon", "CDS"):
            for number, s, e in numbered_segments(tx, feature):
                tx_rows.append([g, tx.transcript_id, tx.refseq, tx.chrom, tx.strand, feature, number, s, e])
        gene_rows.append([g, tx.chrom, tx.start, tx.end, tx.strand, tx.transcript_id, tx.refseq,
                          len(touched[g]), merged_length(touched[g])])
    transcripts, genes = outdir / "transcripts.tsv", outdir / "genes.tsv"
    _tsv(transcripts, TRANSCRIPT_COLUMNS, tx_rows)
    _tsv(genes, GENE_COLUMNS, gene_rows)
    result = PreparedReference(genome, fai, gzi, sparse, bed, transcripts, genes, tuple(genes_order),
                               len(intervals), merged_length(intervals))
    write_reference_manifest(result, outdir / "reference.json")
    logger.info("reference in %s: genome %s (%s), %d targets / %s bp over %d genes, %d transcript rows, %.1f s",
                outdir, genome.name, "sparse GRCh38 from region contigs" if sparse else f"link to {fasta}",
                result.n_targets, f"{result.target_bp:,}", len(genes_order), len(tx_rows), time.perf_counter() - t0)
    return result


def write_reference_manifest(ref: PreparedReference, path: Path) -> None:
    """Write ``reference.json`` (written last: its presence means the directory is complete).

    Later stages find the genome through it, because its name depends on the input
    (``genome.fa.gz`` for a sparse or bgzipped genome, ``genome.fa`` for a plain FASTA).
    """
    import json

    from ..atomic import write_text_atomic

    doc = {k: (str(v) if isinstance(v, Path) else list(v) if isinstance(v, tuple) else v)
           for k, v in dataclasses.asdict(ref).items()}
    write_text_atomic(path, json.dumps(doc, indent=2, sort_keys=True) + "\n")


def read_reference_manifest(path: str | os.PathLike) -> dict:
    """Read ``reference.json`` written by :func:`prepare_reference`."""
    import json

    return json.loads(Path(path).read_text())


def _warn_without_sequence(intervals: list[Interval], lift: RegionLift) -> None:
    """Log panel targets that fall (partly) outside the regions with sequence (they read as N)."""
    outside = sorted({iv.name for iv in intervals
                      if lift.region_at(iv.chrom, iv.start + 1) is None or lift.region_at(iv.chrom, iv.end) is None
                      or lift.region_at(iv.chrom, iv.start + 1) != lift.region_at(iv.chrom, iv.end)})
    if outside:
        logger.warning("panel targets outside the regions with sequence (N in the sparse genome): %s",
                       ", ".join(outside))
