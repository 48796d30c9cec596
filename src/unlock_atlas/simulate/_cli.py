"""``unlock-atlas simulate``: write a simulated demo cohort (config, BAMs/FASTQs, truth)."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "simulate",
        help="simulate a demo cohort (BAMs or FASTQs + truth tables + run config)",
        description="Simulate longitudinal tissue/plasma/normal panel sequencing of a demo cohort with planted "
                    "resistance alterations. Writes DIR/config/{config.yaml,patients.tsv,samples.tsv}, "
                    "DIR/bams/<sample>.bam(.bai) (or DIR/fastq/ with --fastq) and "
                    "DIR/truth/{variants,copy_number,mechanisms}.tsv.",
    )
    p.add_argument("--out", required=True, metavar="DIR", help="run directory to write")
    p.add_argument("--seed", required=True, type=int, help="master seed (same seed -> same data)")
    p.add_argument("--cohort", default="demo", choices=["demo", "small"],
                   help="demo: 6 patients x 6 samples; small: 2 patients, shallower (tests)")
    p.add_argument("--fastq", action="store_true", help="write paired FASTQ.gz instead of aligned BAMs")
    p.add_argument("--threads", type=int, default=2, help="samples simulated in parallel (default 2)")
    p.add_argument("--data-dir", default=None, metavar="D",
                   help="shared GRCh38 data directory (default: $UNLOCK_ATLAS_DATA, then ../shared/data)")
    p.add_argument("--scenario", default=None, metavar="YAML",
                   help="scenario file (default: the bundled resources/demo_cohort.yaml)")
    p.add_argument("--cache", action="store_true",
                   help="reuse a cached simulation of the same request and simulator code, or simulate once and "
                        "cache it ($UNLOCK_ATLAS_CACHE, else $XDG_CACHE_HOME/unlock-atlas/sim or "
                        "~/.cache/unlock-atlas/sim; UNLOCK_ATLAS_CACHE=off disables)")
    p.set_defaults(func=handler)


def handler(args: argparse.Namespace) -> int:
    if args.cache:
        from .cache import cached_simulation

        status = cached_simulation(args.out, args.seed, cohort=args.cohort, fastq=args.fastq,
                                   threads=max(1, args.threads), data_dir=args.data_dir, scenario=args.scenario)
        print(f"simulation of cohort {args.cohort!r} (seed {args.seed}) in {args.out}: {status}"
              + (" from the cache" if status == "reused" else ""))
        return 0
    from .run import simulate_cohort

    simulate_cohort(args.out, args.seed, cohort=args.cohort, fastq=args.fastq, threads=max(1, args.threads),
                    data_dir=args.data_dir, scenario=args.scenario)
    return 0
