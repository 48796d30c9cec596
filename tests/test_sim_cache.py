"""The simulation cache (unlock_atlas.simulate.cache): simulate once, reuse until the simulator changes.

The simulator is replaced by a recorder that writes a tiny run directory, so these tests are fast
and count exactly how often the simulator ran; keys come from the real fingerprint (source files,
scenario bytes, shared data). The real simulator through the cache is exercised by
test_simulate.py (``simulate --cache``) and every slow test.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from unlock_atlas.simulate import cache
from unlock_atlas.simulate import run as simrun


@pytest.fixture
def recorder(monkeypatch, tmp_path):
    """Cache root in tmp; the simulator replaced by one that records its calls and writes a tiny cohort."""
    monkeypatch.setenv("UNLOCK_ATLAS_CACHE", str(tmp_path / "cache"))
    calls: list[dict] = []

    def fake(out, seed, cohort="demo", fastq=False, threads=2, data_dir=None, scenario=None, only_samples=None):
        out = Path(out)
        calls.append({"seed": seed, "cohort": cohort, "scenario": scenario})
        (out / "config").mkdir(parents=True, exist_ok=True)
        (out / "bams").mkdir(exist_ok=True)
        (out / "config" / "samples.tsv").write_text(f"sample_id\nS{seed}\n")
        (out / "bams" / "S.bam").write_bytes(b"BAM" * 1000 + str(seed).encode())
        return None

    monkeypatch.setattr(simrun, "simulate_cohort", fake)
    return calls


def _entries(root: Path) -> list[str]:
    return sorted(p.name for p in root.iterdir() if not p.name.startswith("."))


def test_second_request_is_reused_with_links_and_copies(recorder, tmp_path):
    assert cache.cached_simulation(tmp_path / "a", 3, cohort="small") == "simulated"
    assert cache.cached_simulation(tmp_path / "b", 3, cohort="small", threads=1) == "reused"  # threads: same data
    assert len(recorder) == 1
    a, b = tmp_path / "a", tmp_path / "b"
    assert (b / "config" / "samples.tsv").read_text() == "sample_id\nS3\n"
    # data files are hard links of one cached file; sheets are private copies a test may edit
    assert os.stat(a / "bams" / "S.bam").st_ino == os.stat(b / "bams" / "S.bam").st_ino
    assert os.stat(a / "config" / "samples.tsv").st_ino != os.stat(b / "config" / "samples.tsv").st_ino
    (b / "config" / "samples.tsv").write_text("edited\n")
    assert cache.cached_simulation(tmp_path / "c", 3, cohort="small") == "reused"
    assert (tmp_path / "c" / "config" / "samples.tsv").read_text() == "sample_id\nS3\n"
    # another seed, cohort or subset is another entry
    assert cache.cached_simulation(tmp_path / "d", 4, cohort="small") == "simulated"
    assert cache.cached_simulation(tmp_path / "e", 3, cohort="small", only_samples=["X"]) == "simulated"
    assert len(_entries(tmp_path / "cache")) == 3


def test_editing_the_scenario_makes_the_next_run_simulate_again(recorder, tmp_path):
    scn = tmp_path / "scenario.yaml"
    shutil.copy(cache.default_scenario_path(), scn)
    assert cache.cached_simulation(tmp_path / "a", 1, cohort="small", scenario=scn) == "simulated"
    assert cache.cached_simulation(tmp_path / "b", 1, cohort="small", scenario=scn) == "reused"
    scn.write_text(scn.read_text().replace("n_sites: 40", "n_sites: 41"))
    assert cache.cached_simulation(tmp_path / "c", 1, cohort="small", scenario=scn) == "simulated"
    assert len(recorder) == 2
    assert len(_entries(tmp_path / "cache")) == 1  # the stale entry of the same request is gone


def test_a_source_change_changes_the_fingerprint(tmp_path):
    srcs = cache.simulator_sources()
    names = {str(p.relative_to(cache.PACKAGE_DIR)) for p in srcs}
    # the simulator's own modules and what they import, transitively (reads -> reference.genome, sc simulator)
    assert {"simulate/reads.py", "simulate/run.py", "reference/genome.py", "reference/transcripts.py",
            "singlecell/simulate.py", "__init__.py"} <= names
    assert "calling/caller.py" not in names and "atlas/build.py" not in names
    copies = []
    for p in srcs[:5]:
        copies.append(tmp_path / p.name)
        shutil.copy(p, copies[-1])
    before = cache.simulator_fingerprint(sources=copies)
    assert cache.simulator_fingerprint(sources=copies) == before
    copies[2].write_text(copies[2].read_text() + "\n# an edit\n")
    assert cache.simulator_fingerprint(sources=copies) != before


def test_an_interrupted_simulation_is_never_reused(recorder, monkeypatch, tmp_path):
    real = simrun.simulate_cohort

    def dies(out, *a, **kw):
        real(out, *a, **kw)  # writes files, then the process is interrupted before it finishes
        raise KeyboardInterrupt

    monkeypatch.setattr(simrun, "simulate_cohort", dies)
    with pytest.raises(KeyboardInterrupt):
        cache.cached_simulation(tmp_path / "a", 5, cohort="small")
    root = tmp_path / "cache"
    assert _entries(root) == [] and not list(root.glob(".tmp-*"))
    # a tmp dir left by a killed process (no cleanup ran) is removed, not reused
    (root / ".tmp-small-seed5-bam-killed").mkdir()
    monkeypatch.setattr(simrun, "simulate_cohort", real)
    assert cache.cached_simulation(tmp_path / "b", 5, cohort="small") == "simulated"
    assert not list(root.glob(".tmp-*"))


def test_a_modified_entry_is_rebuilt(recorder, tmp_path):
    cache.cached_simulation(tmp_path / "a", 2, cohort="small")
    entry = tmp_path / "cache" / _entries(tmp_path / "cache")[0]
    manifest = json.loads((entry / cache.MANIFEST).read_text())
    assert set(manifest["files"]) == {"config/samples.tsv", "bams/S.bam"}
    with open(tmp_path / "a" / "bams" / "S.bam", "ab") as fh:  # written through a hard link
        fh.write(b"x")
    assert cache.cached_simulation(tmp_path / "b", 2, cohort="small") == "simulated"
    assert (tmp_path / "b" / "bams" / "S.bam").read_bytes().endswith(b"2")


def test_cache_off(recorder, monkeypatch, tmp_path):
    monkeypatch.setenv("UNLOCK_ATLAS_CACHE", "off")
    assert cache.cache_root() is None
    assert cache.cached_simulation(tmp_path / "a", 1) == "uncached"
    assert cache.cached_simulation(tmp_path / "b", 1) == "uncached"
    assert len(recorder) == 2


def test_default_root_follows_xdg(monkeypatch, tmp_path):
    monkeypatch.delenv("UNLOCK_ATLAS_CACHE", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert cache.cache_root() == tmp_path / "unlock-atlas" / "sim"
