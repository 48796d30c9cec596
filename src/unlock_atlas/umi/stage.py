"""UMI stage: input BAM -> coordinate-sorted, indexed consensus BAM (+ metrics JSON); tag check."""

from __future__ import annotations

import json
import logging
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pysam

from ..atomic import atomic_path, write_text_atomic
from ..errors import Problem
from .consensus import ConsensusOptions, batch_consensus, pair_up, to_segment
from .grouping import GroupStats, iter_families

logger = logging.getLogger(__name__)

MODES = ("none", "single", "duplex")
#: defaults of the config's ``umi:`` section (workflow/schemas/config.schema.yaml; docs/umi.md)
DEFAULTS = {"mode": "none", "tag": "RX", "sample_types": ["tissue", "plasma", "normal"],
            "min_family_size": 3, "min_duplex_strand_reads": 1, "min_mapq": 1,
            "max_edits": 1, "window": 2000, "error_rate_pre_umi": 45, "error_rate_post_umi": 40,
            "min_input_base_quality": 10, "min_consensus_base_quality": 2}


#: read pairs per consensus batch: one numpy pass per batch (~25 MB of arrays at 150-bp reads)
BATCH_READS = 4000


def umi_settings(config: dict) -> dict:
    """The run's ``umi:`` section with every default filled in (absent section = ``mode: none``)."""
    return {**DEFAULTS, **(config.get("umi") or {})}


def umi_tag_problem(bam: str | Path, tag: str, sample: str, file: str, row: int | None = None,
                    reads: int = 1000) -> Problem | None:
    """A Problem when none of the first ``reads`` mapped primary reads of ``bam`` carries ``tag``.

    Reads at most ``reads`` records (milliseconds), so every BAM of a cohort can be checked
    when the run is validated, before any job.
    """
    seen = 0
    try:
        with pysam.AlignmentFile(str(bam), "rb") as fh:
            for read in fh.fetch(until_eof=True):
                if read.flag & 0x904:
                    continue
                if read.has_tag(tag):
                    return None
                seen += 1
                if seen >= reads:
                    break
    except (OSError, ValueError) as exc:
        return Problem(file, f"sample {sample}: cannot read {bam} to check its UMI tag {tag} ({exc})",
                       "check the BAM", row=row, column="bam")
    if seen == 0:
        return None  # an empty BAM: nothing to group; the other checks report it
    return Problem(file, f"sample {sample}: umi.mode needs the UMI in the {tag} tag, but the first {seen} reads of "
                   f"{bam} have no {tag} tag", "set umi.tag to the tag holding the UMIs (fgbio/umi_tools write RX), "
                   "or umi.mode: none for BAMs without UMIs", row=row, column="bam")


def umi_consensus(bam: str | Path, out: str | Path, mode: str, params: dict | None = None,
                  metrics: str | Path | None = None, sample: str = "") -> dict:
    """Group a BAM's read pairs by molecule and write the consensus BAM (+ ``.bai``).

    Parameters
    ----------
    bam
        Coordinate-sorted BAM with UMIs in ``params['tag']``.
    out
        Consensus BAM: coordinate-sorted, indexed, ``MI`` and fgbio-style ``cD/cM/cE`` tags
        (``aD/aM/aE/bD/bM/bE`` for duplex).
    mode
        ``single`` or ``duplex``.
    params
        The config's ``umi:`` section (missing keys: :data:`DEFAULTS`).

    Returns
    -------
    dict
        Metrics: reads, templates, families, consensus pairs written, families below
        ``min_family_size``, duplex families lacking a strand, family-size histogram.
    """
    if mode not in ("single", "duplex"):
        raise ValueError(f"mode must be single or duplex, not {mode!r}")
    p = {**DEFAULTS, **(params or {})}
    opts = ConsensusOptions(int(p["error_rate_pre_umi"]), int(p["error_rate_post_umi"]),
                            int(p["min_input_base_quality"]), int(p["min_consensus_base_quality"]))
    duplex = mode == "duplex"
    st = GroupStats()
    written = small = no_duplex = 0
    sizes: dict[int, int] = {}
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with pysam.AlignmentFile(str(bam), "rb") as fh:
        hd = fh.header.to_dict()
    hd["HD"] = {**hd.get("HD", {"VN": "1.6"}), "SO": "unsorted"}
    hd.setdefault("PG", []).append({"ID": "unlock-atlas-umi", "PN": "unlock-atlas", "CL": f"umi-consensus --mode {mode}"})
    header = pysam.AlignmentHeader.from_dict(hd)
    unsorted = out.with_name(out.name + ".unsorted.bam")
    n = 0
    batch: list = []
    batch_reads = 0

    def write_batch(wr: pysam.AlignmentFile) -> None:
        nonlocal n, written, no_duplex
        for fam, cons in zip(batch, batch_consensus(batch, duplex, opts, int(p["min_duplex_strand_reads"]))):
            if cons is None:
                no_duplex += 1
                continue
            n += 1
            mi = str(n)
            name = f"{sample or 'umi'}:{mi}"
            lo_r1 = duplex or fam.a[0].strand == "A"
            lo = to_segment(cons[0], header, name, lo_r1, [("MI", mi), ("RX", fam.umi)])
            hi = to_segment(cons[1], header, name, not lo_r1, [("MI", mi), ("RX", fam.umi)])
            pair_up(lo, hi)
            wr.write(lo)
            wr.write(hi)
            written += 1
        batch.clear()

    with pysam.AlignmentFile(str(unsorted), "wb", header=header) as wr:
        for fam in iter_families(str(bam), p["tag"], duplex, int(p["min_mapq"]), int(p["window"]), int(p["max_edits"]), st):
            sizes[fam.size] = sizes.get(fam.size, 0) + 1
            if fam.size < int(p["min_family_size"]):
                small += 1
                continue
            batch.append(fam)
            batch_reads += fam.size
            if batch_reads >= BATCH_READS:
                write_batch(wr)
                batch_reads = 0
        write_batch(wr)
    with atomic_path(out) as tmp:
        pysam.sort("-o", str(tmp), "-O", "BAM", str(unsorted))
    unsorted.unlink()
    pysam.index(str(out))
    size_arr = np.repeat(list(sizes), list(sizes.values())) if sizes else np.zeros(1)
    result = {"sample": sample, "mode": mode, **asdict(st), "consensus_pairs": written,
              "families_below_min_size": small, "families_without_both_strands": no_duplex,
              "mean_family_size": float(size_arr.mean()), "median_family_size": float(np.median(size_arr)),
              "family_size_histogram": {str(k): sizes[k] for k in sorted(sizes)}, "params": p}
    logger.info("%s: %d templates in %d families -> %d consensus pairs (%d below min size %d, %d without both strands)",
                sample or bam, st.templates, st.families, written, small, p["min_family_size"], no_duplex)
    if metrics:
        write_text_atomic(Path(metrics), json.dumps(result, indent=2) + "\n")
    return result
