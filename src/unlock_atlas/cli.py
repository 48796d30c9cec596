"""``unlock-atlas``: a thin command-line layer over the package functions.

Each stage module owns its sub-command in a ``_cli.py`` with two functions,
``register(subparsers)`` and the handler it sets as ``func``. This file only collects them and
turns :class:`~unlock_atlas.errors.UnlockError` into a one-paragraph message and exit code 2
(no traceback for user errors).
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

from . import __version__
from .errors import UnlockError

#: Modules that register sub-commands, in the order they appear in ``--help``.
COMMAND_MODULES = [
    "unlock_atlas.inputs._cli",      # validate
    "unlock_atlas.reference._cli",   # prepare-reference
    "unlock_atlas.simulate._cli",    # simulate
    "unlock_atlas.align._cli",       # align
    "unlock_atlas.umi._cli",         # umi-consensus
    "unlock_atlas.qc._cli",          # qc
    "unlock_atlas.calling._cli",     # call
    "unlock_atlas.importcalls._cli", # import
    "unlock_atlas.annotation._cli",  # annotate
    "unlock_atlas.copynumber._cli",  # copynumber
    "unlock_atlas.identity._cli",    # identity
    "unlock_atlas.classify._cli",    # classify
    "unlock_atlas.singlecell._cli",  # sc
    "unlock_atlas.atlas._cli",       # atlas
    "unlock_atlas.export._cli",      # export
    "unlock_atlas.report._cli",      # report
    "unlock_atlas.atlas._cli_query", # query, diff, dictionary
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="unlock-atlas",
        description="Unlock resistance atlas: longitudinal tissue + ctDNA + scRNA → Parquet atlas.",
    )
    parser.add_argument("--version", action="version", version=f"unlock-atlas {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        try:
            mod = importlib.import_module(name)
        except ModuleNotFoundError as exc:  # a stage not built yet must not break the others
            if exc.name and exc.name.startswith(name):
                continue
            raise
        mod.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
    )
    if not getattr(args, "func", None):
        parser.print_help()
        return 1
    try:
        rc = args.func(args)
    except UnlockError as exc:
        print(f"unlock-atlas {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    return int(rc or 0)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
