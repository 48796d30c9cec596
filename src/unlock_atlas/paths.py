"""Where the package finds its own files and the shared GRCh38 data.

The workflow's own files (``workflow/schemas``, ``resources/``) resolve against the
repository this package was installed from (an editable install, as ``make`` does), or
against ``$UNLOCK_ATLAS_HOME`` when set. User paths resolve against the run directory.
"""

from __future__ import annotations

import os
from pathlib import Path

from .errors import DataNotFoundError, UnlockError

#: Environment variable naming the shared data directory (design.md §3).
DATA_ENV = "UNLOCK_ATLAS_DATA"
HOME_ENV = "UNLOCK_ATLAS_HOME"


def repo_root() -> Path:
    """Root of the Unlock atlas checkout (holds ``workflow/`` and ``resources/``)."""
    env = os.environ.get(HOME_ENV)
    candidates = [Path(env)] if env else []
    candidates.append(Path(__file__).resolve().parents[2])
    for cand in candidates:
        if (cand / "resources").is_dir() and (cand / "workflow").is_dir():
            return cand
    raise UnlockError(
        "cannot find the Unlock atlas checkout (with resources/ and workflow/); looked in "
        + ", ".join(str(c) for c in candidates)
        + f". Install with `pip install -e <checkout>` or set {HOME_ENV}=<checkout>."
    )


def resources_dir() -> Path:
    return repo_root() / "resources"


def schemas_dir() -> Path:
    return repo_root() / "workflow" / "schemas"


def resolve_data_dir(configured: str | os.PathLike | None = None, base: Path | None = None) -> Path:
    """Find the shared GRCh38 data directory.

    Order (design.md §3): the config key ``data_dir`` → env ``UNLOCK_ATLAS_DATA`` →
    ``../shared/data`` beside the repository. Never silently skipped: when none exists the
    error lists every place that was looked at.

    Parameters
    ----------
    configured
        The config's ``data_dir`` value, if any (relative paths resolve against ``base``).
    base
        Directory relative config paths resolve against (the run directory).
    """
    tried: list[str] = []
    if configured:
        p = Path(configured)
        if not p.is_absolute():
            p = (base or Path.cwd()) / p
        if _looks_like_data(p):
            return p.resolve()
        # an explicitly configured directory that is wrong is an error, never a silent fallback
        raise DataNotFoundError(
            f"the configured data_dir {p} does not hold reference_grch38/ and transcripts_grch38/; "
            "fix `data_dir:` in the config (or remove it to use "
            f"${DATA_ENV} or ../shared/data beside the repository)."
        )
    env = os.environ.get(DATA_ENV)
    if env:
        tried.append(f"${DATA_ENV}={env}")
        if _looks_like_data(Path(env)):
            return Path(env).resolve()
    beside = repo_root().parent / "shared" / "data"
    tried.append(f"beside the repository: {beside}")
    if _looks_like_data(beside):
        return beside.resolve()
    raise DataNotFoundError(
        "the shared GRCh38 data directory (with reference_grch38/ and transcripts_grch38/) "
        "was not found; looked at: " + "; ".join(tried)
        + f". Set `data_dir:` in the config or export {DATA_ENV}=/path/to/shared/data."
    )


def _looks_like_data(p: Path) -> bool:
    return (p / "reference_grch38").is_dir() and (p / "transcripts_grch38").is_dir()
