"""The workflow on a real single-node SLURM cluster gives the same atlas as a local run (issue 9).

Needs root and the Debian packages ``slurmctld slurmd slurm-client munge`` (scripts/system-deps.sh);
the test FAILS (never skips) when they are missing. ``scripts/slurm-local.sh`` brings the cluster
up (own munge key and socket, slurm.conf in the test's temporary directory, /etc/slurm/slurm.conf
linked and restored) and the fixture's teardown stops exactly the daemons it started, by PID.
Every wait is bounded: the bring-up script's own timeouts, and a timeout on each subprocess.

Independent truths: the local executor's atlas (the session's shared small-cohort run, conftest
``small_run``: the same workflow, sheets and BAMs with the local profile; same pseudonymisation
key; the atlas does not depend on the run directory's path, so identical content is required
byte for byte of the tables), the simulator's sample sheet (every patient's QC runs as its own SLURM job), and the
resources Snakemake reports for each job versus what SLURM itself (``squeue``) recorded.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest
from conftest import BIN, REPO
from conftest import SMALL_KEY as KEY

pytestmark = pytest.mark.slow

SCRIPT = REPO / "scripts" / "slurm-local.sh"
COMMANDS = ("slurmctld", "slurmd", "sinfo", "squeue", "sbatch", "scancel", "srun", "munged", "munge")
#: The one-node test cluster declares 4 CPUs on the 2-core machine (UNLOCK_SLURM_CPUS) and Snakemake
#: keeps 4 jobs in flight: the executor polls finished jobs at growing intervals (2 s, then +10 s),
#: so with 2 slots the ~70 short jobs spent most of the run waiting for a status check (554 s).
SLURM_CPUS = 4
SLURM_ARGS = ["--executor", "slurm", "--jobs", str(SLURM_CPUS), "--default-resources", "slurm_partition=debug",
              "--slurm-no-account", "--slurm-status-command", "squeue",
              "--slurm-init-seconds-before-status-checks", "2"]
#: Bounds (seconds): with every stage wired (~80 jobs for the small cohort: QC, calling, annotation,
#: copy number, fusions, identity, classification, atlas, exports, report) a run takes several
#: minutes on 2 cores, more through SLURM's scheduling; the bound leaves room for a loaded machine.
RUN_TIMEOUT = 1800
UP_TIMEOUT = 180


def _tail(text: str | bytes | None, n: int = 6000) -> str:
    if isinstance(text, bytes):
        text = text.decode(errors="replace")
    return (text or "")[-n:]


def _alive(pid: int, name: str) -> bool:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip() == name
    except OSError:
        return False


def _free_ports(n: int) -> list[int]:
    """``n`` distinct TCP ports that are free now (bound to port 0, then released)."""
    socks = [socket.socket() for _ in range(n)]
    try:
        for s in socks:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


@pytest.fixture(scope="module")
def slurm(tmp_path_factory) -> dict:
    """A running single-node cluster; yields the environment for SLURM clients and snakemake."""
    missing = [c for c in COMMANDS if shutil.which(c) is None]
    assert not missing, (f"missing {', '.join(missing)}: install the Debian packages slurmctld slurmd "
                         "slurm-client munge (`make system-deps` as root)")
    assert os.geteuid() == 0, "the SLURM test must run as root (slurmd launches the jobs)"
    # not under pytest's basetemp: that is mode 0700 and munged (user munge) must reach its socket dir
    prefix = Path(tempfile.mkdtemp(prefix="unlock-atlas-slurm-", dir="/tmp"))
    ctld_port, slurmd_port = _free_ports(2)  # never collide with another cluster on 6817/6818
    env = {**os.environ, "UNLOCK_SLURM_PREFIX": str(prefix), "SLURM_CONF": str(prefix / "etc" / "slurm.conf"),
           "UNLOCK_SLURM_CTLD_PORT": str(ctld_port), "UNLOCK_SLURM_SLURMD_PORT": str(slurmd_port),
           "UNLOCK_ATLAS_KEY": KEY, "UNLOCK_SLURM_CPUS": str(SLURM_CPUS)}
    started: dict[str, int] = {}
    try:
        up = subprocess.run(["bash", SCRIPT, "up"], env=env, capture_output=True, text=True, timeout=UP_TIMEOUT)
        for name in ("munged", "slurmctld", "slurmd"):
            pidfile = prefix / "run" / f"{name}.pid"
            if pidfile.exists():
                started[name] = int(pidfile.read_text())
        assert up.returncode == 0, f"slurm-local.sh up failed:\n{up.stdout}\n{up.stderr}"
        assert set(started) == {"munged", "slurmctld", "slurmd"}, started
        yield env
    finally:
        down = subprocess.run(["bash", SCRIPT, "down"], env=env, capture_output=True, text=True, timeout=120)
        left = [f"{n} (pid {p})" for n, p in started.items() if _alive(p, n)]
        assert down.returncode == 0 and not left, f"teardown left {left}:\n{down.stderr}"
        shutil.rmtree(prefix, ignore_errors=True)


def _snakemake(run: Path, env: dict, extra: list[str], slurm_env: dict | None = None) -> str:
    """Run the workflow in ``run``; return its output. Bounded; on failure show logs."""
    cmd = [str(BIN / "snakemake"), "-s", str(REPO / "Snakefile"), "--directory", str(run),
           "--configfile", str(run / "config" / "config.yaml"), *extra]
    try:
        r = subprocess.run(cmd, cwd=run.parent, env=env, capture_output=True, text=True, timeout=RUN_TIMEOUT)
    except subprocess.TimeoutExpired as exc:
        daemons = subprocess.run(["bash", SCRIPT, "logs"], env=slurm_env or env, capture_output=True, text=True,
                                 timeout=30).stderr if slurm_env else ""
        pytest.fail(f"snakemake did not finish within {RUN_TIMEOUT} s: {' '.join(cmd)}\n"
                    f"{_tail(exc.stdout)}{_tail(exc.stderr)}\n{daemons}")
    assert r.returncode == 0, f"{' '.join(cmd)} failed:\n{_tail(r.stdout)}\n{_tail(r.stderr, 12000)}"
    return r.stdout + r.stderr


def _submitted_jobs(log: str) -> list[dict]:
    """(rule, snakemake resources, SLURM job id) of every job the executor submitted.

    Snakemake prints a block per job (``rule NAME:`` ... ``jobid: N`` ... ``resources: ...``) and,
    possibly after other blocks, ``Job N has been submitted with SLURM jobid X``.
    """
    blocks: dict[str, dict] = {}
    current: dict | None = None
    for line in log.splitlines():
        if m := re.match(r"(local)?rule (\w+):$", line.strip()):
            current = {"rule": m.group(2), "local": bool(m.group(1))}
        elif current is not None and (m := re.match(r"jobid: (\d+)$", line.strip())):
            blocks[m.group(1)] = current
        elif current is not None and line.strip().startswith("resources:"):
            current.update({k: int(v) for k, v in re.findall(r"\b(mem_mb|runtime)=(\d+)", line)})
    jobs = []
    for jobid, slurm_id in re.findall(r"Job (\d+) has been submitted with SLURM jobid (\d+)", log):
        jobs.append({**blocks[jobid], "slurm_id": slurm_id})
    return jobs


def _minutes(limit: str) -> int:
    """SLURM time limit ``[D-]HH:MM:SS`` / ``MM:SS`` as whole minutes."""
    days, _, hms = limit.rpartition("-")
    parts = [int(x) for x in hms.split(":")]
    while len(parts) < 3:
        parts.insert(0, 0)
    return int(days or 0) * 1440 + parts[0] * 60 + parts[1] + (parts[2] > 0)


def _atlas_snapshot(run: Path, dest: Path) -> Path:
    shutil.copytree(run / "results" / "atlas", dest / "atlas")
    shutil.copy(run / "results" / "private" / "id_map.tsv", dest / "id_map.tsv")
    return dest


def test_slurm_atlas_equals_local_atlas(slurm, small_run, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(small_run / "config", run / "config")
    (run / "bams").symlink_to((small_run / "bams").resolve())
    sheet = pd.read_csv(run / "config" / "samples.tsv", sep="\t", dtype=str)
    assert len(sheet) == 12  # the small cohort: 2 patients x 6 samples

    # 1. local executor, with the local profile: the session's shared run (conftest small_run)
    local = _atlas_snapshot(small_run, tmp_path / "local")

    # 2. the same sheets and BAMs through SLURM, with the slurm profile
    log = _snakemake(run, slurm, ["--workflow-profile", str(REPO / "workflow" / "profiles" / "slurm"), *SLURM_ARGS],
                     slurm_env=slurm)
    jobs = _submitted_jobs(log)
    rules = [j["rule"] for j in jobs]
    # every patient's QC (its samples one after another: workflow/rules/qc.smk) ran as a SLURM job
    assert rules.count("qc") == sheet["patient_id"].nunique() == 2, rules
    assert {"prepare_reference", "atlas"} <= set(rules), rules
    assert not any(j["local"] for j in jobs)
    assert not re.search(r"localrule (qc|atlas|prepare_reference):", log)  # none ran on the submit host

    # 3. the declared resources reached sbatch: SLURM's own record of each job (MinJobAge keeps it)
    q = subprocess.run(["squeue", "-h", "-t", "all", "-o", "%i|%k|%m|%l|%T"], env=slurm, capture_output=True,
                       text=True, timeout=30)
    assert q.returncode == 0, q.stderr
    seen = {f[0]: f[1:] for f in (line.split("|") for line in q.stdout.splitlines())}
    for job in jobs:
        comment, mem, limit, state = seen[job["slurm_id"]]
        # the executor's comment: rule_<rule> (+ _wildcards_<values> for rules with wildcards)
        assert comment.strip().split("_wildcards_")[0] == f"rule_{job['rule']}", (job, comment)
        assert state == "COMPLETED", (job, state)
        assert mem == f"{job['mem_mb']}M", (job, mem)
        assert _minutes(limit) == job["runtime"], (job, limit)

    # 4. the atlases are equal
    slurm_copy = _atlas_snapshot(run, tmp_path / "slurm")
    names = sorted(p.name for p in (local / "atlas").glob("*.parquet"))
    assert names == sorted(p.name for p in (slurm_copy / "atlas").glob("*.parquet"))
    assert {"patients.parquet", "samples.parquet"} <= set(names)
    for name in names:
        a, b = pq.read_table(local / "atlas" / name), pq.read_table(slurm_copy / "atlas" / name)
        # tables of stages not yet in the workflow are written empty (full schema) by both runs
        assert a.num_rows > 0 or name not in {"patients.parquet", "samples.parquet"}, name
        assert a.equals(b, check_metadata=True), name
    assert pq.read_table(slurm_copy / "atlas" / "samples.parquet").num_rows == len(sheet)
    m_local = json.loads((local / "atlas" / "manifest.json").read_text())
    m_slurm = json.loads((slurm_copy / "atlas" / "manifest.json").read_text())
    m_local.pop("created_utc"), m_slurm.pop("created_utc")
    assert m_local == m_slurm
    assert (local / "id_map.tsv").read_text() == (slurm_copy / "id_map.tsv").read_text()
