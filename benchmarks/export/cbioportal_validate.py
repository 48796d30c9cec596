"""Run cBioPortal's own study validator (``validateData.py``) offline on an exported study folder.

Usage::

    python benchmarks/export/cbioportal_validate.py STUDY_DIR [--mirror GIT_DIR] [--html REPORT.html] [--maf MAF]

``--maf`` also checks a MAF (e.g. ``results/export/cohort.maf``) against the GDC MAF column
specification (``resources/export/gdc_maf_columns.tsv``, :func:`unlock_atlas.export.maf_spec.check_maf`).

The validator is not vendored (cbioportal-core is AGPL-3.0 and ~6,000 lines): it is extracted,
at the pinned commit :data:`PINNED_COMMIT` of https://github.com/cBioPortal/cbioportal-core, from a
local bare git mirror of that repository (``--mirror``, ``$CBIOPORTAL_CORE_GIT``, or
``/work/.mirror/cBioPortal+cbioportal-core/repo``) into
``~/.cache/unlock-atlas/cbioportal-validator/<commit>/scripts/importer/`` (``$UNLOCK_ATLAS_CACHE``
replaces ``~/.cache/unlock-atlas``); only ``scripts/importer/`` is taken. To make the mirror
yourself: ``git clone --bare https://github.com/cBioPortal/cbioportal-core GIT_DIR``.

It runs ``python validateData.py -s STUDY_DIR -n -v`` (``-n``: no portal, offline). With ``-n`` the
validator always prints 4 warnings about the checks it skips for want of a portal (cancer types,
gene identifiers, gene sets, gene panels); they come before any file is read and do not depend
on the study, so they are counted apart (``mode_warnings``) from the study's errors and warnings.
Exit status: 0 when the study has 0 errors and 0 warnings, 1 otherwise.

Python dependencies are those of cbioportal-core's ``requirements.txt`` (requests, Jinja2, PyYAML,
dsnparse). ``dsnparse`` is imported at the top of ``cbioportal_common.py`` but only used by a
commented-out line (database URL parsing, not part of validation); when it is not installed a
module that raises on use is put on the validator's path (``shim/dsnparse.py`` in the cache).
"""

from __future__ import annotations

import argparse
import importlib.util
import io
import os
import re
import subprocess
import sys
import tarfile
from dataclasses import dataclass, field
from pathlib import Path

#: cbioportal-core commit the validator is taken from (master, 2026-05-23, "refactor (v7 release)")
PINNED_COMMIT = "c3c8edfa366dea7b150d36af08b06f770e333789"
REPOSITORY = "https://github.com/cBioPortal/cbioportal-core"
IMPORTER = "scripts/importer"
DEFAULT_MIRROR = Path("/work/.mirror/cBioPortal+cbioportal-core/repo")
#: the warnings ``-n`` itself causes (validateData.validate_study, before any file is read)
MODE_WARNING = re.compile(r"^Skipping validations relating to ")
_LINE = re.compile(r"^(ERROR|WARNING|INFO|DEBUG): ([^:]+): (.*)$")
_DSN_SHIM = '''"""Stand-in for dsnparse: cbioportal_common imports it but validation never calls it."""


def parse(*args, **kwargs):
    raise RuntimeError("dsnparse is not installed (pip install dsnparse==0.1.15)")
'''


@dataclass
class Result:
    """What the validator said: its command, exit status and messages by level."""

    command: list[str]
    returncode: int
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    mode_warnings: list[str] = field(default_factory=list)
    output: str = ""

    @property
    def ok(self) -> bool:
        return not self.errors and not self.warnings


def cache_dir(commit: str = PINNED_COMMIT) -> Path:
    base = Path(os.environ.get("UNLOCK_ATLAS_CACHE", Path.home() / ".cache" / "unlock-atlas"))
    return base / "cbioportal-validator" / commit


def find_mirror(mirror: str | Path | None = None) -> Path | None:
    """The bare git directory of cbioportal-core, or None when there is none."""
    for cand in (mirror, os.environ.get("CBIOPORTAL_CORE_GIT"), DEFAULT_MIRROR):
        if cand and (Path(cand) / "objects").is_dir():
            return Path(cand)
    return None


def validator_script(mirror: str | Path | None = None, commit: str = PINNED_COMMIT) -> Path | None:
    """``validateData.py`` at ``commit``, extracted into the cache from the mirror if needed; None
    when neither the cache nor a mirror holding ``commit`` is there."""
    dest = cache_dir(commit)
    script = dest / IMPORTER / "validateData.py"
    if script.is_file():
        return script
    git = find_mirror(mirror)
    if git is None:
        return None
    archive = subprocess.run(["git", "--git-dir", str(git), "archive", "--format=tar", commit, IMPORTER],
                             capture_output=True, check=False)
    if archive.returncode != 0:
        raise SystemExit(f"{git}: cannot read {IMPORTER} at {commit}: {archive.stderr.decode().strip()}")
    tmp = dest.with_name(dest.name + ".part")
    tmp.mkdir(parents=True, exist_ok=True)
    with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
        tar.extractall(tmp, filter="data")
    (tmp / "PINNED_COMMIT").write_text(f"{REPOSITORY} {commit}\n")
    (tmp / "shim").mkdir(exist_ok=True)
    (tmp / "shim" / "dsnparse.py").write_text(_DSN_SHIM)
    tmp.rename(dest)
    return script


def validate(study_dir: str | Path, mirror: str | Path | None = None, html: str | Path | None = None) -> Result:
    """Run ``validateData.py -s study_dir -n -v`` and sort its messages (see module docstring)."""
    script = validator_script(mirror)
    if script is None:
        raise SystemExit("cBioPortal validator not found: no cache at "
                         f"{cache_dir()} and no cbioportal-core git mirror (give --mirror or $CBIOPORTAL_CORE_GIT; "
                         f"git clone --bare {REPOSITORY})")
    cmd = [sys.executable, str(script), "-s", str(Path(study_dir).resolve()), "-n", "-v"]
    if html:
        cmd += ["-html", str(html)]
    env = dict(os.environ)
    if importlib.util.find_spec("dsnparse") is None:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(script.parents[2] / "shim"), env.get("PYTHONPATH")]))
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=script.parent, check=False)
    res = Result(command=cmd, returncode=proc.returncode, output=proc.stdout + proc.stderr)
    for line in res.output.splitlines():
        m = _LINE.match(line.strip())
        if not m:
            continue
        level, where, msg = m.groups()
        if level == "ERROR":
            res.errors.append(line)
        elif level == "WARNING":
            (res.mode_warnings if where == "-" and MODE_WARNING.match(msg) else res.warnings).append(line)
    if proc.returncode not in (0, 3) and not res.errors:  # 0 ok, 3 ok with warnings; else it failed
        res.errors.append(f"validateData.py exited {proc.returncode}: {res.output[-2000:]}")
    return res


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("study_dir")
    ap.add_argument("--mirror", help="bare git directory of cbioportal-core")
    ap.add_argument("--html", help="also write the validator's HTML report here")
    ap.add_argument("--maf", help="also check this MAF against the GDC MAF column specification")
    args = ap.parse_args(argv)
    maf_problems: list[str] = []
    if args.maf:
        import pandas as pd

        from unlock_atlas.export.maf_spec import check_maf

        maf = pd.read_csv(args.maf, sep="\t", comment="#", dtype=str, keep_default_na=False)
        maf_problems = check_maf(maf)
        print(f"{args.maf}: {len(maf)} rows; GDC MAF specification problems: {len(maf_problems)}")
        for p in maf_problems:
            print(" ", p)
    res = validate(args.study_dir, args.mirror, args.html)
    print(f"cbioportal-core {PINNED_COMMIT} ({REPOSITORY})")
    print("command:", " ".join(res.command))
    print(f"exit status {res.returncode}; errors {len(res.errors)}, warnings {len(res.warnings)} "
          f"(+ {len(res.mode_warnings)} offline-mode warnings of -n)")
    for line in res.errors + res.warnings:
        print(" ", line)
    return 0 if res.ok and not maf_problems else 1


if __name__ == "__main__":
    sys.exit(main())
