"""Core contract between the stages: the atlas table schemas, the table-part reader/writer and the
controlled vocabularies.

* :mod:`.vocab` — the value sets of every categorical column (sample types, timepoints, origins, ...);
* :mod:`.fields` — the documented-field helper and the column docs read back from a schema;
* :mod:`.schema` — every table's schema (``TABLES``, ``SORT_KEYS``, ``SCHEMA_VERSION``), one
  ``schema_<table>.py`` module per part-built table;
* :mod:`.parts` — ``write_part`` / ``conform`` / ``assemble`` of per-patient table parts.

This package is Core: it imports no stage package (tests/test_import_rules.py checks it); every
stage that writes or reads atlas tables imports it.
"""
