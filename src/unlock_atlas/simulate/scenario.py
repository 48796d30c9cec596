"""The simulation scenario (``resources/demo_cohort.yaml``): patients, samples, planted events.

The YAML is validated here into frozen dataclasses; every problem is reported together as an
:class:`~unlock_atlas.errors.InputError` naming the file and the patient/variant concerned.
Sample keys are ``N`` (white-cell normal), ``T-BL``/``T-PD`` (tissue baseline/progression) and
``P-BL``/``P-OT``/``P-PD`` (plasma baseline/on-treatment/progression), plus ``T-PD2``/``P-OT2``/
``P-PD2`` for a second treatment line's on-treatment plasma and progression samples; the sample id is
``<patient>-<key>``.

Treatment lines (``lines:`` per patient, optional): ``{line, drug, start_day, progression_day,
best_response}`` rows written to ``config/treatments.tsv``; line 1 must repeat the patient's ``drug``,
``progression_day`` and ``best_response`` (patients.tsv describes line 1). A mechanism names its
``line`` (default 1); its truth row carries that line's drug.

Fusions (``fusions:`` per patient) are given as the 5' partner's last kept base and the 3'
partner's first kept base in chromosome coordinates (transcript orientation: the product is
gene5 upstream of ``pos5`` joined to gene3 downstream of ``pos3``), with per-sample
``ccf``/``vaf`` like variants. ``panel_extra:`` lists extra bait intervals (e.g. a tiled
breakpoint intron) that the simulated panel captures and that the run config's
``config/panel_extra.bed`` hands to ``prepare-reference --panel-extra-bed``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ..contract.vocab import MECHANISM_CLASSES, MECHANISM_SUBCLASSES, SAMPLE_TYPES
from ..errors import InputError, Problem
from ..paths import resources_dir

#: sample key -> (sample_type, timepoint); timepoint is empty for the normal.
SAMPLE_KEYS: dict[str, tuple[str, str]] = {
    "N": ("normal", ""),
    "T-BL": ("tissue", "baseline"),
    "T-PD": ("tissue", "progression"),
    "P-BL": ("plasma", "baseline"),
    "P-OT": ("plasma", "on_treatment"),
    "P-PD": ("plasma", "progression"),
    "T-PD2": ("tissue", "progression"),
    "P-OT2": ("plasma", "on_treatment"),
    "P-PD2": ("plasma", "progression"),
}
ORIGINS = ("somatic", "chip")
ROLES = ("driver", "resistance", "passenger", "chip")
CLASSES = tuple(MECHANISM_CLASSES)
#: Subclasses a planted mechanism may have: every atlas subclass but NON_INFORMATIVE (a verdict on
#: the samples, not a mechanism one can plant).
SUBCLASSES = tuple(s for s in MECHANISM_SUBCLASSES if s != "NON_INFORMATIVE")


def default_scenario_path() -> Path:
    """The bundled demo scenario, ``resources/demo_cohort.yaml``."""
    return resources_dir() / "demo_cohort.yaml"


@dataclass(frozen=True)
class SampleSpec:
    """One sample of a patient: ``key`` (e.g. ``P-OT``), collection day and tumour content."""

    key: str
    day: int
    tumour_content: float  # tissue purity or plasma tumour fraction; 0 for the normal
    #: single-cell RNA of this biopsy is simulated (tissue only; cohorts with ``scrna_cells``)
    scrna: bool = False
    #: the biopsy's malignant cells carry the planted persister / partial-EMT programme shift
    programme_shift: bool = False

    @property
    def sample_type(self) -> str:
        return SAMPLE_KEYS[self.key][0]

    @property
    def timepoint(self) -> str:
        return SAMPLE_KEYS[self.key][1]


@dataclass(frozen=True)
class VariantSpec:
    """A scenario variant; ``ccf``/``vaf`` map sample keys to the planted amount."""

    id: str
    gene: str
    chrom: str
    pos: int
    ref: str
    alt: str
    hgvsc: str
    hgvsp_short: str
    origin: str
    role: str
    citation: str
    mutant_copies: int = 1
    phase_group: str = ""
    ccf: dict[str, float] = field(default_factory=dict)
    vaf: dict[str, float] = field(default_factory=dict)
    vaf_normal: float = 0.0


@dataclass(frozen=True)
class CopyNumberSpec:
    """A gene-level tumour copy-number change: ``cn`` maps sample keys to tumour copy number."""

    id: str
    gene: str
    cn: dict[str, float]


@dataclass(frozen=True)
class FusionSpec:
    """A planted gene fusion (DNA rearrangement joining two panel gene regions).

    ``pos5`` is the last base of the 5' gene kept in the product and ``pos3`` the first base
    of the 3' gene kept (1-based chromosome coordinates, both intronic); ``ccf``/``vaf`` map
    sample keys to the planted amount, as for variants (``vaf`` = fraction of the molecules
    spanning the 3' breakpoint that are chimeric).
    """

    id: str
    gene5: str
    chrom5: str
    pos5: int
    gene3: str
    chrom3: str
    pos3: int
    citation: str
    ccf: dict[str, float] = field(default_factory=dict)
    vaf: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class ExtraTargetSpec:
    """An extra bait interval of the simulated panel (BED-style: 0-based ``start``, ``end`` exclusive)."""

    gene: str
    chrom: str
    start: int
    end: int
    note: str
    citation: str


@dataclass(frozen=True)
class MechanismSpec:
    """The true resistance mechanism(s) of a patient (one row of ``truth/mechanisms.tsv``)."""

    klass: str
    subclass: str
    gene: str
    alteration: str
    acquisition: str
    phase: str
    evidence: tuple[str, ...]
    citation: str
    #: the treatment line the mechanism belongs to (``lines:``; 1 for a patient with one line)
    line: int = 1


@dataclass(frozen=True)
class LineSpec:
    """One treatment line of a patient (days from treatment start), written to ``config/treatments.tsv``."""

    line: int
    drug: str
    start_day: int
    progression_day: int | None
    best_response: str


@dataclass(frozen=True)
class PatientSpec:
    id: str
    tumour_type: str
    histology: str
    drug: str
    best_response: str
    progression_day: int
    early_trial_after: bool
    samples: dict[str, SampleSpec]
    variants: tuple[VariantSpec, ...]
    copy_number: tuple[CopyNumberSpec, ...]
    mechanisms: tuple[MechanismSpec, ...]
    fusions: tuple[FusionSpec, ...] = ()
    #: treatment lines; empty = one line, ``drug`` from day 0
    lines: tuple[LineSpec, ...] = ()

    def sample_id(self, key: str) -> str:
        return f"{self.id}-{key}"

    def drug_of_line(self, line: int) -> str:
        """The drug of treatment line ``line`` (``drug`` for a patient without ``lines:``)."""
        return next((ln.drug for ln in self.lines if ln.line == line), self.drug)


@dataclass(frozen=True)
class Scenario:
    """The whole validated scenario file."""

    path: Path
    panel_genes: tuple[str, ...]
    panel_padding: int
    cohorts: dict[str, dict[str, Any]]
    read_length: dict[str, int]
    duplicate_fraction: dict[str, float]
    off_target_fraction: float
    germline_sites: int
    population_af: float
    passenger_snvs: int
    passenger_indels: int
    passenger_ccf: tuple[float, ...]
    citations: dict[str, str]
    patients: dict[str, PatientSpec]
    panel_extra: tuple[ExtraTargetSpec, ...] = ()

    def cohort_patients(self, cohort: str) -> list[PatientSpec]:
        if cohort not in self.cohorts:
            raise InputError(Problem(str(self.path), f"unknown cohort {cohort!r}",
                                     f"use one of: {', '.join(self.cohorts)}", column="cohorts"))
        return [self.patients[p] for p in self.cohorts[cohort]["patients"]]

    def cohort_depth(self, cohort: str) -> dict[str, float]:
        return {k: float(v) for k, v in self.cohorts[cohort]["depth"].items()}

    def scrna_cells(self, cohort: str) -> int:
        """Cells per simulated scRNA biopsy in ``cohort`` (0 = the cohort has no scRNA)."""
        return int(self.cohorts[cohort].get("scrna_cells", 0))

    def cite(self, keys: str) -> str:
        """Expand ``"KEY1; KEY2"`` into the full citations (unknown keys are kept verbatim)."""
        parts = [k.strip() for k in keys.split(";") if k.strip()]
        return "; ".join(self.citations.get(k, k) for k in parts)


class _Collector:
    def __init__(self, path: Path) -> None:
        self.path = str(path)
        self.problems: list[Problem] = []

    def add(self, where: str, message: str, fix: str) -> None:
        self.problems.append(Problem(self.path, f"{where}: {message}", fix))


def _num(c: _Collector, where: str, value: Any, lo: float, hi: float) -> float:
    try:
        x = float(value)
    except (TypeError, ValueError):
        c.add(where, f"{value!r} is not a number", f"give a number in [{lo}, {hi}]")
        return lo
    if not lo <= x <= hi:
        c.add(where, f"{x} is outside [{lo}, {hi}]", f"give a number in [{lo}, {hi}]")
    return x


def _keyed(c: _Collector, where: str, d: Any, lo: float, hi: float, samples: dict[str, SampleSpec]) -> dict[str, float]:
    if d is None:
        return {}
    if not isinstance(d, dict):
        c.add(where, "expected a mapping of sample key -> number", "write e.g. {T-PD: 0.6}")
        return {}
    out = {}
    for k, v in d.items():
        if k not in samples:
            c.add(where, f"sample key {k!r} is not a sample of this patient", f"use one of {sorted(samples)}")
            continue
        out[str(k)] = _num(c, f"{where}.{k}", v, lo, hi)
    return out


def _patient(c: _Collector, raw: dict[str, Any]) -> PatientSpec | None:
    pid = str(raw.get("id", ""))
    where = f"patient {pid or '?'}"
    for key in ("id", "tumour_type", "drug", "progression_day", "samples"):
        if key not in raw:
            c.add(where, f"missing key {key!r}", "see resources/demo_cohort.yaml for the format")
            return None
    samples: dict[str, SampleSpec] = {}
    for key, s in (raw.get("samples") or {}).items():
        if key not in SAMPLE_KEYS:
            c.add(f"{where} sample {key}", "unknown sample key", f"use one of {list(SAMPLE_KEYS)}")
            continue
        s = s or {}
        typ = SAMPLE_KEYS[key][0]
        tc_key = {"tissue": "purity", "plasma": "tf", "normal": None}[typ]
        tc = _num(c, f"{where} sample {key} {tc_key}", s.get(tc_key), 0.0, 1.0) if tc_key else 0.0
        scrna, shift = bool(s.get("scrna", False)), bool(s.get("programme_shift", False))
        if (scrna or shift) and typ != "tissue":
            c.add(f"{where} sample {key}", "scrna / programme_shift given for a non-tissue sample",
                  "single-cell RNA comes from biopsies: set it on T-BL / T-PD only")
        if shift and not scrna:
            c.add(f"{where} sample {key}", "programme_shift without scrna", "add `scrna: true` to the sample")
        samples[key] = SampleSpec(key, int(s.get("day", 0)), tc, scrna, shift)
    variants = []
    for v in raw.get("variants") or []:
        vw = f"{where} variant {v.get('id', '?')}"
        missing = [k for k in ("id", "gene", "chrom", "pos", "ref", "alt", "origin", "role") if k not in v]
        if missing:
            c.add(vw, f"missing keys {missing}", "give id, gene, chrom, pos, ref, alt, origin, role")
            continue
        if v["origin"] not in ORIGINS or v["role"] not in ROLES:
            c.add(vw, f"origin/role {v['origin']}/{v['role']} not allowed",
                  f"origin in {ORIGINS}, role in {ROLES} (germline and passengers are generated)")
        ref, alt = str(v["ref"]).upper(), str(v["alt"]).upper()
        if not ref or not alt or set(ref + alt) - set("ACGT") or ref == alt:
            c.add(vw, f"bad alleles {ref}>{alt}", "VCF-style A/C/G/T alleles, indels with the anchor base")
        ccf = _keyed(c, f"{vw} ccf", v.get("ccf"), 0.0, 1.0, samples)
        vaf = _keyed(c, f"{vw} vaf", v.get("vaf"), 0.0, 1.0, samples)
        for k in set(ccf) & set(vaf):
            c.add(vw, f"sample {k} has both ccf and vaf", "give one of them per sample")
        for k in list(ccf) + list(vaf):
            if samples.get(k) and samples[k].sample_type == "normal":
                c.add(vw, "somatic variant given for the normal", "tumour variants belong to T-*/P-* samples")
        variants.append(VariantSpec(
            id=str(v["id"]), gene=str(v["gene"]), chrom=str(v["chrom"]), pos=int(v["pos"]), ref=ref, alt=alt,
            hgvsc=str(v.get("hgvsc", "")), hgvsp_short=str(v.get("hgvsp_short", "")), origin=str(v["origin"]),
            role=str(v["role"]), citation=str(v.get("citation", "")), mutant_copies=int(v.get("mutant_copies", 1)),
            phase_group=str(v.get("phase_group", "")), ccf=ccf, vaf=vaf,
            vaf_normal=_num(c, f"{vw} vaf_normal", v.get("vaf_normal", 0.0), 0.0, 0.5)))
    cns = []
    for cn in raw.get("copy_number") or []:
        cw = f"{where} copy_number {cn.get('id', '?')}"
        cns.append(CopyNumberSpec(str(cn.get("id", "")), str(cn.get("gene", "")),
                                  _keyed(c, f"{cw} cn", cn.get("cn"), 0.0, 200.0, samples)))
    fusions = []
    for f in raw.get("fusions") or []:
        fw = f"{where} fusion {f.get('id', '?')}"
        missing = [k for k in ("id", "gene5", "chrom5", "pos5", "gene3", "chrom3", "pos3") if k not in f]
        if missing:
            c.add(fw, f"missing keys {missing}", "give id, gene5, chrom5, pos5, gene3, chrom3, pos3 and ccf/vaf")
            continue
        ccf = _keyed(c, f"{fw} ccf", f.get("ccf"), 0.0, 1.0, samples)
        vaf = _keyed(c, f"{fw} vaf", f.get("vaf"), 0.0, 1.0, samples)
        for k in set(ccf) & set(vaf):
            c.add(fw, f"sample {k} has both ccf and vaf", "give one of them per sample")
        for k in list(ccf) + list(vaf):
            if samples.get(k) and samples[k].sample_type == "normal":
                c.add(fw, "somatic fusion given for the normal", "tumour events belong to T-*/P-* samples")
        fusions.append(FusionSpec(str(f["id"]), str(f["gene5"]), str(f["chrom5"]), int(f["pos5"]), str(f["gene3"]),
                                  str(f["chrom3"]), int(f["pos3"]), str(f.get("citation", "")), ccf, vaf))
    mechs = []
    for m in raw.get("mechanisms") or []:
        mw = f"{where} mechanism {m.get('gene') or m.get('subclass')}"
        if m.get("class") not in CLASSES or m.get("subclass") not in SUBCLASSES:
            c.add(mw, f"class/subclass {m.get('class')}/{m.get('subclass')} not allowed",
                  f"class in {CLASSES}; subclass one of the resistance-biology.md §2 codes {SUBCLASSES}")
        mechs.append(MechanismSpec(str(m.get("class")), str(m.get("subclass")), str(m.get("gene", "")),
                                   str(m.get("alteration", "")), str(m.get("acquisition", "")),
                                   str(m.get("phase", "na")), tuple(m.get("evidence") or ()),
                                   str(m.get("citation", "")), int(m.get("line", 1))))
    lines = _lines(c, where, raw)
    for m in mechs:
        if m.line != 1 and m.line not in {ln.line for ln in lines}:
            c.add(where, f"mechanism {m.gene or m.subclass} names line {m.line}, not a line of the patient",
                  "add the line under lines:, or correct the mechanism's line")
    known = {v.id for v in variants} | {cn.id for cn in cns} | {f.id for f in fusions}
    for m in mechs:
        for e in m.evidence:
            if e not in known:
                c.add(where, f"mechanism evidence {e!r} is not a variant, copy_number or fusion id",
                      f"use one of {sorted(known)}")
    return PatientSpec(pid, str(raw["tumour_type"]), str(raw.get("histology", "")), str(raw["drug"]),
                       str(raw.get("best_response", "")), int(raw["progression_day"]),
                       bool(raw.get("early_trial_after", False)), samples, tuple(variants), tuple(cns), tuple(mechs),
                       tuple(fusions), lines)


def _lines(c: _Collector, where: str, raw: dict[str, Any]) -> tuple[LineSpec, ...]:
    """The patient's ``lines:`` (validated: numbered 1..n in time order, line 1 = the patient's drug/progression)."""
    out = []
    for i, ln in enumerate(raw.get("lines") or []):
        lw = f"{where} lines[{i}]"
        try:
            spec = LineSpec(int(ln["line"]), str(ln["drug"]), int(ln["start_day"]),
                            None if ln.get("progression_day") is None else int(ln["progression_day"]),
                            str(ln.get("best_response", "")))
        except (KeyError, TypeError, ValueError):
            c.add(lw, "needs line, drug, start_day (integers but the drug) and optionally progression_day, best_response",
                  "see UNL007 in resources/demo_cohort.yaml")
            continue
        out.append(spec)
    if out:
        if [ln.line for ln in out] != list(range(1, len(out) + 1)):
            c.add(where, f"lines numbered {[ln.line for ln in out]}", "number the lines 1, 2, ... in time order")
        first = out[0]
        if (first.drug, first.progression_day, first.best_response) != (
                str(raw.get("drug")), raw.get("progression_day"), str(raw.get("best_response", ""))):
            c.add(where, "line 1 differs from the patient's drug / progression_day / best_response",
                  "patients.tsv describes line 1: make them agree")
        for a, b in zip(out, out[1:]):
            end = a.progression_day if a.progression_day is not None else a.start_day
            if b.start_day < end:
                c.add(where, f"line {b.line} starts on day {b.start_day}, before line {a.line} ends (day {end})",
                      "lines must not overlap")
    return tuple(out)


def load_scenario(path: str | Path | None = None) -> Scenario:
    """Load and validate a scenario YAML (default: the bundled demo cohort).

    Raises
    ------
    InputError
        Listing every problem found (file, patient/variant, what to change).
    """
    path = Path(path) if path else default_scenario_path()
    try:
        raw = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise InputError(Problem(str(path), f"cannot read the scenario: {exc}", "give a readable YAML file")) from None
    c = _Collector(path)
    if not isinstance(raw, dict):
        raise InputError(Problem(str(path), "the scenario is not a YAML mapping", "see resources/demo_cohort.yaml"))
    patients: dict[str, PatientSpec] = {}
    for p in raw.get("patients") or []:
        spec = _patient(c, p)
        if spec is not None:
            patients[spec.id] = spec
    cohorts = raw.get("cohorts") or {}
    for name, co in cohorts.items():
        for pid in co.get("patients", []):
            if pid not in patients:
                c.add(f"cohort {name}", f"patient {pid} is not defined", "add it under patients:")
        for typ in SAMPLE_TYPES:
            _num(c, f"cohort {name} depth.{typ}", (co.get("depth") or {}).get(typ), 1.0, 1e5)
    seq = raw.get("sequencing") or {}
    read_length = {t: int(_num(c, f"sequencing.read_length.{t}", (seq.get("read_length") or {}).get(t), 30, 300))
                   for t in SAMPLE_TYPES}
    dup = {t: _num(c, f"sequencing.duplicate_fraction.{t}", (seq.get("duplicate_fraction") or {}).get(t), 0.0, 0.9)
           for t in SAMPLE_TYPES}
    germ, pas = raw.get("germline") or {}, raw.get("passengers") or {}
    extra = []
    for i, e in enumerate(raw.get("panel_extra") or []):
        ew = f"panel_extra[{i}]"
        try:
            spec = ExtraTargetSpec(str(e["gene"]), str(e["chrom"]), int(e["start"]), int(e["end"]),
                                   str(e.get("note", "")), str(e.get("citation", "")))
        except (KeyError, TypeError, ValueError):
            c.add(ew, "needs gene, chrom, start, end (integers, BED-style)", "see resources/demo_cohort.yaml")
            continue
        if spec.start < 0 or spec.end <= spec.start:
            c.add(ew, f"empty interval {spec.start}-{spec.end}", "BED-style: 0-based start < end")
        if not spec.citation:
            c.add(ew, "no citation", "say which panel tiles this region (citation key or text)")
        extra.append(spec)
    if c.problems:
        raise InputError(c.problems, header=f"{len(c.problems)} problem(s) in the simulation scenario {path}")
    return Scenario(
        path=path, panel_genes=tuple(raw.get("panel_genes") or ()), panel_padding=int(raw.get("panel_padding", 20)),
        cohorts=cohorts, read_length=read_length, duplicate_fraction=dup,
        off_target_fraction=float(seq.get("off_target_fraction", 0.17)),
        germline_sites=int(germ.get("n_sites", 40)), population_af=float(germ.get("population_af", 0.5)),
        passenger_snvs=int(pas.get("n_snv", 3)), passenger_indels=int(pas.get("n_indel", 1)),
        passenger_ccf=tuple(float(x) for x in pas.get("ccf_choices", [1.0])),
        citations={str(k): str(v) for k, v in (raw.get("citations") or {}).items()}, patients=patients,
        panel_extra=tuple(extra))
