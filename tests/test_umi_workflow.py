"""The workflow with and without ``umi:`` (dry runs on the header-only run of tests/test_inputs.py).

``umi.mode: none`` (or no ``umi:``) must plan exactly the jobs of a run without UMI support;
``duplex`` adds one ``umi_consensus`` job per sample of the configured types and every consumer
reads ``results/umi/...``.
"""

from __future__ import annotations

import re

import pytest
from conftest import snakemake
from test_inputs import run_dir  # noqa: F401 (fixture)

#: three snakemake dry runs (~15 s of CPU, ~45 s on a loaded machine): no workflow run, but slow
pytestmark = pytest.mark.slow


def _dry(run, *extra):
    res = snakemake(run, "-n", "-p", "--cores", "1", "--forceall", *extra, timeout=600)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    return res.stdout


def _jobs(text: str) -> dict[str, int]:
    table = text.split("Job stats:")[1].split("total")[0] if "Job stats:" in text else ""
    return {m.group(1): int(m.group(2)) for m in re.finditer(r"^(\w+)\s+(\d+)\s*$", table, re.M)}


def test_umi_mode_switches_every_consumer_to_the_consensus_bam(run_dir):  # noqa: F811
    cfg = run_dir / "config" / "config.yaml"
    base = cfg.read_text()
    plain = _dry(run_dir)
    cfg.write_text(base + "umi:\n  mode: none\n")
    assert _jobs(_dry(run_dir)) == _jobs(plain)            # mode none: the same plan
    assert "umi_consensus" not in plain and "results/umi" not in plain

    cfg.write_text(base + "umi:\n  mode: duplex\n  sample_types: [plasma]\n")
    out = _dry(run_dir)
    jobs = _jobs(out)
    assert jobs.get("umi_consensus") == 2                   # P01-C3 and P02-C1
    assert {k: v for k, v in jobs.items() if k != "umi_consensus"} == _jobs(plain)
    assert "--mode duplex" in out
    assert "P01-C3=results/umi/P01/P01-C3.bam" in out       # the caller reads the consensus BAM
    assert "results/umi/P01/P01-T0.bam" not in out          # tissue is not a UMI sample type
