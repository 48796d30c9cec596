"""The report's view of the atlas: every table read once, empty or missing tables marked.

The report reads the atlas ALONE (:func:`unlock_atlas.load_atlas`), never the run's private
files, so every number it shows can be reproduced from ``results/atlas/``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from ..atlas.load import Atlas, MissingTableError, load_atlas

#: Which pipeline stage fills each table (for the "not available in this atlas" notes).
STAGE_OF = {
    "patients": "atlas", "samples": "atlas and qc", "treatments": "atlas (treatment lines of the sheets)",
    "variants": "variant calling (`unlock-atlas call`)",
    "copy_number": "copy number (`unlock-atlas copynumber`)", "alterations": "classification (`unlock-atlas classify`)",
    "mechanisms": "classification (`unlock-atlas classify`)", "ctdna": "classification (`unlock-atlas classify`)",
    "sc_composition": "single-cell (`unlock-atlas sc`)", "sc_programs": "single-cell (`unlock-atlas sc`)",
    "cohort_summary": "atlas (computed from the classification tables)",
}
#: Headline figures in the order of the programme's published summary (mission.md).
HEADLINE = ["patients_included", "biopsies", "sequenced_samples", "resistance_alterations_at_progression",
            "resistance_alterations_bypass", "resistance_alterations_on_target", "patients_with_mechanism",
            "pct_early_phase_trial"]
HEADLINE_LABELS = {
    "patients_included": "patients included",
    "biopsies": "tissue biopsies sequenced",
    "sequenced_samples": "samples sequenced (tissue, blood, normal)",
    "resistance_alterations_at_progression": "resistance alterations identified at progression",
    "resistance_alterations_bypass": "of which bypass of the target",
    "resistance_alterations_on_target": "of which on-target (in the drug's target)",
    "patients_with_mechanism": "progressed patients with a mechanism found",
    "pct_early_phase_trial": "treated in an early-phase trial after progression",
}
_SAFE = re.compile(r"[^A-Za-z0-9._-]")


def page_name(patient_id: str) -> str:
    """File name of a patient's page: the ID with unsafe characters replaced (pseudonyms are hex)."""
    safe = _SAFE.sub("_", str(patient_id)) or "_"
    return f"{safe}.html"


@dataclass
class ReportData:
    """The atlas tables the report uses; an absent or empty table is ``None`` (see :meth:`missing`)."""

    atlas: Atlas
    tables: dict[str, pd.DataFrame | None] = field(default_factory=dict)

    def get(self, name: str) -> pd.DataFrame | None:
        return self.tables.get(name)

    def missing(self, *names: str) -> str | None:
        """A note naming the first of ``names`` that is absent or empty (None when all have rows)."""
        for name in names:
            if self.tables.get(name) is None:
                why = "is not in this atlas" if name not in self.atlas.tables else "is empty"
                return (f"Not available in this atlas: the table <code>{name}</code> {why} (filled by the "
                        f"{STAGE_OF.get(name, 'pipeline')} stage, which was not run or found nothing).")
        return None

    @property
    def manifest(self) -> dict[str, Any]:
        return self.atlas.manifest

    def summary_value(self, metric: str, stratum: str = "all") -> tuple[float | None, int, str] | None:
        """(value, n, unit) of a cohort_summary row, or None when the atlas has no such row."""
        cs = self.tables.get("cohort_summary")
        if cs is None:
            return None
        row = cs[(cs["metric"] == metric) & (cs["stratum"] == stratum)]
        if row.empty:
            return None
        r = row.iloc[0]
        value = None if pd.isna(r["value"]) else float(r["value"])
        return value, int(r["n"]), str(r["unit"])


def read_report_data(atlas_dir: str | Path) -> ReportData:
    """Open the atlas and read every table the report needs (missing/empty ones become None)."""
    atlas = load_atlas(atlas_dir)
    data = ReportData(atlas)
    for name in STAGE_OF:
        try:
            df = atlas.table(name)
        except MissingTableError:
            df = None
        data.tables[name] = df if df is not None and len(df) else None
    return data


def fmt_value(value: float | None, unit: str) -> str:
    """A cohort_summary value as the report shows it (counts as integers, percent 1 decimal).

    The displayed precision is the contract the browser test checks against (a percent shown as
    ``41.2 %`` equals the atlas value rounded to one decimal).
    """
    if value is None:
        return "–"
    if unit == "percent":
        return f"{value:.1f} %"
    if unit == "fraction":
        return f"{100 * value:.1f} %"
    if unit == "days":
        return f"{value:g} days"
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.2f}"


def num(x: Any, digits: int = 0) -> str:
    """A table cell number ('' for missing)."""
    if x is None or (not isinstance(x, str) and pd.isna(x)):
        return ""
    if digits == 0:
        return f"{float(x):,.0f}"
    return f"{float(x):,.{digits}f}"
