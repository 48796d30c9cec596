"""Reading the pipeline's own intermediate tables (Parquet parts, TSVs) with clear errors.

Every stage reads tables an earlier stage wrote. When one is unreadable (truncated, not the
format, deleted under a running workflow) or lacks a column this version needs, the user gets
an :class:`~unlock_atlas.errors.InputError` naming the file, what it should have been and the
command that rewrites it - not a pyarrow/pandas traceback.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from .errors import InputError, Problem


def missing_to_none(x: Any) -> Any:
    """A table cell with pandas/numpy missing values (None, NaN, NaT, pd.NA) as ``None``; lists,
    tuples and dicts pass unchanged."""
    return None if x is None or (not isinstance(x, (list, tuple, dict)) and pd.isna(x)) else x


def read_table(path: str | Path, what: str, fix: str, *, columns: Sequence[str] = (), fmt: str = "parquet",
               fix_columns: str | None = None, **read_kw: Any) -> pd.DataFrame:
    """Read one table written by the pipeline.

    Parameters
    ----------
    path
        The file.
    what
        What it is, for the message (``"variants part"``, ``"fingerprint"``).
    fix
        What to run when it cannot be read (``"rerun `unlock-atlas call` for this patient"``).
    columns
        Columns that must be present.
    fmt
        ``"parquet"`` or ``"tsv"``.
    fix_columns
        What to run when columns are missing (default: ``fix``).
    **read_kw
        Passed to :func:`pandas.read_parquet` / :func:`pandas.read_csv`.

    Raises
    ------
    InputError
        The file cannot be read, or columns are missing (all of them named).
    """
    try:
        if fmt == "parquet":
            df = pd.read_parquet(path, **read_kw)
        elif fmt == "tsv":
            df = pd.read_csv(path, sep="\t", **read_kw)
        else:
            raise ValueError(f"unknown table format {fmt!r}")
    except (OSError, ValueError) as exc:
        raise InputError(Problem(str(path), f"cannot read the {what} ({exc})", fix)) from None
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise InputError(Problem(str(path), f"columns missing: {', '.join(missing)}", fix_columns or fix))
    return df


def concat_parts(paths: Iterable[str | Path], what: str, fix: str) -> pd.DataFrame:
    """Concatenate Parquet parts (each read by :func:`read_table`); no parts or only empty ones give
    an empty frame."""
    frames = [f for f in (read_table(p, what, fix) for p in paths) if len(f)]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
