"""Simulated cohorts cached outside the repository: simulate once, reuse until the simulator changes.

A cache entry is a finished run directory (``config/``, ``bams/`` or ``fastq/``, ``scrna/``,
``truth/``) under ``<root>/<label>-<key>/``, where

* ``root`` is ``$UNLOCK_ATLAS_CACHE`` (``off`` disables the cache), else
  ``$XDG_CACHE_HOME/unlock-atlas/sim``, else ``~/.cache/unlock-atlas/sim``;
* ``label`` names what was asked (cohort, seed, FASTQ or BAM, the sample subset);
* ``key`` is a SHA-256 over that request **and** the simulator's fingerprint: the source of every
  ``unlock_atlas`` module the simulator imports (found by reading the imports, transitively), the
  ``resources/`` tables that code names, the scenario file's bytes, the shared GRCh38 reference and
  transcript files, and the numpy / pysam versions (their
  random streams and BAM writers shape the output). Editing any of them gives a new key, so the
  next request simulates again by itself and the stale entry of the same label is removed.

Writes are atomic: the simulator writes into ``<root>/.tmp-…``; a manifest (every file with its
size and modification time) is written last and the directory is renamed to its final name. An
interrupted simulation therefore never has a final name and is never reused. Concurrent requests
for the same entry (pytest-xdist, two terminals) wait on a lock file instead of simulating twice.

A run directory is *materialised* from an entry: small text files (sheets, config, truth) are
copied, so a test may edit them; sequencing files (BAM, BAI, FASTQ, h5ad) are hard links (a copy
across file systems). Nothing in the pipeline writes to its input files; if something did, the
entry's manifest no longer matches at the next request and the entry is rebuilt.
"""

from __future__ import annotations

import ast
import contextlib
import fcntl
import hashlib
import json
import logging
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from ..paths import resolve_data_dir, resources_dir
from .scenario import default_scenario_path

logger = logging.getLogger(__name__)

CACHE_ENV = "UNLOCK_ATLAS_CACHE"
MANIFEST = ".unlock-atlas-sim.json"
#: files at most this large are copied into a run directory; larger ones are hard-linked
COPY_MAX_BYTES = 1 << 20
#: suffixes always hard-linked (sequencing data: never edited by the pipeline or the tests)
LINK_SUFFIXES = (".bam", ".bai", ".fastq.gz", ".h5ad", ".crai", ".cram")
PACKAGE_DIR = Path(__file__).resolve().parents[1]


def cache_root() -> Path | None:
    """Where cached simulations live; ``None`` when ``$UNLOCK_ATLAS_CACHE`` is ``off``."""
    env = os.environ.get(CACHE_ENV, "").strip()
    if env.lower() in {"off", "0", "no", "false"}:
        return None
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME", "").strip()
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "unlock-atlas" / "sim"


def _module_file(name: str) -> Path | None:
    """Source file of ``unlock_atlas.<name>`` (``a.b`` → a/b.py or a/b/__init__.py), if it exists."""
    rel = Path(*name.split("."))
    for cand in (PACKAGE_DIR / rel.with_suffix(".py"), PACKAGE_DIR / rel / "__init__.py"):
        if cand.is_file():
            return cand
    return None


def _imports(path: Path) -> set[str]:
    """``unlock_atlas`` modules (relative to the package) imported anywhere in ``path``."""
    pkg = list(path.relative_to(PACKAGE_DIR).parts[:-1])  # the package holding ``path``
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                mod = [*pkg[: len(pkg) - node.level + 1], *(node.module.split(".") if node.module else [])]
            elif node.module and node.module.split(".")[0] == "unlock_atlas":
                mod = node.module.split(".")[1:]
            else:
                continue
            for alias in node.names:  # `from . import x` may name a module
                found.add(".".join([*mod, alias.name]))
            found.add(".".join(mod))
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "unlock_atlas":
                    found.add(".".join(alias.name.split(".")[1:]))
    return {m for m in found if m}


def simulator_sources() -> list[Path]:
    """Every package source file the simulator can execute: ``simulate/`` and what it imports, transitively."""
    todo = sorted((PACKAGE_DIR / "simulate").glob("*.py"))
    seen: set[Path] = set()
    while todo:
        f = todo.pop()
        if f in seen:
            continue
        seen.add(f)
        for mod in _imports(f):
            parts = mod.split(".")
            for i in range(1, len(parts) + 1):  # a module's packages run their __init__ too
                src = _module_file(".".join(parts[:i]))
                if src is not None and src not in seen:
                    todo.append(src)
    seen.add(PACKAGE_DIR / "__init__.py")
    return sorted(seen)


def _hash_file(h: hashlib._Hash, path: Path, label: str) -> None:
    h.update(f"\0{label}\0{path.stat().st_size}\0".encode())
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)


def simulator_fingerprint(scenario: str | Path | None = None, data_dir: str | Path | None = None,
                          sources: list[Path] | None = None) -> str:
    """SHA-256 of everything that decides what the simulator writes, bar the request itself.

    Parameters
    ----------
    scenario
        Scenario YAML (default: the bundled ``resources/demo_cohort.yaml``); hashed by content.
    data_dir
        Shared GRCh38 data; the reference and transcript files in it are hashed by content.
    sources
        Package source files to hash (default :func:`simulator_sources`); for tests.
    """
    import numpy
    import pysam

    h = hashlib.sha256()
    srcs = sources if sources is not None else simulator_sources()
    text = ""
    for src in srcs:
        _hash_file(h, src, src.name if sources is not None else str(src.relative_to(PACKAGE_DIR)))
        text += src.read_text()
    # resource tables the simulator's code names (chromosome lengths, marker and programme gene sets)
    for f in sorted(resources_dir().rglob("*")):
        if f.is_file() and f.name in text:
            _hash_file(h, f, f"resources/{f.relative_to(resources_dir())}")
    _hash_file(h, Path(scenario) if scenario else default_scenario_path(), "scenario")
    data = resolve_data_dir(data_dir)
    for sub in ("reference_grch38", "transcripts_grch38"):
        for f in sorted((data / sub).rglob("*")):
            if f.is_file():
                _hash_file(h, f, f"{sub}/{f.relative_to(data / sub)}")
    h.update(f"numpy={numpy.__version__};pysam={pysam.__version__}".encode())
    return h.hexdigest()


@dataclass(frozen=True)
class Request:
    """One simulation request (everything that changes the output besides the simulator)."""

    cohort: str
    seed: int
    fastq: bool = False
    only_samples: tuple[str, ...] | None = None

    @property
    def label(self) -> str:
        parts = [self.cohort, f"seed{self.seed}", "fastq" if self.fastq else "bam"]
        if self.only_samples is not None:
            sub = hashlib.sha256("\n".join(self.only_samples).encode()).hexdigest()[:8]
            parts.append(f"{len(self.only_samples)}samples-{sub}")
        return "-".join(parts)

    def key(self, fingerprint: str) -> str:
        blob = json.dumps({"cohort": self.cohort, "seed": self.seed, "fastq": self.fastq,
                           "only_samples": self.only_samples, "simulator": fingerprint}, sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()[:16]


def _file_table(root: Path) -> dict[str, list[int]]:
    return {str(p.relative_to(root)): [p.stat().st_size, p.stat().st_mtime_ns]
            for p in sorted(root.rglob("*")) if p.is_file() and p.name != MANIFEST}


def entry_is_intact(entry: Path) -> bool:
    """True when ``entry`` has a manifest and every file it lists is unchanged (size, mtime)."""
    try:
        manifest = json.loads((entry / MANIFEST).read_text())
    except (OSError, ValueError):
        return False
    return manifest.get("files") == _file_table(entry)


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def materialise(entry: Path, out: Path) -> None:
    """Make ``out`` a run directory with the entry's content (copies of small files, hard links of data)."""
    out.mkdir(parents=True, exist_ok=True)
    for src in sorted(entry.rglob("*")):
        if not src.is_file() or src.name == MANIFEST:
            continue
        dst = out / src.relative_to(entry)
        dst.parent.mkdir(parents=True, exist_ok=True)
        if dst.exists() or dst.is_symlink():
            dst.unlink()
        big = src.stat().st_size > COPY_MAX_BYTES or src.name.endswith(LINK_SUFFIXES)
        if big:
            try:
                os.link(src, dst)
                continue
            except OSError:  # another file system, or links not allowed: copy
                pass
        shutil.copy2(src, dst)


def cached_simulation(out: str | Path, seed: int, cohort: str = "demo", fastq: bool = False, threads: int = 2,
                      data_dir: str | Path | None = None, scenario: str | Path | None = None,
                      only_samples: list[str] | None = None) -> str:
    """Simulate into ``out`` through the cache; return ``"reused"``, ``"simulated"`` or ``"uncached"``.

    Same parameters as :func:`unlock_atlas.simulate.run.simulate_cohort` (``threads`` does not
    change the output, so it is not part of the key).
    """
    from .run import simulate_cohort

    out = Path(out)
    root = cache_root()
    if root is None:
        simulate_cohort(out, seed, cohort=cohort, fastq=fastq, threads=threads, data_dir=data_dir,
                        scenario=scenario, only_samples=only_samples)
        return "uncached"
    req = Request(cohort, int(seed), bool(fastq), tuple(sorted(only_samples)) if only_samples is not None else None)
    t0 = time.monotonic()
    key = req.key(simulator_fingerprint(scenario, data_dir))
    entry = root / f"{req.label}-{key}"
    with _locked(root / f".{req.label}.lock"):
        for left in root.glob(f".tmp-{req.label}-*"):  # an interrupted simulation (only the lock holder writes)
            shutil.rmtree(left, ignore_errors=True)
        status = "reused"
        if not entry_is_intact(entry):
            if entry.exists():
                logger.warning("cached simulation %s was modified or is incomplete; simulating again", entry)
                shutil.rmtree(entry)
            status = "simulated"
            tmp = Path(tempfile.mkdtemp(prefix=f".tmp-{req.label}-", dir=root))
            try:
                simulate_cohort(tmp, seed, cohort=cohort, fastq=fastq, threads=threads, data_dir=data_dir,
                                scenario=scenario, only_samples=only_samples)
                manifest = {"request": {"cohort": cohort, "seed": seed, "fastq": fastq, "only_samples": only_samples},
                            "key": key, "seconds": round(time.monotonic() - t0, 1), "files": _file_table(tmp)}
                (tmp / MANIFEST).write_text(json.dumps(manifest, indent=1, sort_keys=True))
                os.replace(tmp, entry)
            except BaseException:
                shutil.rmtree(tmp, ignore_errors=True)
                raise
            for stale in root.glob(f"{req.label}-*"):  # the same request under an older simulator
                if stale != entry and len(stale.name) == len(entry.name):
                    shutil.rmtree(stale, ignore_errors=True)
        materialise(entry, out)
    logger.info("%s cached simulation %s -> %s (%.1f s)", status, entry.name, out, time.monotonic() - t0)
    return status
