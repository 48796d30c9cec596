"""The drug table of the knowledge base: generic drug name → class and target genes.

This is the ONE loader of ``resources/drugs.tsv`` (design.md §3, "one loader each"). Every stage
that needs to know what a patient's drug targets (the classifier deciding on-target versus
bypass resistance, the atlas ``patients.drug_class`` / ``targets`` columns) goes through
:func:`load_drugs` or :func:`resolve_regimen`.

The table is validated when it is loaded: a row without a citation, a duplicate drug, a
malformed gene symbol or a wrong number of columns is an :class:`~unlock_atlas.errors.InputError`
naming ``resources/drugs.tsv`` and the line, so a broken knowledge base never reaches a run.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from ..errors import InputError, Problem
from ..paths import resources_dir

#: Columns of ``resources/drugs.tsv``, in order.
DRUG_COLUMNS = ("drug", "drug_class", "targets", "target_role", "approval_context", "source", "citation")

#: Columns that must be non-empty in every row (``targets`` may be empty: chemotherapy).
_REQUIRED = ("drug", "drug_class", "target_role", "source", "citation")

_DRUG_RE = re.compile(r"^[a-z][a-z0-9-]*$")
#: HGNC symbols: upper-case letters, digits and '-' (e.g. MAP2K1, HLA-A).
_GENE_RE = re.compile(r"^[A-Z][A-Z0-9-]*$")


@dataclass(frozen=True)
class Drug:
    """One row of the drug table.

    Attributes
    ----------
    name
        Generic name, lower case (``osimertinib``).
    drug_class
        Drug class aligned with resistance-biology.md §3 (``EGFR TKI``, ``MEK inhibitor``).
    targets
        HGNC symbols whose alterations count as on-target resistance (may be empty).
    target_role, approval_context, source, citation
        Free text for readers; ``citation`` names the label and the pivotal trial.
    line
        Line of the row in the drug table (1-based, header included), for messages.
    """

    name: str
    drug_class: str
    targets: tuple[str, ...]
    target_role: str
    approval_context: str
    source: str
    citation: str
    line: int = 0


@dataclass
class Regimen:
    """A single drug or a combination (``dabrafenib+trametinib``).

    Attributes
    ----------
    components
        The drugs, in the order written.
    """

    components: list[Drug] = field(default_factory=list)

    @property
    def name(self) -> str:
        """Canonical text: lower-case generic names joined by ``+`` without spaces."""
        return "+".join(d.name for d in self.components)

    @property
    def drug_class(self) -> str:
        """The components' classes joined with `` + `` (each class once, in order)."""
        return " + ".join(dict.fromkeys(d.drug_class for d in self.components))

    @property
    def targets(self) -> list[str]:
        """Ordered union of the components' targets (first occurrence wins)."""
        return list(dict.fromkeys(t for d in self.components for t in d.targets))


def default_drug_table() -> Path:
    """Path of the packaged drug table, ``resources/drugs.tsv``."""
    return resources_dir() / "drugs.tsv"


def load_drugs(path: str | Path | None = None) -> dict[str, Drug]:
    """Load and validate the drug table (cached per path).

    Parameters
    ----------
    path
        A drug table with the columns of :data:`DRUG_COLUMNS`; default ``resources/drugs.tsv``.
        Lines starting with ``#`` and blank lines are comments.

    Returns
    -------
    dict
        Generic name → :class:`Drug`, in table order.

    Raises
    ------
    InputError
        Every problem of the table at once (file and line named): wrong header, wrong number of
        columns, empty required cell (a row without a citation is rejected: every external fact
        carries its source), duplicate drug, malformed drug name or gene symbol.
    """
    p = Path(path) if path is not None else default_drug_table()
    return dict(_load_cached(str(p.resolve())))


@lru_cache(maxsize=8)
def _load_cached(path: str) -> tuple[tuple[str, Drug], ...]:
    shown = _display_name(Path(path))
    problems: list[Problem] = []
    drugs: dict[str, Drug] = {}
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise InputError(Problem(shown, "the drug table does not exist",
                                 "restore resources/drugs.tsv from the repository")) from None
    header: list[str] | None = None
    for lineno, raw in enumerate(text.split("\n"), 1):
        line = raw.rstrip("\r")
        if not line.strip() or line.startswith("#"):
            continue
        fields = [f.strip() for f in line.split("\t")]
        if header is None:
            header = fields
            if tuple(header) != DRUG_COLUMNS:
                raise InputError(Problem(shown, f"header is {header}, expected {list(DRUG_COLUMNS)}",
                                         "restore the column names (tab-separated)", row=lineno))
            continue
        if len(fields) != len(DRUG_COLUMNS):
            problems.append(Problem(shown, f"{len(fields)} tab-separated fields, expected {len(DRUG_COLUMNS)}",
                                    "one tab between columns, no tabs inside cells", row=lineno))
            continue
        rec = dict(zip(DRUG_COLUMNS, fields))
        bad = False
        for col in _REQUIRED:
            if not rec[col]:
                problems.append(Problem(shown, f"empty {col}", "every row needs a drug, class, target role, "
                                        "source and a specific citation (label or pivotal trial)",
                                        row=lineno, column=col))
                bad = True
        name = rec["drug"]
        if name and not _DRUG_RE.match(name):
            problems.append(Problem(shown, f"drug name {name!r} is not a lower-case generic name",
                                    "write the generic name in lower case (letters, digits, '-')",
                                    row=lineno, column="drug"))
            bad = True
        targets = tuple(t.strip() for t in rec["targets"].split(",") if t.strip())
        for t in targets:
            if not _GENE_RE.match(t):
                problems.append(Problem(shown, f"target {t!r} is not an HGNC gene symbol",
                                        "comma-separated upper-case gene symbols, e.g. MAP2K1,MAP2K2",
                                        row=lineno, column="targets"))
                bad = True
        if name in drugs:
            problems.append(Problem(shown, f"drug {name!r} is listed twice (first on line {drugs[name].line})",
                                    "keep one row per drug", row=lineno, column="drug"))
            continue
        if bad:
            continue
        drugs[name] = Drug(name, rec["drug_class"], targets, rec["target_role"],
                           rec["approval_context"], rec["source"], rec["citation"], lineno)
    if header is None:
        problems.append(Problem(shown, "the drug table is empty", "restore resources/drugs.tsv"))
    if problems:
        raise InputError(problems, header=f"{len(problems)} problem(s) in the drug table {shown}")
    return tuple(drugs.items())


def _display_name(path: Path) -> str:
    """``resources/drugs.tsv`` for the packaged table, else the path as is."""
    try:
        return str(path.relative_to(resources_dir().parent))
    except ValueError:
        return str(path)


def resolve_regimen(
    text: str,
    *,
    drugs: dict[str, Drug] | None = None,
    file: str = "drug",
    row: int | None = None,
    column: str | None = "drug",
) -> Regimen:
    """Resolve a drug or combination to its drugs.

    Parameters
    ----------
    text
        Generic name(s), combinations joined by ``+`` (``dabrafenib+trametinib``); case and
        whitespace around names are ignored.
    drugs
        The drug table (default: :func:`load_drugs`).
    file, row, column
        Where ``text`` came from, for the error message (e.g. ``patients.tsv``, line 3).

    Raises
    ------
    InputError
        For an unknown drug (the message lists the known drugs and suggests the closest
        names), an empty component (``dabrafenib+``) or a drug given twice.
    """
    table = load_drugs() if drugs is None else drugs
    parts = [p.strip().lower() for p in str(text).split("+")]
    problems: list[Problem] = []
    components: list[Drug] = []
    known = ", ".join(sorted(table))
    if not any(parts):
        problems.append(Problem(file, "no drug given", f"write a generic drug name; known drugs: {known}",
                                row=row, column=column))
    elif "" in parts:
        problems.append(Problem(file, f"{text!r} has an empty component around '+'",
                                "join generic names with a single '+', e.g. dabrafenib+trametinib",
                                row=row, column=column))
    for part in (p for p in parts if p):
        drug = table.get(part)
        if drug is None:
            close = difflib.get_close_matches(part, list(table), n=3, cutoff=0.75)
            hint = f" (did you mean {' or '.join(close)}?)" if close else ""
            problems.append(Problem(file, f"unknown drug {part!r}{hint}",
                                    f"use generic names from resources/drugs.tsv (or add a row there with its "
                                    f"citation); known drugs: {known}", row=row, column=column))
        elif drug in components:
            problems.append(Problem(file, f"drug {part!r} appears twice in {text!r}",
                                    "name each drug of a combination once", row=row, column=column))
        else:
            components.append(drug)
    if problems:
        raise InputError(problems)
    return Regimen(components)
