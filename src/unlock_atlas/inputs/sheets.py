"""Reading and validating ``patients.tsv`` and ``samples.tsv`` (design.md §2).

Reading is tolerant of what spreadsheets produce: a UTF-8 byte-order mark and Windows CRLF
line endings are stripped, cells are stripped of surrounding whitespace, an empty cell is a
missing value, blank lines and lines starting with ``#`` are skipped (line numbers stay the
physical ones, header = line 1 of a file without comments), header names are matched case-
insensitively, and a row shorter than the header (trailing empty cells trimmed by an editor)
is padded. Everything else is checked, and every problem is collected with file, line and
column so the user fixes the sheet in one pass:

1. IDs first: ``patient_id`` / ``sample_id`` must match ``^[A-Za-z0-9._-]+$`` before anything
   else touches them (they become file names and shell words). We also reject IDs that start
   with ``-`` (a shell command would read them as an option) and IDs made only of dots (``.``
   and ``..`` are directory names). A row with a bad ID is reported and then left out.
2. Each row against its JSON schema (``workflow/schemas/{patients,samples}.schema.yaml``),
   after converting cells of integer / number / boolean properties (a cell that does not
   convert, e.g. ``3.5`` or ``day3`` for a day, fails as a type error).
3. Cross-checks between rows and sheets (:func:`cross_check`).
"""

from __future__ import annotations

import logging
import math
import re
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import InputError, Problem
from ..knowledge.drugs import Regimen, load_drugs, resolve_regimen
from .config import load_schema, schema_problems, schema_validator

logger = logging.getLogger(__name__)

ID_RE = re.compile(r"^[A-Za-z0-9._-]+$")
#: What a patient / sample wildcard of the workflow may match (``wildcard_constraints`` in
#: workflow/rules/common.smk): the characters of :data:`ID_RE` and no leading ``-`` (the length
#: limit is checked by :func:`id_problem`), so a wildcard never spans a ``/``.
ID_WILDCARD = r"[A-Za-z0-9._][A-Za-z0-9._-]*"
ID_COLUMNS = ("patient_id", "sample_id")
TUMOUR_TYPES = ("tissue", "plasma")

_TRUE = {"true", "yes", "1"}
_FALSE = {"false", "no", "0"}
_INT_RE = re.compile(r"^[+-]?[0-9]+$")


@dataclass
class Row:
    """One data row: its physical line, the cells as written and the converted values."""

    line: int
    raw: dict[str, str]
    values: dict[str, Any] = field(default_factory=dict)
    ok_ids: bool = True


@dataclass
class Sheet:
    """A read sheet: display name, path, header, rows and the normalised text (for hashing)."""

    shown: str
    path: Path
    header: list[str]
    rows: list[Row]
    text: str


def read_tsv(path: Path, shown: str, required: list[str], known: list[str]) -> tuple[Sheet | None, list[Problem]]:
    """Read a tab-separated sheet.

    Parameters
    ----------
    path
        The sheet.
    shown
        Name used in messages.
    required
        Columns the header must have (one Problem per missing column, naming the columns found).
    known
        All columns the pipeline reads; other columns are ignored with a warning (they are not
        carried into the atlas, so no unvetted column can leak an identifier).

    Returns
    -------
    tuple
        ``(sheet or None when unreadable, problems)``.
    """
    if not path.is_file():
        return None, [Problem(shown, f"the sheet does not exist (looked at {path})",
                              "check the path in the config (relative paths resolve against the run directory)")]
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        return None, [Problem(shown, f"not UTF-8 text ({exc.reason} at byte {exc.start})",
                              "save the sheet as UTF-8 tab-separated text")]
    lines = [ln.rstrip("\r") for ln in text.split("\n")]
    norm = "\n".join(lines)
    header: list[str] | None = None
    header_line = 0
    rows: list[Row] = []
    problems: list[Problem] = []
    for lineno, line in enumerate(lines, 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        cells = [c.strip() for c in line.split("\t")]
        if header is None:
            header, header_line = [c.lower() for c in cells], lineno
            continue
        if len(cells) > len(header):
            extra = cells[len(header):]
            if any(extra):
                problems.append(Problem(shown, f"{len(cells)} tab-separated cells but the header has {len(header)}",
                                        "remove the extra cells, or the tab inside a value", row=lineno))
                continue
            cells = cells[: len(header)]
        cells += [""] * (len(header) - len(cells))
        rows.append(Row(lineno, {h: c for h, c in zip(header, cells) if c and h}))
    if header is None:
        return None, [Problem(shown, "the sheet is empty (no header line)",
                              f"write a header: {' '.join(required)} (tab-separated)")]
    if len(header) == 1 and ("," in header[0] or ";" in header[0]):
        return None, [Problem(shown, "the header has a single column: the sheet is not tab-separated",
                              "save it as tab-separated text (TSV), not CSV", row=header_line)]
    dup = sorted({h for h in header if h and header.count(h) > 1})
    for h in dup:
        problems.append(Problem(shown, f"column '{h}' appears more than once in the header", "keep one",
                                row=header_line, column=h))
    found = ", ".join(h for h in header if h) or "(none)"
    for col in required:
        if col not in header:
            problems.append(Problem(shown, f"missing required column '{col}'; columns found: {found}",
                                    f"add a '{col}' column to the header (tab-separated)", row=header_line, column=col))
    ignored = [h for h in header if h and h not in known]
    if ignored:
        logger.warning("%s: ignoring columns the pipeline does not use: %s", shown, ", ".join(ignored))
    if not rows:
        problems.append(Problem(shown, "the sheet has a header but no data rows", "add one row per record"))
    return Sheet(shown, path, header, rows, norm), problems


def id_problem(value: str, file: str, row: int, column: str) -> Problem | None:
    """A Problem naming the offending characters of an ID, or ``None`` when the ID is safe."""
    fix = "use only letters, digits, '.', '_' and '-' (IDs become file names and shell words)"
    if not ID_RE.match(value):
        bad = list(dict.fromkeys(c for c in value if not re.match(r"[A-Za-z0-9._-]", c)))
        names = ", ".join("space" if c == " " else repr(c) for c in bad)
        return Problem(file, f"{column} {value!r} contains characters not allowed in IDs: {names}", fix, row=row, column=column)
    if value.startswith("-"):
        return Problem(file, f"{column} {value!r} starts with '-' (a command would read it as an option)", fix,
                       row=row, column=column)
    if set(value) == {"."}:
        return Problem(file, f"{column} {value!r} is only dots (a directory name)", fix, row=row, column=column)
    if len(value) > 128:
        return Problem(file, f"{column} is {len(value)} characters long (at most 128)", "shorten the ID", row=row, column=column)
    return None


def _coerce(value: str, prop: dict) -> Any:
    """Convert a cell to the property's JSON type; leave it a string when it does not convert."""
    typ = prop.get("type")
    if typ == "integer" and _INT_RE.match(value):
        return int(value)
    if typ == "number":
        try:
            f = float(value)
        except ValueError:
            return value
        return f if math.isfinite(f) else value
    if typ == "boolean":
        low = value.lower()
        if low in _TRUE:
            return True
        if low in _FALSE:
            return False
    return value


def validate_rows(sheet: Sheet, schema_name: str) -> list[Problem]:
    """ID check, type conversion and JSON-schema validation of every row (fills ``Row.values``)."""
    schema = load_schema(schema_name)
    validator = schema_validator(schema_name)
    props = schema["properties"]
    problems: list[Problem] = []
    for row in sheet.rows:
        bad_cols = set()
        for col in ID_COLUMNS:
            if col in props and col in row.raw:
                p = id_problem(row.raw[col], sheet.shown, row.line, col)
                if p:
                    problems.append(p)
                    bad_cols.add(col)
        row.ok_ids = not bad_cols
        row.values = {k: _coerce(v, props.get(k, {})) for k, v in row.raw.items() if k in props}
        for p in schema_problems(validator, row.values, file=sheet.shown, row=row.line, raw=row.raw):
            if p.column not in bad_cols:
                problems.append(p)
    return problems


def _lines(rows: list[Row]) -> str:
    return ", ".join(str(r.line) for r in rows)


def cross_check(patients: Sheet, samples: Sheet) -> tuple[list[Problem], dict[str, Regimen]]:
    """Checks across rows and sheets.

    Reported: duplicate patient or sample IDs (naming every line); an unknown drug (the
    message lists the known drugs); a sample whose patient is not in patients.tsv; a patient
    with no normal or with more than one normal (the normal is the germline and CH reference,
    so it must be unambiguous); a patient with no tissue or plasma sample.

    The last is an **error**, not a warning: such a patient cannot contribute a single
    resistance call, and in practice it means a mistyped ``patient_id`` in samples.tsv (whose
    tumour samples then hang off a non-existent patient). Failing early is cheaper than an
    atlas with a silently empty patient.

    Returns
    -------
    tuple
        ``(problems, patient_id → resolved drug regimen)``.
    """
    problems: list[Problem] = []
    regimens: dict[str, Regimen] = {}
    pat_rows: dict[str, list[Row]] = defaultdict(list)
    for r in patients.rows:
        if r.ok_ids and "patient_id" in r.raw:
            pat_rows[r.raw["patient_id"]].append(r)
    for pid, rows in pat_rows.items():
        if len(rows) > 1:
            problems.append(Problem(patients.shown, f"patient_id {pid!r} appears on lines {_lines(rows)}",
                                    "keep one row per patient", row=rows[1].line, column="patient_id"))
    drugs = load_drugs()
    for pid, rows in pat_rows.items():
        drug = rows[0].raw.get("drug")
        if not drug:
            continue
        try:
            regimens[pid] = resolve_regimen(drug, drugs=drugs, file=patients.shown, row=rows[0].line, column="drug")
        except InputError as exc:
            problems.extend(exc.problems)

    smp_rows: dict[str, list[Row]] = defaultdict(list)
    by_patient: dict[str, list[Row]] = defaultdict(list)
    for r in samples.rows:
        if not r.ok_ids:
            continue
        if "sample_id" in r.raw:
            smp_rows[r.raw["sample_id"]].append(r)
        pid = r.raw.get("patient_id")
        if pid is None:
            continue
        if pid not in pat_rows:
            problems.append(Problem(samples.shown, f"patient {pid!r} of sample {r.raw.get('sample_id', '?')!r} is not in "
                                    f"{patients.shown}", f"add the patient to {patients.shown} or correct the patient_id",
                                    row=r.line, column="patient_id"))
        else:
            by_patient[pid].append(r)
    for sid, rows in smp_rows.items():
        if len(rows) > 1:
            problems.append(Problem(samples.shown, f"sample_id {sid!r} appears on lines {_lines(rows)}",
                                    "sample IDs must be unique across the sheet", row=rows[1].line, column="sample_id"))
    for pid, prows in pat_rows.items():
        rows = by_patient.get(pid, [])
        normals = [r for r in rows if r.raw.get("sample_type") == "normal"]
        tumours = [r for r in rows if r.raw.get("sample_type") in TUMOUR_TYPES]
        where = f"{patients.shown} line {prows[0].line}"
        if not normals:
            problems.append(Problem(samples.shown, f"patient {pid!r} ({where}) has no normal sample",
                                    "add the patient's white-cell normal (sample_type normal, empty timepoint)",
                                    column="sample_type"))
        elif len(normals) > 1:
            problems.append(Problem(samples.shown, f"patient {pid!r} has {len(normals)} normal samples (lines {_lines(normals)})",
                                    "keep exactly one normal per patient (merge the BAMs if they are the same normal)",
                                    row=normals[1].line, column="sample_type"))
        if not tumours:
            problems.append(Problem(samples.shown, f"patient {pid!r} ({where}) has no tissue or plasma sample",
                                    "add the patient's tumour samples, or check their patient_id spelling",
                                    column="patient_id"))
    return problems, regimens
