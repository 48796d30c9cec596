"""Per-base error rate before and after single-strand and duplex UMI consensus (issue 16, item 4).

Usage::

    nice -n 10 python benchmarks/umi/error_rate.py [--work /tmp/umi-bench] [--molecules 12000]
        [--window 4000] [--seed 16]

Reads: the project's UMI simulator (``unlock_atlas.simulate.umi``; art_illumina is not installed
on this machine) over real GRCh38 sequence of six shared panel regions (``../shared/data``):
a duplex library (``alpha-beta`` UMIs), negative-binomial family sizes (mean 5 reads per
strand), strand damage 3e-5 per base, PCR errors 1e-6 per base per duplication over 12 cycles,
sequencing errors from the project's Illumina quality profile. No variant is planted, so every
mismatch against the reference is an error.

Counted like the caller counts: primary reads with MAPQ >= 20, bases with quality >= 20 that
are not N, every read separately (mates' overlap counted twice, in all three rows alike).
``raw (all bases)`` also counts bases below Q20. Intervals: Wilson 95 % (``domain.wilson``).
Targets (issue 16): single-strand <= 1e-4, duplex <= 1e-5.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import pysam

from unlock_atlas.domain import wilson
from unlock_atlas.paths import resolve_data_dir
from unlock_atlas.simulate.umi.molecules import UmiSimParams, regions_from_fasta, simulate_umi_reads
from unlock_atlas.umi import umi_consensus

#: EGFR, KRAS, BRAF, TP53, PIK3CA, ALK region contigs of the shared FASTA
CONTIGS = ["chr7_55014032_55258620", "chr12_25205246_25250929", "chr7_140717327_140929764",
           "chr17_7659779_7692550", "chr3_179143523_179242093", "chr2_29190774_29926566"]
_CODE = np.full(256, 4, dtype=np.uint8)
for _i, _b in enumerate(b"ACGT"):
    _CODE[_b] = _i


def error_counts(bam: Path, refs: dict[str, np.ndarray], min_q: int = 20) -> dict[str, int]:
    """Mismatching / compared bases (``min_q`` and ``0`` thresholds) over aligned M positions."""
    out = {"errors": 0, "bases": 0, "errors_all": 0, "bases_all": 0}
    with pysam.AlignmentFile(str(bam)) as fh:
        for r in fh:
            if r.flag & 0xF04 or r.mapping_quality < 20:
                continue
            ref = refs[r.reference_name]
            pairs = np.array(r.get_aligned_pairs(matches_only=True), dtype=np.int64)
            if not len(pairs):
                continue
            seq = _CODE[np.frombuffer(r.query_sequence.encode(), dtype=np.uint8)][pairs[:, 0]]
            qual = np.asarray(r.query_qualities, dtype=np.int64)[pairs[:, 0]]
            truth = ref[pairs[:, 1]]
            called = seq < 4
            mism = called & (seq != truth)
            out["errors_all"] += int(mism.sum())
            out["bases_all"] += int(called.sum())
            good = called & (qual >= min_q)
            out["errors"] += int((mism & good).sum())
            out["bases"] += int(good.sum())
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--work", type=Path, default=Path("/tmp/umi-bench"))
    ap.add_argument("--molecules", type=int, default=12000)
    ap.add_argument("--window", type=int, default=4000, help="bp of each region where molecules are placed")
    ap.add_argument("--seed", type=int, default=16)
    args = ap.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    fasta = resolve_data_dir(None) / "reference_grch38" / "panel_genes.GRCh38.fa"
    regions = regions_from_fasta(fasta, CONTIGS)
    for r in regions:                      # a window in the middle of each region
        mid = len(r.seq) // 2
        r.intervals = [(mid - args.window // 2, mid + args.window // 2)]
    refs = {r.contig: _CODE[np.frombuffer(r.seq.encode(), dtype=np.uint8)] for r in regions}
    params = UmiSimParams(molecules=args.molecules, seed=args.seed)
    t0 = time.monotonic()
    raw = args.work / "raw.bam"
    truth = simulate_umi_reads(regions, params, raw, args.work / "truth.tsv", sample_id="BENCH")
    t_sim = time.monotonic() - t0
    rows = [("raw reads", raw, None, t_sim)]
    for mode in ("single", "duplex"):
        t0 = time.monotonic()
        out = args.work / f"{mode}.bam"
        m = umi_consensus(raw, out, mode, {}, args.work / f"{mode}.metrics.json", "BENCH")
        rows.append((f"{mode}-strand consensus" if mode == "single" else "duplex consensus", out, m, time.monotonic() - t0))
    print(f"planted molecules {truth['molecule'].nunique():,}, strand families {len(truth):,}, raw read pairs "
          f"{int(truth['reads'].sum()):,}; {len(CONTIGS)} regions x {args.window:,} bp; seed {args.seed}")
    print("| reads | pairs | bases (Q>=20) | errors | error rate | 95 % CI | raw (all bases) rate | wall s |")
    print("|---|---:|---:|---:|---:|---|---:|---:|")
    result = {}
    for label, bam, m, wall in rows:
        c = error_counts(bam, refs)
        lo, hi = wilson(c["errors"], c["bases"])
        pairs = m["consensus_pairs"] if m else int(truth["reads"].sum())
        rate = c["errors"] / c["bases"]
        print(f"| {label} | {pairs:,} | {c['bases']:,} | {c['errors']:,} | {rate:.2e} | {float(lo):.1e}-{float(hi):.1e} "
              f"| {c['errors_all'] / c['bases_all']:.2e} | {wall:.1f} |")
        result[label] = {**c, "rate": rate, "ci95": [float(lo), float(hi)], "pairs": pairs, "wall_s": wall}
    (args.work / "error_rate.json").write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
