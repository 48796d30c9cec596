"""Speed: fragment-level counting of one sample over the panel vs
`bcftools mpileup -d 100000 -q 20 -Q 20 -a AD,ADF,ADR` over the same regions, in one run.

Usage: python benchmarks/calling/speed.py GENOME.fa.gz PANEL.bed BAM [BAM ...]
       (the old order ``BAM PANEL.bed GENOME.fa.gz`` for one BAM is still accepted)

For each BAM, prints the wall time of both, their ratio, the median deduplicated fragment depth
over the panel (from our counts) and the peak RSS of each step. Each step runs in a fresh
``spawn`` process so that its peak resident memory is its own (``bcftools`` runs in-process
through pysam); the wall time is measured inside that process, around the work only.
"""

from __future__ import annotations

import multiprocessing as mp
import resource
import sys
import tempfile
import time
from pathlib import Path


def _bcftools(bam: str, bed: str, fasta: str, q) -> None:
    import pysam.bcftools

    from unlock_atlas.calling.caller import read_panel

    iv = read_panel(bed)
    with tempfile.TemporaryDirectory() as d:
        regions = Path(d) / "r.bed"
        regions.write_text("".join(f"{c}\t{s}\t{e}\n" for c, s, e in iv))
        t0 = time.perf_counter()
        pysam.bcftools.mpileup("-d", "100000", "-q", "20", "-Q", "20", "-a", "AD,ADF,ADR", "-f", fasta,
                               "-R", str(regions), "-Ou", "-o", str(Path(d) / "x.bcf"), bam)
        t = time.perf_counter() - t0
    q.put((t, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, None))


def _ours(bam: str, bed: str, fasta: str, q) -> None:
    import numpy as np

    from unlock_atlas.calling.caller import read_panel
    from unlock_atlas.calling.pileup import count_sample

    iv = read_panel(bed)
    t0 = time.perf_counter()
    sc = count_sample(bam, fasta, iv, "S")
    t = time.perf_counter() - t0
    depth = float(np.median(np.concatenate([r.depth for r in sc.regions])))
    q.put((t, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, depth))


def _step(fn, *args) -> tuple:
    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    p = ctx.Process(target=fn, args=(*args, q))
    p.start()
    out = q.get()
    p.join()
    return out


def main(fasta: str, bed: str, bams: list[str]) -> None:
    print("| bam | median fragment depth | bcftools mpileup s | unlock-atlas counting s | ratio "
          "| peak RSS bcftools MiB | peak RSS counting MiB |\n|---|---|---|---|---|---|---|")
    for bam in bams:
        t_bcf, m_bcf, _ = _step(_bcftools, bam, bed, fasta)
        t_ours, m_ours, depth = _step(_ours, bam, bed, fasta)
        print(f"| {Path(bam).name} ({Path(bam).parent.parent.name}) | {depth:.0f} | {t_bcf:.1f} | {t_ours:.1f} "
              f"| {t_ours / t_bcf:.2f} | {m_bcf:.0f} | {m_ours:.0f} |", flush=True)


if __name__ == "__main__":
    a = sys.argv[1:]
    if len(a) == 3 and a[0].endswith(".bam"):
        a = [a[2], a[1], a[0]]
    main(a[0], a[1], a[2:])
