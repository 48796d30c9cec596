"""The validated run, cached for the workflow's job processes (issue 25).

On a cluster every job runs Snakemake again on its node, which re-parses the Snakefile, and
``workflow/rules/common.smk`` loads the run there again. Re-reading and re-validating both sheets
row by row costs ~1.5 s per job at 1,000 patients (benchmarks/RESULTS.md, "Scale"). The main
Snakemake process validates everything (files and BAM headers included) and stores the validated
:class:`~unlock_atlas.inputs.run.Run`; a job process that asks for the same run finds it by its
key and loads it instead of validating again.

The key (SHA-256) covers everything validation reads: the config mapping as Snakemake holds it,
the run directory, the ``UNLOCK_ATLAS_DATA`` variable (data-directory resolution), the bytes of
both sheets, and the validation code and tables (``inputs/*.py``, ``paths.py``, the sheet and
config schemas, the drug table and its loader). Any change gives another key, so a stale cache is
never used: the job validates the sheets itself (without the file checks the main process made).

The cache file is a pickle written by this package into the run's private results folder (raw
IDs: not shareable). Pickles execute code when loaded, so only a file this code wrote, in the run
directory the workflow already trusts with its config and sheets, is ever read.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import pickle
from collections.abc import Mapping
from pathlib import Path

from ..atomic import atomic_path
from .config import PLACEHOLDER
from .run import Run, load_run

logger = logging.getLogger(__name__)

#: Cache file name: ``run.<key>.pickle`` in the cache folder.
PREFIX = "run."
SUFFIX = ".pickle"


def _code_files() -> list[Path]:
    """Files whose content decides what validation accepts and returns (sorted, deduplicated)."""
    import inspect

    from ..knowledge import default_drug_table
    from ..paths import schemas_dir

    pkg = Path(__file__).resolve().parent
    files = [*pkg.glob("*.py"), pkg.parent / "paths.py", Path(inspect.getfile(default_drug_table)), default_drug_table(),
             *schemas_dir().glob("*.yaml")]
    return sorted({f.resolve() for f in files})


def run_cache_key(config: Mapping, workdir: str | Path) -> str | None:
    """The cache key of a run, or ``None`` when the sheets cannot be located without validating.

    Parameters
    ----------
    config
        The config as Snakemake holds it (before validation: defaults not filled).
    workdir
        The run directory; the sheets' relative paths resolve against it.
    """
    wd = Path(workdir).expanduser().absolute()
    h = hashlib.sha256()
    h.update(json.dumps(dict(config), sort_keys=True, default=str).encode())
    h.update(f"\0{wd}\0{os.environ.get('UNLOCK_ATLAS_DATA', '')}\0".encode())
    for key in ("patients", "samples"):
        value = config.get(key)
        if not isinstance(value, str) or PLACEHOLDER in value or "{" in value:
            return None
        path = Path(value).expanduser()
        path = path if path.is_absolute() else wd / path
        try:
            h.update(hashlib.sha256(path.read_bytes()).digest())
        except OSError:
            return None
    for f in _code_files():
        h.update(f"\0{f.name}\0".encode())
        h.update(f.read_bytes())
    return h.hexdigest()


def _read(path: Path) -> Run | None:
    try:
        with open(path, "rb") as fh:
            run = pickle.load(fh)
    except FileNotFoundError:
        return None
    except Exception as exc:  # a truncated or foreign file: validate instead
        logger.warning("ignoring the run cache %s (%s)", path, exc)
        return None
    return run if isinstance(run, Run) else None


def _store(run: Run, path: Path) -> None:
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as fh:
            pickle.dump(run, fh, protocol=pickle.HIGHEST_PROTOCOL)
    for old in path.parent.glob(f"{PREFIX}*{SUFFIX}"):  # only the newest run is kept
        if old != path:
            with contextlib.suppress(OSError):
                old.unlink()


def load_run_cached(config: Mapping, workdir: str | Path, cache_dir: str | Path, *, check_files: bool = True) -> Run:
    """:func:`~unlock_atlas.inputs.run.load_run`, reusing the validated run of an earlier process.

    With ``check_files=True`` (the main Snakemake process) the run is always validated, files
    included, and the result stored under its key. With ``check_files=False`` (a job process) a
    stored run with the same key is returned as it is; on a miss the sheets are validated
    (without file checks) and the result stored.

    Parameters
    ----------
    config, workdir, check_files
        As for :func:`~unlock_atlas.inputs.run.load_run`.
    cache_dir
        Folder of the cache file (relative paths resolve against ``workdir``).

    Raises
    ------
    InputError
        From validation, with every problem found.
    """
    wd = Path(workdir).expanduser().absolute()
    key = run_cache_key(config, wd)
    folder = Path(cache_dir)
    path = (folder if folder.is_absolute() else wd / folder) / f"{PREFIX}{key}{SUFFIX}" if key else None
    if path is not None and not check_files:
        run = _read(path)
        if run is not None:
            logger.debug("validated run loaded from %s", path)
            return run
    run = load_run(config, wd, check_files=check_files)
    if path is not None:
        try:
            _store(run, path)
        except OSError as exc:  # a read-only run directory: the cache is an optimisation only
            logger.warning("could not store the run cache %s (%s)", path, exc)
    return run
