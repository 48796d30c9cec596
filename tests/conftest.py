"""Shared fixtures. Tests that need the shared GRCh38 data FAIL (never skip) when it is missing."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from unlock_atlas.paths import resolve_data_dir


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The shared GRCh38 data directory (config-free resolution: $UNLOCK_ATLAS_DATA → ../shared/data)."""
    return resolve_data_dir(None)


@pytest.fixture(scope="session")
def region_fasta(shared_data: Path) -> Path:
    return shared_data / "reference_grch38" / "panel_genes.GRCh38.fa"


@pytest.fixture(scope="session")
def mane_gtf(shared_data: Path) -> Path:
    return shared_data / "transcripts_grch38" / "panel_mane_select.GRCh38.gtf"


#: The demo panel's genes (all have real sequence in ../shared/data); ~44.5 kb of coding exons ± 20 bp.
DEMO_PANEL_GENES = [
    "EGFR", "KRAS", "BRAF", "MET", "ALK", "PIK3CA", "NRAS", "MAP2K1", "TP53",
    "PTEN", "NF2", "STK11", "CDK4", "RB1", "RET", "CDKN2A", "MAP2K2",
]


REPO = Path(__file__).resolve().parents[1]
BIN = Path(__import__("sys").executable).parent


def run_cmd(args: list[str], cwd: Path | None = None, timeout: int = 1800):
    """Run a command, returning CompletedProcess; on failure the assertion shows its output."""
    import subprocess

    return subprocess.run([str(a) for a in args], cwd=cwd, capture_output=True, text=True, timeout=timeout)


def simulated(out: Path, cohort: str, seed: int, **kw) -> Path:
    """A simulated run directory at ``out``, taken from the simulation cache when the same request was
    simulated before by the same simulator code (unlock_atlas.simulate.cache; docs/testing.md)."""
    from unlock_atlas.simulate.cache import cached_simulation

    cached_simulation(out, seed, cohort=cohort, threads=kw.pop("threads", 2), **kw)
    return out


def snakemake(run: Path, *extra: str, env: dict | None = None, timeout: int = 3000):
    """The workflow (this repository's Snakefile) on the run directory ``run``; returns CompletedProcess."""
    import subprocess

    return subprocess.run([str(BIN / "snakemake"), "-s", str(REPO / "Snakefile"), "--directory", str(run),
                           "--configfile", str(run / "config" / "config.yaml"), *extra],
                          capture_output=True, text=True, timeout=timeout, env=env, cwd=run.parent)


@pytest.fixture(scope="session")
def demo_run(tmp_path_factory) -> Path:
    """ONE demo run per test session: the demo cohort (simulated once, cached outside the
    repository) through the workflow with `-s <repo>/Snakefile --directory <run> --configfile
    <run>/config/config.yaml`.

    Slow tests share it. Returns the run directory (holding config/, bams/, truth/, results/).
    """
    reuse = os.environ.get("UNLOCK_ATLAS_TEST_DEMO_RUN")
    if reuse:  # developers: point at a finished demo run to iterate on the slow tests (never set in CI)
        return Path(reuse)
    run = simulated(tmp_path_factory.mktemp("demo_run"), "demo", 1)
    smk = snakemake(run, "--cores", "2")
    assert smk.returncode == 0, smk.stdout[-5000:] + smk.stderr[-10000:]
    return run


#: The small cohort every small-cohort test shares: 2 patients x 6 samples, seed 7 (test_simulate,
#: calling truth, fusions, faults, SLURM and the second classification cohort all read it).
SMALL_SEED = 7
#: pseudonymisation key of the shared small-cohort runs: pseudonyms are keyed, so runs compared
#: table for table (resume after a kill, SLURM vs local) must share it
SMALL_KEY = "5eed" * 16
SMALL_ENV = {**os.environ, "UNLOCK_ATLAS_KEY": SMALL_KEY}
#: calendar treatment-start dates written into the shared run's sheet (the atlas must carry only days)
SMALL_DATES = {"UNL001": "2021-03-04", "UNL002": "2020-11-17"}


@pytest.fixture(scope="session")
def small_sim(tmp_path_factory) -> Path:
    """The small cohort (seed SMALL_SEED), simulated once and cached. Treat as read-only: copy
    its config into a new run directory (``small_run_dir``) to change anything."""
    return simulated(tmp_path_factory.mktemp("small_sim") / "run", "small", SMALL_SEED)


def small_run_dir(sim: Path, run: Path) -> Path:
    """A new run directory on the small cohort: copied config with calendar treatment-start
    dates (SMALL_DATES), the simulated BAMs and the simulator's truth tables linked."""
    import shutil

    import pandas as pd

    run.mkdir(parents=True)
    shutil.copytree(sim / "config", run / "config")
    (run / "bams").symlink_to(sim / "bams")
    (run / "truth").symlink_to(sim / "truth")
    p = pd.read_csv(run / "config" / "patients.tsv", sep="\t", dtype=str, keep_default_na=False)
    p["treatment_start"] = p["patient_id"].map(SMALL_DATES)
    p.to_csv(run / "config" / "patients.tsv", sep="\t", index=False)
    return run


@pytest.fixture(scope="session")
def small_run(small_sim, tmp_path_factory) -> Path:
    """ONE full workflow run of the small cohort per session (local profile, SMALL_KEY): the
    reference run that the faults, privacy, swap, SLURM and classification tests compare with."""
    run = small_run_dir(small_sim, tmp_path_factory.mktemp("small_run") / "run")
    r = snakemake(run, "--workflow-profile", str(REPO / "workflow" / "profiles" / "local"), "--cores", "2",
                  env=SMALL_ENV)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-8000:]
    return run
