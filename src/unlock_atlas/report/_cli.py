"""``unlock-atlas report ATLAS -o OUT``: the cohort report for programme leads (docs/report.md)."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("report", help="cohort report (self-contained HTML, patient pages, summary PDF)",
                              description="Build the cohort report from an atlas directory (results/ or results/atlas/) "
                              "alone: cohort_report.html, patients/<pseudonym>.html and cohort_summary.pdf.")
    p.add_argument("atlas", help="atlas directory (results/ or results/atlas/)")
    p.add_argument("-o", "--output", required=True, help="report directory (e.g. results/report; replaced whole)")
    p.add_argument("--no-pdf", action="store_true", help="skip the summary PDF")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from .build import build_report

    times = build_report(args.atlas, args.output, pdf=not args.no_pdf)
    print(f"report: {args.output} ({times['total_s']:.1f} s)")
    return 0
