"""``load_atlas(path)``: the atlas as pandas DataFrames, one attribute per table.

The atlas itself is plain Parquet + ``manifest.json``, so it loads in one line anywhere::

    pd.read_parquet("results/atlas/samples.parquet")
    duckdb.sql("SELECT * FROM 'results/atlas/samples.parquet'")

This helper adds the manifest, a schema-version check and lazy loading.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from ..errors import UnlockError
from .schema import SCHEMA_VERSION

MANIFEST = "manifest.json"

#: Arrow → pandas dtypes: nullable integers and booleans stay integers/booleans with <NA>.
_PANDAS_TYPES = {
    pa.int8(): pd.Int8Dtype(), pa.int16(): pd.Int16Dtype(), pa.int32(): pd.Int32Dtype(),
    pa.int64(): pd.Int64Dtype(), pa.bool_(): pd.BooleanDtype(),
}


class AtlasError(UnlockError):
    """The directory is not a readable atlas (no manifest, unsupported version, missing table)."""


def _version(text: str) -> tuple[int, int]:
    try:
        major, minor = (int(x) for x in str(text).split("."))
    except ValueError:
        raise AtlasError(f"malformed schema_version {text!r} in the atlas manifest") from None
    return major, minor


class Atlas:
    """An atlas directory: one attribute per table (read on first access), plus the manifest.

    Attributes
    ----------
    path
        The atlas directory (holding ``manifest.json``).
    manifest
        The parsed ``manifest.json``.
    tables
        Table names, in manifest order.
    """

    def __init__(self, path: Path, manifest: dict[str, Any]) -> None:
        self.path = path
        self.manifest = manifest
        self.tables: list[str] = list(manifest.get("tables", []))
        self._cache: dict[str, pd.DataFrame] = {}

    def table(self, name: str) -> pd.DataFrame:
        """Table ``name`` as a DataFrame (read once, then cached)."""
        if name not in self.tables:
            raise AtlasError(f"the atlas at {self.path} has no table {name!r}; it has: {', '.join(self.tables)}")
        if name not in self._cache:
            file = self.path / self.manifest.get("files", {}).get(name, f"{name}.parquet")
            if not file.is_file():
                raise AtlasError(f"atlas table file {file} is missing -> rebuild the atlas (`unlock-atlas atlas` "
                                 "or rerun the workflow)")
            self._cache[name] = pq.read_table(file).to_pandas(types_mapper=_PANDAS_TYPES.get)
        return self._cache[name]

    def __getattr__(self, name: str) -> pd.DataFrame:
        if name.startswith("_") or name not in self.__dict__.get("tables", []):
            raise AttributeError(name)
        return self.table(name)

    def __getitem__(self, name: str) -> pd.DataFrame:
        return self.table(name)

    def __dir__(self) -> list[str]:
        return sorted(set(super().__dir__()) | set(self.tables))

    def __repr__(self) -> str:
        counts = self.manifest.get("row_counts", {})
        lines = [f"Atlas({self.path}, schema {self.manifest.get('schema_version')}, "
                 f"{self.manifest.get('reference_build')}, created {self.manifest.get('created_utc')})"]
        lines += [f"  {name}: {counts.get(name, '?')} rows" for name in self.tables]
        return "\n".join(lines)


def load_atlas(path: str | Path) -> Atlas:
    """Open an atlas given ``results/`` or ``results/atlas/``.

    Raises
    ------
    AtlasError
        No manifest at either place (says what to run), an unreadable manifest, or a
        ``schema_version`` this package cannot read (a newer minor or another major version).
    """
    path = Path(path)
    for cand in (path, path / "atlas"):
        if (cand / MANIFEST).is_file():
            atlas_dir = cand
            break
    else:
        raise AtlasError(
            f"no atlas found at {path} (looked for {path / MANIFEST} and {path / 'atlas' / MANIFEST}) -> "
            "run the workflow (`snakemake --directory RUN ...`) or `unlock-atlas atlas --config CONFIG` first")
    try:
        manifest = json.loads((atlas_dir / MANIFEST).read_text())
    except json.JSONDecodeError as exc:
        raise AtlasError(f"{atlas_dir / MANIFEST} is not valid JSON ({exc}) -> rebuild the atlas") from exc
    found = manifest.get("schema_version")
    if found is None:
        raise AtlasError(f"{atlas_dir / MANIFEST} has no schema_version -> rebuild the atlas")
    have, supported = _version(found), _version(SCHEMA_VERSION)
    if have[0] != supported[0] or have[1] > supported[1]:
        raise AtlasError(
            f"the atlas at {atlas_dir} has schema_version {found}; this unlock-atlas reads {supported[0]}.0 to "
            f"{SCHEMA_VERSION} -> upgrade unlock-atlas (pip install -U unlock-atlas) or rebuild the atlas with "
            "this version")
    return Atlas(atlas_dir, manifest)
