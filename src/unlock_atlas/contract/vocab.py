"""The atlas's controlled vocabularies: the ONE definition of each categorical value set.

The table schemas (``allowed`` metadata), the stages that produce the values and the tools that
check inputs (sample sheets, simulator scenarios, the knowledge base) all import these lists;
none writes its own copy. Order matters where stated (it is the display / sort order).
"""

from __future__ import annotations

#: Sample types, in the atlas's sort order (tissue biopsy, plasma cfDNA, white-cell normal).
SAMPLE_TYPES = ["tissue", "plasma", "normal"]
#: Sample types that carry tumour DNA.
TUMOUR_SAMPLE_TYPES = ["tissue", "plasma"]
#: Collection timepoints relative to the drug, in time order.
TIMEPOINTS = ["baseline", "on_treatment", "progression"]
#: Sample QC verdicts (samples.qc_status).
QC_STATUS = ["pass", "warn", "fail"]
#: Resistance timing of a patient (patients.resistance_type; rules in unlock_atlas.domain.resistance_type).
RESISTANCE_TYPES = ["primary", "acquired", "not_progressed", "unknown"]
#: RECIST 1.1 best responses (NE = not evaluable).
BEST_RESPONSES = ["CR", "PR", "SD", "PD", "NE"]

#: Per-sample status of a variant (variants.status).
VARIANT_STATUSES = ["called", "detected_below_threshold", "not_detected", "not_covered"]
#: Tumour-informed status of a known somatic variant in a tumour sample (variants.ti_status; docs/calling.md §3b).
TI_STATUSES = ["detected_tumour_informed", "not_detected", "not_covered"]
#: Which variants the per-sample aggregated ctDNA test pooled (ctdna.ti_variant_set).
TI_VARIANT_SETS = ["truncal", "known"]
#: Variant origins (variants.origin; resistance-biology.md §4).
VARIANT_ORIGINS = ["somatic", "germline", "chip", "ch_not_excluded", "artefact"]
#: Sequence-variant kinds (variants.kind).
VARIANT_KINDS = ["snv", "mnv", "indel"]

#: Alteration kinds (alterations.kind, mechanisms.kind): sequence variants and copy-number / fusion events.
ALTERATION_KINDS = VARIANT_KINDS + ["amplification", "deep_deletion", "fusion"]
#: How an alteration arose across timepoints (alterations.acquisition).
ACQUISITIONS = ["acquired", "emerged", "pre_existing", "indeterminate"]
#: Relevance of an alteration to the regimen (alterations.relevance).
RELEVANCE = ["mechanism", "target_gene_unmatched", "none"]

#: Mechanism classes (mechanisms.class).
MECHANISM_CLASSES = ["on_target", "bypass", "other", "unknown"]
#: resistance-biology.md §2 mechanism codes a knowledge-base row may name.
KB_MECHANISMS = ["ON_TARGET_MUT", "ON_TARGET_AMP", "ON_TARGET_OTHER", "BYPASS_RTK", "BYPASS_DOWNSTREAM",
                 "PATHWAY_RESTORATION", "LINEAGE_HISTOLOGIC", "IMMUNE_ESCAPE"]
#: Mechanism subclasses (mechanisms.subclass): the §2 codes, NON_GENETIC and UNKNOWN, plus
#: NON_INFORMATIVE (design.md §4: nothing found and the samples could not have shown it).
MECHANISM_SUBCLASSES = KB_MECHANISMS + ["NON_GENETIC", "UNKNOWN", "NON_INFORMATIVE"]
#: Mechanism classification rules, in the order they are applied (mechanisms.rule; classify/rules.py RULES).
MECHANISM_RULES = ["kb_alteration", "histologic_transformation", "non_genetic_state", "no_mechanism"]
#: Phase of a mechanism's compound mutations (mechanisms.phase).
PHASES = ["cis", "trans", "unknown", "na"]

#: Gene-level copy-number calls (copy_number.call).
CN_CALLS = ["amplification", "gain", "neutral", "loss", "deep_deletion"]
#: Where a copy-number call's tumour content came from (copy_number.tumour_content_source).
TC_SOURCES = ["purity", "tumour_fraction", "none"]
#: Tumour-fraction estimation methods (ctdna.method).
TF_METHODS = ["truncal_vaf", "max_vaf", "none"]

#: Single-cell programme scoring methods (sc_programs.method).
SC_SCORE_METHODS = ["zsum_sqrt_n", "score_genes"]
#: Whether malignant cells were called in a single-cell sample (sc_composition.malignant_status).
MALIGNANT_STATUS = ["called", "not_run"]
