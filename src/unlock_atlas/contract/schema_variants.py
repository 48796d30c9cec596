"""Schema of the atlas ``variants`` table (design.md §4): one row per variant x sample (long).

Written per patient by ``unlock-atlas call`` to ``results/tables/variants/<patient>.parquet``;
gene/transcript/HGVS/consequence columns are filled by annotation (issue 4) and stay null until then.
"""

from __future__ import annotations

import pyarrow as pa

from .fields import field_doc
from .vocab import SAMPLE_TYPES, TI_STATUSES
from .vocab import VARIANT_KINDS as KINDS
from .vocab import VARIANT_ORIGINS as ORIGINS
from .vocab import VARIANT_STATUSES as STATUSES

SCHEMA = pa.schema([
    field_doc("patient_id", pa.string(), "patient identifier (pseudonym when privacy.pseudonymise is on)", nullable=False),
    field_doc("sample_id", pa.string(), "sample identifier (pseudonym when privacy.pseudonymise is on)", nullable=False),
    field_doc("sample_type", pa.string(), "tissue biopsy, plasma cfDNA or white-cell normal", allowed=SAMPLE_TYPES),
    field_doc("chrom", pa.string(), "GRCh38 chromosome (UCSC style, e.g. chr7)", nullable=False),
    field_doc("pos", pa.int64(), "1-based GRCh38 position (VCF POS; indels left-normalised with the anchor base)",
              nullable=False, unit="bp"),
    field_doc("ref", pa.string(), "reference allele (VCF REF)", nullable=False),
    field_doc("alt", pa.string(), "alternate allele (VCF ALT)", nullable=False),
    field_doc("allele_id", pa.string(), "the allele's key across samples, chrom:pos:ref>alt (unlock_atlas.domain.allele_id); "
              "the alteration_id of a sequence alteration in the alterations and mechanisms tables; written by calling, "
              "filled by annotation for parts from elsewhere"),
    field_doc("kind", pa.string(), "variant kind", allowed=KINDS),
    field_doc("gene", pa.string(), "HGNC gene symbol", filled_by="annotate"),
    field_doc("transcript", pa.string(), "Ensembl transcript ID with version (MANE Select)", filled_by="annotate"),
    field_doc("refseq_transcript", pa.string(), "RefSeq transcript ID with version (MANE Select)", filled_by="annotate"),
    field_doc("hgvsc", pa.string(), "HGVS coding change", filled_by="annotate"),
    field_doc("hgvsp", pa.string(), "HGVS protein change, 3-letter amino acids (e.g. p.Thr790Met)", filled_by="annotate"),
    field_doc("hgvsp_short", pa.string(), "HGVS protein change, 1-letter amino acids (e.g. p.T790M)",
              filled_by="annotate"),
    field_doc("consequence", pa.string(), "Sequence Ontology consequence terms of the kept MANE transcript, most "
              "severe first, '&'-joined (VEP convention)", filled_by="annotate"),
    field_doc("alt_reads", pa.int32(), "fragments supporting ALT (duplicates, MAPQ < 20, base quality < 20 "
              "excluded; overlapping mates count once)", nullable=False, unit="fragments"),
    field_doc("ref_reads", pa.int32(), "fragments supporting REF (same filters)", unit="fragments"),
    field_doc("depth", pa.int32(), "fragments informative at the site (same filters)", nullable=False, unit="fragments"),
    field_doc("vaf", pa.float64(), "alt_reads / depth (null when depth is 0)", unit="fraction"),
    field_doc("vaf_ci_low", pa.float64(), "lower bound of the Wilson 95% interval of vaf", unit="fraction"),
    field_doc("vaf_ci_high", pa.float64(), "upper bound of the Wilson 95% interval of vaf", unit="fraction"),
    field_doc("detection_score", pa.float64(), "DS = -10 log10 P(X >= alt_reads | Binomial(depth, background error "
              "of this position and substitution)); see docs/calling.md", unit="phred"),
    field_doc("status", pa.string(), "per-sample status: called (DS >= 65 and >= 3 fragments, or DS >= 20 and >= 2 "
              "fragments when called in another sample of the patient), detected_below_threshold (DS >= 13), "
              "not_detected, not_covered (depth < 20)", nullable=False, allowed=STATUSES),
    field_doc("filter", pa.string(), "VCF FILTER of the variant (PASS or ';'-joined filter ids)", nullable=False),
    field_doc("origin", pa.string(), "variant origin from the normal/plasma/tissue rule (resistance-biology.md §4), "
              "the normal's power to see clonal haematopoiesis (ch_not_excluded: a plasma-only variant in a CH gene "
              "that the normal could not rule out) and artefact filters", nullable=False, allowed=ORIGINS),
    field_doc("background_error", pa.float64(), "background error rate of this allele at this position: the "
              "beta-binomial mean from the panel of normals and the matched normal, shrunk to the substitution "
              "class prior (VCF INFO BG; docs/calling.md §3)", unit="fraction"),
    field_doc("background_rho", pa.float64(), "background overdispersion: beta-binomial intra-class correlation "
              "(VCF INFO BGRHO)"),
    field_doc("ti_p_value", pa.float64(), "tumour-informed test of a KNOWN variant (somatic, FILTER PASS, called in "
              "one of the patient's tumour samples) in this tumour sample: P(X >= alt_reads | beta-binomial "
              "background of depth fragments); null when the variant is not known or for the normal (docs/calling.md "
              "§3b)", unit="probability"),
    field_doc("ti_status", pa.string(), "tumour-informed status: detected_tumour_informed (>= 1 alt fragment and "
              "ti_p_value <= calling.ti_alpha, default 0.01), not_detected, not_covered (depth < 20); distinct from "
              "the de-novo `status`; null when not tested", allowed=TI_STATUSES),
])

SORT_KEYS = ["chrom", "pos", "ref", "alt", "sample_id"]

#: position of this table in the manifest (contract/schema.py discovers schema_<table>.py modules)
MANIFEST_ORDER = 10
