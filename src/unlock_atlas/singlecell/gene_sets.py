"""Loaders for the cited single-cell gene sets in ``resources/singlecell/``.

The tables are used as they are (never tuned to a dataset). Each row names its source and citation
and whether the list was verified in the source (``V``) or recalled (``R``); recalled sets are scored
but flagged in the output (``uns['unlock_sc']['programmes']``) so analysts can weigh them.

Marker table kinds: ``cell_type`` (positive markers, used to assign ``cell_type``), ``negative``
(genes the cell type is defined NOT to express, e.g. CD3 for NK cells; ScType's negative markers,
Ianevski et al., Nat Commun 2022) and ``state`` (pan-immune, cycling: listed, not used for types).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from ..errors import InputError, Problem
from ..paths import resources_dir

MARKERS_FILE = "singlecell/cell_type_markers.tsv"
PROGRAMMES_FILE = "singlecell/programmes.tsv"
METHODS = ("zsum_sqrt_n", "score_genes")
MARKER_KINDS = ("cell_type", "negative", "state")


@dataclass(frozen=True)
class GeneSet:
    """A named gene set with its provenance.

    Attributes
    ----------
    name
        Cell type (marker sets) or programme name.
    genes
        HGNC symbols, in table order.
    method
        Scoring method (programmes only): ``zsum_sqrt_n`` or ``score_genes``.
    verified
        True when every row is tagged ``V`` (checked in the cited source).
    citation
        The citation text of the set.
    negative
        Genes the cell type does not express (marker sets only; empty when the source lists none).
    """

    name: str
    genes: tuple[str, ...]
    method: str
    verified: bool
    citation: str
    negative: tuple[str, ...] = ()


def _read(path: Path, required: list[str]) -> pd.DataFrame:
    if not path.exists():
        raise InputError(Problem(str(path), "gene-set table not found", "restore it from the repository"))
    df = pd.read_csv(path, sep="\t", comment="#", dtype=str, keep_default_na=False)
    problems = [Problem(str(path), f"missing column '{c}'", f"add a '{c}' column (tab-separated)", column=c)
                for c in required if c not in df.columns]
    if problems:
        raise InputError(problems)
    for i, row in df.iterrows():
        for c in required:
            if not str(row[c]).strip():
                problems.append(Problem(str(path), "empty value", f"fill in '{c}'", row=int(i) + 2, column=c))
        if row["verified"] not in ("V", "R"):
            problems.append(Problem(str(path), f"verified must be V or R, not '{row['verified']}'",
                                    "tag V (checked in the source) or R (recalled)", row=int(i) + 2,
                                    column="verified"))
    if problems:
        raise InputError(problems)
    return df


def load_markers(path: str | Path | None = None, kind: str = "cell_type") -> dict[str, GeneSet]:
    """Load cell-type marker sets.

    Parameters
    ----------
    path
        Marker TSV (default ``resources/singlecell/cell_type_markers.tsv``).
    kind
        ``cell_type`` (used for annotation; each set carries its ``negative`` rows) or ``state``
        (pan-immune, cycling).

    Returns
    -------
    dict
        Cell type → :class:`GeneSet`, in table order.

    Raises
    ------
    InputError
        On an unknown ``kind`` value, or ``negative`` rows for a cell type without positive markers.
    """
    p = Path(path) if path else resources_dir() / MARKERS_FILE
    df = _read(p, ["cell_type", "gene", "kind", "verified", "source", "citation"])
    bad = df[~df["kind"].isin(MARKER_KINDS)]
    if len(bad):
        raise InputError(Problem(str(p), f"unknown kind '{bad['kind'].iloc[0]}'",
                                 f"use one of {', '.join(MARKER_KINDS)}", row=int(bad.index[0]) + 2, column="kind"))
    neg = df[df["kind"] == "negative"]
    orphan = neg[~neg["cell_type"].isin(set(df.loc[df["kind"] == "cell_type", "cell_type"]))]
    if len(orphan):
        raise InputError(Problem(str(p), f"negative markers for '{orphan['cell_type'].iloc[0]}', which has no "
                                 "cell_type rows", "add its positive markers or remove the negative rows",
                                 row=int(orphan.index[0]) + 2, column="cell_type"))
    out: dict[str, GeneSet] = {}
    for name, g in df[df["kind"] == kind].groupby("cell_type", sort=False):
        n = neg[neg["cell_type"] == name] if kind == "cell_type" else neg.iloc[:0]
        out[str(name)] = GeneSet(str(name), tuple(g["gene"]), "marker", bool((g["verified"] == "V").all()),
                                 str(g["citation"].iloc[0]), negative=tuple(n["gene"]))
    return out


def load_programmes(path: str | Path | None = None) -> dict[str, GeneSet]:
    """Load resistance-programme gene sets (``resources/singlecell/programmes.tsv`` by default).

    Returns
    -------
    dict
        Programme name → :class:`GeneSet`, in table order.
    """
    p = Path(path) if path else resources_dir() / PROGRAMMES_FILE
    df = _read(p, ["programme", "gene", "method", "verified", "source", "citation"])
    bad = df[~df["method"].isin(METHODS)]
    if len(bad):
        i = int(bad.index[0])
        raise InputError(Problem(str(p), f"unknown method '{bad['method'].iloc[0]}'",
                                 f"use one of {', '.join(METHODS)}", row=i + 2, column="method"))
    out: dict[str, GeneSet] = {}
    for name, g in df.groupby("programme", sort=False):
        out[str(name)] = GeneSet(str(name), tuple(g["gene"]), str(g["method"].iloc[0]),
                                 bool((g["verified"] == "V").all()), str(g["citation"].iloc[0]))
    return out
