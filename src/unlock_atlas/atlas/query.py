"""DuckDB over the atlas: every table a view, plus named cross-table views.

``unlock-atlas query RESULTS "SQL"`` and :meth:`unlock_atlas.atlas.load.Atlas.sql` open an
in-memory DuckDB connection in which

* every table of the atlas is a view over its Parquet file (nothing is copied into memory
  until a query reads it);
* a table this package registers but the atlas lacks (an atlas built before the table
  existed) is NOT invented: a query naming it gets an error saying to rebuild the atlas;
* the named views of :data:`VIEWS` are created from whatever tables exist. Their SQL is
  generated from the columns actually present, so they work on empty tables and on atlases
  whose later-stage columns are still null; a view whose source tables are missing is skipped
  and a query that names it is told why.

Named views are documented in docs/atlas.md from this module (the same SQL that runs).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa

from ..errors import UnlockError


class QueryError(UnlockError):
    """The SQL failed (syntax, unknown table or column): message lists the tables and views."""


@dataclass(frozen=True)
class View:
    """A named cross-table view.

    Attributes
    ----------
    name
        View name in SQL.
    description
        What one row is and how it is built (rendered into docs/atlas.md).
    needs
        Tables the view reads; the view is skipped (with a reason) when one is missing.
    sql
        Builds the ``SELECT`` from the columns each needed table actually has.
    """

    name: str
    description: str
    needs: tuple[str, ...]
    sql: Callable[[dict[str, list[str]]], str]


def _q(name: str) -> str:
    """A quoted SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


def _prefixed(alias: str, cols: list[str], taken: set[str], prefix: str, skip: set[str]) -> list[str]:
    """``alias.col`` for each column not in ``skip``; a name already ``taken`` gets ``prefix``."""
    out = []
    for c in cols:
        if c in skip:
            continue
        name = f"{prefix}{c}" if c in taken else c
        taken.add(name)
        out.append(f"{alias}.{_q(c)} AS {_q(name)}")
    return out


def _resistance_events(cols: dict[str, list[str]]) -> str:
    m, a, p = cols["mechanisms"], cols["alterations"], cols["patients"]
    taken = set(m)
    select = ["m.*"]
    select += _prefixed("a", a, taken, "alteration_", {"patient_id", "alteration_id"})
    select += _prefixed("p", p, taken, "patient_", {"patient_id"})
    return (f"SELECT {', '.join(select)}\nFROM mechanisms AS m\n"
            "LEFT JOIN alterations AS a ON a.patient_id = m.patient_id AND a.alteration_id = m.alteration_id\n"
            "LEFT JOIN patients AS p ON p.patient_id = m.patient_id")


#: Variant statuses that count as "seen" in a plasma sample for the kinetics view.
DETECTED = ("called", "detected_below_threshold")


def _plasma_kinetics(cols: dict[str, list[str]]) -> str:
    v, s = cols["variants"], cols["samples"]
    opt = [f"v.{_q(c)}" for c in ("gene", "hgvsp", "hgvsp_short", "hgvsc", "kind", "vaf_ci_low", "vaf_ci_high",
                                  "detection_score") if c in v]
    coords = "v.chrom || ':' || CAST(v.pos AS VARCHAR) || ' ' || v.ref || '>' || v.alt"
    names = [f"v.{c}" for c in ("hgvsp_short", "hgvsp", "hgvsc") if c in v]
    label = (f"coalesce(v.gene || ' ' || coalesce({', '.join(names)}), {coords})"
             if names and "gene" in v else coords)
    tf = "s.tumour_fraction" if "tumour_fraction" in s else "CAST(NULL AS DOUBLE)"
    alt_cols, alt_join = "", ""
    a = cols.get("alterations", [])
    extra = [c for c in ("acquisition", "resistance_relevance") if c in a]
    if extra and all(c in a for c in ("patient_id", "chrom", "pos", "ref", "alt")):
        alt_cols = "".join(f"a.{_q(c)}, " for c in extra)
        alt_join = ("LEFT JOIN alterations AS a ON a.patient_id = v.patient_id AND a.chrom = v.chrom "
                    "AND a.pos = v.pos AND a.ref = v.ref AND a.alt = v.alt\n")
    detected = ", ".join(f"'{d}'" for d in DETECTED)
    return (
        "WITH somatic AS (\n"
        "  SELECT v.*, bool_or(v.status = 'called') OVER (PARTITION BY v.patient_id, v.chrom, v.pos, v.ref, v.alt)"
        " AS called_in_patient\n"
        "  FROM variants AS v WHERE v.origin = 'somatic'\n)\n"
        f"SELECT v.patient_id, {label} AS alteration, v.chrom, v.pos, v.ref, v.alt, "
        f"{''.join(c + ', ' for c in opt)}{alt_cols}"
        "s.sample_id, s.timepoint, s.collection_day AS day, p.progression_day, "
        "s.collection_day - p.progression_day AS days_to_progression, "
        f"v.vaf, v.alt_reads, v.depth, v.status, v.status IN ({detected}) AS detected, "
        f"{tf} AS tumour_fraction, s.qc_status\n"
        "FROM somatic AS v\n"
        "JOIN samples AS s ON s.sample_id = v.sample_id AND s.sample_type = 'plasma'\n"
        "LEFT JOIN patients AS p ON p.patient_id = v.patient_id\n"
        f"{alt_join}"
        "WHERE v.called_in_patient\n"
        "ORDER BY v.patient_id, v.chrom, v.pos, v.ref, v.alt, s.collection_day")


#: Named views, created after the table views, in this order.
VIEWS: list[View] = [
    View("resistance_events",
         "one row per resistance mechanism of a patient (the mechanisms table) with its alteration's "
         "per-timepoint presence, VAF, copy number and acquisition basis and the patient's clinical columns: "
         "mechanisms LEFT JOIN alterations ON (patient_id, alteration_id) LEFT JOIN patients ON patient_id. "
         "Alteration and patient columns whose name a mechanism column already uses are prefixed "
         "alteration_ / patient_ (e.g. alteration_acquisition, patient_drug)",
         ("mechanisms", "alterations", "patients"), _resistance_events),
    View("plasma_kinetics",
         "one row per somatic variant x plasma sample, for every variant called (status 'called') in at "
         "least one sample of the patient: the plasma VAF trajectory of each alteration. alteration = "
         "gene + HGVS protein change (1-letter, else 3-letter, else HGVS coding change; chrom:pos ref>alt "
         "before annotation); acquisition and resistance_relevance come from the alterations table (same "
         "patient and chrom/pos/ref/alt; null for variants it does not list); day = the plasma "
         "sample's collection_day; days_to_progression = day - progression_day (negative = before "
         "progression; null when not progressed); detected = status is called or "
         "detected_below_threshold",
         ("variants", "samples", "patients"), _plasma_kinetics),
]


def connect(tables: dict[str, Path | pa.Table]) -> tuple[Any, dict[str, str]]:
    """An in-memory DuckDB connection with one view per table and the named views.

    Parameters
    ----------
    tables
        Table name → Parquet file, or an Arrow table (docs generation uses empty tables with
        the registered schemas).

    Returns
    -------
    tuple
        ``(connection, skipped)`` where ``skipped`` maps named views that could not be created
        to the reason.
    """
    import duckdb

    con = duckdb.connect(":memory:")
    for name, src in tables.items():
        if isinstance(src, pa.Table):
            con.register(f"__arrow_{name}", src)
            con.execute(f"CREATE VIEW {_q(name)} AS SELECT * FROM {_q('__arrow_' + name)}")
        else:
            path = str(src).replace("'", "''")
            con.execute(f"CREATE VIEW {_q(name)} AS SELECT * FROM read_parquet('{path}')")
    cols = {name: [r[0] for r in con.execute(f"DESCRIBE {_q(name)}").fetchall()] for name in tables}
    skipped: dict[str, str] = {}
    for view in VIEWS:
        missing = [t for t in view.needs if t not in cols]
        if missing:
            skipped[view.name] = (f"view needs table(s) {', '.join(missing)}, which this atlas "
                                  "does not have -> rebuild the atlas with this unlock-atlas")
            continue
        con.execute(f"CREATE VIEW {_q(view.name)} AS {view.sql(cols)}")
    return con, skipped


def view_sql(schemas: dict[str, pa.Schema]) -> dict[str, str]:
    """The SQL of each named view for tables with these schemas (for docs/atlas.md)."""
    cols = {name: schema.names for name, schema in schemas.items()}
    return {v.name: v.sql(cols) for v in VIEWS if all(t in cols for t in v.needs)}


def run_query(con: Any, sql: str, *, unavailable: dict[str, str] | None = None, where: str = "") -> Any:
    """Run ``sql`` on ``con`` and return a pandas DataFrame.

    SQL errors become :class:`QueryError` listing the tables and views there are, plus the
    reason for each name in ``unavailable`` (tables/views that could not be created) that the
    SQL mentions.
    """
    import re

    import duckdb

    try:
        return con.execute(sql).df()
    except duckdb.Error as exc:
        names = [r[0] for r in con.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_name NOT LIKE '__arrow_%' "
            "ORDER BY table_name").fetchall()]
        msg = f"query failed{(' on ' + where) if where else ''}: {exc}\n  tables and views: {', '.join(names)}"
        for name, why in (unavailable or {}).items():
            if re.search(rf"\b{re.escape(name)}\b", sql, flags=re.IGNORECASE):
                msg += f"\n  {name} is not available: {why}"
        raise QueryError(msg) from None
