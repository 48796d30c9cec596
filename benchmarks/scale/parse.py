"""Workflow planning time with every rule wired: parse phase and whole dry run, N patients × 6 samples.

    .venv/bin/python benchmarks/scale/parse.py --root /tmp/plan --sizes 1000,10000 --dry-run-sizes 1000

The cohorts are the ones ``tests/test_planning.py`` times (samples given as empty FASTQ pairs, so
sheet validation checks that files exist without reading BAM headers; the BAM-header cost is
measured by ``bench.py``). For each size: ``snakemake --list-rules`` (Snakefile, rule files, sheet
loading: the parse phase every cluster job repeats) and, for ``--dry-run-sizes``, ``snakemake -n``
(the whole DAG). Wall time and the child's peak RSS (``os.wait4``); single runs.
``--snakefile`` times another checkout's workflow on the same cohorts (before/after comparisons).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench import BIN, measure  # noqa: E402
from test_planning import _cohort  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--root", type=Path, required=True)
    ap.add_argument("--sizes", default="1000,10000")
    ap.add_argument("--dry-run-sizes", default="", help="sizes to also run `snakemake -n` on (slow)")
    ap.add_argument("--snakefile", type=Path, default=REPO / "Snakefile")
    a = ap.parse_args()
    fastqs = a.root / "fq"
    fastqs.mkdir(parents=True, exist_ok=True)
    dry = {int(x) for x in a.dry_run_sizes.split(",") if x}
    print("| patients | parse (`--list-rules`) s | parse MiB | `snakemake -n` s | `-n` MiB | jobs |")
    print("|---:|---:|---:|---:|---:|---:|")
    for n in sorted(int(x) for x in a.sizes.split(",")):
        run = a.root / f"n{n}"
        if not (run / "config").exists():
            _cohort(a.root, n, fastqs)
        base = [BIN / "snakemake", "-s", a.snakefile, "--directory", run, "--configfile", run / "config" / "config.yaml"]
        p = measure([*base, "--list-rules"], a.root, a.root / f"parse_{n}.log")
        row = [f"{n:,}", p["wall_s"], p["peak_rss_mib"], "", "", ""]
        if n in dry:
            d = measure([*base, "-n", "--cores", "1"], a.root, a.root / f"dry_{n}.log")
            jobs = next((ln.split()[1] for ln in (a.root / f"dry_{n}.log").read_text().splitlines()
                         if ln.split()[:1] == ["total"]), "?")
            row[3:] = [d["wall_s"], d["peak_rss_mib"], jobs]
        print("| " + " | ".join(str(x) for x in row) + " |", flush=True)


if __name__ == "__main__":
    main()
