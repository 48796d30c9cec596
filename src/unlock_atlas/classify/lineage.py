"""Histologic transformation (LINEAGE_HISTOLOGIC, resistance-biology.md §2 rule 7).

A transformation is a pathology call: the progression biopsy's ``histology`` (samples.tsv)
names a transformed lineage (``resources/kb/histology_transformations.tsv``: SCLC / small cell /
neuroendocrine, squamous, sarcomatoid) that the baseline histology does not. DNA only supports
it: for SCLC/NE, RB1 and TP53 inactivation (Lee 2017: both inactivated in 82 % of transformed vs
3 % of untransformed cases) is reported as supporting evidence, never required and never
sufficient on its own.

Terms match whole words, case-insensitively; "non-small cell" / "non small cell" never matches
"small cell".
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from ..knowledge.resistance import read_kb_table
from ..paths import resources_dir

COLUMNS = ("term", "label", "support_genes", "source", "citation")


@dataclass(frozen=True)
class Transformation:
    term: str
    label: str
    support_genes: tuple[str, ...]
    source: str
    citation: str


def default_table() -> Path:
    """``resources/kb/histology_transformations.tsv``."""
    return resources_dir() / "kb" / "histology_transformations.tsv"


@lru_cache(maxsize=4)
def load_transformations(path: str | None = None) -> tuple[Transformation, ...]:
    """Load the transformation table (:func:`~unlock_atlas.knowledge.resistance.read_kb_table`: rows
    without source/citation, or here without a term, are an
    :class:`~unlock_atlas.errors.InputError`)."""
    p = Path(path) if path else default_table()
    rows = []
    for _, rec in read_kb_table(p, COLUMNS, required=("term", "source", "citation")):
        genes = tuple(g.strip() for g in rec["support_genes"].split(",") if g.strip())
        rows.append(Transformation(rec["term"], rec["label"], genes, rec["source"], rec["citation"]))
    return tuple(rows)


def _matches(term: str, histology: str) -> bool:
    for m in re.finditer(rf"(?<![\w-]){re.escape(term.lower())}(?!\w)", histology.lower()):
        before = histology.lower()[: m.start()]
        if not re.search(r"non[\s-]$", before):
            return True
    return False


def transformation_of(histology: str | None) -> Transformation | None:
    """The transformation a histology text names, or None (``adenocarcinoma``, ``NSCLC`` -> None)."""
    if not histology:
        return None
    return next((t for t in load_transformations() if _matches(t.term, str(histology))), None)
