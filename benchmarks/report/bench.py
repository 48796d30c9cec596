"""Cohort report benchmark (issue 8): < 30 s for a demo-size atlas, < 2 min for 1,000 patients.

    .venv/bin/python benchmarks/report/bench.py --root /tmp/report_bench --patients 6 1000
    .venv/bin/python benchmarks/report/bench.py --root /tmp/report_bench --atlas ATLAS_DIR   # an existing atlas

For each size, writes a coherent synthetic atlas through the real atlas writer
(benchmarks/report/synth.py: per-patient stage parts -> ``build_atlas``, which computes
cohort_summary), then times ``unlock-atlas report ATLAS -o OUT`` in a FRESH process (imports
count), reporting wall time, the stages' split (read / cohort page / patient pages / PDF), peak
memory (ru_maxrss) and the output size.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
TARGETS = {True: 30.0, False: 120.0}   # demo size (<= 10 patients) / 1,000-patient cohort, seconds


def child(atlas: str, out: str) -> None:
    from unlock_atlas.report import build_report

    print(json.dumps({k: round(v, 2) for k, v in build_report(atlas, out).items()}))


def main() -> None:
    if len(sys.argv) == 4 and sys.argv[1] == "--child":
        child(sys.argv[2], sys.argv[3])
        return
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--root", type=Path, required=True)
    ap.add_argument("--patients", type=int, nargs="+", default=[6, 1000])
    ap.add_argument("--atlas", type=Path, help="time this existing atlas instead (e.g. benchmarks/atlas_load's); "
                    "the report goes to ROOT/report")
    a = ap.parse_args()
    sys.path.insert(0, str(HERE))
    import synth

    runs = []
    if a.atlas:
        import pandas as pd

        runs.append((len(pd.read_parquet(a.atlas / "patients.parquet", columns=["patient_id"])), a.atlas,
                     a.root / "report"))
    else:
        for n in a.patients:
            root = a.root / f"cohort_{n}"
            atlas = root / "results" / "atlas"
            if not (atlas / "manifest.json").is_file():
                t0 = time.perf_counter()
                synth.make_cohort(root, n)
                print(f"synthetic atlas, {n:,} patients: written in {time.perf_counter() - t0:.1f} s")
            runs.append((n, atlas, root / "results" / "report"))
    for n, atlas, out in runs:
        t0 = time.perf_counter()
        proc = subprocess.Popen([sys.executable, __file__, "--child", str(atlas), str(out)], stdout=subprocess.PIPE,
                                text=True)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
        split = json.loads(proc.stdout.read().strip().splitlines()[-1])
        size = sum(f.stat().st_size for f in out.rglob("*") if f.is_file()) / 2**20
        cohort = (out / "cohort_report.html").stat().st_size / 2**20
        target = TARGETS[n <= 10]
        print(f"{n:,} patients: report in {wall:.1f} s wall (fresh process, imports included), "
              f"peak RSS {usage.ru_maxrss / 1024:.0f} MiB; split {split}; output {size:.1f} MiB "
              f"(cohort page {cohort:.2f} MiB, {len(list((out / 'patients').glob('*.html')))} patient pages); "
              f"target < {target:.0f} s: {'holds' if wall < target else 'MISSED'}")


if __name__ == "__main__":
    main()
