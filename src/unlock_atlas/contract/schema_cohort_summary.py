"""Schema of the atlas ``cohort_summary`` table (design.md §4): one row per metric x stratum.

COMPUTED by the atlas stage from the assembled tables (never copied from anywhere), by
:func:`unlock_atlas.atlas.summary.cohort_summary`; the metric dictionary (definition, unit
and the denominator ``n``) is :data:`unlock_atlas.atlas.summary.METRICS` and docs/classification.md.
"""

from __future__ import annotations

import pyarrow as pa

from .fields import field_doc

SCHEMA = pa.schema([
    field_doc("metric", pa.string(), "fixed metric ID (patients_included, biopsies, sequenced_samples, "
              "resistance_alterations_at_progression, resistance_alterations_bypass, resistance_alterations_on_target, "
              "patients_with_mechanism, pct_early_phase_trial, and the further IDs of docs/classification.md)",
              nullable=False),
    field_doc("stratum", pa.string(), "'all' for the whole cohort, else 'drug:<regimen>' (the treatment lines on that regimen), "
              "'tumour_type:<type>', or 'line:<n>' (the n-th treatment lines; only when a patient has several)",
              nullable=False),
    field_doc("value", pa.float64(), "the figure (null when its denominator is 0)"),
    field_doc("n", pa.int64(), "the denominator / population the value refers to (the metric dictionary says which)",
              nullable=False),
    field_doc("unit", pa.string(), "unit of value (patients, samples, alterations, percent, days, fraction)",
              nullable=False),
    field_doc("definition", pa.string(), "what the metric counts and what n is", nullable=False),
])

SORT_KEYS = ["metric", "stratum"]

#: position of this table in the manifest (contract/schema.py discovers schema_<table>.py modules)
MANIFEST_ORDER = 80
#: computed by the atlas stage from the other tables (no stage parts)
COMPUTED = True
