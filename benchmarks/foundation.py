"""Foundation figures: reference preparation, simulation, QC and alignment throughput.

Run:  .venv/bin/python benchmarks/foundation.py [--workdir DIR]
Prints a Markdown table (wall seconds, throughput, peak RSS of this process) for
benchmarks/RESULTS.md. Reference tool in the same run: `samtools depth -s` (pysam) for QC.
"""

from __future__ import annotations

import argparse
import gzip
import resource
import tempfile
import time
from pathlib import Path

import pysam

from unlock_atlas.align.bwa import align_fastq
from unlock_atlas.align.index import build_bwa_index
from unlock_atlas.paths import resolve_data_dir
from unlock_atlas.qc.metrics import bam_qc
from unlock_atlas.reference.prepare import prepare_reference
from unlock_atlas.simulate import simulate_cohort


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _n_reads(bam: Path) -> int:
    """Mapped + unmapped records from the BAM index (samtools idxstats)."""
    total = 0
    for line in pysam.idxstats(str(bam)).strip().split("\n"):
        _, _, mapped, unmapped = line.split("\t")
        total += int(mapped) + int(unmapped)
    return total


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--workdir", type=Path, default=None)
    args = ap.parse_args()
    work = args.workdir or Path(tempfile.mkdtemp(prefix="ua_bench_"))
    data = resolve_data_dir(None)
    fasta = data / "reference_grch38" / "panel_genes.GRCh38.fa"
    gtf = data / "transcripts_grch38" / "panel_mane_select.GRCh38.gtf"
    rows = []

    t = time.perf_counter()
    ref = prepare_reference(fasta, gtf, work / "reference",
                            panel_genes=("EGFR KRAS BRAF MET ALK PIK3CA NRAS MAP2K1 TP53 PTEN NF2 STK11 CDK4 RB1 RET "
                                         "CDKN2A MAP2K2").split())
    rows.append(("prepare-reference (sparse 3.1 Gbp GRCh38 + panel + transcript index)", time.perf_counter() - t, ""))

    t = time.perf_counter()
    simulate_cohort(work / "small", seed=1, cohort="small", threads=2)
    dt = time.perf_counter() - t
    nreads = sum(_n_reads(b) for b in (work / "small" / "bams").glob("*.bam"))
    rows.append(("simulate --cohort small (12 BAMs, 2 processes)", dt, f"{nreads / dt:,.0f} reads/s"))

    bam = work / "small" / "bams" / "UNL001-P-PD.bam"
    t = time.perf_counter()
    m = bam_qc(bam, ref.panel_bed, "UNL001-P-PD")
    dt = time.perf_counter() - t
    t = time.perf_counter()
    out = pysam.samtools.depth("-a", "-s", "-b", str(ref.panel_bed), str(bam))
    dt_ref = time.perf_counter() - t
    depths = [int(line.rsplit("\t", 1)[1]) for line in out.splitlines() if line]
    rows.append(("bam_qc, plasma BAM", dt, f"{m['n_reads'] / dt:,.0f} reads/s; mean depth {m['mean_target_depth']:.1f} "
                 f"vs samtools depth -s {sum(depths) / len(depths):.1f}; samtools {dt_ref:.1f} s (ratio {dt / dt_ref:.2f})"))

    t = time.perf_counter()
    build_bwa_index(fasta, work / "bwa" / "reference")
    rows.append(("bwa index of the 36 region contigs (4.5 Mbp)", time.perf_counter() - t, ""))
    simulate_cohort(work / "fq", seed=1, cohort="small", fastq=True, only_samples=["UNL001-N"])
    r1, r2 = work / "fq" / "fastq" / "UNL001-N_R1.fastq.gz", work / "fq" / "fastq" / "UNL001-N_R2.fastq.gz"
    with gzip.open(r1, "rt") as fh:
        pairs = sum(1 for _ in fh) // 4
    t = time.perf_counter()
    align_fastq(r1, r2, work / "bwa" / "reference", work / "aligned.bam", "UNL001-N", threads=2)
    dt = time.perf_counter() - t
    rows.append(("align (bwa mem + lift + fixmate/sort/markdup), normal sample", dt,
                 f"{pairs / dt:,.0f} pairs/s ({pairs:,} pairs)"))

    print("| step | wall s | figure |\n|---|---|---|")
    for name, sec, fig in rows:
        print(f"| {name} | {sec:.1f} | {fig} |")
    print(f"\npeak RSS of the benchmark process: {_peak_mb():,.0f} MB; workdir {work}")


if __name__ == "__main__":
    main()
