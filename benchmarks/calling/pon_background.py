"""Recurrent artefacts, false positives and calibration of the panel-of-normals background
(issue 18, deliverable 1, Must-show).

Usage::

    nice -n 10 .venv/bin/python benchmarks/calling/pon_background.py [--mb 1.0] [--plasmas 20]
        [--normals 20] [--seed 18] [--out benchmarks/calling/pon_background.json]

What is simulated, and why at the level of fragment counts: the Must-show asks for >= 20
plasmas carrying 10 recurrent 0.3-1 % artefacts, <= 1 false positive per Mb, and a calibration
of the model's p-values down to 1e-6. Calibration at 1e-6 needs tens of millions of null tests
(20 plasmas x 1 Mb x 3 alleles = 6e7), i.e. BAMs of 20 plasmas at 2,000x over 1 Mb plus 40
normals: days on this machine with art_illumina + bwa (benchmarks/calling/false_positives.py
does 3 Mb of one plasma per chunk). The background model only sees fragment counts, so this
script generates the counts that such BAMs would give, from an error process that is NOT the
model being tested, and runs the caller's own code (``pon.Accumulator``, ``genotype_patient``)
on them:

* **Sequence**: real GRCh38 (``../shared/data``), 30-kb pieces of the 36 cancer-gene loci
  until ``--mb``; the reference base decides each allele's substitution class.
* **Error process** (per position x alt allele): class rate (1e-4 / 3 per alt base, x2 for
  C>T/G>A deamination, x1.5 for C>A/G>T oxidation - the two dominant cfDNA library artefacts,
  Newman et al. 2016 Nat Biotechnol 34:547, Costello et al. 2013 NAR 41:e67) x a site factor,
  log-normal with sigma 1 (position-specific error rates spanning about two orders of
  magnitude, as iDES measured) x a per-sample factor, Gamma(shape 5) (CV 0.45: library-to-
  library variation of the same site). Counts are Binomial(depth, rate); the fitted model is a
  beta-binomial with a method-of-moments spread, not this log-normal x gamma process.
* **Depth**: sample depth x a per-position capture factor shared by all samples (log-normal,
  sigma 0.25); panel normals 1,500 fragments, matched normals 500, plasmas 2,000.
* **Recurrent artefacts**: 10 position x allele sites at a rate U(0.3 %, 1 %) in every sample
  (panel normals, matched normals and plasmas), per-sample Gamma(5) variation.
* **True variants**: 20 per plasma at VAF U(0.5 %, 2 %) (sensitivity must not collapse).

Per plasma the caller is run twice: with the panel (``--normals`` normals + the matched normal;
the workflow since issue 18) and with the matched normal alone (what the workflow did before:
the configured panel was never passed).

Reported: share of the 10 x ``--plasmas`` artefact instances that are NOT a PASS somatic call;
PASS somatic calls at null alleles per Mb per plasma (exact Poisson 95 % interval); sensitivity
for the planted variants; and calibration. Calibration uses the randomised probability integral
transform (Czado, Gneiting & Held 2009, Biometrics 65:1254): for a count ``k``,
``p = P(X > k) + U P(X = k)`` with U ~ Uniform(0, 1) is exactly uniform when the model is right,
so the number of null tests with p <= t, divided by t x (number of tests), is 1 for a calibrated
model whatever the discreteness (the plain p-value of a discrete test is conservative). Tests =
every null allele at every plasma position with >= 20 fragments.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

import numpy as np
import pysam
from scipy import stats

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "src"))

from unlock_atlas.calling import model, pon  # noqa: E402
from unlock_atlas.calling.caller import genotype_patient  # noqa: E402
from unlock_atlas.calling.pileup import RegionCounts, SampleCounts  # noqa: E402
from unlock_atlas.paths import resolve_data_dir  # noqa: E402

PIECE = 30_000
BASE_RATE = 1e-4 / 3
THRESHOLDS = (1e-4, 1e-5, 1e-6)


def regions(mb: float) -> list[tuple[str, str]]:
    """(contig, upper-case sequence) pieces of the real GRCh38 loci, ``mb`` in total."""
    fa = pysam.FastaFile(str(resolve_data_dir() / "reference_grch38" / "panel_genes.GRCh38.fa"))
    out, total = [], 0
    for name, ln in zip(fa.references, fa.lengths):
        if total >= mb * 1e6:
            break
        seq = fa.fetch(name, 0, min(PIECE, ln)).upper()
        if set(seq) - set("ACGT"):
            seq = "".join(b if b in "ACGT" else "A" for b in seq)
        out.append((name, seq))
        total += len(seq)
    while total < mb * 1e6:  # more pieces from further along each locus
        for name, ln in zip(fa.references, fa.lengths):
            k = len([1 for n, _ in out if n.startswith(name)])
            if k * PIECE + PIECE <= ln and total < mb * 1e6:
                seq = fa.fetch(name, k * PIECE, (k + 1) * PIECE).upper()
                seq = "".join(b if b in "ACGT" else "A" for b in seq)
                out.append((f"{name}@{k}", seq))
                total += len(seq)
    return out


class World:
    """The simulated assay: site rates, capture, artefacts (module docstring)."""

    def __init__(self, pieces: list[tuple[str, str]], rng: np.random.Generator):
        self.pieces = pieces
        self.codes = [np.array(["ACGT".index(b) for b in s]) for _, s in pieces]
        self.rate, self.capture = [], []
        for codes in self.codes:
            L = len(codes)
            cls = np.full((L, 4), BASE_RATE)
            c_or_g = (codes == 1) | (codes == 2)
            # C>T (1->3) and G>A (2->0) deamination x2; C>A (1->0) and G>T (2->3) oxidation x1.5
            cls[codes == 1, 3] *= 2
            cls[codes == 2, 0] *= 2
            cls[codes == 1, 0] *= 1.5
            cls[codes == 2, 3] *= 1.5
            site = rng.lognormal(-0.5, 1.0, size=(L, 4))
            r = cls * site
            r[np.arange(L), codes] = 0.0
            self.rate.append(r)
            self.capture.append(rng.lognormal(-0.25 ** 2 / 2, 0.25, size=L))
            del c_or_g
        # 10 recurrent artefacts: (piece, offset, alt) at U(0.3 %, 1 %)
        self.artefacts = []
        for _ in range(10):
            p = int(rng.integers(len(pieces)))
            i = int(rng.integers(300, len(pieces[p][1]) - 300))
            a = int((self.codes[p][i] + rng.integers(1, 4)) % 4)
            self.artefacts.append((p, i, a, float(rng.uniform(0.003, 0.01))))

    def sample(self, sid: str, depth: int, rng: np.random.Generator,
               planted: list[tuple[int, int, int, float]] | None = None) -> SampleCounts:
        """One sample's fragment counts (SampleCounts, as ``count_sample`` returns)."""
        regions = []
        for p, ((name, seq), codes) in enumerate(zip(self.pieces, self.codes)):
            L = len(codes)
            n = rng.poisson(depth * self.capture[p])
            r = self.rate[p] * rng.gamma(5.0, 1 / 5.0, size=(L, 4))
            for q, i, a, v in self.artefacts:
                if q == p:
                    r[i, a] = v * rng.gamma(5.0, 1 / 5.0)
            for q, i, a, v in planted or []:
                if q == p:
                    r[i, a] += v
            r = np.minimum(r, 0.5)
            alt = rng.binomial(n[:, None], r)
            alt[np.arange(L), codes] = 0
            refc = np.maximum(n - alt.sum(axis=1), 0)
            tot = alt.copy()
            tot[np.arange(L), codes] = refc
            full = np.zeros((L, 5), np.int32)
            full[:, :4] = tot
            fwd = rng.binomial(full, 0.5).astype(np.int32)
            rev = (full - fwd).astype(np.int32)
            regions.append(RegionCounts(name, 0, L, seq, fwd, rev, full * 35.0, np.zeros(L, np.int32)))
        return SampleCounts(sid, regions, {})


def key_of(world: World, p: int, i: int, a: int) -> tuple[str, int, str, str]:
    name, seq = world.pieces[p]
    return (name, i + 1, seq[i], "ACGT"[a])


def calibration(world: World, plasma: SampleCounts, normal: SampleCounts, acc: pon.Accumulator,
                priors: dict[str, float], exclude: set, rng: np.random.Generator,
                params: model.CallingParams, classes: dict) -> tuple[dict[float, int], int]:
    """Randomised-PIT counts of null tests with p <= t, and the number of tests (module docstring)."""
    hits = {t: 0 for t in THRESHOLDS}
    tests = 0
    for p, (r, nr, site) in enumerate(zip(plasma.regions, normal.regions, acc._site)):
        L = len(r.ref)
        codes = world.codes[p]
        tot = (r.fwd[:, :4] + r.rev[:, :4]).astype(float)
        n = tot.sum(axis=1)
        ntot = (nr.fwd[:, :4] + nr.rev[:, :4]).astype(float)
        nn = ntot.sum(axis=1)
        # the background exactly as pon.allele_background builds it: panel sums + matched normal
        okn = nn >= params.min_depth
        carrier = okn[:, None] & (ntot >= params.carrier_af * np.where(okn, nn, 1)[:, None])
        addn = okn[:, None] & ~carrier
        S = (site["S"] - site["car"].T).T + addn
        N = (site["N"][:, None] - site["car_n"]) + np.where(addn, nn[:, None], 0)
        N2 = (site["N2"][:, None] - site["car_n2"]) + np.where(addn, nn[:, None] ** 2, 0)
        K = site["K"] + np.where(addn, ntot, 0)
        K2N = site["K2N"] + np.where(addn, ntot ** 2 / np.where(nn > 0, nn, 1)[:, None], 0)
        # class prior: the panel's empirical-Bayes mean and weight (model.class_model), as the caller
        prior = np.full((L, 4), np.nan)
        weight = np.full((L, 4), params.prior_weight)
        cv2 = np.zeros((L, 4))
        for ri, rb in enumerate("ACGT"):
            for ai, ab in enumerate("ACGT"):
                if ri != ai:
                    cm = classes.get(f"{rb}>{ab}")
                    prior[codes == ri, ai] = cm["mu"] if cm else max(priors.get(f"{rb}>{ab}", 0), params.prior_floor)
                    weight[codes == ri, ai] = cm["a"] if cm else params.prior_weight
                    cv2[codes == ri, ai] = cm["cv2"] if cm else 0.0
        a = weight
        mu = (K + a * prior) / (N + a)
        valid = (n >= params.min_depth)[:, None] & (np.arange(4)[None, :] != codes[:, None])
        for (q, i, al) in exclude:
            if q == p:
                valid[i, al] = False
        tests += int(valid.sum())
        k = tot
        # screen: above the mean the beta-binomial's upper tail is heavier than the binomial's at
        # the same mean, and p >= P(X > k); so a test whose binomial P(X >= k + 1) exceeds the
        # largest threshold cannot have p <= it
        sf_next = np.where(valid, stats.binom.sf(k, n[:, None], np.clip(mu, 1e-12, 1)), 1.0)
        for i, al in zip(*np.nonzero(sf_next <= max(THRESHOLDS))):
            rho_site = model.rho_from_sums(int(S[i, al]), N[i, al], N2[i, al], K[i, al], K2N[i, al])
            rho_site = max(rho_site, cv2[i, al] * mu[i, al] / (1 - mu[i, al]))
            rho = min(1.0 / (N[i, al] + a[i, al] + 1.0) + rho_site, 0.5)
            # the caller's own function gives the same background (checked on every screened test)
            bg = model.site_background(K[i, al], N[i, al], prior[i, al], params, samples=int(S[i, al]), n2=N2[i, al],
                                       k2n=K2N[i, al], weight=a[i, al], cv2=cv2[i, al])
            assert abs(bg.mu - mu[i, al]) <= 1e-9 * mu[i, al] and abs(bg.rho - rho) <= 1e-9 * rho
            kk, ni = int(k[i, al]), int(n[i])
            gt = math.exp(model.betabinom_logsf(kk + 1, ni, mu[i, al], rho))
            s_ = 1 / rho - 1
            eq = float(stats.betabinom.pmf(kk, ni, mu[i, al] * s_, (1 - mu[i, al]) * s_))
            prand = gt + rng.uniform() * eq
            for t in THRESHOLDS:
                hits[t] += prand <= t
    return hits, tests


def garwood(k: int) -> tuple[float, float]:
    lo = stats.chi2.ppf(0.025, 2 * k) / 2 if k else 0.0
    hi = stats.chi2.ppf(0.975, 2 * k + 2) / 2
    return lo, hi


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mb", type=float, default=1.0)
    ap.add_argument("--plasmas", type=int, default=20)
    ap.add_argument("--normals", type=int, default=20)
    ap.add_argument("--seed", type=int, default=18)
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "calling" / "pon_background.json")
    args = ap.parse_args(argv)
    t0 = time.monotonic()
    rng = np.random.default_rng(args.seed)
    world = World(regions(args.mb), rng)
    mb = sum(len(s) for _, s in world.pieces) / 1e6
    params = model.DEFAULT
    acc = pon.Accumulator(params)
    for j in range(args.normals):
        acc.add(world.sample(f"PON{j:02d}", 1500, rng))
    panel = acc.panel()
    for c, m in sorted(panel.classes.items()):
        print(f"class {c}: mean {m['mu']:.2e}, prior weight {m['a']:.0f}, between-sample CV^2 {m['cv2']:.2f}", flush=True)
    print(f"{mb:.2f} Mb, panel of {args.normals} normals built in {time.monotonic() - t0:.0f} s", flush=True)
    art_keys = {key_of(world, p, i, a) for p, i, a, _ in world.artefacts}
    res = {"with_panel": {"artefact_pass": 0, "fp": 0, "tp": 0}, "matched_normal_only": {"artefact_pass": 0, "fp": 0, "tp": 0}}
    cal = {t: 0 for t in THRESHOLDS}
    n_tests = 0
    planted_total = 0
    for pi in range(args.plasmas):
        planted = []
        for _ in range(20):
            p = int(rng.integers(len(world.pieces)))
            i = int(rng.integers(300, len(world.pieces[p][1]) - 300))
            a = int((world.codes[p][i] + rng.integers(1, 4)) % 4)
            planted.append((p, i, a, float(rng.uniform(0.005, 0.02))))
        planted_total += len(planted)
        plasma = world.sample("P", 2000, rng, planted)
        normal = world.sample("N", 500, rng)
        truth = {key_of(world, p, i, a) for p, i, a, _ in planted}
        for label, panel_used in (("with_panel", panel), ("matched_normal_only", None)):
            out = genotype_patient({"P": plasma, "N": normal}, "N", {"P": "plasma", "N": "normal"}, panel_used, params)
            calls = out[(out["sample_id"] == "P") & (out["status"] == "called") & (out["filter"] == "PASS")
                        & (out["origin"] == "somatic")]
            keys = set(zip(calls["chrom"], calls["pos"], calls["v_ref"], calls["v_alt"]))
            res[label]["artefact_pass"] += len(keys & art_keys)
            res[label]["tp"] += len(keys & truth)
            res[label]["fp"] += len(keys - truth - art_keys)
        from unlock_atlas.calling import genotype
        priors = genotype.class_priors([plasma, normal], params)
        exclude = {(p, i, a) for p, i, a, _ in planted} | {(p, i, a) for p, i, a, _ in world.artefacts}
        h, n = calibration(world, plasma, normal, acc, priors, exclude, rng, params, panel.classes)
        for t in THRESHOLDS:
            cal[t] += h[t]
        n_tests += n
        print(f"plasma {pi + 1}/{args.plasmas}: {json.dumps(res)}; {time.monotonic() - t0:.0f} s", flush=True)
    n_art = 10 * args.plasmas
    report = {"mb": round(mb, 3), "plasmas": args.plasmas, "panel_normals": args.normals,
              "artefacts": [{"rate": round(v, 4)} for *_, v in world.artefacts], "tests": n_tests,
              "seconds": round(time.monotonic() - t0)}
    for label, r in res.items():
        lo, hi = garwood(r["fp"])
        report[label] = {"artefacts_filtered": round(1 - r["artefact_pass"] / n_art, 4),
                         "artefact_instances": n_art, "fp_pass_somatic": r["fp"],
                         "fp_per_mb": round(r["fp"] / (mb * args.plasmas), 3),
                         "fp_per_mb_95ci": [round(lo / (mb * args.plasmas), 3), round(hi / (mb * args.plasmas), 3)],
                         "sensitivity_planted_0.5-2pct": round(r["tp"] / planted_total, 4)}
    report["calibration_with_panel"] = {str(t): {"observed": int(cal[t]), "expected": round(t * n_tests, 1),
                                                  "ratio": round(cal[t] / (t * n_tests), 3)} for t in THRESHOLDS}
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
