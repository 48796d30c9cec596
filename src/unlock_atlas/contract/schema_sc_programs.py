"""Schema of the atlas ``sc_programs`` table (design.md §4): one row per scRNA sample × cell type
(× malignant status) × resistance programme. Written per sample by ``unlock-atlas sc tables`` to
``results/tables/sc_programs/<sample_id>.parquet``.
"""

from __future__ import annotations

import pyarrow as pa

from .fields import field_doc
from .vocab import SC_SCORE_METHODS as METHODS
from .vocab import TIMEPOINTS

SCHEMA = pa.schema([
    field_doc("patient_id", pa.string(), "patient identifier (pseudonym when privacy.pseudonymise is on)", nullable=False),
    field_doc("sample_id", pa.string(), "sample identifier of the biopsy (pseudonym when privacy.pseudonymise is on)",
              nullable=False),
    field_doc("timepoint", pa.string(), "collection timepoint of the biopsy", allowed=TIMEPOINTS),
    field_doc("cell_type", pa.string(), "cell type (as in sc_composition)", nullable=False),
    field_doc("malignant", pa.bool_(), "malignant status of these cells (as in sc_composition; null = not determinable)"),
    field_doc("programme", pa.string(), "resistance programme (resources/singlecell/programmes.tsv), e.g. persister, "
              "emt_partial, neuroendocrine, mpas, ifng_6, ifng_gep_18, antigen_presentation", nullable=False),
    field_doc("method", pa.string(), "scoring method: zsum_sqrt_n = sum of per-gene z / sqrt(n) (Wagle 2018, relative "
              "to the cells of the sample); score_genes = scanpy.tl.score_genes (set minus expression-matched "
              "controls, comparable between samples)", nullable=False, allowed=METHODS),
    field_doc("verified", pa.bool_(), "gene list verified in the cited source (False = recalled list, weigh with care)",
              nullable=False),
    field_doc("n_cells", pa.int32(), "cells scored", nullable=False, unit="cells"),
    field_doc("mean_score", pa.float64(), "mean programme score over the cells (null when the programme has < 2 "
              "genes measured)", unit="score (see method)"),
    field_doc("fraction_high", pa.float64(), "fraction of the cells scoring above high_threshold", unit="fraction"),
    field_doc("high_threshold", pa.float64(), "score above which a cell is programme-high: 1.645 for zsum_sqrt_n "
              "(one-sided 5 % of a standard normal), 0 for score_genes (above expression-matched controls)",
              nullable=False, unit="score (see method)"),
    field_doc("genes_measured", pa.int32(), "genes of the programme measured in the sample", nullable=False,
              unit="genes"),
])

SORT_KEYS = ["sample_id", "cell_type", "malignant", "programme"]

#: position of this table in the manifest (contract/schema.py discovers schema_<table>.py modules)
MANIFEST_ORDER = 40
