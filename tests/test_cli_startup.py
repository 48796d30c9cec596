"""Every workflow job starts `unlock-atlas`: building its parser must not import the heavy stack.

Before lazy package exports, registering the sub-commands imported scanpy, anndata and scipy.stats
(~2-3 s of CPU per job, ~10 CPU-minutes over the demo's 210 jobs). Checked in a fresh interpreter.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

HEAVY = ["scanpy", "anndata", "scipy.stats", "pandas", "pyarrow", "matplotlib", "pysam", "cyvcf2", "sklearn"]


def test_parser_imports_nothing_heavy() -> None:
    code = ("import sys, json; from unlock_atlas.cli import build_parser; p = build_parser(); "
            "p.parse_args(['qc', 'x.bam', '--panel', 'p.bed', '--sample-id', 's', '-o', 'o.json']); "
            f"print(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout) == []


def test_lazy_exports_still_resolve() -> None:
    """The packages' public names (``from unlock_atlas.calling import call_patient``) still work."""
    import unlock_atlas.calling as calling
    import unlock_atlas.qc as qc
    from unlock_atlas.calling import call_patient
    from unlock_atlas.calling.caller import call_patient as direct

    assert call_patient is direct
    assert "call_patient" in dir(calling) and qc.bam_qc.__module__ == "unlock_atlas.qc.metrics"
    with pytest.raises(AttributeError, match="not_a_name"):
        calling.not_a_name  # noqa: B018
