"""The analyst's sub-commands over a built atlas:

* ``unlock-atlas query RESULTS "SQL" [--csv | --json] [--max-rows N]``
* ``unlock-atlas diff A B [--json]`` (exit 0: same content, 1: differences)
* ``unlock-atlas dictionary [--out docs/atlas.md] [--check]``
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

#: Rows printed as an aligned table before the output is cut (a terminal is not a data export;
#: --csv / --json print everything).
DEFAULT_MAX_ROWS = 200


def register(subparsers: argparse._SubParsersAction) -> None:
    q = subparsers.add_parser(
        "query", help="run DuckDB SQL over the atlas tables and named views",
        description="Run SQL over the atlas: every table is a view (patients, samples, variants, ...), plus "
        "the named views resistance_events and plasma_kinetics (docs/atlas.md). RESULTS is the results "
        "directory or the atlas directory.")
    q.add_argument("results", type=Path, help="results/ or results/atlas/")
    q.add_argument("sql", help="the SQL statement (quote it)")
    fmt = q.add_mutually_exclusive_group()
    fmt.add_argument("--csv", action="store_true", help="print CSV (all rows) instead of an aligned table")
    fmt.add_argument("--json", action="store_true", help="print a JSON array of row objects (all rows)")
    q.add_argument("--max-rows", type=int, default=DEFAULT_MAX_ROWS,
                   help=f"rows shown in the aligned table (default {DEFAULT_MAX_ROWS}; 0 = all)")
    q.set_defaults(func=query_handler)

    d = subparsers.add_parser(
        "diff", help="compare two atlases: rows added / removed / changed per table",
        description="Compare atlas A with atlas B table by table. Rows are matched by each table's row key "
        "(docs/atlas.md); 'changed' = same key, other values differ. Exit status 0 when the content is the "
        "same, 1 when it differs.")
    d.add_argument("a", type=Path, help="first atlas (results/ or results/atlas/)")
    d.add_argument("b", type=Path, help="second atlas")
    d.add_argument("--json", action="store_true", help="print JSON instead of a table")
    d.set_defaults(func=diff_handler)

    g = subparsers.add_parser(
        "dictionary", help="write the atlas data dictionary (docs/atlas.md) from the table schemas",
        description="Render the data dictionary from the registered pyarrow schemas (columns, types, units, "
        "allowed values, how computed) and the named views.")
    g.add_argument("--out", type=Path, help="write here (default: print)")
    g.add_argument("--check", action="store_true", help="do not write; exit 1 if --out is not up to date")
    g.set_defaults(func=dictionary_handler)


def print_frame(df, *, csv: bool = False, as_json: bool = False, max_rows: int = DEFAULT_MAX_ROWS) -> None:
    """Print a DataFrame as CSV, JSON records or an aligned table (NULL for missing values)."""
    import pandas as pd

    if csv:
        df.to_csv(sys.stdout, index=False)
        return
    if as_json:
        print(df.to_json(orient="records", date_format="iso", indent=1))
        return
    shown = df if not max_rows or len(df) <= max_rows else df.head(max_rows)
    if len(df.columns) and not len(df):
        print("  ".join(map(str, df.columns)))
    elif len(df.columns):
        shown = shown.copy()
        for col in shown.columns:  # one spelling (NULL) for None / NaN / <NA>; numbers keep their format
            if not pd.api.types.is_numeric_dtype(shown[col]) or pd.api.types.is_bool_dtype(shown[col]):
                shown[col] = shown[col].astype(object).where(shown[col].notna(), "NULL")
        print(shown.to_string(index=False, na_rep="NULL"))
    more = f"; first {len(shown)} shown: --max-rows 0, --csv or --json for all" if len(shown) < len(df) else ""
    print(f"({len(df)} row{'s' if len(df) != 1 else ''}{more})")


def query_handler(args: argparse.Namespace) -> int:
    from .load import load_atlas

    df = load_atlas(args.results).sql(args.sql)
    print_frame(df, csv=args.csv, as_json=args.json, max_rows=args.max_rows)
    return 0


def diff_handler(args: argparse.Namespace) -> int:
    from .diff import diff_atlases, diff_frame

    diffs, meta = diff_atlases(args.a, args.b)
    frame = diff_frame(diffs)
    if args.json:
        print(json.dumps({"manifest": {k: list(v) for k, v in meta.items()},
                          "tables": json.loads(frame.to_json(orient="records"))}, indent=1))
    else:
        for k, (va, vb) in meta.items():
            print(f"{k}: {va} -> {vb}")
        print_frame(frame.drop(columns=["note"] if not frame["note"].any() else []), max_rows=0)
        same = all(d.same for d in diffs)
        print("same content" if same else "content differs")
    return 0 if all(d.same for d in diffs) else 1


def dictionary_handler(args: argparse.Namespace) -> int:
    from .dictionary import render_dictionary, write_dictionary

    if args.check:
        if args.out is None:
            print("--check needs --out (the file to compare)", file=sys.stderr)
            return 2
        current = args.out.read_text() if args.out.is_file() else ""
        if current != render_dictionary():
            print(f"{args.out} is out of date -> unlock-atlas dictionary --out {args.out}", file=sys.stderr)
            return 1
        print(f"{args.out} is up to date")
        return 0
    if args.out is None:
        sys.stdout.write(render_dictionary())
    else:
        write_dictionary(args.out)
        print(f"wrote {args.out}")
    return 0
