"""Schema of the atlas ``mechanisms`` table (design.md §4): one row per patient x resistance mechanism.

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
from .vocab import MECHANISM_SUBCLASSES as SUBCLASSES

SCHEMA = pa.schema([
    field_doc("patient_id", pa.string(), "patient identifier (pseudonym when privacy.pseudonymise is on)", nullable=False),
    field_doc("regimen", pa.string(), "the drug(s) the patient progressed on, combinations joined by '+'", nullable=False),
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
    field_doc("multiple_mechanisms", pa.bool_(), "the patient has more than one mechanism alteration (polyclonal or "
              "compound resistance in trans / unknown phase; a cis compound is one mechanism); false for unknown "
              "rows", nullable=False),
    field_doc("evidence", pa.string(), "why: the knowledge-base rule (scope, pattern, evidence status V/R/D, source) "
              "and the observations (samples, VAF, copy number, acquisition basis)", nullable=False),
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

SORT_KEYS = ["class", "gene", "alteration", "drug"]
