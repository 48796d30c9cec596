"""Per-patient (or per-sample) table parts written by the stages and assembled into the atlas.

Each stage writes its rows for one patient (or sample) to
``results/tables/<table>/<id>.parquet`` with RAW IDs, conforming to the table's schema in
:data:`unlock_atlas.contract.schema.TABLES`. The atlas stage streams the parts in the order of the
pseudonymised patient IDs, pseudonymises ``patient_id`` / ``sample_id``, sorts rows within a
part by the table's sort keys and writes one Parquet file per table, parts buffered into row groups of >= ROW_GROUP_ROWS rows —
never one giant in-memory concatenation, so 1,000 patients' parts assemble in bounded memory.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from ..atomic import atomic_path
from ..errors import UnlockError
from .schema import SORT_KEYS, table_schema

#: Where stages put their parts, relative to the run directory.
PARTS_DIR = "results/tables"

#: Parts are buffered into row groups of at least this many rows. One row group per part (a
#: patient's tens to hundreds of rows) gives a 1,000-patient table 1,000 row groups x columns
#: column chunks, and reading it then takes ~3-5x longer (benchmarks/atlas_load, RESULTS.md
#: "Atlas loading"); 65,536 rows of the widest table are a few tens of MB, so memory stays bounded.
ROW_GROUP_ROWS = 65_536


class PartError(UnlockError):
    """A table part does not conform to its table's schema."""


def conform(data: pd.DataFrame | pa.Table, table: str, source: str = "") -> pa.Table:
    """Cast ``data`` to the schema of ``table``: columns in schema order, missing NULLABLE
    columns added as nulls (a column a later stage fills exists from the start), extra columns
    refused (every atlas column must be documented in the schema).
    """
    schema = table_schema(table)
    if isinstance(data, pd.DataFrame):
        data = pa.Table.from_pandas(data, preserve_index=False)
    names = set(data.column_names)
    extra = sorted(names - set(schema.names))
    if extra:
        raise PartError(f"{source or table}: columns not in the '{table}' schema: {', '.join(extra)}; "
                        "document them in the table's schema first")
    cols = []
    for field in schema:
        if field.name in names:
            col = data.column(field.name)
            try:
                cols.append(col.cast(field.type))
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
                raise PartError(f"{source or table}: column '{field.name}' cannot be read as {field.type}: {exc}") from None
        elif field.nullable:
            cols.append(pa.nulls(data.num_rows, field.type))
        else:
            raise PartError(f"{source or table}: required column '{field.name}' is missing")
    return pa.Table.from_arrays(cols, schema=schema)


def write_part(data: pd.DataFrame | pa.Table, table: str, path: str | Path) -> Path:
    """Write one part (atomically) after conforming it to the table's schema."""
    t = conform(data, table, str(path))
    with atomic_path(path) as tmp:
        pq.write_table(t, tmp, compression="zstd")
    return Path(path)


def assemble(table: str, parts: Iterable[tuple[str, Path]], out: Path,
             map_ids: Callable[[pa.Table], pa.Table]) -> int:
    """Stream ``parts`` ((sort key, path) pairs, e.g. (pseudonymised patient ID, part path)) into
    one Parquet file ``out``; ``map_ids`` pseudonymises a part's ID columns. Returns the row count.
    """
    schema = table_schema(table)
    keys = SORT_KEYS.get(table, [])
    n = 0
    buffer: list[pa.Table] = []
    with pq.ParquetWriter(out, schema, compression="zstd") as writer:
        for _, path in sorted(parts, key=lambda kp: kp[0]):
            try:
                part = conform(pq.read_table(path), table, str(path))
            except (OSError, pa.ArrowInvalid) as exc:
                raise PartError(f"{path}: unreadable table part ({exc}); delete it and rerun the workflow") from None
            part = map_ids(part)
            if keys and part.num_rows:
                part = part.sort_by([(k, "ascending") for k in keys])
            buffer.append(part)
            n += part.num_rows
            if sum(b.num_rows for b in buffer) >= ROW_GROUP_ROWS:
                writer.write_table(pa.concat_tables(buffer), row_group_size=ROW_GROUP_ROWS * 2)
                buffer = []
        if buffer:
            writer.write_table(pa.concat_tables(buffer), row_group_size=ROW_GROUP_ROWS * 2)
    return n
