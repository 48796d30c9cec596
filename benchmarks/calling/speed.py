"""Speed: fragment-level counting of one sample over the panel vs
`bcftools mpileup -d 100000 -q 20 -Q 20 -a AD,ADF,ADR` over the same regions, in one run.

Usage: python benchmarks/calling/speed.py BAM PANEL.bed GENOME.fa.gz
Prints wall times, the ratio and this process's peak RSS.
"""

from __future__ import annotations

import resource
import sys
import tempfile
import time
from pathlib import Path

import pysam
import pysam.bcftools

from unlock_atlas.calling.caller import read_panel
from unlock_atlas.calling.pileup import count_sample


def main(bam: str, bed: str, fasta: str) -> None:
    iv = read_panel(bed)
    with tempfile.TemporaryDirectory() as d:
        regions = Path(d) / "r.bed"
        regions.write_text("".join(f"{c}\t{s}\t{e}\n" for c, s, e in iv))
        t0 = time.perf_counter()
        pysam.bcftools.mpileup("-d", "100000", "-q", "20", "-Q", "20", "-a", "AD,ADF,ADR", "-f", fasta,
                               "-R", str(regions), "-Ou", "-o", str(Path(d) / "x.bcf"), bam)
        t_bcf = time.perf_counter() - t0
    t0 = time.perf_counter()
    count_sample(bam, fasta, iv, "S")
    t_ours = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"| bam | bcftools mpileup s | unlock-atlas counting s | ratio | peak RSS MiB |\n|---|---|---|---|---|\n"
          f"| {Path(bam).name} | {t_bcf:.1f} | {t_ours:.1f} | {t_ours / t_bcf:.2f} | {peak:.0f} |")


if __name__ == "__main__":
    main(*sys.argv[1:4])
