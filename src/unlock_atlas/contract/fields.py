"""Documented table fields: the helper every schema module uses, and the docs read back from a schema.

A field's metadata carries ``description`` (always), ``unit`` (for quantities), ``allowed`` (JSON
list, for categorical columns; the lists are :mod:`unlock_atlas.contract.vocab`) and
``filled_by`` (for columns a later pipeline stage fills).
"""

from __future__ import annotations

import json
from typing import Any

import pyarrow as pa


def field_doc(name: str, type_: pa.DataType, description: str, *, nullable: bool = True, unit: str | None = None,
              allowed: list[str] | None = None, filled_by: str | None = None) -> pa.Field:
    """A :class:`pyarrow.Field` carrying its documentation as metadata (see the module docstring)."""
    meta = {"description": description}
    if unit:
        meta["unit"] = unit
    if allowed:
        meta["allowed"] = json.dumps(allowed)
    if filled_by:
        meta["filled_by"] = filled_by
    return pa.field(name, type_, nullable=nullable, metadata=meta)


def column_docs(schema: pa.Schema) -> list[dict[str, Any]]:
    """Documentation of each column of ``schema``: name, type, nullable and its metadata."""
    docs = []
    for field in schema:
        meta = {k.decode(): v.decode() for k, v in (field.metadata or {}).items()}
        doc: dict[str, Any] = {"name": field.name, "type": str(field.type), "nullable": field.nullable,
                               "description": meta.get("description", "")}
        if "unit" in meta:
            doc["unit"] = meta["unit"]
        if "allowed" in meta:
            doc["allowed"] = json.loads(meta["allowed"])
        if "filled_by" in meta:
            doc["filled_by"] = meta["filled_by"]
        docs.append(doc)
    return docs
