"""False-positive control of the tumour-informed tests on variant-free plasma (issue 17, Must-show).

Usage::

    nice -n 10 .venv/bin/python benchmarks/ctdna/ti_false_positives.py [--sim DIR] [--reference DIR]
        [--sites 1000] [--work /tmp/ti-bench] [--seed 17]

Data: the project simulator's demo cohort (seed 1), read from the simulation cache
(``~/.cache/unlock-atlas/sim/demo-seed1-bam-*``: ``bams/``, ``truth/``) - NOT the art_illumina
plasma of benchmarks/calling/false_positives.py, whose chunk cache was gone and whose tools
(art_illumina, bwa, samtools) are not installed on this machine. Each patient's three plasma
samples (~730-2,100 deduplicated fragments per site) and white-cell normal are counted with the
caller's counting (``count_sample`` over the prepared panel BED); every panel position farther than
10 bp from any planted variant of the cohort (truth/variants.tsv: somatic, germline, CH) carries
no variant, so every alt fragment there is a sequencing or simulation error.

Test: per patient, ``--sites`` random "known" sites (position with >= 20 fragments in every
plasma sample, one of the three non-reference bases, seeded) are tested in each plasma sample
exactly as the caller tests a known variant: class priors from the patient's samples, a panel of
normals from the cohort's white-cell normals (the workflow's default, ``pon_run_normals``), the
matched normal's counts (``pon.allele_background``), p = beta-binomial tail
(``model.betabinom_logsf``), ``model.ti_status`` at ``ti_alpha``. Reported: detection rate with
its Wilson 95 % interval beside alpha, and the rate the background model itself predicts (the
attained level of the discrete test at each site, averaged) - for alpha 0.01 (the default) and 0.05.
The aggregated per-sample test (``model.betabinom_sum_sf``) is run on disjoint groups of 20 and
50 of those sites (variant-free "truncal sets").

Writes ``WORK/ti_fp.json`` (figures + every site's background and depth, which
``ti_sensitivity.py`` samples from, + the EGFR C797S site's background in UNL001's plasma).
"""

from __future__ import annotations

import argparse
import json
import pickle
import time
from pathlib import Path

import numpy as np
import pandas as pd

from unlock_atlas.calling import genotype, model, pon
from unlock_atlas.calling.caller import read_panel
from unlock_atlas.calling.pileup import count_sample
from unlock_atlas.domain import wilson

C797S = ("chr7", 55181398, "T", "A")
ALPHAS = (0.01, 0.05)
MASK = 10


def default_sim() -> Path | None:
    root = Path.home() / ".cache" / "unlock-atlas" / "sim"
    hits = sorted(root.glob("demo-seed1-bam-*"))
    return hits[0] if hits else None


def counted(sim: Path, ref: Path, intervals: list, sid: str, work: Path):
    """Fragment counts of one sample, cached in WORK (counting is the slow part)."""
    f = work / f"{sid}.counts.pkl"
    if f.exists():
        with open(f, "rb") as fh:
            return pickle.load(fh)
    sc = count_sample(sim / "bams" / f"{sid}.bam", ref / "genome.fa.gz", intervals, sid)
    tmp = f.with_suffix(".tmp")
    with open(tmp, "wb") as fh:
        pickle.dump(sc, fh, protocol=pickle.HIGHEST_PROTOCOL)
    tmp.replace(f)     # a killed run never leaves a truncated cache file
    return sc


def attained(n: int, mu: float, rho: float, alpha: float) -> float:
    """P(p-value <= alpha) under the site's own background: the tail at the smallest significant count."""
    k = 1
    while k <= n:
        lp = model.betabinom_logsf(k, n, mu, rho)
        if np.exp(lp) <= alpha:
            return float(np.exp(lp))
        k += 1
    return 0.0


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sim", type=Path, default=default_sim(), help="simulated demo cohort (bams/, truth/)")
    ap.add_argument("--reference", type=Path, default=Path("/tmp/basedemo/results/reference"),
                    help="a demo run's results/reference (panel.bed, genome.fa.gz) from `unlock-atlas prepare-reference`")
    ap.add_argument("--sites", type=int, default=1000, help="random known sites per patient")
    ap.add_argument("--work", type=Path, default=Path("/tmp/ti-bench"))
    ap.add_argument("--seed", type=int, default=17)
    a = ap.parse_args(argv)
    a.work.mkdir(parents=True, exist_ok=True)
    truth = pd.read_csv(a.sim / "truth" / "variants.tsv", sep="\t")
    samples = pd.read_csv(a.sim / "config" / "samples.tsv", sep="\t")
    intervals = read_panel(a.reference / "panel.bed")
    masked = {(c, p) for c, p0 in zip(truth["chrom"], truth["pos"]) for p in range(p0 - MASK, p0 + MASK + 1)}
    t0 = time.perf_counter()
    normals = {r.patient_id: r.sample_id for r in samples[samples["sample_type"] == "normal"].itertuples()}
    ncounts = {p: counted(a.sim, a.reference, intervals, s, a.work) for p, s in normals.items()}
    panel = pon.build(list(ncounts.values()))
    print(f"panel of {len(ncounts)} normals counted ({time.perf_counter() - t0:.0f} s)", flush=True)
    rng = np.random.default_rng(a.seed)
    tests, groups, backgrounds, c797s = [], [], [], {}
    for pid in sorted(normals):
        plasma = samples[(samples["patient_id"] == pid) & (samples["sample_type"] == "plasma")]["sample_id"].tolist()
        counts = {s: counted(a.sim, a.reference, intervals, s, a.work) for s in plasma}
        nsc = ncounts[pid]
        priors = genotype.class_priors([nsc, *counts.values()])
        cand = []
        for ri, r in enumerate(counts[plasma[0]].regions):
            deep = np.ones(r.end - r.start, bool)
            for s in plasma:
                rr = counts[s].regions[ri]
                deep &= (rr.fwd[:, :4] + rr.rev[:, :4]).sum(axis=1) >= 20
            for i in np.flatnonzero(deep):
                if r.ref[i] in "ACGT" and (r.chrom, r.start + i + 1) not in masked:
                    cand.append((r.chrom, r.start + i + 1, r.ref[i]))
        pick = rng.choice(len(cand), size=min(a.sites, len(cand)), replace=False)
        keys = [(cand[j][0], cand[j][1], cand[j][2], str(rng.choice([b for b in "ACGT" if b != cand[j][2]])))
                for j in pick]
        if pid == "UNL001":
            keys.append(C797S)
        per_sample: dict[str, list] = {s: [] for s in plasma}
        for key in keys:
            prior = genotype.allele_prior(priors, nsc, key)
            no = genotype.lookup(nsc, key)
            bg, _ = pon.allele_background(key, prior, (no.alt, no.depth), nsc.sample_id, panel)
            for s in plasma:
                o = genotype.lookup(counts[s], key)
                p = float(np.exp(model.betabinom_logsf(o.alt, o.depth, bg.mu, bg.rho))) if o.alt else 1.0
                row = dict(patient=pid, sample=s, key=list(map(str, key)), alt=o.alt, depth=o.depth, mu=bg.mu,
                           rho=bg.rho, p=p)
                if key == C797S:
                    c797s[s] = row
                    continue
                tests.append(row)
                per_sample[s].append(row)
            if key != C797S:
                backgrounds.append((bg.mu, bg.rho))
        for s, rows in per_sample.items():
            for m in (20, 50):
                for g in range(len(rows) // m):
                    grp = rows[g * m:(g + 1) * m]
                    pv = model.betabinom_sum_sf(sum(x["alt"] for x in grp), np.array([x["depth"] for x in grp]),
                                                np.array([x["mu"] for x in grp]), np.array([x["rho"] for x in grp]))
                    groups.append(dict(m=m, sample=s, t=sum(x["alt"] for x in grp), p=pv,
                                       bg=sum(x["depth"] * x["mu"] for x in grp)))
        print(f"  {pid}: {len(keys)} sites x {len(plasma)} plasma ({time.perf_counter() - t0:.0f} s)", flush=True)
    report(tests, groups, backgrounds, c797s, a)


def report(tests: list[dict], groups: list[dict], backgrounds: list, c797s: dict, a: argparse.Namespace) -> None:
    n = len(tests)
    depth = np.array([t["depth"] for t in tests])
    out: dict = {"tests": n, "sites_per_patient": a.sites, "median_depth": float(np.median(depth)),
                 "alt_fragments": int(sum(t["alt"] for t in tests)), "per_variant": {}, "aggregated": {}}
    print(f"\nPer-variant tumour-informed test, {n} tests ({a.sites} random known sites x plasma samples, 6 "
          f"patients), median depth {np.median(depth):.0f} fragments, {out['alt_fragments']} alt fragments in all")
    print("alpha | detected | rate | Wilson 95 % | model-expected rate")
    for alpha in ALPHAS:
        k = sum(t["p"] <= alpha and t["alt"] >= 1 for t in tests)
        lo, hi = wilson(k, n)
        exp_rate = float(np.mean([attained(t["depth"], t["mu"], t["rho"], alpha) for t in tests]))
        out["per_variant"][str(alpha)] = dict(detected=int(k), rate=k / n, ci=[float(lo), float(hi)],
                                              expected=exp_rate)
        print(f"{alpha} | {k} | {k / n:.4f} | {float(lo):.4f}-{float(hi):.4f} | {exp_rate:.4f}")
    print("\nAggregated test on disjoint groups of variant-free sites")
    print("variants | tests | alpha | detected | rate | Wilson 95 % | mean background fragments | mean alt fragments")
    for m in (20, 50):
        gs = [g for g in groups if g["m"] == m]
        for alpha in ALPHAS:
            k = sum(g["p"] <= alpha for g in gs)
            lo, hi = wilson(k, len(gs))
            out["aggregated"][f"{m}@{alpha}"] = dict(tests=len(gs), detected=int(k), rate=k / len(gs),
                                                      ci=[float(lo), float(hi)])
            print(f"{m} | {len(gs)} | {alpha} | {k} | {k / len(gs):.4f} | {float(lo):.4f}-{float(hi):.4f} | "
                  f"{np.mean([g['bg'] for g in gs]):.2f} | {np.mean([g['t'] for g in gs]):.2f}")
    out["backgrounds"] = backgrounds
    out["c797s"] = c797s
    if c797s:
        print("\nEGFR C797S site (UNL001 plasma): " + "; ".join(
            f"{s}: {r['alt']}/{r['depth']} mu {r['mu']:.2e} rho {r['rho']:.2e} p {r['p']:.3g}" for s, r in c797s.items()))
    (a.work / "ti_fp.json").write_text(json.dumps(out))
    print(f"\nwrote {a.work / 'ti_fp.json'}")


if __name__ == "__main__":
    main()
