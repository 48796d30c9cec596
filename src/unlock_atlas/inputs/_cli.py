"""``unlock-atlas validate``: check a run's config and sheets, reporting every problem at once."""

from __future__ import annotations

import argparse
import logging

logger = logging.getLogger(__name__)


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``validate`` sub-command."""
    p = subparsers.add_parser(
        "validate",
        help="check config.yaml, patients.tsv and samples.tsv (every problem at once)",
        description="Validate a run's inputs: the config, both sheets, the files they name, BAM indexes "
                    "and BAM headers (build and panel contigs). Prints a summary, or every problem with "
                    "file, line, column and fix (exit code 2).",
    )
    p.add_argument("--config", required=True, help="config.yaml of the run")
    p.add_argument("--directory", "-d", default=None,
                   help="run directory: relative paths in the config and sheets resolve against it "
                        "(default: the current directory)")
    p.add_argument("--no-check-files", action="store_true",
                   help="do not check that files exist, BAM indexes and headers (sheets only)")
    p.set_defaults(func=handle)


def handle(args: argparse.Namespace) -> int:
    """Run the validation; user errors propagate as ``UnlockError`` (exit 2 in ``cli.main``)."""
    from .run import load_run

    run = load_run(args.config, args.directory, check_files=not args.no_check_files)
    counts = run.samples["sample_type"].value_counts()
    print(f"OK: {len(run.patients)} patients, {len(run.samples)} samples "
          f"({int(counts.get('tissue', 0))} tissue, {int(counts.get('plasma', 0))} plasma, "
          f"{int(counts.get('normal', 0))} normal)")
    return 0
