"""Compare two atlases: rows added, removed and changed per table (``unlock-atlas diff A B``).

Rows are matched by a per-table key (:func:`row_key`): the patient / sample identifiers plus
the table's ``SORT_KEYS`` (the keys that order rows within a patient's or sample's part, so
unique within it). A row whose key is in both atlases but whose other values differ is
*changed*; values compare exactly (the atlas is deterministic: same inputs → same content, so
any difference is real). Identifiers are pseudonyms: two atlases built with different
pseudonymisation keys share no IDs, and the diff says so instead of reporting every row as
replaced silently.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ..contract.schema import SORT_KEYS

#: Row keys of the tables the atlas stage builds itself (one row per patient / per sample).
CORE_KEYS = {"patients": ["patient_id"], "samples": ["sample_id"], "treatments": ["patient_id", "line"]}
ID_COLUMNS = ("patient_id", "sample_id")


def row_key(table: str, columns: list[str]) -> list[str]:
    """The columns identifying a row of ``table`` across atlases (empty: compare whole rows).

    Part-built tables: ``patient_id`` and ``sample_id`` (when present) plus the table's
    ``SORT_KEYS``, which are unique within one patient's or sample's part.
    """
    if table in CORE_KEYS:
        return [c for c in CORE_KEYS[table] if c in columns]
    keys = SORT_KEYS.get(table)
    if not keys:
        return []
    out = [c for c in ID_COLUMNS if c in columns]
    return out + [k for k in keys if k not in out and k in columns]


@dataclass
class TableDiff:
    """How one table differs between atlas A and atlas B."""

    table: str
    rows_a: int | None
    rows_b: int | None
    key: list[str]
    added: int = 0
    removed: int = 0
    changed: int = 0
    changed_columns: Counter = field(default_factory=Counter)
    columns_added: list[str] = field(default_factory=list)
    columns_removed: list[str] = field(default_factory=list)
    note: str = ""

    @property
    def same(self) -> bool:
        return not (self.added or self.removed or self.changed or self.columns_added or self.columns_removed
                    or self.rows_a is None or self.rows_b is None)


def _numbered(df: pd.DataFrame, key: list[str]) -> pd.DataFrame:
    """``df`` with an occurrence number per key (so duplicate keys still pair up in order)."""
    out = df.copy()
    out["__n"] = out.groupby(key, dropna=False, sort=False).cumcount() if len(out) else 0
    return out


def _differs(a: pd.Series, b: pd.Series) -> np.ndarray:
    """Element-wise a != b where two missing values are equal."""
    na_a, na_b = a.isna().to_numpy(), b.isna().to_numpy()
    both = ~na_a & ~na_b
    ne = np.zeros(len(a), dtype=bool)
    ne[both] = a.astype(object).to_numpy()[both] != b.astype(object).to_numpy()[both]
    return ne | (na_a ^ na_b)


def diff_table(name: str, a: pd.DataFrame | None, b: pd.DataFrame | None) -> TableDiff:
    """Rows added (in B only), removed (in A only) and changed (same key, other values) of one table."""
    if a is None or b is None:
        d = TableDiff(name, None if a is None else len(a), None if b is None else len(b), [])
        d.added, d.removed = (len(b), 0) if a is None else (0, len(a))
        d.note = f"table only in {'B' if a is None else 'A'}"
        return d
    common = [c for c in a.columns if c in b.columns]
    key = row_key(name, common)
    d = TableDiff(name, len(a), len(b), key, columns_added=[c for c in b.columns if c not in a.columns],
                  columns_removed=[c for c in a.columns if c not in b.columns])
    on = (key or common) + ["__n"]
    merged = _numbered(a[common], key or common).merge(
        _numbered(b[common], key or common), on=on, how="outer", suffixes=("__a", "__b"), indicator=True)
    d.added = int((merged["_merge"] == "right_only").sum())
    d.removed = int((merged["_merge"] == "left_only").sum())
    both = merged[merged["_merge"] == "both"]
    changed_any = np.zeros(len(both), dtype=bool)
    for col in (c for c in common if c not in on):
        diff = _differs(both[f"{col}__a"], both[f"{col}__b"])
        if diff.any():
            d.changed_columns[col] = int(diff.sum())
            changed_any |= diff
    d.changed = int(changed_any.sum())
    ids = [c for c in ID_COLUMNS if c in common]
    if ids and len(a) and len(b) and not set(a[ids[0]].dropna()) & set(b[ids[0]].dropna()):
        d.note = (f"no {ids[0]} in common: different cohorts, or pseudonymised with different keys "
                  "(privacy.key_file / UNLOCK_ATLAS_KEY)?")
    return d


def diff_atlases(path_a: str | Path, path_b: str | Path) -> tuple[list[TableDiff], dict[str, tuple]]:
    """Compare every table of two atlases (``results/`` or ``results/atlas/`` each).

    Returns
    -------
    tuple
        ``(table diffs in A's table order then B-only tables, manifest differences)`` where the
        manifest differences map ``schema_version``, ``pipeline_version``, ``reference_build``,
        ``config_hash``, ``pseudonymised`` to ``(A value, B value)`` where they differ.
    """
    from .load import load_atlas

    a, b = load_atlas(path_a), load_atlas(path_b)
    names = list(a.tables) + [t for t in b.tables if t not in a.tables]
    diffs = [diff_table(n, a.table(n) if n in a.tables else None, b.table(n) if n in b.tables else None)
             for n in names]
    meta = {k: (a.manifest.get(k), b.manifest.get(k))
            for k in ("schema_version", "pipeline_version", "reference_build", "config_hash", "pseudonymised")
            if a.manifest.get(k) != b.manifest.get(k)}
    return diffs, meta


def diff_frame(diffs: list[TableDiff]) -> pd.DataFrame:
    """One row per table: rows in A and B, added, removed, changed, the most-changed columns."""
    rows = []
    for d in diffs:
        cols = ", ".join(f"{c} ({n})" for c, n in d.changed_columns.most_common(5))
        notes = [d.note] if d.note else []
        if d.columns_added:
            notes.append("columns only in B: " + ", ".join(d.columns_added))
        if d.columns_removed:
            notes.append("columns only in A: " + ", ".join(d.columns_removed))
        rows.append({"table": d.table, "rows_a": d.rows_a, "rows_b": d.rows_b, "added": d.added,
                     "removed": d.removed, "changed": d.changed, "changed_columns": cols, "note": "; ".join(notes)})
    return pd.DataFrame(rows, columns=["table", "rows_a", "rows_b", "added", "removed", "changed",
                                       "changed_columns", "note"]).astype({"rows_a": "Int64", "rows_b": "Int64"})
