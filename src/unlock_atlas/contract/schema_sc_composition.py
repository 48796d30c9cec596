"""Schema of the atlas ``sc_composition`` table (design.md §4): one row per scRNA sample × cell type
(× malignant status). Written per sample by ``unlock-atlas sc tables`` to
``results/tables/sc_composition/<sample_id>.parquet``.
"""

from __future__ import annotations

import pyarrow as pa

from .fields import field_doc
from .vocab import MALIGNANT_STATUS, TIMEPOINTS

SCHEMA = pa.schema([
    field_doc("patient_id", pa.string(), "patient identifier (pseudonym when privacy.pseudonymise is on)", nullable=False),
    field_doc("sample_id", pa.string(), "sample identifier of the biopsy (pseudonym when privacy.pseudonymise is on)",
              nullable=False),
    field_doc("timepoint", pa.string(), "collection timepoint of the biopsy", allowed=TIMEPOINTS),
    field_doc("cell_type", pa.string(), "cell type from ScType marker scores (positive minus negative markers, "
              "resources/singlecell/cell_type_markers.tsv) of over-clustered Leiden clusters; 'unassigned' when "
              "no marker set's cluster-mean score (and its positive part) reaches 0.25", nullable=False),
    field_doc("malignant", pa.bool_(), "malignant call of these cells: not a copy-number reference cell AND "
              "inferred copy-number profile correlated with its clone above the reference cells' 99th percentile "
              "(reference: cells not of the tumour type's expected lineage, see malignant_lineage and cnv_reference); "
              "null = not determinable (malignant_status not_run)"),
    field_doc("malignant_status", pa.string(), "whether malignant-cell calling ran for this sample: called, or "
              "not_run (malignant is then null in every row of the sample and malignant_note says why)",
              allowed=MALIGNANT_STATUS),
    field_doc("malignant_note", pa.string(), "why malignant calls were not made (e.g. too few genes with "
              "genomic positions in the configured reference GTF, fewer than 5 marker-confident reference cells, "
              "fewer than 20 reference cells after refinement); null when called"),
    field_doc("malignant_lineage", pa.string(), "expected lineage of the malignant cells from the patient's tumour_type "
              "(resources/singlecell/tumour_lineage.tsv: epithelial, melanocytic, glial, mesenchymal, B cell), or "
              "'agnostic' when the tumour type is not listed or not given (any non-immune cell may be malignant); "
              "null in atlases of samples annotated before schema 1.3"),
    field_doc("cnv_reference", pa.string(), "the sample's copy-number reference: its cell types (cells confidently "
              "not of malignant_lineage: immune, plus stromal/endothelial when the lineage is known and not "
              "mesenchymal), their cell count, and the copy-number-quiet cells added by the refinement step; null when "
              "not recorded"),
    field_doc("n_cells", pa.int32(), "cells of this cell type (and malignant status) after QC and doublet removal",
              nullable=False, unit="cells"),
    field_doc("fraction", pa.float64(), "n_cells / n_cells_total", nullable=False, unit="fraction"),
    field_doc("n_cells_total", pa.int32(), "cells of the sample after QC and doublet removal", nullable=False,
              unit="cells"),
])

SORT_KEYS = ["sample_id", "cell_type", "malignant"]

#: position of this table in the manifest (contract/schema.py discovers schema_<table>.py modules)
MANIFEST_ORDER = 30
