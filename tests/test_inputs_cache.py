"""The validated-run cache job processes load instead of re-validating the sheets (issue 25).

Truth: the run loaded by :func:`load_run` itself (the cache must return the same frames), and
edits made by the test (a changed cell must never be answered from the cache).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import yaml
from test_inputs import GRCH38, PATIENTS, SAMPLES, write_bam, write_tsv

from unlock_atlas.inputs import cache as cache_mod
from unlock_atlas.inputs import load_run
from unlock_atlas.inputs.cache import load_run_cached, run_cache_key

CONFIG = {"patients": "config/patients.tsv", "samples": "config/samples.tsv",
          "reference": {"fasta": "{data_dir}/reference_grch38/panel_genes.GRCh38.fa",
                        "gtf": "{data_dir}/transcripts_grch38/panel_mane_select.GRCh38.gtf",
                        "panel_genes": ["EGFR", "KRAS", "BRAF"]}}


@pytest.fixture()
def run_dir(tmp_path: Path, shared_data: Path) -> Path:
    d = tmp_path / "run"
    (d / "config").mkdir(parents=True)
    (d / "config" / "config.yaml").write_text(yaml.safe_dump(CONFIG))
    write_tsv(d / "config" / "patients.tsv", PATIENTS)
    write_tsv(d / "config" / "samples.tsv", SAMPLES)
    for row in SAMPLES[1:]:
        write_bam(d / row[5], GRCH38)
    return d


def _counting_load_run(monkeypatch) -> list:
    calls = []

    def counted(*args, **kw):
        calls.append(kw.get("check_files"))
        return load_run(*args, **kw)

    monkeypatch.setattr(cache_mod, "load_run", counted)
    return calls


def test_job_process_loads_the_main_process_run_without_validating(run_dir, monkeypatch):
    calls = _counting_load_run(monkeypatch)
    main = load_run_cached(dict(CONFIG), run_dir, "results/private", check_files=True)
    assert calls == [True]
    stored = list((run_dir / "results" / "private").glob("run.*.pickle"))
    assert [p.name for p in stored] == [f"run.{run_cache_key(CONFIG, run_dir)}.pickle"]

    job = load_run_cached(dict(CONFIG), run_dir, "results/private", check_files=False)
    assert calls == [True]  # no validation in the job process
    reference = load_run(dict(CONFIG), run_dir, check_files=False)
    pd.testing.assert_frame_equal(job.samples, reference.samples)
    pd.testing.assert_frame_equal(job.patients, reference.patients)
    assert job.config == reference.config and job.config_hash() == main.config_hash()
    assert str(job.samples["purity"].dtype) == "Float64" and job.samples.loc[1, "purity"] == 0.45
    # the main process always validates again (files may have changed since)
    load_run_cached(dict(CONFIG), run_dir, "results/private", check_files=True)
    assert calls == [True, True]


def test_an_edited_sheet_or_config_is_never_answered_from_the_cache(run_dir, monkeypatch):
    load_run_cached(dict(CONFIG), run_dir, "results/private", check_files=True)
    key = run_cache_key(CONFIG, run_dir)
    rows = [list(r) for r in SAMPLES]
    rows[2][rows[0].index("purity")] = "0.6"
    write_tsv(run_dir / "config" / "samples.tsv", rows)
    assert run_cache_key(CONFIG, run_dir) != key
    calls = _counting_load_run(monkeypatch)
    job = load_run_cached(dict(CONFIG), run_dir, "results/private", check_files=False)
    assert calls == [False] and job.samples.loc[1, "purity"] == 0.6
    # only the newest run is kept
    assert len(list((run_dir / "results" / "private").glob("run.*.pickle"))) == 1
    other = {**CONFIG, "reference": {**CONFIG["reference"], "panel_genes": ["EGFR"]}}
    assert run_cache_key(other, run_dir) != run_cache_key(CONFIG, run_dir)


def test_a_damaged_cache_file_is_ignored(run_dir, monkeypatch):
    load_run_cached(dict(CONFIG), run_dir, "results/private", check_files=True)
    (path,) = (run_dir / "results" / "private").glob("run.*.pickle")
    path.write_bytes(path.read_bytes()[:100])
    calls = _counting_load_run(monkeypatch)
    job = load_run_cached(dict(CONFIG), run_dir, "results/private", check_files=False)
    assert calls == [False] and list(job.samples["sample_id"]) == [r[1] for r in SAMPLES[1:]]


def test_sheet_paths_that_need_the_data_directory_are_not_cached(run_dir):
    cfg = {**CONFIG, "samples": "{data_dir}/samples.tsv"}
    assert run_cache_key(cfg, run_dir) is None
