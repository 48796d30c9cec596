"""Schema of the atlas ``copy_number`` table (design.md §4): one row per sample x panel gene.

Written per sample by ``unlock-atlas copynumber call`` to
``results/tables/copy_number/<sample_id>.parquet``. See docs/copynumber.md and
:mod:`unlock_atlas.copynumber.genes` for the model behind every column.
"""

from __future__ import annotations

import pyarrow as pa

from .fields import field_doc
from .vocab import CN_CALLS as CALLS
from .vocab import SAMPLE_TYPES, TC_SOURCES

SCHEMA = pa.schema([
    field_doc("patient_id", pa.string(), "patient identifier (pseudonym when privacy.pseudonymise is on)", nullable=False),
    field_doc("sample_id", pa.string(), "sample identifier (pseudonym when privacy.pseudonymise is on)", nullable=False),
    field_doc("sample_type", pa.string(), "tissue biopsy, plasma cfDNA or white-cell normal", allowed=SAMPLE_TYPES),
    field_doc("gene", pa.string(), "HGNC gene symbol (panel BED name)", nullable=False),
    field_doc("chrom", pa.string(), "GRCh38 chromosome of the gene's targets", nullable=False),
    field_doc("start", pa.int64(), "1-based GRCh38 start of the gene's first target", unit="bp"),
    field_doc("end", pa.int64(), "GRCh38 end (inclusive) of the gene's last target", unit="bp"),
    field_doc("n_targets", pa.int32(), "usable panel targets of the gene (median normal depth >= 1/32 of the panel median)",
              nullable=False),
    field_doc("mean_depth", pa.float64(), "length-weighted mean fragment depth over the gene's targets "
              "(deduplicated, MAPQ >= 20, each fragment counted once)", unit="fragments"),
    field_doc("log2_ratio", pa.float64(), "gene log2 copy ratio vs the panel of normals: weighted median of target "
              "log2 ratios after GC / target-length / flank-density correction", unit="log2"),
    field_doc("log2_se", pa.float64(), "standard error of log2_ratio (max of the model and the empirical s.e.)", unit="log2"),
    field_doc("ci_low", pa.float64(), "lower bound of the 95% interval of log2_ratio", unit="log2"),
    field_doc("ci_high", pa.float64(), "upper bound of the 95% interval of log2_ratio", unit="log2"),
    field_doc("tumour_content", pa.float64(), "tumour content used: tissue purity (samples.tsv) or plasma tumour "
              "fraction (estimated from the patient's truncal variants before copy-number calling); null when "
              "unknown, for plasma below the 3% floor, for a gene failing the model check (ratio below what CN 0 "
              "allows at that tumour fraction) and for normals", unit="fraction"),
    field_doc("tumour_content_source", pa.string(), "where tumour_content came from (none: not used, see tumour_content)",
              allowed=TC_SOURCES),
    field_doc("copy_number", pa.float64(), "absolute copy number: tumour copy number 2*(r-1+tc)/tc with r = 2^log2_ratio "
              "for tissue/plasma (CNVkit call --purity; null when no tumour content is used); germline 2*r for normals",
              unit="copies"),
    field_doc("copy_number_ci_low", pa.float64(),
              "lowest copy_number over the log2 95% interval (x the tumour-fraction 95% interval for plasma)", unit="copies"),
    field_doc("copy_number_ci_high", pa.float64(),
              "highest copy_number over the log2 95% interval (x the tumour-fraction 95% interval for plasma)", unit="copies"),
    field_doc("call", pa.string(), "amplification (CN >= 5), gain (>= 2.5), loss (< 1.5), deep_deletion (< 0.5), else "
              "neutral; non-neutral calls need |log2_ratio| >= 3 s.e.; without a tumour content (source none) "
              "tc = 1 is used (conservative bound)", allowed=CALLS),
    field_doc("confidence", pa.float64(), "probability under the gene's normal error model that the true log2 ratio "
              "lies in the called category's interval", unit="probability"),
])

SORT_KEYS = ["sample_id", "chrom", "start", "gene"]

#: position of this table in the manifest (contract/schema.py discovers schema_<table>.py modules)
MANIFEST_ORDER = 20
