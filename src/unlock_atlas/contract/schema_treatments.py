"""Schema of the atlas ``treatments`` table (design.md §4): one row per patient x treatment line.

Built by the atlas stage from the validated sheets (:attr:`unlock_atlas.inputs.Run.treatments`):
the rows of the optional ``treatments.tsv``, or for a patient it does not list the one line of
patients.tsv (line 1, its drug, from day 0). ``mechanisms.line`` and ``alterations.line`` refer to
``line`` here. See docs/inputs.md.
"""

from __future__ import annotations

import pyarrow as pa

from .fields import field_doc
from .vocab import BEST_RESPONSES, RESISTANCE_TYPES

SCHEMA = pa.schema([
    field_doc("patient_id", pa.string(), "patient identifier (pseudonym when privacy.pseudonymise is on)", nullable=False),
    field_doc("line", pa.int32(), "treatment line number: 1 = first line, then 2, 3, ... in time order", nullable=False),
    field_doc("drug", pa.string(), "generic drug name(s) of the line; combinations joined by '+'", nullable=False),
    field_doc("drug_class", pa.string(), "drug class(es) from the knowledge base, one per drug, joined by '+'"),
    field_doc("targets", pa.string(), "target gene(s) of the drug(s) from the knowledge base, comma-joined"),
    field_doc("start_day", pa.int32(), "first day of the line", nullable=False, unit="days from treatment start"),
    field_doc("end_day", pa.int32(), "last day of the line as given (null = until the next line / still running)",
              unit="days from treatment start"),
    field_doc("progression_day", pa.int32(), "day of radiological progression on the line; null = not progressed on it",
              unit="days from treatment start"),
    field_doc("best_response", pa.string(), "best RECIST 1.1 response on the line", allowed=BEST_RESPONSES),
    field_doc("resistance_type", pa.string(), "resistance timing on the line (unlock_atlas.domain.resistance_type of "
              "progression_day - start_day and best_response)", nullable=False, allowed=RESISTANCE_TYPES),
    field_doc("n_tumour_samples", pa.int32(), "tissue and plasma samples attached to the line (by collection day or "
              "the samples.tsv line column)", nullable=False, unit="samples"),
])

SORT_KEYS = ["line"]

#: position of this table in the manifest (contract/schema.py discovers schema_<table>.py modules)
MANIFEST_ORDER = 5
#: built by the atlas stage from the sheets (the run's treatment lines), no stage parts
COMPUTED = True
