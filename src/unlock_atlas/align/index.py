"""Build the bwa index (via pybwa, in-process) atomically and idempotently.

A bwa index is six files that must change together: ``<prefix>.{amb,ann,bwt,pac,sa}`` and the
sequence dictionary pybwa loads the header from, ``Path(prefix).with_suffix(".dict")`` (pybwa's
own naming rule: ``results/reference/bwa/reference`` → ``reference.dict``, ``regions.fa`` →
``regions.dict``). They are built under a temporary directory beside the prefix and then renamed
into place one by one.

**Completeness rule.** The index is complete when all six files exist and every one is at least
as new as the FASTA. A crash part-way through the renames leaves either missing files or files
older than the FASTA (from a previous build), so it is always detected and rebuilt; a complete
index is never rebuilt (``force=False``), which keeps reruns cheap.
"""

from __future__ import annotations

import gzip
import logging
import os
import shutil
import tempfile
import time
from pathlib import Path

from ..errors import InputError, Problem
from .lift import LiftPlan, plan_lift

logger = logging.getLogger(__name__)

#: bwa's own index files (``bwa index`` output), in the order they are renamed into place.
BWA_SUFFIXES = (".amb", ".ann", ".pac", ".bwt", ".sa")


def dict_path(prefix: str | os.PathLike) -> Path:
    """The sequence dictionary pybwa reads for ``prefix`` (its ``with_suffix(".dict")`` rule)."""
    return Path(prefix).with_suffix(".dict")


def index_files(prefix: str | os.PathLike) -> list[Path]:
    """All files of the index at ``prefix``: the five bwa files and the ``.dict``."""
    return [Path(f"{prefix}{s}") for s in BWA_SUFFIXES] + [dict_path(prefix)]


def index_is_complete(fasta: str | os.PathLike, prefix: str | os.PathLike) -> bool:
    """True when every index file exists and none is older than ``fasta``."""
    fasta_mtime = Path(fasta).stat().st_mtime
    for f in index_files(prefix):
        try:
            if f.stat().st_mtime < fasta_mtime:
                return False
        except FileNotFoundError:
            return False
    return True


def _check_fasta(fasta: Path) -> None:
    """Fail with an actionable message before bwa sees a bad FASTA (bwa would exit the process)."""
    if not fasta.is_file():
        raise InputError(Problem(str(fasta), "the reference FASTA does not exist",
                                 "check reference.fasta in config/config.yaml"))
    opener = gzip.open if fasta.suffix in (".gz", ".bgz") else open
    try:
        with opener(fasta, "rb") as fh:
            head = fh.read(1)
    except OSError as exc:
        raise InputError(Problem(str(fasta), f"cannot read the FASTA ({exc})",
                                 "give a plain or gzip/bgzip-compressed FASTA")) from exc
    if head != b">":
        raise InputError(Problem(str(fasta), "does not look like a FASTA (first byte is not '>')",
                                 "give a plain or gzip/bgzip-compressed FASTA"))


def read_index_plan(prefix: str | os.PathLike) -> LiftPlan:
    """The lift plan of an existing index, from its ``.dict`` (no index loading)."""
    import pysam

    d = dict_path(prefix)
    with pysam.AlignmentFile(str(d), "r") as fh:
        return plan_lift(fh.references, fh.lengths, source=str(d))


def build_bwa_index(fasta: Path, prefix: Path, *, force: bool = False) -> Path:
    """Build the bwa index of ``fasta`` at ``prefix`` (atomic; skipped when already complete).

    Parameters
    ----------
    fasta
        Plain or gzipped FASTA: region contigs (``chr12_25205246_25250929``) or an ordinary
        FASTA with chromosome names; a mix is rejected (see :mod:`unlock_atlas.align.lift`).
    prefix
        Index prefix; files are ``<prefix>.amb`` … and ``dict_path(prefix)``.
    force
        Rebuild even if complete.

    Returns
    -------
    Path
        ``prefix``.

    Raises
    ------
    InputError
        If the FASTA is missing or not a FASTA.
    ReferenceError_
        If its contig names mix region contigs and other contigs, or a region contig is
        inconsistent with GRCh38 (checked before the new index replaces an old one).
    """
    import pybwa
    import pysam

    fasta, prefix = Path(fasta), Path(prefix)
    _check_fasta(fasta)
    if not force and index_is_complete(fasta, prefix):
        logger.info("bwa index at %s is complete and newer than %s; nothing to do", prefix, fasta)
        return prefix
    prefix.parent.mkdir(parents=True, exist_ok=True)
    tmpdir = Path(tempfile.mkdtemp(prefix=f".{prefix.name}.", dir=prefix.parent))
    try:
        t0 = time.monotonic()
        tmp_prefix = tmpdir / prefix.name
        logger.info("building bwa index of %s at %s", fasta, prefix)
        pybwa.BwaIndex.index(fasta, prefix=tmp_prefix)
        with pysam.AlignmentFile(str(dict_path(tmp_prefix)), "r") as fh:
            plan = plan_lift(fh.references, fh.lengths, source=str(fasta))
        logger.info("indexed %d contig(s) (%s lift) in %.1f s", len(plan.offsets), plan.mode,
                    time.monotonic() - t0)
        for tmp, final in zip(index_files(tmp_prefix), index_files(prefix)):
            os.replace(tmp, final)
    finally:
        shutil.rmtree(tmpdir, ignore_errors=True)
    return prefix
