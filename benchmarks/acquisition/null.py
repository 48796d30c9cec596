"""How often is an alteration called ``acquired``, by its true baseline CCF and the baseline's depth
(issue 18 deliverable 2). Seeded count-level simulation, two baseline samples (tissue + plasma).

Per simulation: baseline ALT fragments ~ Binomial(depth, CCF x tumour content / 2 + 5e-4 background);
the plasma tumour fraction is estimated as the pipeline does (2 x pooled VAF of three truncal
heterozygous variants at the sample's depth, lower Wilson bound for the baseline bound); a progression
tissue sample (400 fragments, purity 0.5) carries the alteration at 60 % CCF.

Rules compared:
* ``new``: classify.acquisition — acquired iff P(pooled baseline ALT <= observed | CCF 0.5 %) < 0.05,
  background ignored (the pipeline's default) or known (``new, e known``);
* ``product at threshold``: the right null (background known) but the per-sample probabilities multiplied
  instead of the joint distribution of the pooled count — a product of p-values is not a p-value
  (compare with ``new, e known``);
* ``old``: the rule this replaces — acquired iff prod_b P(X_b <= alt_b | Binomial(depth_b, c x tc_b / 2))
  < 0.05 with c the progression CCF at its lower 95 % bound (the null "present at its progression level").

Usage: python benchmarks/acquisition/null.py [--sims 2000] [--seed 18] [--threshold 0.005]
(--threshold 0.01 shows what the issue's example 1 % threshold would do to a 0.5 % subclone)
"""

from __future__ import annotations

import argparse

import numpy as np
from scipy.stats import binom

from unlock_atlas.classify.acquisition import ACQUIRED_MAX_CCF, ALPHA, variant_p_at
from unlock_atlas.domain import wilson

ERROR = 5e-4
#: name -> (tissue fragments, purity, plasma fragments, plasma TF); "demo" = resources/demo_cohort.yaml depths
#: after duplicates (500 x 0.92, 1500 x 0.85) at a typical demo purity / baseline TF
SETTINGS = {"demo": (460, 0.5, 1275, 0.10), "clinical": (600, 0.4, 2000, 0.10), "deep": (1000, 0.6, 3000, 0.20),
            "very deep": (2000, 0.8, 10000, 0.40)}
CCFS = [0.0, 0.003, 0.005, 0.01, 0.02, 0.05]


def run(sims: int, seed: int, threshold: float = ACQUIRED_MAX_CCF) -> list[str]:
    rng = np.random.default_rng(seed)
    out = ["| baseline (tissue frags @ purity + plasma frags @ TF; sum d·tc/2) | true baseline CCF | acquired: new "
           "| new, e known | product at threshold | old rule |", "|---|---|---|---|---|---|"]
    for name, (dt, pur, dp, tf) in SETTINGS.items():
        lam = dt * pur / 2 + dp * tf / 2
        for ccf in CCFS:
            n_new = n_known = n_old = n_prod = 0
            for _ in range(sims):
                alt = [rng.binomial(dt, ccf * pur / 2 + ERROR), rng.binomial(dp, ccf * tf / 2 + ERROR)]
                truncal = rng.binomial(3 * dp, tf / 2)
                tf_hat, tf_low = 2 * truncal / (3 * dp), 2 * float(wilson(truncal, 3 * dp)[0])
                tc = [pur, tf_low]
                n_new += variant_p_at(threshold, alt, [dt, dp], tc) < ALPHA
                n_known += variant_p_at(threshold, alt, [dt, dp], tc, [ERROR, ERROR]) < ALPHA
                n_prod += (binom.cdf(alt[0], dt, threshold * pur / 2 + ERROR)
                           * binom.cdf(alt[1], dp, threshold * tf_low / 2 + ERROR)) < ALPHA
                prog = rng.binomial(400, 0.6 * 0.5 / 2 + ERROR)
                ref = 2 * float(wilson(prog, 400)[0]) / 0.5
                p_old = binom.cdf(alt[0], dt, min(0.5, ref * pur / 2)) * binom.cdf(alt[1], dp, min(0.5, ref * tf_hat / 2))
                n_old += p_old < ALPHA
            out.append(f"| {name}: {dt} @ {pur} + {dp} @ {tf}; {lam:.0f} | {ccf:.1%} | {n_new / sims:.3f} "
                       f"| {n_known / sims:.3f} | {n_prod / sims:.3f} | {n_old / sims:.3f} |")
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sims", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=18)
    ap.add_argument("--threshold", type=float, default=ACQUIRED_MAX_CCF)
    a = ap.parse_args()
    print(f"{a.sims} simulations per row, seed {a.seed}, threshold {a.threshold:.1%}, alpha {ALPHA}")
    print("\n".join(run(a.sims, a.seed, a.threshold)))


if __name__ == "__main__":
    main()
