"""Accuracy of ``unlock-atlas call`` on art_illumina reads (issue 3, Must-show).

Usage::

    nice -n 10 .venv/bin/python benchmarks/calling/accuracy.py [--work /tmp/calling-bench/acc]
        [--genes EGFR KRAS ...] [--depths 500 2000 5000] [--rotations 8] [--regenotype 500 2000 5000]

Reads: ``art_illumina -ss HS25`` (HiSeq 2500 error profile) from the real GRCh38 panel regions
of ``../shared/data`` with planted SNVs and 1-4 bp indels, aligned with bwa mem (pybwa) by
``unlock_atlas.align``; haplotype read sets are simulated and aligned once and mixed into
samples (``artsim.py`` explains the design). Everything is cached under ``--work``. Needs
``art_illumina`` on PATH (Debian: ``apt-get install art-nextgen-simulation-tools``).

Per sample (one plasma sample at depth d, VAF set by its window) the caller runs as the workflow
does for a patient with a plasma sample and a white-cell normal (an independent 1,000x
reference-haplotype read set): ``count_sample`` + ``genotype_patient``. Reported:

* **Sensitivity** = planted alleles whose plasma status is ``called`` with FILTER ``PASS``
  (what the atlas reports as a somatic call) / planted, with a Wilson 95 % interval (n = sites).
* **Perfect caller** at the same false-positive budget: per site, ``k*`` = the smallest alt
  count with ``3 alleles x 1e6 positions x P(Binomial(n, e/3) >= k*) <= 1`` (1 FP per Mb, the
  budget our ``called`` threshold is designed for, ``model.CALL_DS``), ``n`` the site's measured
  deduplicated fragment depth and ``e`` the measured per-base error rate; its sensitivity is the
  mean over sites of ``P(Binomial(n, VAF) >= k*)``.
* **bcftools**: ``bcftools mpileup -d 100000 -q 20 -Q 20 -a AD,ADF,ADR -f GENOME -R PANEL BAM |
  bcftools call -mv`` on the same BAM, alleles split and left-normalised by ``bcftools norm
  -m -any -f GENOME``; a planted allele is found when the same (chrom, pos, ref, alt) is output.
* **False positives**: PASS ``called`` alleles at panel positions that carry no planted allele
  (planted alleles' spans +/- 2 bp excluded), per Mb of panel positions with depth >= 20, with
  the exact Poisson (Garwood) 95 % interval. Rotation 0 only per depth: the rotations of one
  depth share most reads, so their positions are not independent sequence.
* **Per-base error rate**: non-reference A/C/G/T fragments / all fragments at those positions
  (our fragment counts: deduplicated, MAPQ >= 20, BQ >= 20, overlapping mates once).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import pickle
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pysam
from scipy import stats

sys.path.insert(0, str(Path(__file__).resolve().parent))
import artsim  # noqa: E402

DEMO_GENES = ["EGFR", "KRAS", "BRAF", "MET", "ALK", "PIK3CA", "NRAS", "MAP2K1", "TP53", "PTEN", "NF2",
              "STK11", "CDK4", "RB1", "RET", "CDKN2A", "MAP2K2"]
FP_BUDGET_PER_MB = 1.0


def wilson(k: int, n: int) -> tuple[float, float]:
    """Wilson score 95 % interval (:func:`unlock_atlas.domain.wilson`)."""
    from unlock_atlas.domain import wilson as _wilson

    lo, hi = _wilson(k, n)
    return float(lo), float(hi)


def garwood(k: int) -> tuple[float, float]:
    """Exact Poisson 95 % interval of a count (Garwood 1936)."""
    lo = stats.chi2.ppf(0.025, 2 * k) / 2 if k > 0 else 0.0
    return float(lo), float(stats.chi2.ppf(0.975, 2 * k + 2) / 2)


def perfect_sensitivity(depths: np.ndarray, vaf: float, err: float) -> float:
    """Mean over sites of P(Binomial(n, vaf) >= k*(n)) (module docstring)."""
    p_alt = err / 3
    alpha = FP_BUDGET_PER_MB / 3e6
    out = []
    for n in depths.astype(int):
        if n <= 0:
            out.append(0.0)
            continue
        ks = np.arange(0, n + 2)
        tail = stats.binom.sf(ks - 1, n, p_alt)
        k_star = int(ks[np.argmax(tail <= alpha)])
        out.append(float(stats.binom.sf(k_star - 1, n, vaf)))
    return float(np.mean(out))


def setup(work: Path, ref_dir: Path, genes: list[str], seed: int):
    from unlock_atlas.align import build_bwa_index
    from unlock_atlas.paths import resolve_data_dir
    from unlock_atlas.reference.panel import panel_from_gtf
    from unlock_atlas.reference.sparse import build_sparse_genome

    data = resolve_data_dir(None)
    region_fa = data / "reference_grch38" / "panel_genes.GRCh38.fa"
    genome = ref_dir / "genome.fa.gz"
    if not genome.exists():
        build_sparse_genome(region_fa, genome)
    bwa = build_bwa_index(region_fa, ref_dir / "bwa" / "regions")
    ivs = panel_from_gtf(data / "transcripts_grch38" / "panel_mane_select.GRCh38.gtf", genes, padding=20)
    from unlock_atlas.calling.pileup import merge_intervals

    panel = merge_intervals([(i.chrom, i.start, i.end) for i in ivs])
    windows = artsim.windows_from_panel(panel)
    work.mkdir(parents=True, exist_ok=True)
    (work / "panel.bed").write_text("".join(f"{c}\t{s}\t{e}\n" for c, s, e in panel))
    with pysam.FastaFile(str(genome)) as fa:
        sites = artsim.plant(panel, windows, fa, seed)
        if not (work / "alt_windows.fa").exists():
            artsim.write_window_fastas(windows, sites, fa, work / "ref_windows.fa", work / "alt_windows.fa")
    return genome, bwa, panel, windows, sites


def run_bcftools(bam: Path, genome: Path, panel_bed: Path) -> set[tuple[str, int, str, str]]:
    import pysam.bcftools as bcf

    with tempfile.TemporaryDirectory(dir=bam.parent) as d:
        pile, called, norm = Path(d) / "p.bcf", Path(d) / "c.bcf", Path(d) / "n.bcf"
        bcf.mpileup("-d", "100000", "-q", "20", "-Q", "20", "-a", "AD,ADF,ADR", "-f", str(genome),
                    "-R", str(panel_bed), "-Ou", "-o", str(pile), str(bam), catch_stdout=False)
        bcf.call("-mv", "-Ob", "-o", str(called), str(pile), catch_stdout=False)
        bcf.norm("-m", "-any", "-f", str(genome), "-Ob", "-o", str(norm), str(called), catch_stdout=False)
        with pysam.VariantFile(str(norm)) as vf:
            return {(r.chrom, r.pos, r.ref, r.alts[0]) for r in vf if r.alts and r.alts[0] != "*"}


P_THRESHOLDS = (1e-2, 1e-3, 1e-4, 1e-5, 1e-6)


def calibration(sc, normal_sc, mask: dict) -> dict:
    """Calibration of the background model on variant-free positions: the number of
    (position, alt base) tests with P(X >= alt | Binomial(depth, site background)) <= t, for the
    thresholds t in ``P_THRESHOLDS``, against the number of tests (expected <= t x tests when the
    model is right). The site background is the caller's (``model.site_background`` with the
    patient's class priors and the normal's counts)."""
    from unlock_atlas.calling import genotype, model

    priors = genotype.class_priors([sc, normal_sc])
    n_tests = 0
    hits = np.zeros(len(P_THRESHOLDS), np.int64)
    for r, rn in zip(sc.regions, normal_sc.regions):
        tot = r.fwd[:, :4] + r.rev[:, :4]
        depth = tot.sum(axis=1)
        ntot = rn.fwd[:, :4] + rn.rev[:, :4]
        ndepth = ntot.sum(axis=1)
        ok = mask[(r.chrom, r.start)] & (depth >= model.MIN_DEPTH)
        for ri, rb in enumerate("ACGT"):
            rows = np.flatnonzero(ok & (np.frombuffer(r.ref.encode(), np.uint8) == ord(rb)))
            for ai, ab in enumerate("ACGT"):
                if ai == ri or not len(rows):
                    continue
                p_c = max(priors.get(f"{rb}>{ab}", model.PRIOR_FLOOR), model.PRIOR_FLOOR)
                kn, nn = ntot[rows, ai], ndepth[rows]
                bg = (kn + model.PRIOR_WEIGHT * p_c) / (nn + model.PRIOR_WEIGHT)
                k = tot[rows, ai]
                pv = np.where(k > 0, stats.binom.sf(k - 1, depth[rows], bg), 1.0)
                n_tests += len(rows)
                hits += (pv[:, None] <= np.asarray(P_THRESHOLDS)[None, :]).sum(axis=0)
    return {"tests": int(n_tests), "hits": hits.tolist()}


def evaluate(bam: Path, normal_sc, genome: Path, panel, panel_bed: Path, sites, vaf_of_window,
             counts_pkl: Path | None = None, previous: dict | None = None) -> dict:
    """Our caller and bcftools on one mixed sample; per-site outcomes, FPs, error counts.

    The sample's fragment counts are cached in ``counts_pkl`` (re-genotyping after a model change
    then takes seconds); with ``previous`` (this sample's earlier result) bcftools is not rerun:
    its alleles at planted and variant-free positions, all that is scored, are taken from there.
    """
    from unlock_atlas.calling.caller import genotype_patient
    from unlock_atlas.calling.genotype import lookup
    from unlock_atlas.calling.pileup import count_sample

    t0 = time.perf_counter()
    if counts_pkl is not None and counts_pkl.exists():
        with open(counts_pkl, "rb") as fh:
            sc, t_count = pickle.load(fh)
    else:
        sc = count_sample(bam, genome, panel, "P")
        t_count = time.perf_counter() - t0
        if counts_pkl is not None:
            with open(counts_pkl.with_suffix(".tmp"), "wb") as fh:
                pickle.dump((sc, t_count), fh, protocol=pickle.HIGHEST_PROTOCOL)
            os.replace(counts_pkl.with_suffix(".tmp"), counts_pkl)
    t0 = time.perf_counter()
    calls = genotype_patient({"P": sc, "N": normal_sc}, "N", {"P": "plasma", "N": "normal"})
    t_ours = t_count + time.perf_counter() - t0
    if previous is not None:
        bcf = {s.key for s, x in zip(sites, previous["sites"]) if x["bcftools"]} | {tuple(k) for k in previous["fp_bcftools"]}
        t_bcf = previous["t_bcftools"]
    else:
        t0 = time.perf_counter()
        bcf = run_bcftools(bam, genome, panel_bed)
        t_bcf = time.perf_counter() - t0
    p = calls[calls["sample_id"] == "P"]
    keyed = {(r.chrom, int(r.pos), r.v_ref, r.v_alt): (r.status, r.filter) for r in p.itertuples()}
    planted = {s.key for s in sites}
    per_site = []
    for s in sites:
        st, flt = keyed.get(s.key, ("not_candidate", ""))
        per_site.append(dict(pos=s.pos, chrom=s.chrom, kind=s.kind, vaf=vaf_of_window(s.window),
                             depth=lookup(sc, s.key).depth, status=st, filter=flt, bcftools=s.key in bcf))
    # positions carrying no planted allele (spans +/- 2 bp masked)
    mask = {}
    for r in sc.regions:
        mask[(r.chrom, r.start)] = np.ones(r.end - r.start, dtype=bool)
    for s in sites:
        for r in sc.regions:
            if r.chrom == s.chrom and r.start <= s.pos - 1 < r.end:
                a = max(0, s.pos - 1 - 2 - r.start)
                mask[(r.chrom, r.start)][a:s.pos - 1 + len(s.ref) + 2 - r.start] = False
    free_bp = mism = frag = 0
    free = set()
    for r in sc.regions:
        tot = r.fwd[:, :4] + r.rev[:, :4]
        depth = tot.sum(axis=1)
        ok = mask[(r.chrom, r.start)] & (depth >= 20)
        free_bp += int(ok.sum())
        refi = np.array(["ACGT".find(b) for b in r.ref])
        good = ok & (refi >= 0)
        refc = tot[np.flatnonzero(good), refi[good]]
        frag += int(depth[good].sum())
        mism += int(depth[good].sum() - refc.sum())
        free.update((r.chrom, r.start + int(i) + 1) for i in np.flatnonzero(ok))
    calib = calibration(sc, normal_sc, mask)
    fp = [k for k, (st, flt) in keyed.items() if st == "called" and flt == "PASS" and k not in planted
          and (k[0], k[1]) in free]
    fp_any = [k for k, (st, _) in keyed.items() if st == "called" and k not in planted and (k[0], k[1]) in free]
    fp_bcf = [k for k in bcf if k not in planted and (k[0], k[1]) in free]
    med = float(np.median(np.concatenate([r.depth for r in sc.regions])))
    return dict(sites=per_site, fp=[list(k) for k in fp], fp_any_filter=[list(k) for k in fp_any],
                fp_bcftools=[list(k) for k in fp_bcf], free_bp=free_bp, mismatches=mism, fragments=frag,
                median_depth=med, t_ours=t_ours, t_bcftools=t_bcf, calibration=calib)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--work", type=Path, default=Path("/tmp/calling-bench/acc"))
    ap.add_argument("--ref-dir", type=Path, default=Path("/tmp/calling-bench/ref"))
    ap.add_argument("--genes", nargs="+", default=DEMO_GENES)
    ap.add_argument("--depths", nargs="+", type=int, default=[500, 2000, 5000])
    ap.add_argument("--rotations", type=int, default=8)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--stop-after-mix", action="store_true", help="only simulate, align and mix")
    ap.add_argument("--regenotype", nargs="*", type=int, metavar="DEPTH",
                    help="re-genotype these depths' evaluated samples with the current caller (counts are "
                         "cached in counts_*.pkl or recounted; bcftools results are reused)")
    ap.add_argument("--evaluate-only-cached", action="store_true",
                    help="report the samples already evaluated (result_*.json) and evaluate no more")
    a = ap.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(message)s")
    t_start = time.perf_counter()
    from unlock_atlas.calling.pileup import count_sample

    genome, bwa, panel, windows, sites = setup(a.work, a.ref_dir, a.genes, a.seed)
    print(f"panel {sum(e - s for _, s, e in panel)} bp in {len(panel)} intervals; {len(windows)} windows "
          f"{sum(e - s for _, s, e in windows)} bp; {len(sites)} planted sites "
          f"({sum(s.kind == 'snv' for s in sites)} SNV, {sum(s.kind == 'indel' for s in sites)} indel)", flush=True)
    bams = artsim.simulate_and_align(a.work, a.work / "ref_windows.fa", a.work / "alt_windows.fa", bwa, a.threads)
    print(f"simulated + aligned: {time.perf_counter() - t_start:.0f} s", flush=True)
    cal = a.work / "ref_depth.json"
    if not cal.exists():
        sc = count_sample(bams["ref"], genome, panel, "ref")
        cal.write_text(json.dumps({"median": float(np.median(np.concatenate([r.depth for r in sc.regions])))}))
        del sc
    top = json.loads(cal.read_text())["median"]
    print(f"reference read set: median {top:.0f} deduplicated fragments over the panel", flush=True)
    if a.evaluate_only_cached:  # report only: never start a (long) mixing pass
        samples = {(d, r): a.work / f"d{d}_r{r}.bam" for d in a.depths for r in range(a.rotations)}
    else:
        samples = artsim.mix(bams["ref"], bams["alt"], a.depths, a.rotations, a.work, a.threads, top)
    print(f"mixed: {time.perf_counter() - t_start:.0f} s", flush=True)
    if a.stop_after_mix:
        return
    normal_sc = None
    res: dict[tuple[int, int], dict] = {}
    # rotation-major, 2,000x first: a run cut short still reports every depth (with fewer sites)
    order = sorted(samples, key=lambda k: (k[1], k[0] != 2000, k[0]))
    for d, r in order:
        bam = samples[(d, r)]
        cache = a.work / f"result_d{d}_r{r}.json"
        previous = json.loads(cache.read_text()) if cache.exists() else None
        regeno = previous is not None and d in (a.regenotype or [])
        if previous is not None and not regeno:
            res[(d, r)] = previous
            continue
        if a.evaluate_only_cached:
            continue
        if normal_sc is None:
            normal_sc = count_sample(bams["normal"], genome, panel, "N")
        res[(d, r)] = evaluate(bam, normal_sc, genome, panel, a.work / "panel.bed", sites,
                               lambda w, r=r: artsim.VAFS[(w + r) % len(artsim.VAFS)],
                               counts_pkl=a.work / f"counts_d{d}_r{r}.pkl", previous=previous if regeno else None)
        cache.with_suffix(".tmp").write_text(json.dumps(res[(d, r)]))
        os.replace(cache.with_suffix(".tmp"), cache)
        print(f"  d{d} r{r}: ours {res[(d, r)]['t_ours']:.0f} s, bcftools {res[(d, r)]['t_bcftools']:.0f} s",
              flush=True)
    report(res, a.depths, a.rotations)
    print(f"\ntotal {time.perf_counter() - t_start:.0f} s", flush=True)


def report(res: dict, depths: list[int], rotations: int) -> None:
    print(f"\nrotations evaluated per depth: { {d: sum((d, r) in res for r in range(rotations)) for d in depths} }")
    print("\n| depth (median dedup fragments) | VAF % | n sites | sensitivity (PASS called) [Wilson 95 %] "
          "| perfect caller | bcftools call -mv | per-base error |\n|---|---|---|---|---|---|---|")
    for d in depths:
        rs = [res[(d, r)] for r in range(rotations) if (d, r) in res]
        if not rs:
            continue
        err = sum(x["mismatches"] for x in rs) / sum(x["fragments"] for x in rs)
        med = np.median([x["median_depth"] for x in rs])
        allsites = [s for x in rs for s in x["sites"]]
        for v in artsim.VAFS:
            ss = [s for s in allsites if s["vaf"] == v]
            k = sum(s["status"] == "called" and s["filter"] == "PASS" for s in ss)
            lo, hi = wilson(k, len(ss))
            perf = perfect_sensitivity(np.array([s["depth"] for s in ss]), v, err)
            kb = sum(s["bcftools"] for s in ss)
            print(f"| {d}x ({med:.0f}) | {100 * v:g} | {len(ss)} | {100 * k / max(len(ss), 1):.1f} "
                  f"[{100 * lo:.1f}-{100 * hi:.1f}] | {100 * perf:.1f} | {100 * kb / max(len(ss), 1):.1f} "
                  f"| {err:.2e} |")
    print("\n| depth | variant-free plasma Mb (rotation 0) | FP (PASS called) | FP/Mb [Garwood 95 %] "
          "| FP any FILTER | bcftools FP | bcftools FP/Mb [95 %] |\n|---|---|---|---|---|---|---|")
    tot_mb = tot_fp = 0.0
    for d in [d for d in depths if (d, 0) in res]:
        x = res[(d, 0)]
        mb = x["free_bp"] / 1e6
        k, kb = len(x["fp"]), len(x["fp_bcftools"])
        lo, hi = garwood(k)
        blo, bhi = garwood(kb)
        tot_mb += mb
        tot_fp += k
        print(f"| {d}x | {mb:.3f} | {k} | {k / mb:.1f} [{lo / mb:.1f}-{hi / mb:.1f}] | {len(x['fp_any_filter'])} "
              f"| {kb} | {kb / mb:.1f} [{blo / mb:.1f}-{bhi / mb:.1f}] |")
    lo, hi = garwood(int(tot_fp))
    print(f"| all depths | {tot_mb:.3f} | {int(tot_fp)} | {tot_fp / tot_mb:.1f} [{lo / tot_mb:.1f}-{hi / tot_mb:.1f}] "
          "| | | |")
    print("\nBackground-model calibration on the variant-free positions (rotation 0): (position, alt base) "
          "tests with P <= t, observed / expected (= t x tests)\n")
    print("| depth | tests | " + " | ".join(f"P <= {t:g}" for t in P_THRESHOLDS) + " |\n|---|---|"
          + "---|" * len(P_THRESHOLDS))
    for d in [d for d in depths if (d, 0) in res]:
        c = res[(d, 0)]["calibration"]
        print(f"| {d}x | {c['tests']} | " + " | ".join(f"{h} / {t * c['tests']:.1f}" for h, t in
                                                        zip(c["hits"], P_THRESHOLDS)) + " |")
    for d in [d for d in depths if (d, 0) in res]:
        x = res[(d, 0)]
        if x["fp"]:
            print(f"FP at {d}x: {x['fp']}")
    print("\nMissed planted alleles by status/filter (all depths, VAF >= 1 %):")
    miss: dict[str, int] = {}
    for x in res.values():
        for s in x["sites"]:
            if s["vaf"] >= 0.01 and not (s["status"] == "called" and s["filter"] == "PASS"):
                key = f"{d}x {s['kind']} {s['status']} {s['filter']}"
                miss[key] = miss.get(key, 0) + 1
    for k, n in sorted(miss.items()):
        print(f"  {k}: {n}")


if __name__ == "__main__":
    main()
