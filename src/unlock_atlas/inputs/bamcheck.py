"""Fast BAM checks against the configured reference: index present, contigs of the right build.

Only BAM *headers* are read (``@HD`` / ``@SQ``; no reads, no index), so a cohort of thousands of
BAMs validates in seconds. The rule: every contig the panel touches must be in the BAM header
with the reference's length, and any contig present in both the BAM and the reference must
have the same length -- a BAM aligned to another build (GRCh37 chr7 = 159,138,663 bp against
GRCh38's 159,345,973 bp) is caught even if it "has" chr7. Extra contigs (alt, decoy, HLA, EBV)
are fine: aligners add them and they do not move coordinates on the primary chromosomes.

Reference lengths: when the configured FASTA holds region contigs (``chr7_55014032_55258620``)
the BAMs are in chromosome coordinates of GRCh38 (design.md §3), so the reference lengths are
the GRCh38 primary-assembly lengths; otherwise they are the FASTA's own (``.fai``) lengths.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pysam

from ..errors import InputError, Problem, ReferenceError_
from ..reference.genome import RegionLift, grch38_chromosomes, parse_region_contig
from ..reference.panel import panel_from_gtf, read_bed

logger = logging.getLogger(__name__)


def find_bam_index(bam: str | Path) -> Path | None:
    """The BAM's index: ``x.bam.bai``, ``x.bai`` or ``x.bam.csi``; ``None`` when there is none."""
    bam = Path(bam)
    for cand in (Path(f"{bam}.bai"), bam.with_suffix(".bai"), Path(f"{bam}.csi"), bam.with_suffix(".csi")):
        if cand.is_file():
            return cand
    return None


def fasta_index_problems(fasta: Path, file: str, row: int | None, column: str) -> list[Problem]:
    """A FASTA needs its ``.fai`` (and ``.gzi`` when bgzipped); we never build them silently."""
    out = []
    fai = Path(f"{fasta}.fai")
    if not fai.is_file():
        out.append(Problem(file, f"the FASTA {fasta} has no index ({fai.name})",
                           f"run `samtools faidx {fasta}`", row=row, column=column))
    if str(fasta).endswith(".gz") and not Path(f"{fasta}.gzi").is_file():
        out.append(Problem(file, f"the bgzipped FASTA {fasta} has no {Path(str(fasta) + '.gzi').name}",
                           f"run `samtools faidx {fasta}` (the file must be bgzip-compressed, not gzip)",
                           row=row, column=column))
    return out


def read_fai_lengths(fasta: str | Path) -> dict[str, int]:
    """Contig lengths from the FASTA's ``.fai`` (columns 1 and 2)."""
    out: dict[str, int] = {}
    with open(f"{fasta}.fai") as fh:
        for line in fh:
            f = line.rstrip("\n").split("\t")
            if len(f) >= 2 and f[0]:
                out[f[0]] = int(f[1])
    return out


def reference_lengths(fasta: str | Path) -> tuple[dict[str, int], bool]:
    """Contig lengths BAMs must match, and whether the FASTA holds region contigs.

    Returns
    -------
    tuple
        ``(lengths, is_region_fasta)``: GRCh38 primary-assembly lengths for a region-contig
        FASTA (``RegionLift.from_fasta`` succeeds), else the FASTA's ``.fai`` lengths.

    Raises
    ------
    ReferenceError_
        If the region contigs are inconsistent (a contig's length differs from its name's span).
    """
    names = read_fai_lengths(fasta)
    if any(parse_region_contig(n) for n in names):
        RegionLift.from_fasta(fasta)  # validates every region contig's length against its name
        return dict(grch38_chromosomes()), True
    return names, False


def panel_contigs(reference: dict) -> tuple[set[str], list[Problem]]:
    """Chromosomes the panel touches: the configured BED's, or the panel genes' MANE transcripts'.

    Parameters
    ----------
    reference
        The validated ``reference`` section of the config (absolute paths).
    """
    try:
        if reference.get("panel_bed"):
            ivs = read_bed(reference["panel_bed"])
        else:
            ivs = panel_from_gtf(reference["gtf"], reference.get("panel_genes"), int(reference.get("panel_padding", 20)))
    except InputError as exc:
        return set(), list(exc.problems)
    return {iv.chrom for iv in ivs}, []


#: The 28-byte empty BGZF block every complete BAM ends with (SAM/BAM specification §4.1.2).
BGZF_EOF = bytes.fromhex("1f8b08040000000000ff0600424302001b0003000000000000000000")


def has_bgzf_eof(path: str | Path) -> bool:
    """Whether the file ends with the BGZF end-of-file block (a truncated copy does not)."""
    try:
        with open(path, "rb") as fh:
            fh.seek(0, 2)
            if fh.tell() < len(BGZF_EOF):
                return False
            fh.seek(-len(BGZF_EOF), 2)
            return fh.read() == BGZF_EOF
    except OSError:
        return False


def _fmt(n: int) -> str:
    return f"{n:,}"


def check_bam_contigs(bam: str | Path, reference_lengths: dict[str, int], panel_contigs: set[str]) -> list[Problem]:
    """Check one BAM's header against the reference and the panel (reads the header only).

    Parameters
    ----------
    bam
        The BAM.
    reference_lengths
        Contig → length the BAM must agree with (see :func:`reference_lengths`).
    panel_contigs
        Contigs the panel touches; each must be in the BAM header.

    Returns
    -------
    list of Problem
        ``file`` is the BAM path. Covered: unreadable file; no ``@SQ`` lines (unaligned);
        panel contigs missing (with a hint when the BAM uses names without ``chr``);
        contigs whose length differs from the reference (another build); a BAM sorted by
        query name or marked unsorted; an empty (0-byte) or truncated BAM (no BGZF EOF block:
        the last 28 bytes are read, no more).
    """
    shown = str(bam)
    if Path(bam).is_file() and Path(bam).stat().st_size == 0:
        return [Problem(shown, "the BAM file is empty (0 bytes)", "re-copy or regenerate it")]
    if not has_bgzf_eof(bam):
        return [Problem(shown, "the BAM is truncated: it lacks the BGZF end-of-file block (an interrupted copy "
                        "or a crashed aligner)", "re-copy the file or regenerate it, then re-index it")]
    try:
        with pysam.AlignmentFile(str(bam), "rb", check_sq=False) as fh:
            lengths = dict(zip(fh.references, fh.lengths))
            sort_order = (fh.header.to_dict().get("HD") or {}).get("SO", "")
    except (OSError, ValueError) as exc:
        return [Problem(shown, f"cannot read the BAM header ({exc})",
                        "check that the file is a complete BAM (not SAM/CRAM, not truncated)")]
    if not lengths:
        return [Problem(shown, "the BAM header has no @SQ lines: the reads are not aligned",
                        "align the reads to GRCh38, or give the FASTQ files instead (fastq_1/fastq_2)")]
    problems: list[Problem] = []
    missing = sorted(c for c in panel_contigs if c not in lengths)
    if missing:
        unprefixed = [c for c in missing if c.startswith("chr") and c[3:] in lengths]
        hint = (f" (the BAM names chromosomes without 'chr', e.g. '{unprefixed[0][3:]}': Ensembl/1000 Genomes naming)"
                if unprefixed else "")
        problems.append(Problem(shown, f"the BAM header lacks panel contig(s) {', '.join(missing)}{hint}",
                                "re-align to a GRCh38 reference with UCSC names (chr1, chr2, ...), as the configured FASTA"))
    diff = [(c, lengths[c], reference_lengths[c]) for c in lengths
            if c in reference_lengths and lengths[c] != reference_lengths[c]]
    if diff:
        shown_diff = "; ".join(f"{c} is {_fmt(b)} bp in the BAM but {_fmt(r)} bp in the reference" for c, b, r in diff[:4])
        more = f" (and {len(diff) - 4} more)" if len(diff) > 4 else ""
        problems.append(Problem(shown, f"contig lengths differ from the reference: {shown_diff}{more}; "
                                "the BAM was aligned to another genome build (e.g. GRCh37/hg19)",
                                "re-align the reads to GRCh38 (the configured reference) or give the FASTQ files"))
    if sort_order in ("queryname", "unsorted"):
        what = "sorted by read name (@HD SO:queryname)" if sort_order == "queryname" else "not sorted (@HD SO:unsorted)"
        problems.append(Problem(shown, f"the BAM is {what}",
                                f"sort by coordinate and index: `samtools sort -o out.bam {bam}; samtools index out.bam`"))
    return problems


def load_reference_for_checks(reference: dict, file: str, line_of: dict) -> tuple[dict[str, int] | None, set[str], list[Problem]]:
    """Reference lengths and panel contigs for BAM checks, with the config's problems.

    Returns ``(None, set(), problems)`` when the reference cannot be read (then only
    existence and index checks of the BAMs run).
    """
    problems: list[Problem] = []
    fasta = Path(reference["fasta"])
    try:
        ref_lengths, is_region = reference_lengths(fasta)
    except ReferenceError_ as exc:
        problems.append(Problem(file, str(exc), "fix the FASTA", row=line_of.get(("reference", "fasta")),
                                column="reference.fasta"))
        return None, set(), problems
    contigs, panel_problems = panel_contigs(reference)
    problems += panel_problems
    absent = sorted(c for c in contigs if c not in ref_lengths)
    if absent:
        problems.append(Problem(file, f"the panel touches contig(s) {', '.join(absent)} that the FASTA {fasta} lacks",
                                "use a FASTA with the panel's chromosomes (UCSC names) or fix the panel BED",
                                row=line_of.get(("reference", "fasta")), column="reference.fasta"))
    logger.debug("reference %s: %d contigs (%s); panel on %d contigs", fasta, len(ref_lengths),
                 "region contigs -> GRCh38 lengths" if is_region else ".fai lengths", len(contigs))
    return ref_lengths, contigs, problems
