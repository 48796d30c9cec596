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


@pytest.fixture(scope="session")
def demo_run(tmp_path_factory) -> Path:
    """ONE demo run per test session: simulate the demo cohort OUTSIDE the repository and run
    the workflow there with `-s <repo>/Snakefile --directory <run> --configfile <run>/config/config.yaml`.

    Slow tests share it. Returns the run directory (holding config/, bams/, truth/, results/).
    """
    reuse = os.environ.get("UNLOCK_ATLAS_TEST_DEMO_RUN")
    if reuse:  # developers: point at a finished demo run to iterate on the slow tests (never set in CI)
        return Path(reuse)
    run = tmp_path_factory.mktemp("demo_run")
    sim = run_cmd([BIN / "unlock-atlas", "simulate", "--out", run, "--seed", "1", "--cohort", "demo", "--threads", "2"])
    assert sim.returncode == 0, sim.stdout + sim.stderr
    smk = run_cmd([BIN / "snakemake", "-s", REPO / "Snakefile", "--directory", run,
                   "--configfile", run / "config" / "config.yaml", "--cores", "2"], cwd=tmp_path_factory.getbasetemp(),
                  timeout=3000)
    assert smk.returncode == 0, smk.stdout[-5000:] + smk.stderr[-10000:]
    return run
