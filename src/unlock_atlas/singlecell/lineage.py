"""Expected malignant lineage of a tumour type and the copy-number reference it implies.

Two cited tables in ``resources/singlecell/``:

- ``tumour_lineage.tsv``: tumour type (``patients.tsv`` ``tumour_type``, matched case-insensitively) →
  lineage of its malignant cells (epithelial, melanocytic, glial, mesenchymal, B cell); a type not
  listed, or none given, is ``agnostic``.
- ``cell_type_lineage.tsv``: every marker cell type → its lineage (or ``-``) and compartment
  (immune, stromal, endothelial, parenchymal).

The reference for copy-number inference is the cells *confidently not of the lineage*: immune cell
types not of the lineage first (always), plus stromal and endothelial types when the lineage is known
and not mesenchymal (a sarcoma's or GIST's malignant cells are stromal-like; in agnostic mode any
non-immune cell may be malignant). Cells that can be called malignant (candidates): every cell outside
the reference, in both modes — tumour cells often match no normal type, or a wrong one (in the Tirosh
2016 oligodendroglioma, malignant cells score as neurons, astrocytes, progenitors and, for SOX9, even
cholangiocytes), so the lineage decides what is confidently normal, and copy number decides the rest;
non-malignant cells of the lineage itself are handled by the reference refinement of
:mod:`.malignant`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from ..errors import InputError, Problem
from ..paths import resources_dir

TUMOUR_LINEAGE_FILE = "singlecell/tumour_lineage.tsv"
CELL_TYPE_LINEAGE_FILE = "singlecell/cell_type_lineage.tsv"
AGNOSTIC = "agnostic"
COMPARTMENTS = ("immune", "stromal", "endothelial", "parenchymal")


@dataclass(frozen=True)
class LineagePlan:
    """What a sample's malignant calls use.

    Attributes
    ----------
    tumour_type
        As given (``None`` when not given).
    lineage
        Expected malignant lineage, or ``agnostic``.
    reference_types
        Cell types whose cells form the copy-number reference (immune first, then stromal/endothelial);
        every other cell can be called malignant.
    """

    tumour_type: str | None
    lineage: str
    reference_types: tuple[str, ...]


def _table(name: str, required: list[str]) -> tuple[Path, pd.DataFrame]:
    p = resources_dir() / name
    if not p.exists():
        raise InputError(Problem(str(p), "lineage table not found", "restore it from the repository"))
    df = pd.read_csv(p, sep="\t", comment="#", dtype=str, keep_default_na=False)
    for c in required:
        if c not in df.columns:
            raise InputError(Problem(str(p), f"missing column '{c}'", "restore the table from the repository", column=c))
        empty = df.index[df[c].str.strip() == ""]
        if len(empty):
            raise InputError(Problem(str(p), "empty value", f"fill in '{c}'", row=int(empty[0]) + 2, column=c))
    return p, df


def tumour_lineages() -> dict[str, str]:
    """Lower-cased tumour type → lineage (``resources/singlecell/tumour_lineage.tsv``)."""
    _, df = _table(TUMOUR_LINEAGE_FILE, ["tumour_type", "lineage", "citation"])
    return {t.strip().lower(): lin.strip() for t, lin in zip(df["tumour_type"], df["lineage"])}


def cell_type_lineages() -> pd.DataFrame:
    """Cell type → ``lineage`` (``-`` for none) and ``compartment`` (indexed by cell type)."""
    p, df = _table(CELL_TYPE_LINEAGE_FILE, ["cell_type", "lineage", "compartment", "citation"])
    bad = df.index[~df["compartment"].isin(COMPARTMENTS)]
    if len(bad):
        raise InputError(Problem(str(p), f"unknown compartment '{df.at[bad[0], 'compartment']}'",
                                 f"use one of {', '.join(COMPARTMENTS)}", row=int(bad[0]) + 2, column="compartment"))
    return df.set_index("cell_type")


def expected_lineage(tumour_type: str | None) -> str:
    """The malignant lineage of ``tumour_type`` (``agnostic`` when unknown or not given)."""
    if tumour_type is None or not str(tumour_type).strip():
        return AGNOSTIC
    return tumour_lineages().get(str(tumour_type).strip().lower(), AGNOSTIC)


def plan(tumour_type: str | None, cell_types: list[str] | None = None) -> LineagePlan:
    """Reference and candidate cell types for a sample of ``tumour_type``.

    Parameters
    ----------
    tumour_type
        The patient's tumour type (``None``: lineage-agnostic).
    cell_types
        The marker table's cell types (default: every type of ``cell_type_lineage.tsv``); a type missing
        from ``cell_type_lineage.tsv`` is an error (a marker table extended without its lineage row).
    """
    table = cell_type_lineages()
    types = list(table.index) if cell_types is None else list(cell_types)
    missing = [t for t in types if t not in table.index]
    if missing:
        raise InputError(Problem(str(resources_dir() / CELL_TYPE_LINEAGE_FILE),
                                 f"cell type(s) {', '.join(missing)} have no lineage row",
                                 "add a row (cell_type, lineage, compartment, citation) for each marker cell type"))
    lineage = expected_lineage(tumour_type)
    comp = table.loc[types, "compartment"]
    lin = table.loc[types, "lineage"]
    ref = [t for t in types if comp[t] == "immune" and lin[t] != lineage]
    if lineage not in (AGNOSTIC, "mesenchymal"):
        ref += [t for t in types if comp[t] in ("stromal", "endothelial") and lin[t] != lineage]
    return LineagePlan(None if tumour_type is None else str(tumour_type), lineage, tuple(ref))
