"""``load_run``: the one loader and validator of a run's inputs (config + the two sheets).

Every problem found -- in the config, either sheet, the files they name, or the BAM headers --
is collected and raised together as one :class:`~unlock_atlas.errors.InputError` whose header
says how many problems there are and in which files, so a user fixes everything in one pass
and nothing is scheduled on invalid inputs.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from ..errors import InputError, Problem
from ..knowledge.drugs import Regimen
from ..umi.stage import umi_settings, umi_tag_problem
from .bamcheck import check_bam_contigs, fasta_index_problems, find_bam_index, load_reference_for_checks
from .config import PLACEHOLDER, load_schema, read_config, resolve_config_paths, validate_config
from .sheets import Row, Sheet, cross_check, read_tsv, validate_rows
from .treatments import TREATMENT_COLUMNS, Line, check_treatments, single_line

logger = logging.getLogger(__name__)

PATIENT_COLUMNS = ["patient_id", "tumour_type", "drug", "treatment_start", "progression_day", "best_response",
                   "early_trial_after", "drug_class", "targets"]
SAMPLE_COLUMNS = ["patient_id", "sample_id", "sample_type", "timepoint", "collection_day", "bam", "fastq_1",
                  "fastq_2", "scrna", "purity", "histology", "line", "calls", "calls_sample", "calls_origin"]
_DTYPES = {"progression_day": "Int64", "collection_day": "Int64", "early_trial_after": "boolean", "purity": "Float64",
           "line": "Int64", "start_day": "Int64", "end_day": "Int64"}
_FILE_COLUMNS = ("bam", "fastq_1", "fastq_2", "scrna", "calls")


@dataclass
class Run:
    """A validated run.

    Attributes
    ----------
    workdir
        The run directory (absolute); relative paths of the config and sheets resolve against it.
    config
        Validated config: defaults filled, ``{data_dir}`` substituted, paths absolute strings.
    config_path
        The config file, or ``None`` when the config was given as a mapping (Snakemake).
    data_dir
        The resolved shared data directory; ``None`` when no config value needs it.
    patients
        One row per patient (columns :data:`PATIENT_COLUMNS`): text columns are pandas
        ``string`` (missing = ``pd.NA``), ``progression_day`` ``Int64``, ``early_trial_after``
        ``boolean``; ``drug`` is the canonical lower-case regimen (``dabrafenib+trametinib``),
        ``drug_class`` and ``targets`` (comma-joined HGNC symbols) come from the knowledge base.
    samples
        One row per sample in sheet order (columns :data:`SAMPLE_COLUMNS`): ``timepoint`` is NA
        for normals, ``collection_day`` ``Int64``, ``purity`` ``Float64``, file columns are
        absolute path strings or NA; ``line`` (``Int64``) is the treatment line a tissue / plasma
        sample belongs to (:mod:`.treatments`; 1 for a patient with one line), NA for normals.
    treatments
        One row per patient x treatment line (columns :data:`~.treatments.TREATMENT_COLUMNS`): the
        rows of treatments.tsv, or for a patient it does not list (every patient, without the
        sheet) the one line of patients.tsv (line 1, drug, start_day 0, progression_day,
        best_response). Days ``Int64``; ``drug`` canonical as in ``patients``.
    """

    workdir: Path
    config: dict
    config_path: Path | None
    data_dir: Path | None
    patients: pd.DataFrame
    samples: pd.DataFrame
    sheet_texts: dict[str, str] = field(default_factory=dict, repr=False)
    treatments: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=TREATMENT_COLUMNS))

    def lines_of(self, patient_id: str) -> list[Line]:
        """The patient's treatment lines, sorted by number (:class:`~.treatments.Line`)."""
        from ..knowledge.drugs import resolve_regimen

        t = self.treatments[self.treatments["patient_id"].astype(str) == str(patient_id)].sort_values("line")
        na = lambda x: None if pd.isna(x) else x   # noqa: E731
        return [Line(int(r.line), resolve_regimen(str(r.drug)), int(r.start_day),
                     None if na(r.end_day) is None else int(r.end_day),
                     None if na(r.progression_day) is None else int(r.progression_day), na(r.best_response))
                for r in t.itertuples()]

    def config_hash(self) -> str:
        """SHA-256 of the canonical JSON of the validated config and the two sheets' content.

        The sheets enter as their text with BOM and CR removed, so re-saving a sheet with
        Windows line endings does not change the hash while any edited cell does. Config paths
        enter relative to the run directory (``{workdir}/...``) or to the shared data
        directory (``{data_dir}/...``), so the same run in another directory or on another
        machine has the same hash.
        """
        payload = json.dumps({"config": self._portable(self.config), "sheets": self.sheet_texts}, sort_keys=True,
                             separators=(",", ":"), ensure_ascii=False, default=str)
        return hashlib.sha256(payload.encode("utf-8")).hexdigest()

    def _portable(self, value):
        """``value`` with absolute paths under the run or data directory written relative to them."""
        if isinstance(value, dict):
            return {k: self._portable(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [self._portable(v) for v in value]
        if isinstance(value, str):
            roots = [("{data_dir}", self.config.get("data_dir") or self.data_dir), ("{workdir}", self.workdir)]
            # the deeper root first: a data directory inside the run directory stays {data_dir}
            for label, root in sorted(roots, key=lambda r: -len(str(r[1] or ""))):
                if root is not None and (value == str(root) or value.startswith(str(root) + os.sep)):
                    return label + value[len(str(root)):]
        return value


def _shown(path: Path, workdir: Path) -> str:
    """A path relative to the run directory when inside it (how users wrote it), else absolute."""
    try:
        return str(path.relative_to(workdir))
    except ValueError:
        return str(path)


def _abs(value: str, workdir: Path) -> str:
    p = Path(value).expanduser()
    return os.path.abspath(p if p.is_absolute() else workdir / p)


def load_run(config: str | Path | Mapping, workdir: str | Path | None = None, *, check_files: bool = True) -> Run:
    """Load and validate a run: config, patients.tsv, samples.tsv, the optional treatments.tsv and the files they name.

    Parameters
    ----------
    config
        Path of ``config.yaml`` or the config as a mapping (Snakemake's ``config``).
    workdir
        The run directory; relative paths resolve against it. Default: the current directory.
    check_files
        Check that every named file exists, that BAMs are indexed and that BAM headers match
        the reference build and cover the panel. ``False`` for dry runs without files.

    Raises
    ------
    InputError
        With every problem found (file, line, column, fix).
    """
    wd = Path(workdir).expanduser().absolute() if workdir is not None else Path.cwd()
    if not wd.is_dir():
        raise InputError(Problem(str(wd), "the run directory does not exist", "create it or pass the right --directory"))
    raw, config_path, shown, lines = read_config(config, wd)
    cfg, problems = validate_config(raw, file=shown, line_of=lines)
    cfg, data_dir, more = resolve_config_paths(cfg, wd, file=shown, line_of=lines)
    problems += more

    sheets: dict[str, Sheet] = {}
    complete: dict[str, bool] = {}
    for key in ("patients", "samples", "treatments"):
        val = cfg.get(key)
        if not isinstance(val, str) or PLACEHOLDER in val:
            continue
        schema = load_schema(key)
        required = list(schema["required"]) + list(schema.get("x-required-columns", []))
        sheet, found = read_tsv(Path(val), _shown(Path(val), wd), required, list(schema["properties"]))
        problems += found
        if sheet is None:
            continue
        sheets[key] = sheet
        complete[key] = not any(p.message.startswith("missing required column") for p in found)
        if key == "samples" and "bam" not in sheet.header and not {"fastq_1", "fastq_2"} <= set(sheet.header):
            problems.append(Problem(sheet.shown, "no sequencing-data columns: the sheet needs a 'bam' column and/or "
                                    f"'fastq_1' and 'fastq_2' columns; columns found: {', '.join(sheet.header)}",
                                    "add a bam column (or fastq_1 and fastq_2)", row=1, column="bam"))
            complete[key] = False
        if complete[key]:
            problems += validate_rows(sheet, key)

    regimens: dict[str, Regimen] = {}
    lines_of: dict[str, list[Line]] = {}
    attached: dict[int, int] = {}
    if complete.get("patients") and complete.get("samples"):
        found, regimens = cross_check(sheets["patients"], sheets["samples"])
        problems += found
        if complete.get("treatments"):
            found, lines_of, attached = check_treatments(sheets["treatments"], sheets["patients"], sheets["samples"],
                                                         regimens)
            problems += found
    if check_files:
        problems += _check_files(cfg, sheets.get("samples") if complete.get("samples") else None, wd, shown, lines)
    if problems:
        order = {shown: 0, **{s.shown: i + 1 for i, s in enumerate(sheets.values())}}
        problems.sort(key=lambda p: (order.get(p.file, 9), p.row or 0))
        files = list(dict.fromkeys(p.file for p in problems))
        raise InputError(problems, header=f"{len(problems)} problem(s) found in {', '.join(files)}")

    patients = _patients_frame(sheets["patients"].rows, regimens)
    samples = _samples_frame(sheets["samples"].rows, wd, attached)
    treatments = _treatments_frame(patients, lines_of)
    logger.info("validated %d patients, %d treatment lines and %d samples (%s)", len(patients), len(treatments),
                len(samples), ", ".join(f"{n} {t}" for t, n in samples["sample_type"].value_counts().items()))
    return Run(wd, cfg, config_path, data_dir, patients, samples,
               {k: s.text for k, s in sheets.items()}, treatments)


def _check_files(cfg: dict, samples: Sheet | None, wd: Path, shown: str, lines: dict) -> list[Problem]:
    """Existence of every configured and listed file, BAM indexes and BAM headers."""
    problems: list[Problem] = []
    ref = cfg.get("reference") if isinstance(cfg.get("reference"), dict) else {}

    def exists(key: tuple, value: object) -> bool:
        if not isinstance(value, str) or PLACEHOLDER in value:
            return False
        if not Path(value).is_file():
            problems.append(Problem(shown, f"file not found: {value}", "check the path (relative paths resolve "
                                    f"against the run directory {wd})", row=lines.get(key), column=".".join(map(str, key))))
            return False
        return True

    ref_ok = True
    if exists(("reference", "fasta"), ref.get("fasta")):
        idx = fasta_index_problems(Path(ref["fasta"]), shown, lines.get(("reference", "fasta")), "reference.fasta")
        problems += idx
        ref_ok = not idx
    else:
        ref_ok = False
    ref_ok &= exists(("reference", "gtf"), ref.get("gtf"))
    if ref.get("panel_bed"):
        ref_ok &= exists(("reference", "panel_bed"), ref.get("panel_bed"))
    key_file = (cfg.get("privacy") or {}).get("key_file") if isinstance(cfg.get("privacy"), dict) else None
    if key_file:
        exists(("privacy", "key_file"), key_file)

    ref_lengths, contigs = None, set()
    if ref_ok:
        ref_lengths, contigs, found = load_reference_for_checks(ref, shown, lines)
        problems += found

    def check_bam(path: str, file: str, row: int | None, column: str) -> None:
        idx = find_bam_index(path)
        if idx is None:
            problems.append(Problem(file, f"the BAM {path} has no index (looked for .bam.bai, .bai, .bam.csi)",
                                    f"run `samtools index {path}`", row=row, column=column))
        elif os.path.getmtime(idx) < os.path.getmtime(path) - 1:
            logger.warning("%s: index %s is older than the BAM; re-index if the BAM was rewritten", path, idx)
        if ref_lengths is not None:
            for p in check_bam_contigs(path, ref_lengths, contigs):
                problems.append(dataclasses.replace(p, file=file, row=row, column=column, message=f"{path}: {p.message}"))

    pon = cfg.get("panel_of_normals")
    for i, item in enumerate([pon] if isinstance(pon, str) else pon or []):
        key = ("panel_of_normals",) if isinstance(pon, str) else ("panel_of_normals", i)
        if str(item).endswith(".bam"):
            if exists(key, item):
                check_bam(item, shown, lines.get(key), "panel_of_normals")
        elif isinstance(item, str) and PLACEHOLDER not in item:  # a panel built by `unlock-atlas pon`
            for part in (f"{item}.sites.parquet", f"{item}.alleles.parquet"):
                if not Path(part).is_file():
                    problems.append(Problem(shown, f"panel of normals {item}: {part} not found",
                                            "give the prefix used with `unlock-atlas pon -o PREFIX`, or a list of normal BAMs",
                                            row=lines.get(key), column="panel_of_normals"))

    if samples is None:
        return problems
    rows = [r for r in samples.rows if r.ok_ids]
    umi = umi_settings(cfg)
    umi_types = set(umi["sample_types"]) if umi["mode"] != "none" else set()
    seen_bams: dict[str, int] = {}
    for n, row in enumerate(rows, 1):
        if n % 1000 == 0:
            logger.info("checked the files of %d/%d samples", n, len(rows))
        for col in _FILE_COLUMNS:
            val = row.raw.get(col)
            if not val:
                continue
            path = _abs(val, wd)
            if not Path(path).is_file():
                problems.append(Problem(samples.shown, f"file not found: {path}", "check the path (relative paths "
                                        f"resolve against the run directory {wd})", row=row.line, column=col))
            elif col == "scrna":
                problems += _scrna_problems(path, samples.shown, row.line)
            elif col == "bam":
                if path in seen_bams:
                    logger.warning("%s line %d: BAM %s is also used on line %d", samples.shown, row.line, path, seen_bams[path])
                seen_bams.setdefault(path, row.line)
                check_bam(path, samples.shown, row.line, "bam")
                if umi_types and row.raw.get("sample_type") in umi_types:
                    found = umi_tag_problem(path, umi["tag"], row.raw.get("sample_id", ""), samples.shown, row.line)
                    problems.extend([found] if found else [])
        f1, f2 = row.raw.get("fastq_1"), row.raw.get("fastq_2")
        if umi_types and row.raw.get("sample_type") in umi_types and not row.raw.get("bam") and f1:
            problems.append(Problem(samples.shown, f"sample {row.raw.get('sample_id', '')}: umi.mode {umi['mode']} needs a BAM "
                                    f"whose reads carry the UMI in the {umi['tag']} tag; FASTQ input does not carry UMIs "
                                    "through alignment yet", "give the aligned BAM with UMI tags (e.g. fgbio "
                                    "ExtractUmisFromBam + alignment), or remove the sample type from umi.sample_types",
                                    row=row.line, column="fastq_1"))
        if f1 and f2 and _abs(f1, wd) == _abs(f2, wd):
            problems.append(Problem(samples.shown, "fastq_1 and fastq_2 are the same file",
                                    "give the read-1 and read-2 files of the pair", row=row.line, column="fastq_2"))
    return problems


#: HDF5 file signature (h5ad and 10x .h5 are HDF5); at offset 0, or 512/1024/... after a user block.
_HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"


def _scrna_problems(path: str, file: str, row: int) -> list[Problem]:
    """An scRNA file must be a non-empty HDF5 file (.h5ad / 10x .h5); reads <= 8 bytes per offset.

    Raw counts inside it are checked by the single-cell stage (``detect_input``), which names the file.
    """
    size = os.path.getsize(path)
    fix = "re-export the file (AnnData .h5ad or 10x Genomics filtered_feature_bc_matrix.h5)"
    if size == 0:
        return [Problem(file, f"the scRNA file {path} is empty (0 bytes)", fix, row=row, column="scrna")]
    with open(path, "rb") as fh:
        for off in (0, 512, 1024, 2048):
            fh.seek(off)
            if fh.read(8) == _HDF5_MAGIC:
                return []
    return [Problem(file, f"the scRNA file {path} is not an HDF5 file (.h5ad / .h5): corrupt or another format",
                    fix, row=row, column="scrna")]


def _frame(records: list[dict], columns: list[str]) -> pd.DataFrame:
    data = {}
    for col in columns:
        vals = [r.get(col) for r in records]
        data[col] = pd.array(vals, dtype=_DTYPES.get(col, "string"))
    return pd.DataFrame(data, columns=columns)


def _patients_frame(rows: list[Row], regimens: dict[str, Regimen]) -> pd.DataFrame:
    recs = []
    for r in rows:
        v = dict(r.values)
        reg = regimens[v["patient_id"]]
        v.update(drug=reg.name, drug_class=reg.drug_class, targets=",".join(reg.targets))
        recs.append(v)
    return _frame(recs, PATIENT_COLUMNS)


def _treatments_frame(patients: pd.DataFrame, lines_of: dict[str, list[Line]]) -> pd.DataFrame:
    """One row per patient x line: treatments.tsv's lines, else the patient's one line of patients.tsv."""
    from ..knowledge.drugs import resolve_regimen

    recs = []
    for p in patients.itertuples():
        pid = str(p.patient_id)
        lines = lines_of.get(pid)
        if lines is None:
            prog = None if pd.isna(p.progression_day) else int(p.progression_day)
            lines = [single_line(resolve_regimen(str(p.drug)), prog, None if pd.isna(p.best_response)
                                 else str(p.best_response))]
        for ln in lines:
            recs.append({"patient_id": pid, "line": ln.line, "drug": ln.regimen.name, "drug_class": ln.regimen.drug_class,
                         "targets": ",".join(ln.regimen.targets), "start_day": ln.start_day, "end_day": ln.end_day,
                         "progression_day": ln.progression_day, "best_response": ln.best_response})
    return _frame(recs, TREATMENT_COLUMNS)


def _samples_frame(rows: list[Row], wd: Path, attached: dict[int, int] | None = None) -> pd.DataFrame:
    """The samples sheet; ``line`` from ``attached`` (sheet line -> treatment line), else 1 for tumour samples."""
    attached = attached or {}
    recs = []
    for r in rows:
        v = dict(r.values)
        v["line"] = attached.get(r.line, 1) if v.get("sample_type") in ("tissue", "plasma") else None
        for col in _FILE_COLUMNS:
            if v.get(col):
                v[col] = _abs(v[col], wd)
        v["purity"] = float(v["purity"]) if v.get("purity") is not None else None
        recs.append(v)
    return _frame(recs, SAMPLE_COLUMNS)


def load_run_or_exit(config: Mapping, workdir: str | Path, check_files: bool = True,
                     cache_dir: str | Path | None = None) -> Run:
    """:func:`load_run` for the Snakefile: on invalid inputs print every problem and exit 1.

    Snakemake would otherwise show a Python traceback for a user error; nothing is scheduled.
    ``check_files=False`` is for the re-parse of the Snakefile inside each cluster job: the main
    process already checked every file (at 6,000 BAMs the header checks cost ~1.5 s per job).
    With ``cache_dir`` the validated run is stored there by the main process and loaded by job
    processes instead of validating the sheets again (:mod:`unlock_atlas.inputs.cache`).
    """
    import sys

    from ..errors import UnlockError

    try:
        if cache_dir is not None:
            from .cache import load_run_cached

            return load_run_cached(config, workdir, cache_dir, check_files=check_files)
        return load_run(config, workdir=workdir, check_files=check_files)
    except UnlockError as exc:
        print(f"\nUnlock atlas: the run's inputs are not valid; nothing was run.\n{exc}\n", file=sys.stderr)
        raise SystemExit(1) from None
