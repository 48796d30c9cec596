"""The atlas's one source of truth for table schemas (design.md §4).

Every table is a :class:`pyarrow.Schema` whose fields carry metadata: ``description``
(always), ``unit`` (for quantities), ``allowed`` (JSON list, for categorical columns) and
``filled_by`` (for columns a later pipeline stage fills; they exist from the start and are
null until that stage has run — never a placeholder value). The writer casts every table to
these schemas, the manifest's column documentation is generated from them, and
:func:`unlock_atlas.load_atlas` checks the manifest's ``schema_version`` against
:data:`SCHEMA_VERSION`.

Versioning: ``MAJOR.MINOR``. Adding tables or nullable columns bumps MINOR (old readers can
still read the atlas); renaming/removing columns or changing a type or meaning bumps MAJOR.
"""

from __future__ import annotations

import importlib
import pkgutil
from pathlib import Path
from types import ModuleType
from typing import Any

import pyarrow as pa

from .fields import column_docs, field_doc
from .vocab import BEST_RESPONSES, QC_STATUS, RESISTANCE_TYPES, SAMPLE_TYPES, TIMEPOINTS

#: Version of the table contract written into manifest.json: MAJOR.MINOR, MINOR bumped when tables
#: or columns are added (1.1: alterations, mechanisms, ctdna, cohort_summary, sc_composition,
#: sc_programs, variants.hgvsp_short; 1.2: sc_composition.malignant_status/malignant_note; 1.3:
#: treatments, samples.line, alterations.line, mechanisms.line, variants.allele_id, mechanisms.rule and
#: its structured evidence columns, sc_composition.malignant_lineage/cnv_reference,
#: tumour-informed detection - variants.background_error/background_rho/ti_p_value/ti_status, ctdna.ti_*,
#: alterations/mechanisms first_plasma_day_tumour_informed, mechanisms.lead_time_tumour_informed_days),
#: MAJOR when a column changes meaning or disappears.
SCHEMA_VERSION = "1.3"

_f = field_doc

_PATIENT_ID = ("patient identifier; a keyed pseudonym (12 hex characters of HMAC-SHA256) when privacy.pseudonymise is on "
               "(the map is results/private/id_map.tsv, never shared)")

PATIENTS = pa.schema([
    _f("patient_id", pa.string(), _PATIENT_ID, nullable=False),
    _f("tumour_type", pa.string(), "tumour type as given in patients.tsv (e.g. NSCLC, melanoma)", nullable=False),
    _f("drug", pa.string(), "generic drug name(s) the patient was treated with; combinations joined by '+'",
       nullable=False),
    _f("drug_class", pa.string(), "drug class(es) from the knowledge base, one per drug, joined by '+'"),
    _f("targets", pa.string(), "target gene(s) of the drug(s) from the knowledge base, comma-joined"),
    _f("progression_day", pa.int32(), "day of radiological progression; null = not progressed", unit="days from treatment start"),
    _f("best_response", pa.string(), "best RECIST 1.1 response on the drug (NE = not evaluable)", allowed=BEST_RESPONSES),
    _f("resistance_type", pa.string(),
       "primary (no benefit: best response PD, or progression before day 84 without a recorded response; "
       "exposure >= 42 days, SITC), acquired (progression after CR/PR, or after SD lasting >= 168 days, "
       "MATCH-R entry criterion), not_progressed (no progression_day), unknown (otherwise); see "
       "unlock_atlas.domain.resistance_type", nullable=False, allowed=RESISTANCE_TYPES),
    _f("early_trial_after", pa.bool_(), "treated in an early-phase trial after progression (null = not recorded)"),
    _f("n_samples", pa.int32(), "number of sequenced samples of the patient (all types)", nullable=False, unit="samples"),
    _f("n_tissue", pa.int32(), "number of tissue biopsies sequenced", nullable=False, unit="samples"),
    _f("n_plasma", pa.int32(), "number of plasma (cfDNA) samples sequenced", nullable=False, unit="samples"),
    _f("has_normal", pa.bool_(), "a matched white-cell normal was sequenced", nullable=False),
])

SAMPLES = pa.schema([
    _f("patient_id", pa.string(), _PATIENT_ID, nullable=False),
    _f("sample_id", pa.string(), "sample identifier; a keyed pseudonym (12 hex characters of HMAC-SHA256) when "
       "privacy.pseudonymise is on", nullable=False),
    _f("sample_type", pa.string(), "tissue biopsy, plasma cfDNA or white-cell normal", nullable=False,
       allowed=SAMPLE_TYPES),
    _f("timepoint", pa.string(), "collection timepoint relative to the drug (null for the normal)", allowed=TIMEPOINTS),
    _f("collection_day", pa.int32(), "day the sample was collected (negative = before treatment start)",
       nullable=False, unit="days from treatment start"),
    _f("mean_depth", pa.float64(), "mean depth over panel bases of mapped, primary, non-duplicate, non-QC-fail "
       "reads, overlapping mates counted once (samtools depth -s convention)", unit="reads"),
    _f("median_depth", pa.float64(), "median depth over panel bases (same reads as mean_depth)", unit="reads"),
    _f("on_target_fraction", pa.float64(), "fraction of mapped, primary, non-duplicate reads overlapping the panel",
       unit="fraction"),
    _f("duplicate_rate", pa.float64(), "fraction of mapped primary reads flagged as duplicates (0x400)", unit="fraction"),
    _f("insert_size_median", pa.float64(), "median |TLEN| of proper pairs (once per pair); null for single-end data",
       unit="bp"),
    _f("n_reads", pa.int64(), "primary reads in the BAM (mapped or not)", unit="reads"),
    _f("qc_status", pa.string(), "fail: mean depth < 50% of the sample type's minimum, on-target fraction < 50% of "
       "the minimum, or > 10% of targets without coverage; warn: below a minimum; pass: otherwise",
       nullable=False, allowed=QC_STATUS),
    _f("qc_reasons", pa.string(), "the checks that failed or warned, '; '-joined (null when qc_status is pass)"),
    _f("tumour_fraction", pa.float64(), "estimated tumour fraction (plasma ctDNA fraction / tissue tumour content)",
       unit="fraction", filled_by="classify"),
    _f("identity_ok", pa.bool_(), "the sample's germline SNP genotypes match the patient's normal",
       filled_by="qc identity check"),
    _f("purity", pa.float64(), "pathologist's tumour content estimate from samples.tsv", unit="fraction"),
    _f("histology", pa.string(), "histology from samples.tsv (e.g. adenocarcinoma, SCLC)"),
    _f("has_scrna", pa.bool_(), "single-cell RNA data of the same biopsy was provided", nullable=False),
    _f("line", pa.int32(), "treatment line (treatments table) the tissue / plasma sample belongs to, by collection day "
       "or the samples.tsv line column (docs/inputs.md); 1 for a patient with one line; null for the normal"),
])

def _discover_tables() -> dict[str, ModuleType]:
    """Every ``contract/schema_<table>.py`` module, by table name, in ``MANIFEST_ORDER``: adding a
    table is adding its module (docs/development.md)."""
    mods = []
    for info in pkgutil.iter_modules([str(Path(__file__).parent)]):
        if info.name.startswith("schema_"):
            mod = importlib.import_module(f"{__package__}.{info.name}")
            for attr in ("SCHEMA", "SORT_KEYS", "MANIFEST_ORDER"):
                if not hasattr(mod, attr):
                    raise AttributeError(f"{mod.__name__} defines no {attr} (every schema_<table>.py module must)")
            mods.append((mod.MANIFEST_ORDER, info.name.removeprefix("schema_"), mod))
    return {name: mod for _, name, mod in sorted(mods)}


#: The modules of the tables built from stage parts (``results/tables/<table>/<id>.parquet``, see
#: :mod:`unlock_atlas.contract.parts`), in manifest order; each defines ``SCHEMA``, ``SORT_KEYS`` and
#: ``MANIFEST_ORDER``; ``COMPUTED = True`` marks a table the atlas computes from the others (no parts).
_TABLE_MODULES = _discover_tables()

#: Every atlas table written by this version, in manifest order.
TABLES: dict[str, pa.Schema] = {"patients": PATIENTS, "samples": SAMPLES,
                                **{name: m.SCHEMA for name, m in _TABLE_MODULES.items()}}

#: The sheet-derived treatment lines table (built by the atlas stage, like patients and samples).
TREATMENTS = TABLES["treatments"]

#: Row order within each part of a part-built table (parts themselves follow patient pseudonyms).
SORT_KEYS: dict[str, list[str]] = {name: m.SORT_KEYS for name, m in _TABLE_MODULES.items()}

#: Tables the atlas stage computes itself from the other tables (no stage parts).
COMPUTED_TABLES = tuple(name for name, m in _TABLE_MODULES.items() if getattr(m, "COMPUTED", False))


def table_schema(name: str) -> pa.Schema:
    """The schema of atlas table ``name`` (KeyError lists the known tables)."""
    try:
        return TABLES[name]
    except KeyError:
        raise KeyError(f"unknown atlas table {name!r}; known: {', '.join(TABLES)}") from None


def manifest_column_docs() -> dict[str, list[dict[str, Any]]]:
    """Column documentation of every atlas table, keyed by table name (for manifest.json)."""
    return {name: column_docs(schema) for name, schema in TABLES.items()}
