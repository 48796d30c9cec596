"""Scale benchmark: planning the whole workflow (``snakemake -n``), job start-up and atlas assembly.

    .venv/bin/python benchmarks/scale/bench.py --root /tmp/scale --sizes 100,1000,10000 --skip-atlas \
        --out /tmp/RESULTS_scale.md   # then merged into benchmarks/RESULTS.md
    ... --snakefile OTHER/Snakefile   # another checkout's workflow on the same cohorts (before/after)

Measured per cohort size N (N patients × 6 samples with header-only indexed BAMs, :mod:`cohort`):

* ``validate``: ``unlock-atlas validate`` — config + sheets + every BAM header and index (what
  the main Snakemake process checks before scheduling anything).
* ``dag``: ``snakemake -n`` of the whole workflow (every rule wired; sheet validation included):
  wall time, CPU time, the process's peak resident memory, jobs in all and per patient (jobs of
  rules that run fewer than N times are cohort-level; the rest divided by N).
* ``startup``: one job process as a cluster node starts it (``snakemake --mode remote
  --target-jobs prepare_reference: -n``, after the main process of ``dag`` ran): Snakefile parse
  + run loading + a one-job DAG. ``load``: the run loading alone in a fresh process (import +
  ``load_run(check_files=False)``, and ``load_run_cached`` finding the main process's run).
* ``atlas`` (unless ``--skip-atlas``): :func:`unlock_atlas.atlas.build.build_atlas` over N
  patients' synthetic per-patient parts of a variant-sized table (``ROWS_PER_SAMPLE`` rows per
  sample, registered in-process as ``bench_variants``), plus the ``patients``/``samples`` tables
  from synthetic QC metrics. Wall time of the build and the process's peak resident memory.

Peak memory is ``ru_maxrss`` of the measured child process (``os.wait4``) and CPU time its
``ru_utime + ru_stime``, so each figure is one process's own. On a shared machine CPU time is the
steadier figure; wall time also holds waits (e.g. Snakemake's SLURM plugin runs ``scontrol show
config`` at start-up, 9 s on a machine with the SLURM client and no reachable controller).
Each measurement runs once (indicative; the growth with N is the point).
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
    return {"wall_s": round(wall, 2), "cpu_s": round(rusage.ru_utime + rusage.ru_stime, 2),
            "peak_rss_mib": round(rusage.ru_maxrss / 1024, 1), "rc": proc.returncode}


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


def child_load(run: Path) -> None:
    """In a fresh process: how long a job process spends loading the run (import included)."""
    t0 = time.perf_counter()
    from unlock_atlas.inputs import load_run

    t_import = time.perf_counter() - t0
    import yaml

    config = yaml.safe_load((run / "config" / "config.yaml").read_text())
    t0 = time.perf_counter()
    load_run(config, run, check_files=False)
    res = {"import_s": round(t_import, 2), "validate_s": round(time.perf_counter() - t0, 2)}
    try:
        from unlock_atlas.inputs.cache import load_run_cached, run_cache_key
    except ImportError:  # a checkout without the cache
        print(json.dumps(res))
        return
    cached = run / "results" / "private" / f"run.{run_cache_key(config, run)}.pickle"
    t0 = time.perf_counter()
    load_run_cached(config, run, "results/private", check_files=False)
    res.update(cached_s=round(time.perf_counter() - t0, 3), cache_hit=cached.is_file())
    print(json.dumps(res))


def job_counts(text: str) -> dict[str, int]:
    """The ``Job stats`` table of a dry run's output: rule -> count (``total`` included)."""
    lines = text[text.index("Job stats:"):].splitlines()[3:] if "Job stats:" in text else []
    counts = {}
    for line in lines:
        f = line.split()
        if len(f) != 2 or not f[1].isdigit():
            break
        counts[f[0]] = int(f[1])
    return counts


def bench_size(root: Path, run: Path, n: int, parts_dir: Path, snakefile: Path, atlas: bool = True) -> dict:
    logs = root / "logs"
    logs.mkdir(exist_ok=True)
    res: dict = {"patients": n, "samples": 6 * n}
    res["validate"] = measure([BIN / "unlock-atlas", "validate", "--config", "config/config.yaml"], run,
                              logs / f"validate_{n}.log")
    shutil.rmtree(run / ".snakemake", ignore_errors=True)
    shutil.rmtree(run / "results", ignore_errors=True)
    base = [BIN / "snakemake", "-s", snakefile, "--directory", run, "--configfile", run / "config" / "config.yaml"]
    res["dag"] = measure([*base, "-n", "--cores", "1"], run, logs / f"dag_{n}.log")
    counts = job_counts((logs / f"dag_{n}.log").read_text())
    total = counts.pop("total", None)
    res["dag"]["jobs"] = total
    res["dag"]["jobs_per_patient"] = round(sum(v for v in counts.values() if v >= n) / n, 1) if counts else None
    res["startup"] = measure([*base, "--mode", "remote", "--target-jobs", "prepare_reference:", "-n", "--cores", "1"],
                             run, logs / f"startup_{n}.log")
    res["load"] = measure([sys.executable, __file__, "--child-load", run], run, logs / f"load_{n}.log")
    last = (logs / f"load_{n}.log").read_text().strip().splitlines()[-1]
    res["load"].update(json.loads(last) if last.startswith("{") else {"error": last})
    if not atlas:
        return res
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
    lines = ["# Scale benchmark (issues 9, 25)", "",
             f"Command: `{cmd}`", "",
             "Synthetic cohort: N patients × 6 samples, header-only indexed GRCh38 BAMs "
             "(benchmarks/scale/cohort.py). CPU = user + system time of the process.", "",
             "| patients | samples | validate s | `-n` wall s | `-n` CPU s | `-n` peak MiB | jobs | jobs/patient "
             "| job start-up wall s | start-up CPU s | start-up MiB | run load: validate s | run load: cached s |",
             "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in results:
        v, d, st, ld = r["validate"], r["dag"], r["startup"], r["load"]
        lines.append(f"| {r['patients']:,} | {r['samples']:,} | {v['wall_s']} | {d['wall_s']} | {d['cpu_s']} "
                     f"| {d['peak_rss_mib']} | {d.get('jobs')} | {d.get('jobs_per_patient')} | {st['wall_s']} "
                     f"| {st['cpu_s']} | {st['peak_rss_mib']} | {ld.get('validate_s')} | {ld.get('cached_s', '–')} |")
    with_atlas = [r for r in results if "atlas" in r]
    if with_atlas:
        lines += ["", "| patients | atlas build s | atlas process peak MiB | atlas rows (bench_variants) | atlas MiB |",
                  "|---:|---:|---:|---:|---:|"]
        for r in with_atlas:
            a = r["atlas"]
            lines.append(f"| {r['patients']:,} | {a.get('build_s')} | {a['peak_rss_mib']} "
                         f"| {a.get('row_counts', {}).get(TABLE, '?'):,} | {a.get('out_mib')} |")
    if len(results) >= 2:
        lo, hi = results[0], results[-1]
        f = hi["patients"] / lo["patients"]
        lines += ["", f"Growth {lo['patients']:,} → {hi['patients']:,} patients (×{f:g}): "
                  f"`snakemake -n` CPU ×{hi['dag']['cpu_s'] / lo['dag']['cpu_s']:.1f}, "
                  f"memory ×{hi['dag']['peak_rss_mib'] / lo['dag']['peak_rss_mib']:.1f}; "
                  f"job start-up CPU ×{hi['startup']['cpu_s'] / lo['startup']['cpu_s']:.1f}."]
    return "\n".join(lines) + "\n"


def main() -> None:
    if len(sys.argv) == 5 and sys.argv[1] == "--child-atlas":
        child_atlas(Path(sys.argv[2]), Path(sys.argv[3]), Path(sys.argv[4]))
        return
    if len(sys.argv) == 3 and sys.argv[1] == "--child-load":
        child_load(Path(sys.argv[2]))
        return
    ap = argparse.ArgumentParser(description="scale benchmark (issues 9, 25)")
    ap.add_argument("--root", type=Path, required=True, help="work directory (BAMs, runs, parts)")
    ap.add_argument("--sizes", default="100,1000")
    ap.add_argument("--snakefile", type=Path, default=REPO / "Snakefile", help="the workflow to plan")
    ap.add_argument("--skip-atlas", action="store_true", help="do not time the atlas assembly")
    ap.add_argument("--out", type=Path, help="write the Markdown results here")
    a = ap.parse_args()
    sizes = sorted(int(x) for x in a.sizes.split(","))
    runs = make_cohort(a.root, sizes)
    parts_dir = a.root / "parts"
    if not a.skip_atlas:
        write_parts(parts_dir, runs[sizes[-1]])
    results = []
    for n in sizes:
        results.append(bench_size(a.root, runs[n], n, parts_dir, a.snakefile.resolve(), atlas=not a.skip_atlas))
        print(json.dumps(results[-1]), flush=True)
    md = markdown(results, " ".join(["python", "benchmarks/scale/bench.py", *sys.argv[1:]]))
    print(md)
    if a.out:
        a.out.write_text(md)


if __name__ == "__main__":
    main()
