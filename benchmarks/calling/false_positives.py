"""False positives per Mb of variant-free plasma at 2,000x on art_illumina reads (issue 3, Must-show).

Usage::

    nice -n 10 .venv/bin/python benchmarks/calling/false_positives.py [--work /tmp/calling-bench/fp]
        [--mb 3.2] [--jobs 2] [--report-only]

Why a separate script: the accuracy benchmark (``accuracy.py``) tests planted alleles on the
44.5 kb of panel exons, so each sample contributes only 0.043 Mb of variant-free positions. The
false-positive rate needs >= 3 Mb of independent plasma sequence at the target depth, i.e.
~34 M read pairs at 2,000x: this script simulates that sequence directly, with nothing planted.

Design (every read is made and aligned by the real tools):

* **Sequence.** The real GRCh38 regions of ``../shared/data`` (36 cancer-gene loci, 4.5 Mb: exons,
  introns and their repeats) are cut into ``CHUNK`` = 100 kb pieces (a contig's remainder is kept
  when >= 20 kb), taken in a seeded random order until their evaluated interiors reach ``--mb``.
  Every chunk is an independent "patient": its own plasma sample and white-cell normal.
* **Reads.** ``art_illumina -ss HS25 -p -l 150 -m 200 -s 30`` (HiSeq 2500 error profile, default
  indel error rates) from the chunk's reference sequence - so every non-reference call is a false
  positive: plasma at 2,000 x ``artsim.INFLATE`` fragments per position (~5 % become coordinate
  duplicates), the normal at 500x (a white-cell normal is typically sequenced shallower than the
  plasma), independent seeds per chunk and sample.
* **Alignment.** ``bwa mem`` (Debian ``bwa`` 0.7.17, default parameters; the pipeline's pybwa
  runs the same algorithm in-process, whose Python-side record handling would double this
  benchmark's run time) against the *whole* 4.5 Mb region FASTA (reads can mis-map to the other
  loci), then ``samtools fixmate -m | sort | markdup`` as in ``unlock_atlas.align``. Coordinates
  stay those of the region FASTA (the pipeline lifts them onto chromosomes; the caller does not
  care which).
* **Calling.** As the workflow does for a patient with a plasma sample and a white-cell normal:
  ``count_sample`` + ``genotype_patient`` (de-novo thresholds; class priors from the patient's
  own samples). Evaluated positions: the chunk minus 300 bp at each end (where art's coverage
  ramps up), with >= 20 deduplicated fragments.
* **False positive** = a plasma allele with status ``called`` and FILTER ``PASS`` (what the atlas
  reports); also counted: ``called`` with any FILTER, and ``detected_below_threshold``.
  FP/Mb with the exact Poisson (Garwood) 95 % interval over all evaluated Mb.
* **bcftools**: ``bcftools mpileup -d 100000 -q 20 -Q 20 -a AD,ADF,ADR | bcftools call -mv``
  (then ``norm -m -any``) on the same plasma BAMs over the same positions; every output allele is
  a false positive.
* **Perfect caller**: by construction its threshold ``k*`` admits at most the budget
  (1 FP/Mb, ``accuracy.FP_BUDGET_PER_MB``) at the measured per-base error; the script prints
  its expected FP count over the evaluated positions (sum of binomial tails at each position's
  depth) so the budget is shown, not assumed.
* **Calibration** of the background model on these positions (``accuracy.calibration``).

Caveat stated with the results: art's errors depend on cycle and quality, not on sequence
context, so this measures the caller against an Illumina-like random error process over real
sequence (incl. alignment artefacts at repeats and indels), not against the context-specific
artefacts (oxidation, FFPE deamination) of a real library - those are what the panel of normals
and the per-position background from the normal are for.

Each chunk's simulation (BAMs, fragment counts, bcftools calls) is cached in ``--work/chunk_<k>/``
(a ``done`` marker is written last, so a killed chunk is redone); reruns resume, and every run
re-genotypes all simulated chunks with the current caller (seconds per chunk). ``--jobs`` chunks
run in parallel (one core each).
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import shutil
import subprocess
import sys
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

import numpy as np
import pysam
from scipy import stats

sys.path.insert(0, str(Path(__file__).resolve().parent))
import accuracy  # noqa: E402
import artsim  # noqa: E402

CHUNK = 100_000
MIN_REMAINDER = 20_000
EDGE_TRIM = 300
PLASMA_DEPTH = 2000
NORMAL_DEPTH = 500
MIN_DEPTH = 20
COUNT_WINDOW = 10_000


def region_fasta() -> Path:
    from unlock_atlas.paths import resolve_data_dir

    return resolve_data_dir(None) / "reference_grch38" / "panel_genes.GRCh38.fa"


def plan_chunks(fasta: Path, mb: float, seed: int) -> list[tuple[str, int, int]]:
    """Chunks (contig, start, end) in a seeded random order until the interiors reach ``mb``."""
    with pysam.FastaFile(str(fasta)) as fa:
        pieces = []
        for c, n in zip(fa.references, fa.lengths):
            for s in range(0, n, CHUNK):
                e = min(n, s + CHUNK)
                if e - s >= MIN_REMAINDER:
                    pieces.append((c, s, e))
    order = np.random.default_rng(seed).permutation(len(pieces))
    out, total = [], 0
    for i in order:
        if total >= mb * 1e6:
            break
        c, s, e = pieces[i]
        out.append((c, s, e))
        total += e - s - 2 * EDGE_TRIM
    return out


def bwa_index(fasta: Path, work: Path) -> Path:
    """``bwa index`` of the region FASTA (cached)."""
    prefix = work / "bwa" / "regions"
    if not Path(f"{prefix}.sa").exists():
        prefix.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run(["bwa", "index", "-p", str(prefix), str(fasta)], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return prefix


def align(r1: Path, r2: Path, prefix: Path, out: Path, sample: str) -> None:
    """bwa mem | samtools fixmate -m | sort | markdup -> ``out`` (+ .bai); one thread."""
    tmp = out.parent / f"{out.name}.tmp"
    cmd = (f"bwa mem -v 1 -t 1 -R '@RG\\tID:{sample}\\tSM:{sample}\\tPL:ILLUMINA' {prefix} {r1} {r2} "
           f"| samtools fixmate -m -u - - | samtools sort -u -m 1G -T {tmp}.s - "
           f"| samtools markdup -T {tmp}.m - {tmp}.bam")
    subprocess.run(["bash", "-o", "pipefail", "-c", cmd], check=True, stderr=subprocess.DEVNULL)
    pysam.index(f"{tmp}.bam", f"{out}.bai")
    os.replace(f"{tmp}.bam", out)


def perfect_expected_fp(depths: np.ndarray, err: float) -> float:
    """Expected false positives of the perfect caller (``accuracy.perfect_sensitivity``'s
    threshold k*(n) at the 1 FP/Mb budget) summed over positions: 3 alt bases x P(X >= k*)."""
    alpha = accuracy.FP_BUDGET_PER_MB / 3e6
    vals, counts = np.unique(depths.astype(int), return_counts=True)
    tot = 0.0
    for n, m in zip(vals, counts):
        if n <= 0:
            continue
        ks = np.arange(0, n + 2)
        tail = stats.binom.sf(ks - 1, n, err / 3)
        k_star = int(ks[np.argmax(tail <= alpha)])
        tot += m * 3 * float(stats.binom.sf(k_star - 1, n, err / 3))
    return tot


def simulate_chunk(k: int, chunk: tuple[str, int, int], work: Path, fasta: Path, prefix: Path, seed: int) -> Path:
    """art + bwa + counting + bcftools for one chunk, cached in ``work/chunk_<k>/`` (``counts.pkl``:
    the plasma and normal fragment counts; ``bcftools.json``; the BAMs). Returns the folder."""
    from unlock_atlas.calling.pileup import count_sample

    c, s, e = chunk
    d = work / f"chunk_{k}"
    if (d / "done").exists():
        return d
    if d.exists():
        shutil.rmtree(d)
    d.mkdir(parents=True)
    t0 = time.perf_counter()
    with pysam.FastaFile(str(fasta)) as fa:
        (d / "chunk.fa").write_text(f">k{k}\n{fa.fetch(c, s, e).upper()}\n")
    bams = {}
    for name, depth, sd in (("P", PLASMA_DEPTH * artsim.INFLATE, 2 * k), ("N", NORMAL_DEPTH * artsim.INFLATE, 2 * k + 1)):
        r1, r2 = artsim.art(d / "chunk.fa", depth, d / f"{name}_", seed * 100_003 + sd)
        bams[name] = d / f"{name}.bam"
        align(r1, r2, prefix, bams[name], name)
        r1.unlink()
        r2.unlink()
    t_sim = time.perf_counter() - t0
    iv = [(c, s + EDGE_TRIM, e - EDGE_TRIM)]
    bed = d / "eval.bed"
    bed.write_text(f"{c}\t{iv[0][1]}\t{iv[0][2]}\n")
    t0 = time.perf_counter()
    # counted in COUNT_WINDOW pieces (the counting engine holds one interval's reads at a time: a
    # 100-kb interval at 2,000x peaks at > 12 GB) and joined back into one interval
    wins = [(c, x, min(x + COUNT_WINDOW, iv[0][2])) for x in range(iv[0][1], iv[0][2], COUNT_WINDOW)]
    counts = {n: join_regions(count_sample(bams[n], fasta, wins, n)) for n in ("P", "N")}
    t_count = time.perf_counter() - t0
    with open(d / "counts.pkl", "wb") as fh:
        pickle.dump(counts, fh, protocol=pickle.HIGHEST_PROTOCOL)
    t0 = time.perf_counter()
    bcf = sorted(list(a) for a in accuracy.run_bcftools(bams["P"], fasta, bed))
    t_bcf = time.perf_counter() - t0
    (d / "bcftools.json").write_text(json.dumps(dict(alleles=bcf, t_sim=t_sim, t_count=t_count, t_bcftools=t_bcf)))
    (d / "done").write_text("")
    return d


def deletions_by_run(sc, priors: dict) -> dict[int, list[float]]:
    """Observed 1-bp deletion errors by the length L of the homopolymer they fall in, against the
    caller's indel prior x L (``genotype.repeat_multiplicity``): per L (8 = 8 or more), [deletion
    fragments, fragment depth at the runs' anchors, runs, prior x L x depth]. Every such deletion
    in a run normalises to the one allele anchored on the base before the run."""
    from unlock_atlas.calling.genotype import INDEL_CLASS

    r = sc.regions[0]
    depth = (r.fwd[:, :4] + r.rev[:, :4]).sum(axis=1)
    seq, out, j = r.ref, {}, 1
    while j < len(seq):
        b, n = seq[j], 1
        while j + n < len(seq) and seq[j + n] == b:
            n += 1
        a = j - 1
        if seq[a] != b and b in "ACGT" and depth[a] >= MIN_DEPTH:
            ev = sc.events.get((r.chrom, r.start + a + 1, seq[a] + b, seq[a]))
            x = out.setdefault(min(n, 8), [0.0, 0.0, 0.0, 0.0])
            x[0] += ev.total if ev else 0
            x[1] += float(depth[a])
            x[2] += 1
            x[3] += priors[INDEL_CLASS] * n * float(depth[a])
        j += n
    return out


def join_regions(sc):
    """One RegionCounts for adjacent counted windows (positions and events are per anchor, so the
    join equals counting the whole interval at once)."""
    from unlock_atlas.calling.pileup import RegionCounts, SampleCounts

    rs = sc.regions
    assert all(a.chrom == b.chrom and a.end == b.start for a, b in zip(rs, rs[1:])), "windows not adjacent"
    one = RegionCounts(rs[0].chrom, rs[0].start, rs[-1].end, "".join(r.ref for r in rs),
                       np.concatenate([r.fwd for r in rs]), np.concatenate([r.rev for r in rs]),
                       np.concatenate([r.rpos for r in rs]), np.concatenate([r.lowmq for r in rs]))
    return SampleCounts(sc.sample_id, [one], dict(sc.events))


def evaluate_chunk(d: Path) -> dict:
    """Genotype a simulated chunk with the current caller and count its false positives."""
    from unlock_atlas.calling.caller import genotype_patient
    from unlock_atlas.calling.genotype import class_priors

    with open(d / "counts.pkl", "rb") as fh:
        counts = pickle.load(fh)
    side = json.loads((d / "bcftools.json").read_text())
    sc, nsc = counts["P"], counts["N"]
    t0 = time.perf_counter()
    calls = genotype_patient({"P": sc, "N": nsc}, "N", {"P": "plasma", "N": "normal"})
    t_geno = time.perf_counter() - t0
    r = sc.regions[0]
    tot = r.fwd[:, :4] + r.rev[:, :4]
    depth = tot.sum(axis=1)
    ok = depth >= MIN_DEPTH
    refi = np.array(["ACGT".find(b) for b in r.ref])
    good = ok & (refi >= 0)
    refc = tot[np.flatnonzero(good), refi[good]]
    calib = accuracy.calibration(sc, nsc, {(r.chrom, r.start): ok})
    p = calls[calls["sample_id"] == "P"] if len(calls) else calls
    okpos = {r.start + int(i) + 1 for i in np.flatnonzero(ok)}

    def keys(rows):
        return [[x.chrom, int(x.pos), x.v_ref, x.v_alt, x.filter, x.origin, int(x.alt), int(x.depth)]
                for x in rows.itertuples() if int(x.pos) in okpos]

    empty = len(p) == 0
    return dict(chunk=[r.chrom, r.start - EDGE_TRIM, r.end + EDGE_TRIM], eval_bp=int(ok.sum()),
                bp_1000=int((depth >= 1000).sum()), median_depth=float(np.median(depth)),
                mismatches=int(depth[good].sum() - refc.sum()), fragments=int(depth[good].sum()),
                depth_hist=np.bincount(np.minimum(depth[ok], 20000)).tolist(),
                fp=[] if empty else keys(p[(p["status"] == "called") & (p["filter"] == "PASS")]),
                fp_any_filter=[] if empty else keys(p[p["status"] == "called"]),
                below_threshold=[] if empty else keys(p[p["status"] == "detected_below_threshold"]),
                fp_bcftools=[a for a in side["alleles"] if a[1] in okpos], calibration=calib,
                deletions_by_run={str(k): v for k, v in deletions_by_run(sc, class_priors([sc, nsc])).items()},
                t_sim=side["t_sim"], t_ours=side["t_count"] + t_geno, t_bcftools=side["t_bcftools"])


def _worker(args) -> tuple[int, dict]:
    k, chunk, work, fasta, prefix, seed = args
    return k, evaluate_chunk(simulate_chunk(k, chunk, work, fasta, prefix, seed))


def report(res: dict[int, dict], planned: int) -> None:
    xs = list(res.values())
    if not xs:
        print("no chunk finished yet")
        return
    mb = sum(x["eval_bp"] for x in xs) / 1e6
    mb1000 = sum(x["bp_1000"] for x in xs) / 1e6
    err = sum(x["mismatches"] for x in xs) / sum(x["fragments"] for x in xs)
    hist = np.zeros(max(len(x["depth_hist"]) for x in xs), np.int64)
    for x in xs:
        hist[:len(x["depth_hist"])] += x["depth_hist"]
    depths = np.repeat(np.arange(len(hist)), hist)
    med = float(np.median(depths))
    perf = perfect_expected_fp(depths, err)
    n_fp = sum(len(x["fp"]) for x in xs)
    n_any = sum(len(x["fp_any_filter"]) for x in xs)
    n_below = sum(len(x["below_threshold"]) for x in xs)
    n_bcf = sum(len(x["fp_bcftools"]) for x in xs)
    print(f"\nchunks evaluated: {len(xs)} of {planned}; evaluated {mb:.3f} Mb with >= {MIN_DEPTH} deduplicated "
          f"fragments ({mb1000:.3f} Mb >= 1,000); median depth {med:.0f}; per-base error {err:.2e}")
    print("\n| caller | variant-free plasma Mb | false positives | FP/Mb [Garwood 95 %] |\n|---|---|---|---|")
    for name, k in (("unlock-atlas (called, PASS)", n_fp), ("unlock-atlas (called, any FILTER)", n_any),
                    ("bcftools call -mv", n_bcf)):
        lo, hi = accuracy.garwood(k)
        print(f"| {name} | {mb:.3f} | {k} | {k / mb:.2f} [{lo / mb:.2f}-{hi / mb:.2f}] |")
    print(f"| perfect caller (expected, same budget) | {mb:.3f} | {perf:.2f} | {perf / mb:.2f} |")
    print(f"\nunlock-atlas detected_below_threshold alleles (not calls; shown for the record): {n_below} "
          f"({n_below / mb:.1f}/Mb)")
    tests = sum(x["calibration"]["tests"] for x in xs)
    hits = np.sum([x["calibration"]["hits"] for x in xs], axis=0)
    print("\nBackground-model calibration, (position, alt base) tests with P <= t, observed / expected:\n")
    print("| tests | " + " | ".join(f"P <= {t:g}" for t in accuracy.P_THRESHOLDS) + " |\n|---|"
          + "---|" * len(accuracy.P_THRESHOLDS))
    print(f"| {tests} | " + " | ".join(f"{h} / {t * tests:.1f}" for h, t in zip(hits, accuracy.P_THRESHOLDS)) + " |")
    print("\n1-bp deletion errors by homopolymer length L against the indel prior x L "
          "(the repeat-multiplicity model; observed / expected fragments):\n")
    print("| L | runs | deletion fragments observed | expected (prior x L) | ratio |\n|---|---|---|---|---|")
    agg: dict[str, np.ndarray] = {}
    for x in xs:
        for k, v in x["deletions_by_run"].items():
            agg[k] = agg.get(k, np.zeros(4)) + np.asarray(v)
    for k in sorted(agg, key=int):
        o, _, n, e = agg[k]
        print(f"| {k}{'+' if k == '8' else ''} | {int(n)} | {int(o)} | {e:.1f} | {o / e:.2f} |")
    for x in xs:
        for f in x["fp_any_filter"]:
            print(f"  unlock-atlas called: {f}")
        for f in x["fp_bcftools"]:
            print(f"  bcftools: {f}")
    t = {k: sum(x[k] for x in xs) for k in ("t_sim", "t_ours", "t_bcftools")}
    print(f"\nCPU-side times summed over chunks: art + bwa + samtools {t['t_sim'] / 60:.0f} min, "
          f"unlock-atlas counting + genotyping {t['t_ours'] / 60:.0f} min, bcftools {t['t_bcftools'] / 60:.0f} min")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--work", type=Path, default=Path("/tmp/calling-bench/fp"))
    ap.add_argument("--mb", type=float, default=3.2, help="evaluated sequence to plan (Mb)")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--report-only", action="store_true",
                    help="re-genotype and report the chunks already simulated; simulate no more")
    a = ap.parse_args(argv)
    for tool in ("art_illumina", "bwa", "samtools"):
        if shutil.which(tool) is None:
            sys.exit(f"{tool} not on PATH: apt-get install art-nextgen-simulation-tools bwa samtools")
    a.work.mkdir(parents=True, exist_ok=True)
    fasta = region_fasta()
    chunks = plan_chunks(fasta, a.mb, a.seed)
    print(f"{len(chunks)} chunks planned, {sum(e - s - 2 * EDGE_TRIM for _, s, e in chunks) / 1e6:.2f} Mb of "
          f"interiors", flush=True)
    # every finished chunk is re-genotyped with the current caller (seconds); only the simulation is cached
    ks = [k for k in range(len(chunks)) if (a.work / f"chunk_{k}" / "done").exists() or not a.report_only]
    prefix = bwa_index(fasta, a.work)
    res: dict[int, dict] = {}
    t0 = time.perf_counter()
    with ProcessPoolExecutor(max_workers=a.jobs) as ex:
        futs = [ex.submit(_worker, (k, chunks[k], a.work, fasta, prefix, a.seed)) for k in ks]
        for i, f in enumerate(as_completed(futs), 1):
            k, r = f.result()
            res[k] = r
            el = time.perf_counter() - t0
            print(f"  chunk {k} {r['chunk'][0]}:{r['chunk'][1]}-{r['chunk'][2]} ({i}/{len(ks)}, {el / 60:.0f} min, "
                  f"~{el / i * (len(ks) - i) / 60:.0f} min left): {len(r['fp'])} FP, {len(r['fp_bcftools'])} "
                  f"bcftools FP, median depth {r['median_depth']:.0f}", flush=True)
    report(res, len(chunks))


if __name__ == "__main__":
    main()
