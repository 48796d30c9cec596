"""``load_atlas(path)``: the atlas as pandas DataFrames, one attribute per table.

The atlas itself is plain Parquet + ``manifest.json``, so it loads in one line anywhere::

    pd.read_parquet("results/atlas/samples.parquet")
    pl.read_parquet("results/atlas/samples.parquet")
    duckdb.sql("SELECT * FROM 'results/atlas/samples.parquet'")

This helper adds the manifest, a schema-version check, lazy loading, polars frames
(:meth:`Atlas.to_polars`) and SQL over all tables and the named views (:meth:`Atlas.sql`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from ..contract.schema import SCHEMA_VERSION
from ..errors import UnlockError

MANIFEST = "manifest.json"

#: Arrow → pandas dtypes: nullable integers and booleans stay integers/booleans with <NA>.
_PANDAS_TYPES = {
    pa.int8(): pd.Int8Dtype(), pa.int16(): pd.Int16Dtype(), pa.int32(): pd.Int32Dtype(),
    pa.int64(): pd.Int64Dtype(), pa.bool_(): pd.BooleanDtype(),
}


#: Rows per record batch when reading a table (big enough that pandas conversion works on few chunks).
BATCH_ROWS = 1 << 16


class AtlasError(UnlockError):
    """The directory is not a readable atlas (no manifest, unsupported version, missing table)."""


class MissingTableError(AtlasError, AttributeError):
    """The atlas has no such table (an ``AttributeError`` too, so ``hasattr(atlas, name)`` is False)."""


def _version(text: str) -> tuple[int, int]:
    try:
        major, minor = (int(x) for x in str(text).split("."))
    except ValueError:
        raise AtlasError(f"malformed schema_version {text!r} in the atlas manifest") from None
    return major, minor


def _polars() -> Any:
    """Import polars (an optional dependency) or say how to get it."""
    try:
        import polars
    except ImportError:
        raise AtlasError("polars is not installed -> pip install polars (or use the pandas frames: "
                         "atlas.<table>, or atlas.sql(...))") from None
    return polars


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
        self._arrow: dict[str, pa.Table] = {}

    def file(self, name: str) -> Path:
        """The Parquet file of table ``name`` (checked to exist)."""
        if name not in self.tables:
            from ..contract.schema import TABLES

            if name in TABLES:
                raise MissingTableError(
                    f"the atlas at {self.path} has no table {name!r}: it was built (pipeline "
                    f"{self.manifest.get('pipeline_version', '?')}) before that table existed -> rebuild the atlas "
                    "with this unlock-atlas (rerun the workflow)")
            raise MissingTableError(f"the atlas at {self.path} has no table {name!r}; it has: "
                                    f"{', '.join(self.tables)}")
        file = self.path / self.manifest.get("files", {}).get(name, f"{name}.parquet")
        if not file.is_file():
            raise AtlasError(f"atlas table file {file} is missing -> rebuild the atlas (`unlock-atlas atlas` "
                             "or rerun the workflow)")
        return file

    def arrow(self, name: str) -> pa.Table:
        """Table ``name`` as a :class:`pyarrow.Table` (read once, then cached).

        Read as record batches of :data:`BATCH_ROWS` rows rather than with ``pq.read_table``:
        on atlases written with one row group per patient (before
        :data:`unlock_atlas.contract.parts.ROW_GROUP_ROWS`) this is about 2x faster
        (benchmarks/atlas_load, RESULTS.md "Atlas loading").
        """
        if name not in self._arrow:
            pf = pq.ParquetFile(self.file(name), pre_buffer=False)
            self._arrow[name] = pa.Table.from_batches(pf.iter_batches(batch_size=BATCH_ROWS), schema=pf.schema_arrow)
        return self._arrow[name]

    def table(self, name: str) -> pd.DataFrame:
        """Table ``name`` as a pandas DataFrame (read once, then cached).

        Integer and boolean columns use pandas' nullable dtypes (``Int32``, ``boolean``) so a null
        stays ``<NA>`` instead of turning the column into floats or objects.
        """
        if name not in self._cache:
            self._cache[name] = self.arrow(name).to_pandas(types_mapper=_PANDAS_TYPES.get)
        return self._cache[name]

    def load_all(self) -> Atlas:
        """Read every table now (instead of on first access); returns ``self``."""
        for name in self.tables:
            self.table(name)
        return self

    def to_polars(self) -> PolarsAtlas:
        """The same atlas with polars DataFrames (needs the optional ``polars`` package)."""
        _polars()
        return PolarsAtlas(self)

    def connect(self) -> tuple[Any, dict[str, str]]:
        """An in-memory DuckDB connection: every table a view, plus the named views.

        Returns ``(connection, unavailable)``: named views or registered tables this atlas lacks,
        with the reason (see :mod:`unlock_atlas.atlas.query`).
        """
        from ..contract.schema import TABLES
        from .query import connect

        con, unavailable = connect({name: self.file(name) for name in self.tables})
        for name in TABLES:
            if name not in self.tables:
                unavailable[name] = (f"table added after this atlas was built (pipeline "
                                     f"{self.manifest.get('pipeline_version', '?')}) -> rebuild the atlas")
        return con, unavailable

    def sql(self, query: str) -> pd.DataFrame:
        """Run a DuckDB ``query`` over the atlas tables and named views; a pandas DataFrame."""
        from .query import run_query

        con, unavailable = self.connect()
        try:
            return run_query(con, query, unavailable=unavailable, where=str(self.path))
        finally:
            con.close()

    def __getattr__(self, name: str) -> pd.DataFrame:
        from ..contract.schema import TABLES

        if name.startswith("_") or "tables" not in self.__dict__ or name not in [*self.tables, *TABLES]:
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


class PolarsAtlas:
    """An :class:`Atlas` whose tables are polars DataFrames (``atlas.to_polars()``)."""

    def __init__(self, atlas: Atlas) -> None:
        self.atlas = atlas
        self.tables = atlas.tables
        self.manifest = atlas.manifest
        self._cache: dict[str, Any] = {}

    def table(self, name: str) -> Any:
        """Table ``name`` as a polars DataFrame (read once, then cached)."""
        if name not in self._cache:
            self._cache[name] = _polars().from_arrow(self.atlas.arrow(name))
        return self._cache[name]

    def sql(self, query: str) -> Any:
        """Run a DuckDB ``query`` (see :meth:`Atlas.sql`); a polars DataFrame."""
        return _polars().from_pandas(self.atlas.sql(query))

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_") or name not in self.__dict__.get("tables", []):
            raise AttributeError(name)
        return self.table(name)

    def __getitem__(self, name: str) -> Any:
        return self.table(name)

    def __dir__(self) -> list[str]:
        return sorted(set(super().__dir__()) | set(self.tables))

    def __repr__(self) -> str:
        return repr(self.atlas).replace("Atlas(", "PolarsAtlas(", 1)


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
    written_by = manifest.get("pipeline_version", "an unknown version")
    if have[0] < supported[0]:
        raise AtlasError(
            f"the atlas at {atlas_dir} has schema_version {found}, older than this unlock-atlas reads "
            f"({supported[0]}.0 to {SCHEMA_VERSION}; columns were renamed or removed since) -> rebuild the atlas "
            f"with this version (rerun the workflow), or read it with unlock-atlas {written_by}, which wrote it")
    if have[0] > supported[0] or have[1] > supported[1]:
        raise AtlasError(
            f"the atlas at {atlas_dir} has schema_version {found}, newer than this unlock-atlas reads "
            f"({supported[0]}.0 to {SCHEMA_VERSION}); it was written by unlock-atlas {written_by} -> upgrade "
            "unlock-atlas (pip install -U unlock-atlas) or rebuild the atlas with this version")
    return Atlas(atlas_dir, manifest)
