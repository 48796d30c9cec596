"""Atlas loading benchmark (issue 11): a 1,000-patient synthetic atlas must load in < 5 s.

    .venv/bin/python benchmarks/atlas_load/bench.py --root /tmp/atlas_load --patients 1000

Writes a synthetic atlas with EVERY table registered in :data:`unlock_atlas.contract.schema.TABLES`
(values drawn from each column's type and allowed values, seeded), laid out as the atlas stage
lays it out (zstd Parquet; part-built tables one row group per patient, as
``unlock_atlas.contract.parts.assemble`` writes them; ``manifest.json`` with row counts and column
docs), then measures in a FRESH Python process (so imports and cold caches count):

* ``import unlock_atlas``;
* ``load_atlas(path)`` (manifest + schema-version check; tables are lazy);
* ``load_all()``: every table read into pandas (the figure the < 5 s target is about);
* ``to_polars()`` of every table (when polars is installed);
* one DuckDB query over a named view (``plasma_kinetics``: a window function and three joins).

Rows per patient (``ROWS``) follow the simulated cohorts' design (6 samples per patient: normal,
2 tissue, 3 plasma) and a 17-gene panel: 80 variant rows per sample (the scale benchmark's
generous figure), 17 genes x 5 tumour samples of copy number, and single-cell tables for 2
biopsies. Peak memory is the child's ``ru_maxrss``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

SAMPLES = [("N", "normal", None, 0), ("T-BL", "tissue", "baseline", -7), ("T-PD", "tissue", "progression", 300),
           ("P-BL", "plasma", "baseline", 0), ("P-OT", "plasma", "on_treatment", 56),
           ("P-PD", "plasma", "progression", 300)]
#: Rows per patient of each part-built table (tables not listed: DEFAULT_ROWS).
ROWS = {"variants": 80 * 6, "copy_number": 17 * 5, "alterations": 12, "mechanisms": 2, "ctdna": 5,
        "sc_composition": 2 * 10, "sc_programs": 2 * 10 * 7}
DEFAULT_ROWS = 10


def _column(field: pa.Field, n: int, rng: np.random.Generator, pid: str, sids: list[str],
            types: list[str]) -> pa.Array:
    """n synthetic values for ``field`` (IDs of this patient, allowed values where documented)."""
    meta = {k.decode(): v.decode() for k, v in (field.metadata or {}).items()}
    if field.name == "patient_id":
        return pa.array([pid] * n, field.type)
    if field.name == "sample_id":
        return pa.array([sids[i % len(sids)] for i in range(n)], field.type)
    if field.name == "sample_type":
        return pa.array([types[i % len(types)] for i in range(n)], field.type)
    if "allowed" in meta:
        return pa.array(rng.choice(json.loads(meta["allowed"]), n).tolist(), field.type)
    t = field.type
    if pa.types.is_string(t):
        return pa.array([f"{field.name}_{i % 97}" for i in range(n)], t)
    if pa.types.is_integer(t):
        return pa.array(rng.integers(0, 5000, n), t)
    if pa.types.is_floating(t):
        return pa.array(rng.random(n), t)
    if pa.types.is_boolean(t):
        return pa.array(rng.random(n) < 0.5, t)
    return pa.nulls(n, t)


def make_atlas(out: Path, n_patients: int, seed: int = 11, row_group_rows: int = 0) -> dict[str, int]:
    """Write a synthetic ``n_patients`` atlas (every registered table) to ``out``; row counts.

    ``row_group_rows`` = 0 writes one row group per patient (the layout of ``parts.assemble``);
    N > 0 buffers patients' parts until N rows and writes them as one row group (to measure what
    larger row groups would give).
    """
    from unlock_atlas.contract.schema import (
        SCHEMA_VERSION,
        TABLES,
        manifest_column_docs,
    )

    rng = np.random.default_rng(seed)
    out.mkdir(parents=True, exist_ok=True)
    pids = [f"{i:012x}" for i in rng.choice(16**8, n_patients, replace=False)]
    counts: dict[str, int] = {}
    for name, schema in TABLES.items():
        with pq.ParquetWriter(out / f"{name}.parquet", schema, compression="zstd") as writer:
            if name in ("patients", "samples"):   # the atlas stage writes these in one row group
                n = n_patients if name == "patients" else n_patients * len(SAMPLES)
                cols = [_column(f, n, rng, "", ["x"], ["tissue"]) for f in schema]  # IDs/types replaced below
                table = pa.Table.from_arrays(cols, schema=schema)
                ids = pids if name == "patients" else [p for p in pids for _ in SAMPLES]
                table = table.set_column(0, schema.field(0), pa.array(ids, pa.string()))
                if name == "samples":
                    sids = [f"{p}{s}" for p in pids for s, *_ in SAMPLES]
                    for col, vals in (("sample_id", sids), ("sample_type", [t for _ in pids for _, t, *_ in SAMPLES]),
                                      ("timepoint", [tp for _ in pids for _, _, tp, _ in SAMPLES])):
                        i = schema.get_field_index(col)
                        table = table.set_column(i, schema.field(i), pa.array(vals, schema.field(i).type))
                writer.write_table(table)
                counts[name] = table.num_rows
                continue
            rows = ROWS.get(name, DEFAULT_ROWS)
            counts[name] = 0
            buffer: list[pa.Table] = []
            for pid in pids:
                sids, types = [f"{pid}{s}" for s, *_ in SAMPLES], [t for _, t, *_ in SAMPLES]
                buffer.append(pa.Table.from_arrays([_column(f, rows, rng, pid, sids, types) for f in schema],
                                                   schema=schema))
                counts[name] += rows
                if sum(b.num_rows for b in buffer) >= row_group_rows:
                    writer.write_table(pa.concat_tables(buffer), row_group_size=max(row_group_rows, rows))
                    buffer = []
            if buffer:
                writer.write_table(pa.concat_tables(buffer), row_group_size=max(row_group_rows, rows))
    manifest = {"schema_version": SCHEMA_VERSION, "pipeline_version": "bench", "reference_build": "GRCh38",
                "config_hash": "bench", "created_utc": datetime.now(UTC).isoformat(timespec="seconds"),
                "pseudonymised": True, "tables": list(TABLES), "files": {t: f"{t}.parquet" for t in TABLES},
                "row_counts": counts, "columns": manifest_column_docs()}
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return counts


def child(path: Path) -> None:
    """In a fresh process: time the import, load_atlas, reading every table, polars, one view query."""
    t0 = time.perf_counter()
    import unlock_atlas
    t1 = time.perf_counter()
    atlas = unlock_atlas.load_atlas(path)
    t2 = time.perf_counter()
    atlas.load_all()
    t3 = time.perf_counter()
    res = {"import_s": t1 - t0, "load_atlas_s": t2 - t1, "load_all_pandas_s": t3 - t2,
           "open_and_read_all_s": t3 - t1}
    try:
        import polars  # noqa: F401

        t4 = time.perf_counter()
        pl_atlas = atlas.to_polars()
        for name in atlas.tables:
            pl_atlas.table(name)
        res["to_polars_all_s"] = time.perf_counter() - t4
    except ImportError:
        res["to_polars_all_s"] = None
    t5 = time.perf_counter()
    n = atlas.sql("SELECT count(*) AS n FROM plasma_kinetics")["n"].iloc[0]
    res["plasma_kinetics_query_s"] = time.perf_counter() - t5
    res["plasma_kinetics_rows"] = int(n)
    res["pandas_mib"] = sum(atlas.table(t).memory_usage(deep=True).sum() for t in atlas.tables) / 2**20
    print(json.dumps({k: round(v, 3) if isinstance(v, float) else v for k, v in res.items()}))


def main() -> None:
    if len(sys.argv) == 3 and sys.argv[1] == "--child":
        child(Path(sys.argv[2]))
        return
    ap = argparse.ArgumentParser(description="atlas loading benchmark (issue 11)")
    ap.add_argument("--root", type=Path, required=True, help="work directory (the synthetic atlas goes here)")
    ap.add_argument("--patients", type=int, default=1000)
    ap.add_argument("--repeats", type=int, default=3, help="fresh-process loads to time (the best and all reported)")
    ap.add_argument("--row-group-rows", type=int, default=0,
                    help="0 (default): one row group per patient, as the atlas stage writes; N: row groups of >= N rows")
    a = ap.parse_args()
    atlas_dir = a.root / f"atlas_{a.patients}_rg{a.row_group_rows}"
    t0 = time.perf_counter()
    counts = make_atlas(atlas_dir, a.patients, row_group_rows=a.row_group_rows)
    print(f"synthetic atlas: {a.patients:,} patients, written in {time.perf_counter() - t0:.1f} s, "
          f"{sum(f.stat().st_size for f in atlas_dir.iterdir()) / 2**20:.1f} MiB on disk")
    for name, n in counts.items():
        print(f"  {name}: {n:,} rows")
    runs = []
    for _ in range(a.repeats):
        proc = subprocess.Popen([sys.executable, __file__, "--child", str(atlas_dir)], stdout=subprocess.PIPE, text=True)
        _, status, usage = os.wait4(proc.pid, 0)
        res = json.loads(proc.stdout.read().strip().splitlines()[-1])
        res["peak_rss_mib"] = round(usage.ru_maxrss / 1024, 1)
        res["cpu_s"] = round(usage.ru_utime + usage.ru_stime, 2)
        runs.append(res)
        print(json.dumps(res))
    times = [r["open_and_read_all_s"] for r in runs]
    all_runs = ", ".join(f"{t:.2f}" for t in times)
    print(f"layout: {'one row group per patient' if not a.row_group_rows else f'row groups of >= {a.row_group_rows:,} rows'}")
    print(f"load_atlas + every table into pandas: best {min(times):.2f} s, worst {max(times):.2f} s of {len(runs)} "
          f"fresh processes ({all_runs}); target < 5 s: {'holds' if max(times) < 5 else 'MISSED'}")


if __name__ == "__main__":
    main()
