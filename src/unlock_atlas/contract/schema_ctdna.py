"""Schema of the atlas ``ctdna`` table: one row per tumour sample (plasma and tissue) x tumour fraction.

Written per patient by ``unlock-atlas classify`` to ``results/tables/ctdna/<patient>.parquet``; the
atlas copies ``tumour_fraction`` into ``samples.tumour_fraction``. See
:mod:`unlock_atlas.classify.ctdna` for the estimator and docs/classification.md.
"""

from __future__ import annotations

import pyarrow as pa

from .fields import field_doc
from .vocab import SAMPLE_TYPES, TI_VARIANT_SETS, TIMEPOINTS
from .vocab import TF_METHODS as METHODS

SCHEMA = pa.schema([
    field_doc("patient_id", pa.string(), "patient identifier (pseudonym when privacy.pseudonymise is on)", nullable=False),
    field_doc("sample_id", pa.string(), "sample identifier (pseudonym when privacy.pseudonymise is on)", nullable=False),
    field_doc("sample_type", pa.string(), "tissue or plasma", nullable=False, allowed=SAMPLE_TYPES),
    field_doc("timepoint", pa.string(), "collection timepoint", allowed=TIMEPOINTS),
    field_doc("collection_day", pa.int32(), "collection day", unit="days from treatment start"),
    field_doc("tumour_fraction", pa.float64(), "tumour fraction = 2 x pooled VAF of the patient's truncal heterozygous "
              "somatic variants (truncal_vaf), else 2 x the highest somatic VAF (max_vaf); clonal haematopoiesis, germline "
              "and artefacts excluded", unit="fraction"),
    field_doc("tf_ci_low", pa.float64(), "lower bound of the 95% interval (2 x Wilson bound of the pooled VAF)",
              unit="fraction"),
    field_doc("tf_ci_high", pa.float64(), "upper bound of the 95% interval", unit="fraction"),
    field_doc("method", pa.string(), "estimator used", nullable=False, allowed=METHODS),
    field_doc("n_variants", pa.int32(), "somatic variants the estimate pools", unit="variants"),
    field_doc("alt_reads", pa.int32(), "pooled ALT fragments", unit="fragments"),
    field_doc("depth", pa.int32(), "pooled informative fragments", unit="fragments"),
    field_doc("informative", pa.bool_(), "tumour_fraction >= 0.03, the detection floor below which a negative plasma "
              "result is non-informative (resistance-biology.md §4)"),
    field_doc("matched_tissue_sample_id", pa.string(), "plasma rows: the tissue sample of the same timepoint "
              "compared for concordance (pseudonym when pseudonymised)"),
    field_doc("n_tissue_mutations", pa.int32(), "somatic mutations called in the matched tissue sample",
              unit="variants"),
    field_doc("n_tissue_mutations_in_plasma", pa.int32(), "of those, called in this plasma sample", unit="variants"),
    field_doc("n_plasma_only_mutations", pa.int32(), "somatic mutations called in this plasma sample but not in the "
              "matched tissue", unit="variants"),
    field_doc("concordance", pa.float64(), "tissue-plasma positive percent agreement: n_tissue_mutations_in_plasma / "
              "n_tissue_mutations", unit="fraction"),
    field_doc("ti_variant_set", pa.string(), "aggregated tumour-informed ctDNA test: the variants pooled - truncal "
              "(the tumour-fraction set) or known (somatic PASS variants called in another tumour sample, when the "
              "patient has no truncal set); null when none was evaluable (docs/calling.md §3b)", allowed=TI_VARIANT_SETS),
    field_doc("ti_n_variants", pa.int32(), "variants pooled by the aggregated test", unit="variants"),
    field_doc("ti_alt_reads", pa.int32(), "pooled ALT fragments of those variants in this sample", unit="fragments"),
    field_doc("ti_depth", pa.int32(), "pooled informative fragments", unit="fragments"),
    field_doc("ti_background_alt", pa.float64(), "ALT fragments the variants' backgrounds predict without ctDNA "
              "(sum of depth x background_error)", unit="fragments"),
    field_doc("ti_p_value", pa.float64(), "P(pooled ALT >= ti_alt_reads | no ctDNA): exact tail of the sum of the "
              "variants' beta-binomial site backgrounds", unit="probability"),
    field_doc("ti_detected", pa.bool_(), "ctDNA detected by the aggregated tumour-informed test: ti_p_value <= "
              "calling.ti_alpha (default 0.01)"),
    field_doc("ti_tumour_fraction", pa.float64(), "background-corrected tumour fraction: maximum likelihood over the "
              "pooled variants (ALT rate = background + (1 - background) x TF / 2)", unit="fraction"),
    field_doc("ti_tf_ci_low", pa.float64(), "lower bound of the exact 95% interval of ti_tumour_fraction (pooled "
              "count distribution pivoted)", unit="fraction"),
    field_doc("ti_tf_ci_high", pa.float64(), "upper bound of that interval", unit="fraction"),
])

SORT_KEYS = ["collection_day", "sample_type", "sample_id"]

#: position of this table in the manifest (contract/schema.py discovers schema_<table>.py modules)
MANIFEST_ORDER = 70
