"""Schema of the atlas ``sc_composition`` table (design.md §4): one row per scRNA sample × cell type
(× malignant status). Written per sample by ``unlock-atlas sc tables`` to
``results/tables/sc_composition/<sample_id>.parquet``.
"""

from __future__ import annotations

import pyarrow as pa

from .schema import TIMEPOINTS, field_doc

SCHEMA = pa.schema([
    field_doc("patient_id", pa.string(), "patient identifier (pseudonym when privacy.pseudonymise is on)", nullable=False),
    field_doc("sample_id", pa.string(), "sample identifier of the biopsy (pseudonym when privacy.pseudonymise is on)",
              nullable=False),
    field_doc("timepoint", pa.string(), "collection timepoint of the biopsy", allowed=TIMEPOINTS),
    field_doc("cell_type", pa.string(), "cell type from marker scoring of Leiden clusters "
              "(resources/singlecell/cell_type_markers.tsv; 'unassigned' when no marker set scores >= 0.5 z)",
              nullable=False),
    field_doc("malignant", pa.bool_(), "malignant call of these cells (epithelial AND inferred copy-number "
              "correlation above the non-epithelial reference's 99th percentile); null = not determinable "
              "(no gene positions or no reference cells)"),
    field_doc("n_cells", pa.int32(), "cells of this cell type (and malignant status) after QC and doublet removal",
              nullable=False, unit="cells"),
    field_doc("fraction", pa.float64(), "n_cells / n_cells_total", nullable=False, unit="fraction"),
    field_doc("n_cells_total", pa.int32(), "cells of the sample after QC and doublet removal", nullable=False,
              unit="cells"),
])

SORT_KEYS = ["sample_id", "cell_type", "malignant"]
