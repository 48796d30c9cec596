"""The resistance knowledge base: known resistance alterations per drug, hotspots, gene roles.

The ONE loader and matcher of ``resources/kb/`` (``resistance_alterations.tsv``,
``hotspots.tsv``, ``gene_roles.tsv``, ``aliases.tsv``, ``numbering.tsv``); every row carries
``source`` and ``citation`` (rows without them are rejected at load). Facts come from
``resistance-biology.md`` §2–3b.

Matching (:meth:`ResistanceKB.match`) is done per COMPONENT of the regimen (§2 rule 1: "map
each component of a combination separately"): for each drug, the KB rows whose ``scope`` is the
drug's class or ``drug:<name>`` are tried against the alteration. Protein changes are first
normalised to MANE numbering (three-letter → one-letter; FGFR2 NM_022970 (IIIb) residues −1;
legacy AR names). Context rule (§2 rule 1–2): if the gene is a TARGET of the drug
(``resources/drugs.tsv``) the alteration is on-target for that drug — ``ON_TARGET_AMP`` for an
amplification (even without a specific row: "target amplification counts as on-target"),
``ON_TARGET_MUT`` otherwise — whatever the row's mechanism, so MAP2K1 C121S is
``BYPASS_DOWNSTREAM`` for dabrafenib but ``ON_TARGET_MUT`` for trametinib in the same regimen.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from ..contract.vocab import KB_MECHANISMS
from ..errors import InputError, Problem
from ..paths import resources_dir
from .drugs import Drug, Regimen

MECHANISMS = tuple(KB_MECHANISMS)
#: Alteration kinds an :class:`Alteration` can have (``mutation`` = a sequence variant). Only kinds the
#: classifier can receive from the alterations table (snv/mnv/indel, amplification, deep_deletion, fusion).
KINDS = ("mutation", "amplification", "deletion", "fusion")
#: Kinds the pipeline never detects: a KB row using them could never match (docs/kb-coverage.md, gaps).
UNDETECTED = {"splice_variant": "splice variants are RNA events; the pipeline calls DNA only",
              "reversion": "reversion detection (a second mutation restoring the reading frame of a germline or "
                           "somatic truncating variant) is not implemented"}
#: SO terms counted as truncating (loss of function) for ``truncating`` patterns.
TRUNCATING = frozenset({"stop_gained", "frameshift_variant", "splice_donor_variant", "splice_acceptor_variant",
                        "start_lost"})
#: SO terms counted as protein-altering for ``mutation`` patterns.
PROTEIN_ALTERING = TRUNCATING | {"missense_variant", "inframe_insertion", "inframe_deletion", "stop_lost",
                                 "protein_altering_variant"}
_THREE_TO_ONE = {"Ala": "A", "Arg": "R", "Asn": "N", "Asp": "D", "Cys": "C", "Gln": "Q", "Glu": "E", "Gly": "G",
                 "His": "H", "Ile": "I", "Leu": "L", "Lys": "K", "Met": "M", "Phe": "F", "Pro": "P", "Ser": "S",
                 "Thr": "T", "Trp": "W", "Tyr": "Y", "Val": "V", "Ter": "*", "Sec": "U"}
_THREE_RE = re.compile("|".join(_THREE_TO_ONE))
_CHANGE_RE = re.compile(r"^([A-Z*])(\d+)([A-Z*=]|fs.*|del.*|ins.*|dup|ext.*)?$")
_PATTERN_RE = re.compile(r"^([A-Z])(\d+)([A-Z](?:/[A-Z])*|X)$")
_KEYWORDS = {"truncating", "mutation", "amplification", "fusion", "deletion"}
_MECH_FOR_KIND = {"amplification": "ON_TARGET_AMP", "fusion": "ON_TARGET_OTHER"}


@dataclass(frozen=True)
class Alteration:
    """An observed alteration to look up.

    Attributes
    ----------
    gene
        HGNC symbol.
    kind
        One of :data:`KINDS`.
    protein_change
        HGVS p. (``p.T790M``, ``p.Thr790Met``, ``T790M``; for mutations).
    consequence
        SO term(s), ``&``-joined as in CSQ (``stop_gained&splice_region_variant``).
    numbering
        ``MANE`` (default) or the numbering the change is written in (``NM_022970``, ``legacy``).
    """

    gene: str
    kind: str = "mutation"
    protein_change: str = ""
    consequence: str = ""
    numbering: str = "MANE"


@dataclass(frozen=True)
class KBRow:
    scope: str
    gene: str
    patterns: tuple[str, ...]
    mechanism: str
    evidence: str
    source: str
    citation: str
    line: int


@dataclass(frozen=True)
class KBMatch:
    """One alteration × drug match, with its mechanism in the context of that drug."""

    gene: str
    alteration: str          # normalised protein change or kind
    drug: str
    drug_class: str
    mechanism: str
    pattern: str             # the KB pattern that matched ('' for the target-amplification rule)
    evidence: str
    source: str
    citation: str
    hotspot: bool


def read_kb_table(path: Path, columns: tuple[str, ...],
                  required: tuple[str, ...] = ("source", "citation")) -> list[tuple[int, dict[str, str]]]:
    """Rows ``(line number, {column: value})`` of a knowledge-base TSV under ``resources/kb/``.

    ``#`` lines and blank lines are skipped; the header must equal ``columns``; every row needs
    ``columns``' count of tab-separated fields and a value in every ``required`` column (default:
    ``source`` and ``citation``: every KB fact is cited).

    Raises
    ------
    InputError
        A missing file, a wrong header, or every bad row (file, line and column named).
    """
    shown = _display(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(Problem(shown, "knowledge-base table missing", "restore resources/kb/ from the repository")) from None
    rows, problems, header = [], [], None
    for lineno, line in enumerate(text.split("\n"), 1):
        if not line.strip() or line.startswith("#"):
            continue
        fields = [f.strip() for f in line.split("\t")]
        if header is None:
            header = tuple(fields)
            if header != columns:
                raise InputError(Problem(shown, f"header is {list(header)}, expected {list(columns)}",
                                         "restore the column names (tab-separated)", row=lineno))
            continue
        if len(fields) != len(columns):
            problems.append(Problem(shown, f"{len(fields)} fields, expected {len(columns)}", "one tab between columns",
                                    row=lineno))
            continue
        rec = dict(zip(columns, fields))
        for col in required:
            if not rec.get(col):
                fix = ("every KB fact needs its source and citation" if col in ("source", "citation")
                       else f"every row needs a {col}")
                problems.append(Problem(shown, f"empty {col}", fix, row=lineno, column=col))
        rows.append((lineno, rec))
    if problems:
        raise InputError(problems, header=f"{len(problems)} problem(s) in the knowledge base table {shown}")
    return rows


def _display(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(resources_dir().parent))
    except ValueError:
        return str(path)


def to_one_letter(change: str) -> str:
    """``p.Thr790Met`` / ``p.T790M`` / ``T790M`` → ``T790M`` (``Ter`` → ``*``)."""
    c = change.strip()
    if c.startswith("p."):
        c = c[2:]
    c = c.strip("()")
    return _THREE_RE.sub(lambda m: _THREE_TO_ONE[m.group(0)], c)


class ResistanceKB:
    """The loaded knowledge base (see module docstring). Use :func:`load_kb`."""

    def __init__(self, kb_dir: Path) -> None:
        self.dir = kb_dir
        self.rows: list[KBRow] = []
        problems: list[Problem] = []
        for line, r in read_kb_table(kb_dir / "resistance_alterations.tsv",
                                 ("scope", "gene", "alteration", "mechanism", "evidence", "source", "citation")):
            pats = tuple(p.strip() for p in r["alteration"].split(",") if p.strip())
            shown = _display(kb_dir / "resistance_alterations.tsv")
            for p in pats:
                if p in UNDETECTED:
                    problems.append(Problem(shown, f"alteration kind {p!r} is never emitted by the pipeline "
                                            f"({UNDETECTED[p]}): the row could never match",
                                            "remove the row and record the gap in docs/kb-coverage.md, or add the "
                                            "detection first", row=line, column="alteration"))
                elif p not in _KEYWORDS and not _PATTERN_RE.match(p):
                    problems.append(Problem(shown, f"alteration pattern {p!r} is not understood",
                                            "use T790M, D1228N/H/V, G12X or a keyword (truncating, mutation, "
                                            "amplification, fusion, deletion)", row=line,
                                            column="alteration"))
            if r["mechanism"] not in MECHANISMS:
                problems.append(Problem(shown, f"unknown mechanism {r['mechanism']!r}", f"one of {MECHANISMS}",
                                        row=line, column="mechanism"))
            self.rows.append(KBRow(r["scope"], r["gene"], pats, r["mechanism"], r["evidence"], r["source"],
                                   r["citation"], line))
        if problems:
            raise InputError(problems)
        # drug-specific rows are tried before class rows (the more specific citation wins)
        self.rows.sort(key=lambda r: (not r.scope.startswith("drug:"), r.line))
        self.roles = {r["gene"]: r["role"] for _, r in read_kb_table(kb_dir / "gene_roles.tsv",
                                                                   ("gene", "role", "source", "citation"))}
        self.hotspots = {(r["gene"], r["residue"]) for _, r in read_kb_table(
            kb_dir / "hotspots.tsv", ("gene", "residue", "transcript", "source", "citation"))}
        self.aliases = {(r["scope_gene"], r["numbering"], r["alias"]): r["mane"] for _, r in read_kb_table(
            kb_dir / "aliases.tsv", ("scope_gene", "numbering", "alias", "mane", "source", "citation"))}
        self.offsets = [(r["gene"], r["numbering"], int(r["first"]), int(r["last"]), int(r["offset"])) for _, r in
                        read_kb_table(kb_dir / "numbering.tsv", ("gene", "numbering", "first", "last", "offset", "source",
                                                             "citation"))]

    def normalise(self, gene: str, change: str, numbering: str = "MANE") -> str:
        """Protein change in one-letter MANE numbering (``p.Val565Phe`` on NM_022970 → ``V564F``).

        Raises
        ------
        InputError
            For a numbering the KB has no rule for, or a residue outside the rule's range.
        """
        c = to_one_letter(change)
        if numbering in ("MANE", "", None):
            return c
        if (gene, numbering, c) in self.aliases:
            return self.aliases[(gene, numbering, c)]
        num = numbering.split(".")[0]
        m = _CHANGE_RE.match(c)
        for g, n, first, last, off in self.offsets:
            if g == gene and n == num and m:
                pos = int(m.group(2))
                if not first <= pos <= last:
                    break
                return f"{m.group(1)}{pos + off}{m.group(3) or ''}"
        raise InputError(Problem(_display(self.dir / "numbering.tsv"),
                                 f"no rule to normalise {gene} {change} from {numbering} numbering to MANE",
                                 "give the change on the MANE Select transcript, or add a cited row to "
                                 "resources/kb/numbering.tsv or aliases.tsv"))

    def is_hotspot(self, gene: str, change: str) -> bool:
        m = _CHANGE_RE.match(change)
        return bool(m) and (gene, f"{m.group(1)}{m.group(2)}") in self.hotspots

    def _pattern_hits(self, pat: str, alt: Alteration, change: str) -> bool:
        terms = set(alt.consequence.split("&")) if alt.consequence else set()
        if pat in ("amplification", "fusion", "deletion"):
            return alt.kind == pat
        if alt.kind != "mutation":
            return False
        if pat == "truncating":
            trunc = bool(terms & TRUNCATING) or change.endswith("*") or "fs" in change
            return trunc and self.roles.get(alt.gene) == "tumour_suppressor"
        if pat == "mutation":
            return bool(terms & PROTEIN_ALTERING) or bool(change and not change.endswith("="))
        m, p = _CHANGE_RE.match(change), _PATTERN_RE.match(pat)
        if not m or not p or m.group(1) != p.group(1) or m.group(2) != p.group(2):
            return False
        new = m.group(3) or ""
        if p.group(3) == "X":
            return new != "="
        return new in p.group(3).split("/")

    def match(self, alt: Alteration, regimen: Regimen | Drug) -> list[KBMatch]:
        """KB matches of ``alt`` for each component drug of ``regimen`` (see module docstring)."""
        drugs = regimen.components if isinstance(regimen, Regimen) else [regimen]
        change = self.normalise(alt.gene, alt.protein_change, alt.numbering) if alt.protein_change else ""
        hot = self.is_hotspot(alt.gene, change) if change else False
        label = change or alt.kind
        out: list[KBMatch] = []
        for d in drugs:
            on_target = alt.gene in d.targets
            found = False
            for row in self.rows:
                if row.gene != alt.gene or row.scope not in (d.drug_class, f"drug:{d.name}"):
                    continue
                pat = next((p for p in row.patterns if self._pattern_hits(p, alt, change)), None)
                if pat is None:
                    continue
                mech = row.mechanism
                if on_target and not mech.startswith("ON_TARGET") and mech != "PATHWAY_RESTORATION":
                    mech = _MECH_FOR_KIND.get(alt.kind, "ON_TARGET_MUT")
                out.append(KBMatch(alt.gene, label, d.name, d.drug_class, mech, pat, row.evidence, row.source,
                                   row.citation, hot))
                found = True
                break
            if not found and on_target and alt.kind == "amplification":
                out.append(KBMatch(alt.gene, label, d.name, d.drug_class, "ON_TARGET_AMP", "", "V",
                                   "resistance-biology.md §2 rule 2 + resources/drugs.tsv targets",
                                   "resistance-biology.md §2: target amplification counts as on-target", hot))
        return out


def default_kb_dir() -> Path:
    """``resources/kb/``."""
    return resources_dir() / "kb"


@lru_cache(maxsize=4)
def _load(path: str) -> ResistanceKB:
    return ResistanceKB(Path(path))


def load_kb(kb_dir: str | Path | None = None) -> ResistanceKB:
    """Load and validate the knowledge base (cached per directory).

    Raises
    ------
    InputError
        A missing table, wrong header, a row without ``source``/``citation``, an unknown
        mechanism or an alteration pattern the matcher does not understand (file and line named).
    """
    return _load(str(Path(kb_dir or default_kb_dir()).resolve()))
