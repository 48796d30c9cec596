"""Exceptions with actionable messages.

Every error a *user* can cause (a bad sheet, a missing file, an unknown drug) is raised as a
subclass of :class:`UnlockError`. The CLI and the Snakefile catch ``UnlockError`` and print its
message without a Python traceback; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

from dataclasses import dataclass


class UnlockError(Exception):
    """Base class for errors caused by the user's input or environment."""


@dataclass(frozen=True)
class Problem:
    """One problem found in an input file.

    Parameters
    ----------
    file
        The file the problem is in (as the user gave it).
    message
        What is wrong.
    fix
        What the user should do about it.
    row
        1-based line number in the file (the header is line 1), if the problem is in a row.
    column
        Column (or config key) name, if the problem is in one.
    """

    file: str
    message: str
    fix: str = ""
    row: int | None = None
    column: str | None = None

    def __str__(self) -> str:
        where = self.file
        if self.row is not None:
            where += f", line {self.row}"
        if self.column:
            where += f", column '{self.column}'"
        text = f"{where}: {self.message}"
        if self.fix:
            text += f" -> {self.fix}"
        return text


class InputError(UnlockError):
    """One or more problems in the user's inputs, all reported together."""

    def __init__(self, problems: list[Problem] | Problem, header: str = "") -> None:
        if isinstance(problems, Problem):
            problems = [problems]
        self.problems: list[Problem] = list(problems)
        self.header = header or f"{len(self.problems)} problem(s) found in the inputs"
        super().__init__(self.render())

    def render(self) -> str:
        lines = [self.header + ":"]
        lines += [f"  - {p}" for p in self.problems]
        return "\n".join(lines)


class DataNotFoundError(UnlockError):
    """The shared GRCh38 data directory (or a file in it) could not be found."""


class ReferenceError_(UnlockError):
    """A reference file (FASTA, GTF, BED) is unusable."""
