"""The atlas: Parquet tables with documented schemas, a manifest, pseudonymised IDs, ``load_atlas``.

* :mod:`.schema` — the one source of truth for table schemas and column docs;
* :mod:`.privacy` — keyed pseudonyms and the private ID map;
* :mod:`.build` — ``build_atlas`` (all-or-nothing writer) and the derived columns' rules;
* :mod:`.load` — ``load_atlas``.
"""

from __future__ import annotations

from .build import build_atlas, qc_status, resistance_type
from .load import Atlas, AtlasError, load_atlas
from .privacy import PseudonymError, pseudonym
from .schema import SCHEMA_VERSION, TABLES, column_docs, manifest_column_docs

__all__ = [
    "Atlas", "AtlasError", "PseudonymError", "SCHEMA_VERSION", "TABLES", "build_atlas", "column_docs",
    "load_atlas", "manifest_column_docs", "pseudonym", "qc_status", "resistance_type",
]
