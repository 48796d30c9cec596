"""Scale benchmark: DAG construction (``snakemake -n``) and atlas assembly, 100 → 1,000 patients.

    .venv/bin/python benchmarks/scale/bench.py --root /tmp/scale --sizes 100,300,1000 \
        --out /tmp/RESULTS_scale.md   # then merged into benchmarks/RESULTS.md

Measured per cohort size N (N patients × 6 samples, :mod:`cohort`):

* ``validate``: ``unlock-atlas validate`` — config + sheets + every BAM header and index. Every
  Snakemake job re-parses the Snakefile, and ``common.smk`` runs this validation at parse time,
  so this is also the per-job start-up cost on a cluster.
* ``dag``: ``snakemake -n`` of the whole workflow (sheet validation included), wall time and the
  process's peak resident memory.
* ``atlas``: :func:`unlock_atlas.atlas.build.build_atlas` over N patients' synthetic per-patient
  parts of a variant-sized table (``ROWS_PER_SAMPLE`` rows per sample, registered in-process as
  ``bench_variants``), plus the ``patients``/``samples`` tables from synthetic QC metrics. Wall
  time of the build and the process's peak resident memory (imports and sheet loading included,
  so it is an upper bound for the assembly itself).

Peak memory is ``ru_maxrss`` of the measured child process (``os.wait4``), so each figure is one
process's own high-water mark, not the benchmark driver's. Each measurement runs once (the
machine is shared; the figures are indicative, their growth with N is the point).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

sys.path.insert(0, str(Path(__file__).resolve().parent))
from cohort import make_cohort  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
#: Variant-table rows per sample in the synthetic parts: a 17-gene panel with ctDNA calls down to
#: low VAF reports tens of candidate calls per sample; 80 per sample (480 per patient, 480,000
#: rows at 1,000 patients) is a generous size for the largest per-patient atlas table.
ROWS_PER_SAMPLE = 80
TABLE = "bench_variants"


def measure(cmd: list[str], cwd: Path, log: Path) -> dict:
    """Run ``cmd``; wall time, peak RSS (MiB) of that process, exit code."""
    t0 = time.perf_counter()
    with open(log, "w") as fh:
        proc = subprocess.Popen([str(c) for c in cmd], cwd=cwd, stdout=fh, stderr=subprocess.STDOUT)
        _, status, rusage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    return {"wall_s": round(wall, 2), "peak_rss_mib": round(rusage.ru_maxrss / 1024, 1), "rc": proc.returncode}


def bench_schema() -> pa.Schema:
    from unlock_atlas.contract.schema import field_doc

    return pa.schema([
        field_doc("patient_id", pa.string(), "patient (pseudonymised in the atlas)", nullable=False),
        field_doc("sample_id", pa.string(), "sample (pseudonymised in the atlas)", nullable=False),
        field_doc("chrom", pa.string(), "chromosome (GRCh38)"),
        field_doc("pos", pa.int64(), "1-based position (GRCh38)"),
        field_doc("ref", pa.string(), "reference allele"),
        field_doc("alt", pa.string(), "alternate allele"),
        field_doc("gene", pa.string(), "HGNC symbol"),
        field_doc("vaf", pa.float64(), "variant allele fraction", unit="fraction"),
        field_doc("alt_reads", pa.int64(), "reads supporting alt", unit="reads"),
        field_doc("depth", pa.int64(), "deduplicated depth", unit="reads"),
        field_doc("filter", pa.string(), "PASS or failed filters"),
    ])


def register_bench_table() -> None:
    from unlock_atlas.contract import schema

    schema.TABLES[TABLE] = bench_schema()
    schema.SORT_KEYS[TABLE] = ["sample_id", "chrom", "pos"]


def write_parts(parts_dir: Path, run: Path, seed: int = 1) -> int:
    """One synthetic part per patient of ``run`` (raw IDs), via the stage contract's write_part."""
    from unlock_atlas.contract.parts import write_part

    register_bench_table()
    samples = pd.read_csv(run / "config" / "samples.tsv", sep="\t", dtype=str)
    rng = np.random.default_rng(seed)
    genes = ["EGFR", "KRAS", "BRAF", "MET", "TP53", "PIK3CA"]
    out = parts_dir / TABLE
    n = 0
    for pid, grp in samples.groupby("patient_id", sort=True):
        path = out / f"{pid}.parquet"
        if path.exists():
            continue
        k = ROWS_PER_SAMPLE * len(grp)
        depth = rng.integers(100, 3000, k)
        vaf = rng.beta(0.5, 20, k)
        df = pd.DataFrame({
            "patient_id": pid, "sample_id": np.repeat(grp["sample_id"].to_numpy(), ROWS_PER_SAMPLE),
            "chrom": "chr7", "pos": rng.integers(55_019_017, 55_211_628, k),
            "ref": rng.choice(list("ACGT"), k), "alt": rng.choice(list("ACGT"), k),
            "gene": rng.choice(genes, k), "vaf": vaf, "alt_reads": (vaf * depth).astype(int),
            "depth": depth, "filter": np.where(vaf > 0.005, "PASS", "low_vaf")})
        write_part(df, TABLE, path)
        n += 1
    return n


def child_atlas(run: Path, parts_dir: Path, out: Path) -> None:
    """In a fresh process: load the sheets (no file checks), build the atlas, print timings."""
    from unlock_atlas.atlas.build import build_atlas
    from unlock_atlas.inputs import load_run

    register_bench_table()
    os.environ.setdefault("UNLOCK_ATLAS_KEY", "5e" * 32)
    r = load_run(run / "config" / "config.yaml", run, check_files=False)
    qc = {s: {"mean_target_depth": 600.0, "median_target_depth": 590.0, "on_target_fraction": 0.6,
              "duplicate_rate": 0.1, "insert_size_median": 167.0, "n_reads": 1_000_000,
              "zero_coverage_targets": 0, "n_targets": 300} for s in r.samples["sample_id"]}
    t0 = time.perf_counter()
    build_atlas(r.patients, r.samples, qc, out / "atlas", out / "private", reference_build="GRCh38",
                config_hash="bench", qc_thresholds={}, parts_dir=parts_dir)
    build_s = time.perf_counter() - t0
    manifest = json.loads((out / "atlas" / "manifest.json").read_text())
    print(json.dumps({"build_s": round(build_s, 2), "row_counts": manifest["row_counts"]}))


def bench_size(root: Path, run: Path, n: int, parts_dir: Path) -> dict:
    logs = root / "logs"
    logs.mkdir(exist_ok=True)
    res: dict = {"patients": n, "samples": 6 * n}
    res["validate"] = measure([BIN / "unlock-atlas", "validate", "--config", "config/config.yaml"], run,
                              logs / f"validate_{n}.log")
    shutil.rmtree(run / ".snakemake", ignore_errors=True)
    res["dag"] = measure([BIN / "snakemake", "-n", "-s", REPO / "Snakefile", "--directory", run,
                          "--configfile", run / "config" / "config.yaml", "--cores", "1"], run, logs / f"dag_{n}.log")
    text = (logs / f"dag_{n}.log").read_text()
    res["dag"]["qc_jobs"] = next((int(line.split()[1]) for line in text.splitlines()
                                  if line.split()[:1] == ["qc"] and len(line.split()) == 2), None)
    out = root / f"atlas_{n}"
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir()
    res["atlas"] = measure([sys.executable, __file__, "--child-atlas", run, parts_dir, out], run, logs / f"atlas_{n}.log")
    last = (logs / f"atlas_{n}.log").read_text().strip().splitlines()[-1]
    res["atlas"].update(json.loads(last) if last.startswith("{") else {"error": last})
    res["atlas"]["out_mib"] = round(sum(f.stat().st_size for f in (out / "atlas").glob("*")) / 2**20, 1) \
        if (out / "atlas").is_dir() else None
    return res


def markdown(results: list[dict], cmd: str) -> str:
    lines = ["# Scale benchmark (issue 9)", "",
             f"Command: `{cmd}`", "",
             "Machine: shared 2-core Debian 12 VM (other sessions running); single runs, indicative.",
             "Synthetic cohort: N patients × 6 samples, header-only indexed GRCh38 BAMs "
             "(benchmarks/scale/cohort.py); atlas parts: "
             f"{ROWS_PER_SAMPLE} variant rows per sample (benchmarks/scale/bench.py).", "",
             "| patients | samples | validate s | validate MiB | `snakemake -n` s | `-n` peak MiB | qc jobs "
             "| atlas build s | atlas process peak MiB | atlas rows (bench_variants) | atlas MiB |",
             "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in results:
        v, d, a = r["validate"], r["dag"], r["atlas"]
        lines.append(f"| {r['patients']:,} | {r['samples']:,} | {v['wall_s']} | {v['peak_rss_mib']} | {d['wall_s']} "
                     f"| {d['peak_rss_mib']} | {d.get('qc_jobs')} | {a.get('build_s')} | {a['peak_rss_mib']} "
                     f"| {a.get('row_counts', {}).get(TABLE, '?'):,} | {a.get('out_mib')} |")
    if len(results) >= 2:
        lo, hi = results[0], results[-1]
        f = hi["patients"] / lo["patients"]
        lines += ["", f"Growth {lo['patients']:,} → {hi['patients']:,} patients (×{f:g}): "
                  f"`snakemake -n` time ×{hi['dag']['wall_s'] / lo['dag']['wall_s']:.1f}, "
                  f"memory ×{hi['dag']['peak_rss_mib'] / lo['dag']['peak_rss_mib']:.1f}; "
                  f"atlas build time ×{hi['atlas']['build_s'] / lo['atlas']['build_s']:.1f}, "
                  f"process memory ×{hi['atlas']['peak_rss_mib'] / lo['atlas']['peak_rss_mib']:.1f}; "
                  f"validation ×{hi['validate']['wall_s'] / lo['validate']['wall_s']:.1f}."]
    return "\n".join(lines) + "\n"


def main() -> None:
    if len(sys.argv) == 5 and sys.argv[1] == "--child-atlas":
        child_atlas(Path(sys.argv[2]), Path(sys.argv[3]), Path(sys.argv[4]))
        return
    ap = argparse.ArgumentParser(description="scale benchmark (issue 9)")
    ap.add_argument("--root", type=Path, required=True, help="work directory (BAMs, runs, parts)")
    ap.add_argument("--sizes", default="100,300,1000")
    ap.add_argument("--out", type=Path, help="write the Markdown results here")
    a = ap.parse_args()
    sizes = sorted(int(x) for x in a.sizes.split(","))
    runs = make_cohort(a.root, sizes)
    parts_dir = a.root / "parts"
    write_parts(parts_dir, runs[sizes[-1]])
    results = []
    for n in sizes:
        results.append(bench_size(a.root, runs[n], n, parts_dir))
        print(json.dumps(results[-1]), flush=True)
    md = markdown(results, " ".join(["python", "benchmarks/scale/bench.py", *sys.argv[1:]]))
    print(md)
    if a.out:
        a.out.write_text(md)


if __name__ == "__main__":
    main()
