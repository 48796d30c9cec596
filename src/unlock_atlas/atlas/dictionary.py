"""The atlas data dictionary (docs/atlas.md), generated from the registered pyarrow schemas.

One source of truth: every table's columns, types, units, allowed values and "how computed"
text come from the field metadata of :data:`unlock_atlas.contract.schema.TABLES` (the same
metadata the manifest's ``columns`` carries), and the named views' columns and SQL from
:mod:`unlock_atlas.atlas.query` run on empty tables of those schemas. Regenerate with::

    unlock-atlas dictionary --out docs/atlas.md

``tests/test_atlas_analyst.py`` fails when docs/atlas.md differs from :func:`render_dictionary`
or when a column lacks a description.
"""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import pyarrow as pa

from ..contract.schema import SCHEMA_VERSION, TABLES, column_docs
from .diff import row_key

#: Path of the generated dictionary, relative to the repository root.
DOC_PATH = "docs/atlas.md"

#: Descriptions of the tables built by the atlas stage itself (tables built from stage parts
#: are described by the docstring of their ``schema_<table>.py``, or by a ``description`` key in
#: the schema's metadata, which wins when present).
CORE_TABLE_DOCS = {
    "patients": "One row per patient: the clinical sheet (patients.tsv) with the knowledge base's drug class and "
                "targets, the derived resistance type and sample counts. Built by the atlas stage.",
    "samples": "One row per sequenced sample: the sample sheet (samples.tsv) with per-sample QC metrics "
               "(results/qc) and the QC status derived from them. Built by the atlas stage.",
}


def _md(text: str) -> str:
    """Text for a Markdown table cell: rST ``code`` to Markdown, pipes escaped, one line."""
    text = re.sub(r":\w+:`~?([^`]+)`", r"`\1`", text)
    text = text.replace("``", "`").replace("|", "\\|")
    return " ".join(text.split())


def table_description(name: str, schema: pa.Schema) -> str:
    """What one row of table ``name`` is (schema metadata, else its schema module's docstring)."""
    meta = schema.metadata or {}
    if b"description" in meta:
        return _md(meta[b"description"].decode())
    if name in CORE_TABLE_DOCS:
        return CORE_TABLE_DOCS[name]
    try:
        doc = importlib.import_module(f"unlock_atlas.contract.schema_{name}").__doc__ or ""
    except ModuleNotFoundError:
        doc = ""
    first = doc.strip().split("\n\n")[0]
    return _md(first) or "(no table description: add a docstring to its schema module)"


def _allowed(doc: dict) -> str:
    return ", ".join(f"`{v}`" for v in doc.get("allowed", []))


def _table_section(name: str, schema: pa.Schema) -> list[str]:
    key = row_key(name, schema.names)
    lines = [f"## `{name}`", "", table_description(name, schema), "",
             f"File: `{name}.parquet`. Row key (used by `unlock-atlas diff`): "
             + (", ".join(f"`{k}`" for k in key) if key else "none (whole rows are compared)") + ".", "",
             "| column | type | null? | unit | allowed values | description (how computed) | filled by |",
             "|---|---|---|---|---|---|---|"]
    for doc in column_docs(schema):
        lines.append(f"| `{doc['name']}` | {doc['type']} | {'yes' if doc['nullable'] else 'no'} | "
                     f"{_md(doc.get('unit', ''))} | {_allowed(doc)} | {_md(doc['description'])} | "
                     f"{_md(doc.get('filled_by', ''))} |")
    return lines + [""]


def _view_sections(schemas: dict[str, pa.Schema]) -> list[str]:
    from .query import VIEWS, connect, view_sql

    con, _ = connect({name: pa.Table.from_batches([], schema=s) for name, s in schemas.items()})
    sqls = view_sql(schemas)
    lines = ["## Named views (`unlock-atlas query`, `Atlas.sql`)", "",
             "Besides one view per table, the query connection defines these views. Their SQL is generated "
             "from the columns each table has, so they work on empty tables; below is the SQL for the tables "
             "of this schema version.", ""]
    for view in VIEWS:
        lines += [f"### `{view.name}`", "", _md(view.description) + ".", "",
                  "Reads: " + ", ".join(f"`{t}`" for t in view.needs) + ".", ""]
        if view.name not in sqls:
            lines += ["Not available with the tables registered in this version (it needs "
                      + ", ".join(t for t in view.needs if t not in schemas) + ").", ""]
            continue
        cols = con.execute(f'DESCRIBE "{view.name}"').fetchall()
        lines += ["| column | type |", "|---|---|"] + [f"| `{c[0]}` | {c[1]} |" for c in cols]
        lines += ["", "```sql", sqls[view.name], "```", ""]
    con.close()
    return lines


def render_dictionary(tables: dict[str, pa.Schema] | None = None) -> str:
    """docs/atlas.md as a string (deterministic: no dates, tables in registration order)."""
    tables = TABLES if tables is None else tables
    lines = [
        "# Atlas data dictionary",
        "",
        "<!-- Generated from the pyarrow schemas in src/unlock_atlas/contract/schema*.py by "
        "`unlock-atlas dictionary --out docs/atlas.md`. Do not edit by hand. -->",
        "",
        f"Schema version **{SCHEMA_VERSION}** (`manifest.json` → `schema_version`). `MAJOR.MINOR`: new tables "
        "or nullable columns bump MINOR (older readers still read the atlas); renamed or removed columns, or a "
        "changed type or meaning, bump MAJOR. `load_atlas` refuses an atlas of another MAJOR or a newer MINOR "
        "and says what to do.",
        "",
        "`results/atlas/` holds one Parquet file per table and `manifest.json` (schema version, pipeline "
        "version, reference build, config hash, creation time, row counts and these column docs). Conventions:",
        "",
        "* `patient_id` / `sample_id` are keyed pseudonyms when `privacy.pseudonymise` is on (the map stays in "
        "`results/private/id_map.tsv`); days are counted from treatment start, never calendar dates.",
        "* A column with a *filled by* entry is written by a later pipeline stage: it exists from the start and "
        "is null until that stage has run, never a placeholder value.",
        "* Quantities carry their unit; categorical columns list their allowed values.",
        "",
        "## Loading",
        "",
        "```python",
        "import unlock_atlas",
        "atlas = unlock_atlas.load_atlas(\"results\")        # or results/atlas; checks the schema version",
        "atlas.variants                                    # pandas DataFrame (read on first use)",
        "atlas.to_polars().variants                        # polars DataFrame (pip install polars)",
        "atlas.sql(\"SELECT * FROM plasma_kinetics\")        # DuckDB over all tables and named views",
        "",
        "import pandas as pd, duckdb                        # or without this package:",
        "pd.read_parquet(\"results/atlas/variants.parquet\")",
        "duckdb.sql(\"SELECT * FROM 'results/atlas/variants.parquet'\")",
        "```",
        "",
        "From the shell: `unlock-atlas query results \"SELECT class, count(*) FROM mechanisms GROUP BY 1\"` "
        "(`--csv`, `--json`), and `unlock-atlas diff A B` (rows added / removed / changed per table, by the "
        "row keys below).",
        "",
        "Worked examples: `notebooks/first_look.ipynb` (cohort, mechanisms, one patient's VAF trajectory) and "
        "`notebooks/ctdna_kinetics.ipynb` (plasma VAF kinetics, tumour fraction, molecular lead time); set "
        "`UNLOCK_ATLAS_RESULTS` to a run's `results/` or edit `RESULTS` in the first cell.",
        "",
        "## Tables",
        "",
        "| table | columns | row key |",
        "|---|---|---|",
    ]
    for name, schema in tables.items():
        key = row_key(name, schema.names)
        lines.append(f"| [`{name}`](#{name}) | {len(schema)} | {', '.join(key) if key else '(whole row)'} |")
    lines.append("")
    for name, schema in tables.items():
        lines += _table_section(name, schema)
    lines += _view_sections(tables)
    return "\n".join(lines).rstrip() + "\n"


def write_dictionary(out: str | Path) -> Path:
    """Write :func:`render_dictionary` to ``out`` atomically."""
    from ..atomic import write_text_atomic

    write_text_atomic(out, render_dictionary())
    return Path(out)


def undocumented_columns(tables: dict[str, pa.Schema] | None = None) -> list[str]:
    """``table.column`` for every column without a description, or with a malformed ``allowed`` list."""
    bad = []
    for name, schema in (TABLES if tables is None else tables).items():
        for doc in column_docs(schema):
            allowed = doc.get("allowed", [])
            if len(doc["description"].strip()) < 8 or not isinstance(allowed, list) \
                    or not all(isinstance(v, str) for v in allowed):
                bad.append(f"{name}.{doc['name']}")
    return bad
