"""The atlas: Parquet tables with documented schemas, a manifest, pseudonymised IDs, ``load_atlas``.

* the table schemas, column docs and the parts reader/writer are Core: :mod:`unlock_atlas.contract`
  (re-exported here: ``SCHEMA_VERSION``, ``TABLES``, ``column_docs``, ``manifest_column_docs``);
* :mod:`.privacy` — keyed pseudonyms and the private ID map;
* :mod:`.build` — ``build_atlas`` (all-or-nothing writer) and the derived columns' rules;
* :mod:`.summary` — the ``cohort_summary`` table computed from the assembled tables;
* :mod:`.load` — ``load_atlas``.
"""

from __future__ import annotations

from .._lazy import lazy_exports

#: public names, imported on first use (unlock_atlas._lazy)
_EXPORTS = {
    "build_atlas": ".build",
    "qc_status": ".build",
    "Atlas": ".load",
    "AtlasError": ".load",
    "load_atlas": ".load",
    "PseudonymError": ".privacy",
    "pseudonym": ".privacy",
    "SCHEMA_VERSION": "..contract.schema",
    "TABLES": "..contract.schema",
    "column_docs": "..contract.fields",
    "manifest_column_docs": "..contract.schema",
    "MissingTableError": ".load",
}
__getattr__, __dir__ = lazy_exports(globals(), _EXPORTS)


__all__ = [
    "SCHEMA_VERSION",
    "TABLES",
    "Atlas",
    "AtlasError",
    "MissingTableError",
    "PseudonymError",
    "build_atlas",
    "column_docs",
    "load_atlas",
    "manifest_column_docs",
    "pseudonym",
    "qc_status"
]
