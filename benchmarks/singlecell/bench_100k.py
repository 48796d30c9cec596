"""100,000-cell single-cell benchmark (issue 7 Must-show: < 10 min and < 12 GB on 2 cores).

Times each per-sample step on one simulated biopsy; copy-number inference is timed separately.
Run:  /usr/bin/time -v python benchmarks/singlecell/bench_100k.py [N_CELLS] [N_GENES]
(peak memory = "Maximum resident set size" of /usr/bin/time). Prints one line per step.
"""

from __future__ import annotations

import os
import resource
import sys
import time

os.environ.setdefault("OMP_NUM_THREADS", "2")
os.environ.setdefault("NUMBA_NUM_THREADS", "2")

from unlock_atlas.singlecell.gene_sets import load_markers, load_programmes  # noqa: E402
from unlock_atlas.singlecell.malignant import call_malignant  # noqa: E402
from unlock_atlas.singlecell.preprocess import detect_input, embed, qc_and_normalise, to_working  # noqa: E402
from unlock_atlas.singlecell.scoring import annotate_cell_types, score_programmes  # noqa: E402
from unlock_atlas.singlecell.simulate import simulate_sample  # noqa: E402


def _rss_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 ** 2


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    g = int(sys.argv[2]) if len(sys.argv) > 2 else 5000
    t0 = time.perf_counter()
    raw = simulate_sample(n, seed=1, patient_seed=1, timepoint="progression", n_genes=g)
    print(f"simulate {n} cells x {g} genes: {time.perf_counter() - t0:.1f} s (not part of the budget)", flush=True)
    start = time.perf_counter()
    steps = {}

    def step(name, fn):
        t = time.perf_counter()
        fn()
        steps[name] = time.perf_counter() - t
        print(f"{name}: {steps[name]:.1f} s (peak RSS so far {_rss_gb():.2f} GB)", flush=True)

    kind = detect_input(raw)
    ad = to_working(raw, kind)
    del raw
    step("qc+scrublet+normalise", lambda: qc_and_normalise(ad, kind, 0))
    step("hvg+pca+neighbours+leiden+umap", lambda: embed(ad, 0))
    step("marker annotation", lambda: annotate_cell_types(ad, load_markers()))
    step("programme scores", lambda: score_programmes(ad, load_programmes(), 0))
    total = time.perf_counter() - start
    print(f"TOTAL per-sample pipeline (without CNV): {total:.1f} s; peak RSS {_rss_gb():.2f} GB", flush=True)
    step("copy-number inference + malignant calls (separate)", lambda: call_malignant(ad, 0))
    print(f"cells after QC: {ad.n_obs}; malignant: {int(ad.obs['malignant'].sum())}; peak RSS {_rss_gb():.2f} GB")


if __name__ == "__main__":
    main()
