"""Schema of the atlas ``mechanisms`` table (design.md §4): one row per patient x treatment line x resistance mechanism.

Written per patient by ``unlock-atlas classify`` to ``results/tables/mechanisms/<patient>.parquet``.
Every progressed patient has at least one row (class ``unknown`` when nothing explains the
progression); patients who have not progressed have none. See docs/classification.md.
"""

from __future__ import annotations

import pyarrow as pa

from .fields import field_doc
from .vocab import ACQUISITIONS, PHASES
from .vocab import ALTERATION_KINDS as KINDS
from .vocab import MECHANISM_CLASSES as CLASSES
from .vocab import MECHANISM_RULES as RULES
from .vocab import MECHANISM_SUBCLASSES as SUBCLASSES

SCHEMA = pa.schema([
    field_doc("patient_id", pa.string(), "patient identifier (pseudonym when privacy.pseudonymise is on)", nullable=False),
    field_doc("line", pa.int32(), "treatment line (treatments table) the mechanism belongs to: the line whose drug "
              "the patient progressed on; 1 for a patient with one line (always "
              "filled by classify; nullable so that parts written before lines load)"),
    field_doc("regimen", pa.string(), "the drug(s) of the line the patient progressed on, combinations joined by '+'",
              nullable=False),
    field_doc("drug", pa.string(), "the component drug of the regimen this classification refers to (each component "
              "of a combination is classified separately, resistance-biology.md §2 rule 1); the whole regimen for "
              "unknown / lineage rows", nullable=False),
    field_doc("drug_class", pa.string(), "knowledge-base class of `drug`"),
    field_doc("class", pa.string(), "on_target (ON_TARGET_*), bypass (BYPASS_*), other (PATHWAY_RESTORATION, "
              "LINEAGE_HISTOLOGIC, IMMUNE_ESCAPE, NON_GENETIC) or unknown (UNKNOWN, NON_INFORMATIVE)",
              nullable=False, allowed=CLASSES),
    field_doc("subclass", pa.string(), "resistance-biology.md §2 code; NON_INFORMATIVE = nothing found and the "
              "progression samples could not have shown it (no tissue at progression and plasma tumour fraction "
              "< 0.03)", nullable=False, allowed=SUBCLASSES),
    field_doc("gene", pa.string(), "gene of the alteration (null for unknown and lineage rows)"),
    field_doc("alteration", pa.string(), "p. change (1-letter, p.C797S), or amplification / deep_deletion / fusion; "
              "for lineage rows the histology at progression"),
    field_doc("alteration_id", pa.string(), "key of the alteration in the alterations table"),
    field_doc("kind", pa.string(), "alteration kind", allowed=KINDS),
    field_doc("acquisition", pa.string(), "acquisition of the alteration (alterations table)", allowed=ACQUISITIONS),
    field_doc("enriched", pa.bool_(), "the alteration's cancer-cell fraction rose from baseline to progression beyond "
              "chance (alterations table); an alteration not called at baseline that rose so is 'emerged'"),
    field_doc("phase", pa.string(), "for compound on-target mutations (two or more in the drug's target gene at "
              "progression): cis / trans from fragments spanning both positions, unknown when too few span both; "
              "na otherwise", nullable=False, allowed=PHASES),
    field_doc("phase_evidence", pa.string(), "partner mutation and fragment counts behind `phase` (both alt / "
              "only this / only partner)"),
    field_doc("compound_id", pa.string(), "for mutations phased in cis: the '+'-joined sorted alteration IDs of the "
              "compound (the same on each of its rows); a cis compound is ONE mechanism in multiple_mechanisms and "
              "the cohort summary; null otherwise"),
    field_doc("multiple_mechanisms", pa.bool_(), "the patient has more than one mechanism alteration on this line (polyclonal or "
              "compound resistance in trans / unknown phase; a cis compound is one mechanism); false for unknown "
              "rows", nullable=False),
    field_doc("evidence", pa.string(), "why, in words (a rendering of the structured columns rule .. progression_plasma_tf): "
              "the knowledge-base rule (scope, pattern, evidence status V/R/D, source) "
              "and the observations (samples, VAF, copy number, acquisition basis)", nullable=False),
    field_doc("rule", pa.string(), "the classification rule that gave this row (classify/rules.py, applied in "
              "this order; the last two only when no earlier rule gave a row)", allowed=RULES, nullable=False),
    field_doc("kb_pattern", pa.string(), "kb_alteration rows: the knowledge-base pattern that matched the alteration "
              "(resources/kb/resistance_alterations.tsv), or 'target amplification rule'"),
    field_doc("kb_evidence_status", pa.string(), "kb_alteration rows: the matched row's evidence status in "
              "resistance-biology.md (V verified, R recalled, D derived)"),
    field_doc("kb_source", pa.string(), "kb_alteration rows: the matched row's source (section of resistance-biology.md)"),
    field_doc("acquisition_basis", pa.string(), "the alteration's acquisition basis (alterations table), in words with "
              "the numbers"),
    field_doc("ccf_baseline", pa.float64(), "the alteration's cancer-cell fraction at baseline (alterations table)",
              unit="fraction"),
    field_doc("ccf_progression", pa.float64(), "the alteration's cancer-cell fraction at progression (alterations table)",
              unit="fraction"),
    field_doc("histology", pa.string(), "histologic_transformation rows: the progression biopsy's histology"),
    field_doc("progression_tissue", pa.bool_(), "no_mechanism rows: a tissue biopsy was taken at progression"),
    field_doc("progression_plasma_tf", pa.float64(), "no_mechanism rows: the best plasma tumour fraction at progression "
              "(null: no plasma, or not estimable)", unit="fraction"),
    field_doc("citation", pa.string(), "citation(s) of the knowledge-base fact behind the classification"),
    field_doc("first_plasma_day", pa.int32(), "first plasma collection day on which the alteration was called",
              unit="days from treatment start"),
    field_doc("progression_day", pa.int32(), "day of clinical (radiological) progression", unit="days from treatment start"),
    field_doc("lead_time_days", pa.int32(), "molecular lead time: progression_day - first_plasma_day (positive = seen "
              "in plasma before clinical progression; resistance-biology.md §4); null for pre-existing alterations "
              "(called at baseline: their first plasma detection is no lead)", unit="days"),
    field_doc("first_plasma_day_tumour_informed", pa.int32(), "first plasma collection day on which the alteration was "
              "called or detected by the tumour-informed test (alterations table)", unit="days from treatment start"),
    field_doc("lead_time_tumour_informed_days", pa.int32(), "tumour-informed molecular lead time: progression_day - "
              "first_plasma_day_tumour_informed; null for pre-existing alterations (as lead_time_days, the de-novo "
              "version kept beside it)", unit="days"),
    field_doc("note", pa.string(), "explanation of ambiguous cases (indeterminate acquisition, unresolved phase, "
              "why a patient is unknown / non-informative)"),
])

SORT_KEYS = ["line", "class", "gene", "alteration", "drug"]

#: position of this table in the manifest (contract/schema.py discovers schema_<table>.py modules)
MANIFEST_ORDER = 60
