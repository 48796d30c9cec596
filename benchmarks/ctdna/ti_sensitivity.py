"""Sensitivity of the tumour-informed tests, count-level (issue 17, Must-show).

Usage::

    nice -n 10 .venv/bin/python benchmarks/ctdna/ti_sensitivity.py [--fp /tmp/ti-bench/ti_fp.json]
        [--seeds 5] [--draws 400]

1. **Aggregated ctDNA detection** at tumour fractions 1e-4, 3e-4, 1e-3 with 20 and 50 truncal
   (clonal heterozygous) variants at 2,000 fragments each. A variant's alt count is
   Binomial(2,000, mu_i + (1 - mu_i) TF / 2), its background (mu_i, rho_i) drawn from the site
   backgrounds measured by ``ti_false_positives.py`` on the simulator's plasma (the caller's
   panel-of-normals model; without that file: mu 9.1e-5, the demo's measured class prior, and the
   prior's rho). Each seed draws a new site set; ``--draws`` samples per seed. Detected when the
   exact aggregated p-value (``model.betabinom_sum_sf``) is <= alpha (0.01). Beside it the
   **binomial oracle**: a test that knows every site's error rate exactly (no estimation, no
   overdispersion) with the same statistic, the pooled count - the most a pooled-count test can
   reach at that alpha: its critical count ``t*`` is the smallest t with
   ``P(sum Bin(n, mu_i) >= t) <= alpha``, its power ``P(sum Bin(n, q_i) >= t*)``, both exact.
   (The truth here has no overdispersion, so the caller's test, which allows for rho, can only
   be at or below the oracle.)
2. **Per-variant detectability at the planted C797S site**: UNL001's on-treatment plasma depth and
   the site's background as measured (``ti_fp.json``); alt counts Binomial(depth, mu + (1 - mu) v)
   for expected alt molecules ``depth x v`` = 1..6; detection rate of the tumour-informed test
   over ``--seeds`` seeds, beside the exact power.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from scipy import stats

from unlock_atlas.calling import model
from unlock_atlas.classify.acquisition import sum_binomial_cdf

TFS = (1e-4, 3e-4, 1e-3)
SIZES = (20, 50)
DEPTH = 2000
ALPHA = model.TI_ALPHA
PRIOR_MU = 9.1e-5   # the demo's class priors (logs/calling: 8.9-9.5e-5 per substitution)


def oracle_power(n: np.ndarray, mu: np.ndarray, q: np.ndarray, alpha: float) -> tuple[int, float]:
    """Critical pooled count and exact power of the binomial oracle (module docstring)."""
    t = 0
    while 1.0 - (sum_binomial_cdf(t - 1, n, mu) if t > 0 else 0.0) > alpha:
        t += 1
    return t, 1.0 - sum_binomial_cdf(t - 1, n, q)


def aggregated(backgrounds: np.ndarray, seeds: int, draws: int) -> list[dict]:
    rows = []
    for m in SIZES:
        for tf in TFS:
            det, orc, fp, fp_orc = [], [], [], []
            for seed in range(seeds):
                rng = np.random.default_rng(1000 * m + seed)
                bg = backgrounds[rng.choice(len(backgrounds), size=m, replace=True)]
                mu, rho = bg[:, 0], bg[:, 1]
                n = np.full(m, DEPTH)
                q = mu + (1 - mu) * tf / 2
                memo: dict[int, float] = {}
                for truth, acc in ((q, det), (mu, fp)):
                    ts = rng.binomial(n, truth, size=(draws, m)).sum(axis=1)
                    for t in np.unique(ts):
                        memo.setdefault(int(t), model.betabinom_sum_sf(int(t), n, mu, rho))
                    acc.append(float(np.mean([memo[int(t)] <= ALPHA for t in ts])))
                t_star, power = oracle_power(n, mu, q, ALPHA)
                orc.append(power)
                fp_orc.append(1.0 - sum_binomial_cdf(t_star - 1, n, mu))
            rows.append(dict(variants=m, tf=tf, expected_alt=float(m * DEPTH * tf / 2),
                             sensitivity=float(np.mean(det)), sd_over_seeds=float(np.std(det)),
                             oracle=float(np.mean(orc)), fp=float(np.mean(fp)), fp_oracle=float(np.mean(fp_orc))))
    return rows


def detectability(depth: int, mu: float, rho: float, seeds: int, draws: int) -> list[dict]:
    rows = []
    for lam in (1, 2, 3, 4, 4.5, 5, 6):
        v = lam / depth
        q = mu + (1 - mu) * v
        kmin = next(k for k in range(1, depth) if np.exp(model.betabinom_logsf(k, depth, mu, rho)) <= ALPHA)
        rates = []
        for seed in range(seeds):
            ks = np.random.default_rng(seed).binomial(depth, q, size=draws)
            rates.append(float(np.mean([model.ti_status(int(k), depth, float(np.exp(model.betabinom_logsf(int(k), depth,
                                                                                                          mu, rho))))
                                        == "detected_tumour_informed" for k in ks])))
        rows.append(dict(expected_alt=lam, vaf=v, k_min=kmin, rate=float(np.mean(rates)), min_over_seeds=min(rates),
                         exact=float(stats.binom.sf(kmin - 1, depth, q))))
    return rows


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--fp", type=Path, default=Path("/tmp/ti-bench/ti_fp.json"))
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--draws", type=int, default=400)
    a = ap.parse_args(argv)
    fp = json.loads(a.fp.read_text()) if a.fp.exists() else {}
    if fp:
        bgs = np.array(fp["backgrounds"], float)
        print(f"site backgrounds: {len(bgs)} measured (median mu {np.median(bgs[:, 0]):.2e}, median rho "
              f"{np.median(bgs[:, 1]):.2e}) from {a.fp}")
    else:
        bgs = np.array([[PRIOR_MU, 1 / (2000 + 2000 + 1)]])
        print(f"no {a.fp}: every site at mu {PRIOR_MU:.1e}")
    print(f"\nAggregated ctDNA detection at {DEPTH} fragments per variant, alpha {ALPHA}, {a.seeds} seeds x "
          f"{a.draws} draws")
    print("variants | TF | expected ctDNA alt fragments | sensitivity (sd over seeds) | binomial oracle | "
          "FP rate at TF 0 | oracle FP rate")
    for r in aggregated(bgs, a.seeds, a.draws):
        print(f"{r['variants']} | {r['tf']:.0e} | {r['expected_alt']:.0f} | {r['sensitivity']:.3f} "
              f"({r['sd_over_seeds']:.3f}) | {r['oracle']:.3f} | {r['fp']:.4f} | {r['fp_oracle']:.4f}")
    site = (fp.get("c797s") or {}).get("UNL001-P-OT")
    depth, mu, rho = (site["depth"], site["mu"], site["rho"]) if site else (760, PRIOR_MU, 1 / 4001)
    print(f"\nPer-variant tumour-informed detection at the EGFR C797S site of UNL001's on-treatment plasma "
          f"({depth} fragments, background mu {mu:.2e}, rho {rho:.2e}{'' if site else ': defaults'}), alpha {ALPHA}, "
          f"{a.seeds} seeds x 2,000 draws")
    print("expected alt molecules | VAF | fragments needed | detected (mean over seeds) | lowest seed | exact")
    for r in detectability(int(depth), float(mu), float(rho), a.seeds, 2000):
        print(f"{r['expected_alt']} | {r['vaf']:.4f} | {r['k_min']} | {r['rate']:.3f} | {r['min_over_seeds']:.3f} | "
              f"{r['exact']:.3f}")
    print("\nThe same site background at 2,000 fragments:")
    for r in detectability(DEPTH, float(mu), float(rho), a.seeds, 2000):
        print(f"{r['expected_alt']} | {r['vaf']:.5f} | {r['k_min']} | {r['rate']:.3f} | {r['min_over_seeds']:.3f} | "
              f"{r['exact']:.3f}")


if __name__ == "__main__":
    main()
