"""Treatment lines: the optional ``treatments.tsv`` and the attachment of samples to lines.

A patient goes through successive lines (erlotinib -> osimertinib -> a trial drug); resistance
mechanisms belong to a line, because the line's drug decides on-target vs by-pass
(resistance-biology.md §2 rule 1). ``treatments.tsv`` has one row per line (columns in
``workflow/schemas/treatments.schema.yaml``); without it -- or for a patient it does not list --
the patient has ONE line, built from patients.tsv (drug, day 0, progression_day, best_response),
which is exactly the model of a run without lines.

Checks (all collected, with file, line and column, like the other sheets):

* the row schema (``validate_rows``); a patient not in patients.tsv; a line number given twice;
  line numbers not 1, 2, ... without gaps; an unknown drug (``resolve_regimen`` lists the known
  ones); ``end_day`` / ``progression_day`` before ``start_day``, progression after ``end_day``;
* lines out of time order or **overlapping**: line L+1 must start on or after the end of line L
  (its ``end_day``, else its ``progression_day``). Starting on the day line L ends is allowed
  (the usual switch on the progression day);
* patients.tsv must agree with line 1 (its ``drug``, and ``progression_day`` / ``best_response``
  when both sheets give them): patients.tsv keeps describing the first line;
* every tissue / plasma sample of a patient with lines must attach to exactly one line
  (:func:`attach_line`); a sample whose day falls in no line is an error naming the sample's row.

Attachment by day (a ``line`` column in samples.tsv overrides it; it must name a line of the
patient). Line L runs from ``start_day`` to its end: ``end_day``, else ``progression_day``, else
the next line's ``start_day``; the last line without an end is open.
A sample inside a line's days belongs to it; on a day shared by two lines (line L ends the day
line L+1 starts) a ``progression`` sample belongs to L, any other to L+1. Outside every line's
days the timepoint decides: a ``baseline`` sample belongs to the next line (pre-treatment samples
before line 1, or between lines), a ``progression`` sample to the previous line (a progression
biopsy taken after the drug stopped); anything else falls in no line (an error).
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass

from ..errors import InputError, Problem
from ..knowledge.drugs import Regimen, load_drugs, resolve_regimen
from .sheets import Row, Sheet

#: Columns of ``Run.treatments`` (one row per patient x line).
TREATMENT_COLUMNS = ["patient_id", "line", "drug", "drug_class", "targets", "start_day", "end_day", "progression_day",
                     "best_response"]


@dataclass(frozen=True)
class Line:
    """One treatment line of a patient (days from the patient's treatment_start)."""

    line: int
    regimen: Regimen
    start_day: int
    end_day: int | None = None
    progression_day: int | None = None
    best_response: str | None = None

    @property
    def last_day(self) -> float:
        """The line's own last day: ``end_day``, else ``progression_day``, else open (infinity)."""
        for d in (self.end_day, self.progression_day):
            if d is not None:
                return float(d)
        return math.inf


def line_windows(lines: list[Line]) -> list[tuple[Line, float, float]]:
    """(line, first day, last day) of lines sorted by number; an open line ends where the next one starts."""
    out = []
    for i, ln in enumerate(lines):
        last = ln.last_day
        if math.isinf(last) and i + 1 < len(lines):
            last = float(lines[i + 1].start_day)
        out.append((ln, float(ln.start_day), last))
    return out


def attach_line(lines: list[Line], day: int, timepoint: str | None) -> int | None:
    """The line a tumour sample collected on ``day`` belongs to (module docstring); ``None`` = no line."""
    wins = line_windows(lines)
    inside = [ln.line for ln, a, b in wins if a <= day <= b]
    if len(inside) > 1:     # a shared boundary day: the progression sample closes the earlier line
        return inside[0] if timepoint == "progression" else inside[-1]
    if inside:
        return inside[0]
    if timepoint == "baseline":
        nxt = [ln.line for ln, a, _ in wins if a > day]
        return nxt[0] if nxt else None
    if timepoint == "progression":
        prev = [ln.line for ln, _, b in wins if b < day]
        return prev[-1] if prev else None
    return None


def single_line(regimen: Regimen, progression_day: int | None, best_response: str | None) -> Line:
    """The one line of a patient without treatments.tsv rows: patients.tsv's drug from day 0."""
    return Line(1, regimen, 0, None, progression_day, best_response)


def _describe(lines: list[Line]) -> str:
    parts = []
    for ln, a, b in line_windows(lines):
        end = "open" if math.isinf(b) else f"day {int(b)}"
        parts.append(f"line {ln.line} {ln.regimen.name} day {int(a)} to {end}")
    return "; ".join(parts)


def check_treatments(sheet: Sheet, patients: Sheet, samples: Sheet,
                     regimens: dict[str, Regimen]) -> tuple[list[Problem], dict[str, list[Line]], dict[int, int]]:
    """Cross-checks of treatments.tsv against itself, patients.tsv and samples.tsv (module docstring).

    Parameters
    ----------
    sheet, patients, samples
        The three read and row-validated sheets.
    regimens
        patient_id -> resolved regimen of patients.tsv (:func:`~.sheets.cross_check`).

    Returns
    -------
    tuple
        ``(problems, patient_id -> lines sorted by number, samples.tsv line -> attached line)``;
        the last holds every tumour sample of a patient with treatments.tsv rows.
    """
    problems: list[Problem] = []
    shown = sheet.shown
    pat_rows = {r.raw["patient_id"]: r for r in patients.rows if r.ok_ids and "patient_id" in r.raw}
    drugs = load_drugs()
    by_patient: dict[str, list[Row]] = defaultdict(list)
    for r in sheet.rows:
        pid = r.values.get("patient_id")
        if not r.ok_ids or pid is None:
            continue
        if pid not in pat_rows:
            problems.append(Problem(shown, f"patient {pid!r} is not in {patients.shown}",
                                    f"add the patient to {patients.shown} or correct the patient_id",
                                    row=r.line, column="patient_id"))
            continue
        by_patient[pid].append(r)

    lines_of: dict[str, list[Line]] = {}
    for pid, rows in by_patient.items():
        lines, ok = _patient_lines(pid, rows, shown, drugs, problems)
        if not ok:
            continue
        lines_of[pid] = lines
        _check_order(pid, lines, {ln.line: r for ln, r in zip(lines, sorted(rows, key=_line_no))}, shown, problems)
        _check_patients_sheet(pid, lines[0], pat_rows[pid], regimens.get(pid), patients.shown, shown, problems)
    attached = _attach_samples(samples, lines_of, problems)
    return problems, lines_of, attached


def _line_no(r: Row) -> int:
    v = r.values.get("line")
    return v if isinstance(v, int) else 0


def _int(r: Row, col: str) -> int | None:
    v = r.values.get(col)
    return v if isinstance(v, int) and not isinstance(v, bool) else None


def _patient_lines(pid: str, rows: list[Row], shown: str, drugs: dict,
                   problems: list[Problem]) -> tuple[list[Line], bool]:
    """The patient's lines (sorted by number), and whether they are complete enough to cross-check."""
    ok = complete = True
    seen: dict[int, Row] = {}
    lines: list[Line] = []
    for r in sorted(rows, key=_line_no):
        n, start = _int(r, "line"), _int(r, "start_day")
        if n is None or start is None or "drug" not in r.values:
            ok = complete = False          # the schema check already reported the cell
            continue
        if n in seen:
            problems.append(Problem(shown, f"line {n} of patient {pid!r} appears on lines {seen[n].line} and {r.line}",
                                    "keep one row per patient and line", row=r.line, column="line"))
            ok = False
            continue
        seen[n] = r
        try:
            reg = resolve_regimen(str(r.values["drug"]), drugs=drugs, file=shown, row=r.line, column="drug")
        except InputError as exc:
            problems.extend(exc.problems)
            ok = False
            continue
        end, prog = _int(r, "end_day"), _int(r, "progression_day")
        for col, d in (("end_day", end), ("progression_day", prog)):
            if d is not None and d < start:
                problems.append(Problem(shown, f"{col} {d} is before start_day {start} (patient {pid!r}, line {n})",
                                        f"the {col} must be on or after the line's start_day", row=r.line, column=col))
                ok = False
        if end is not None and prog is not None and prog > end:
            problems.append(Problem(shown, f"progression_day {prog} is after end_day {end} (patient {pid!r}, line {n})",
                                    "progression on a line is on or before its end_day: check both days",
                                    row=r.line, column="progression_day"))
            ok = False
        lines.append(Line(n, reg, start, end, prog, r.values.get("best_response")))
    numbers = sorted(seen)
    if complete and numbers and numbers != list(range(1, len(numbers) + 1)):
        first = seen[numbers[0]]
        problems.append(Problem(shown, f"patient {pid!r} has lines {', '.join(map(str, numbers))}: line numbers must "
                                "be 1, 2, ... without gaps", "number the patient's lines 1, 2, 3 in time order",
                                row=first.line, column="line"))
        ok = False
    return lines, ok


def _check_order(pid: str, lines: list[Line], row_of: dict[int, Row], shown: str, problems: list[Problem]) -> None:
    for prev, nxt in zip(lines, lines[1:]):
        r = row_of[nxt.line]
        if nxt.start_day < prev.start_day:
            problems.append(Problem(shown, f"line {nxt.line} of patient {pid!r} starts on day {nxt.start_day}, before "
                                    f"line {prev.line} (day {prev.start_day})", "number the lines in time order",
                                    row=r.line, column="start_day"))
        elif nxt.start_day < prev.last_day:
            what = "end_day" if prev.end_day is not None else "progression_day"
            problems.append(Problem(shown, f"line {nxt.line} of patient {pid!r} starts on day {nxt.start_day}, before "
                                    f"line {prev.line} ends (its {what} {int(prev.last_day)}, "
                                    f"{shown} line {row_of[prev.line].line}): the lines overlap",
                                    f"start line {nxt.line} on or after day {int(prev.last_day)}, or correct line "
                                    f"{prev.line}'s {what}", row=r.line, column="start_day"))


def _check_patients_sheet(pid: str, first: Line, prow: Row, regimen: Regimen | None, pshown: str, shown: str,
                          problems: list[Problem]) -> None:
    """patients.tsv describes line 1: its drug (and progression / response when both give them) must agree."""
    if regimen is not None and regimen.name != first.regimen.name:
        problems.append(Problem(pshown, f"drug {regimen.name!r} of patient {pid!r} differs from line 1 of {shown} "
                                f"({first.regimen.name!r})", f"patients.tsv gives the first line: write "
                                f"{first.regimen.name!r}, or correct line 1 of {shown}", row=prow.line, column="drug"))
    for col, mine in (("progression_day", first.progression_day), ("best_response", first.best_response)):
        theirs = prow.values.get(col)
        if theirs is not None and mine is not None and theirs != mine:
            problems.append(Problem(pshown, f"{col} {theirs} of patient {pid!r} differs from line 1 of {shown} ({mine})",
                                    "patients.tsv gives the first line: make the two agree", row=prow.line,
                                    column=col))


def _attach_samples(samples: Sheet, lines_of: dict[str, list[Line]], problems: list[Problem]) -> dict[int, int]:
    attached: dict[int, int] = {}
    for r in samples.rows:
        pid, typ = r.values.get("patient_id"), r.values.get("sample_type")
        if not r.ok_ids or typ not in ("tissue", "plasma"):
            continue
        explicit = _int(r, "line")
        lines = lines_of.get(pid)
        sid = r.values.get("sample_id", "?")
        if lines is None:
            if explicit is not None and explicit != 1:
                problems.append(Problem(samples.shown, f"sample {sid!r} names line {explicit}, but patient {pid!r} has "
                                        "one line (no treatments.tsv rows)", "add the patient's lines to treatments.tsv "
                                        "or empty the line cell", row=r.line, column="line"))
            continue
        if explicit is not None:
            if explicit not in {ln.line for ln in lines}:
                problems.append(Problem(samples.shown, f"sample {sid!r} names line {explicit}, not a line of patient "
                                        f"{pid!r} ({_describe(lines)})", "write one of the patient's line numbers, or "
                                        "empty the cell to attach the sample by its day", row=r.line, column="line"))
            else:
                attached[r.line] = explicit
            continue
        day = _int(r, "collection_day")
        if day is None:
            continue
        got = attach_line(lines, day, r.values.get("timepoint"))
        if got is None:
            problems.append(Problem(samples.shown, f"sample {sid!r} (day {day}, timepoint "
                                    f"{r.values.get('timepoint')}) falls in no treatment line of patient {pid!r}: "
                                    f"{_describe(lines)}", "correct the collection_day or timepoint, extend the "
                                    "line in treatments.tsv, or give the sample's line in a line column",
                                    row=r.line, column="collection_day"))
        else:
            attached[r.line] = got
    return attached
