"""Schema of the atlas ``alterations`` table (design.md §4): one row per patient x treatment line x somatic alteration.

Written per patient by ``unlock-atlas classify`` to ``results/tables/alterations/<patient>.parquet``
(see docs/classification.md and :mod:`unlock_atlas.classify.alterations` for every rule).
Per-timepoint columns are wide: ``present_<timepoint>_<sample type>``, ``vaf_<...>`` (sequence
variants) and ``cn_<...>`` (copy-number alterations), for the timepoints baseline / on_treatment /
progression and the sample types tissue / plasma; several samples of one timepoint and type are
combined (present in any; the highest VAF / the copy number furthest from 2).
"""

from __future__ import annotations

import pyarrow as pa

from .fields import field_doc
from .vocab import ACQUISITIONS, RELEVANCE, TIMEPOINTS
from .vocab import ALTERATION_KINDS as KINDS
from .vocab import TUMOUR_SAMPLE_TYPES as TUMOUR_TYPES

_fields = [
    field_doc("patient_id", pa.string(), "patient identifier (pseudonym when privacy.pseudonymise is on)", nullable=False),
    field_doc("line", pa.int32(), "treatment line (treatments table) the row describes: presence, acquisition and "
              "relevance are judged within that line, against the line's baseline (its own baseline samples, else the "
              "previous line's progression samples) and drug; 1 for a patient with one line (always "
              "filled by classify; nullable so that parts written before lines load)"),
    field_doc("alteration_id", pa.string(), "stable key of the alteration within the patient: chrom:pos:ref>alt for "
              "sequence variants, GENE:amplification / GENE:deep_deletion, GENE5::GENE3:chr5:pos5-chr3:pos3 for fusions "
              "(HGNC '::' fusion notation: 5' partner first, by the genes' strands; docs/copynumber.md)",
              nullable=False),
    field_doc("kind", pa.string(), "alteration kind", nullable=False, allowed=KINDS),
    field_doc("gene", pa.string(), "HGNC gene symbol (for fusions: the partner the knowledge base knows as an oncogene, else the "
              "5' partner)"),
    field_doc("partner_gene", pa.string(), "fusion partner (other side of the breakpoint); null for other kinds"),
    field_doc("chrom", pa.string(), "GRCh38 chromosome (UCSC style)"),
    field_doc("pos", pa.int64(), "1-based GRCh38 position (variant POS; gene start for copy number; the 5' partner's "
              "breakpoint for fusions)", unit="bp"),
    field_doc("ref", pa.string(), "reference allele (sequence variants)"),
    field_doc("alt", pa.string(), "alternate allele (sequence variants)"),
    field_doc("transcript", pa.string(), "Ensembl MANE Select transcript with version (sequence variants)"),
    field_doc("hgvsc", pa.string(), "HGVS coding change (sequence variants)"),
    field_doc("hgvsp", pa.string(), "HGVS protein change, 3-letter (p.Cys797Ser)"),
    field_doc("hgvsp_short", pa.string(), "HGVS protein change, 1-letter (p.C797S)"),
    field_doc("consequence", pa.string(), "Sequence Ontology consequence term(s), '&'-joined"),
]
for _tp in TIMEPOINTS:
    for _st in TUMOUR_TYPES:
        _fields += [
            field_doc(f"present_{_tp}_{_st}", pa.bool_(), f"called in a {_st} sample at {_tp} (status 'called' for "
                      "variants; an amplification / deep_deletion copy-number call; a reported fusion); null when the "
                      "patient has no such sample"),
            field_doc(f"vaf_{_tp}_{_st}", pa.float64(), f"highest VAF of the variant among the {_st} samples at {_tp} "
                      "(also when not called); null for copy number / fusions", unit="fraction"),
            field_doc(f"cn_{_tp}_{_st}", pa.float64(), f"tumour copy number of the gene in the {_st} samples at {_tp} "
                      "(furthest from 2 when several); plasma values use the ctDNA tumour fraction when the "
                      "copy-number stage had none; null for sequence variants / fusions", unit="copies"),
        ]
_fields += [
    field_doc("acquisition", pa.string(), "acquired: not called at baseline and the baseline samples jointly exclude "
              "its presence there at >= 0.5 % cancer-cell fraction (baseline_ccf_upper < 0.005, "
              "classify.acquisition.ACQUIRED_MAX_CCF); pre_existing: called in a baseline sample; emerged: not "
              "called at baseline, a >= 0.5 % subclone not excluded, but the CCF rose beyond chance (enriched: "
              "selected under treatment); indeterminate: otherwise (no baseline sample or tumour content, traces "
              "below the calling threshold, or a baseline too shallow / too poor in tumour to exclude a 0.5 % "
              "subclone, and no proven rise) — indeterminate alterations do not count as mechanisms in the cohort "
              "summary", nullable=False, allowed=ACQUISITIONS),
    field_doc("acquisition_p", pa.float64(), "p-value of 'present at baseline at 0.5 % CCF': probability of at most "
              "the observed baseline ALT fragments (pooled over baseline samples, exact sum of binomials; Poisson "
              "for fusions) at that CCF; acquired when < 0.05; null for pre-existing and copy-number alterations",
              unit="probability"),
    field_doc("baseline_ccf_upper", pa.float64(), "one-sided 95 % upper bound of the cancer-cell fraction at "
              "baseline, joint over all baseline samples (variants: exact inversion of the pooled ALT count with "
              "expected VAF CCF x tumour content / 2 per sample; fusions: pooled Poisson fragments scaled from the "
              "progression sample; copy number: inverse-variance pooled copy number vs the level where it was "
              "called); plasma tumour content at its lower 95 % bound; null when no baseline sample is evaluable",
              unit="fraction"),
    field_doc("acquisition_basis", pa.string(), "the statistical basis of `acquisition`, in words with the numbers",
              nullable=False),
    field_doc("ccf_baseline", pa.float64(), "cancer-cell fraction estimate at baseline, 2*VAF/tumour content "
              "(highest over baseline samples; heterozygous diploid assumption)", unit="fraction"),
    field_doc("ccf_progression", pa.float64(), "cancer-cell fraction estimate at progression (same model)", unit="fraction"),
    field_doc("enriched", pa.bool_(), "the cancer-cell fraction rose from baseline to progression beyond chance: the "
              "lower 95% bound at progression exceeds baseline_ccf_upper (fusions: conditional two-Poisson test of "
              "baseline vs progression fragments, p < 0.05; copy number: baseline_ccf_upper < 1); null when not "
              "estimable"),
    field_doc("at_progression", pa.bool_(), "called in at least one progression sample", nullable=False),
    field_doc("first_detected_day", pa.int32(), "collection day of the first sample in which it was called",
              unit="days from treatment start"),
    field_doc("first_plasma_day", pa.int32(), "collection day of the first plasma sample in which it was called",
              unit="days from treatment start"),
    field_doc("first_plasma_day_tumour_informed", pa.int32(), "collection day of the first plasma sample in which "
              "it was called or detected by the tumour-informed test (variants.ti_status); copy-number and fusion "
              "alterations, which have no tumour-informed test, repeat first_plasma_day", unit="days from treatment start"),
    field_doc("seen_in_tissue", pa.bool_(), "called in at least one tissue sample", nullable=False),
    field_doc("seen_in_plasma", pa.bool_(), "called in at least one plasma sample", nullable=False),
    field_doc("n_samples_called", pa.int32(), "number of tumour samples in which it was called", nullable=False,
              unit="samples"),
    field_doc("resistance_relevance", pa.string(), "mechanism: yields a row of the mechanisms table; "
              "target_gene_unmatched: a protein-altering alteration acquired in a target gene of the drug that the "
              "knowledge base does not list (left for review, not guessed); none: otherwise", nullable=False,
              allowed=RELEVANCE),
]

SCHEMA = pa.schema(_fields)
SORT_KEYS = ["line", "chrom", "pos", "alteration_id"]

#: position of this table in the manifest (contract/schema.py discovers schema_<table>.py modules)
MANIFEST_ORDER = 50
