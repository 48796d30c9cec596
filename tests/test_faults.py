"""Faults, privacy, determinism and the sample-swap must-show on ONE simulated small cohort (slow).

The session's shared small cohort (conftest ``small_sim``: seed 7, simulated once and cached)
feeds every run here; the run directories share its BAMs through a symlink. Run A is the
session's clean full run (conftest ``small_run``, also the SLURM test's local reference). Run B is killed
(SIGKILL of the whole Snakemake process group) once the first patient's calls exist, then
unlocked and resumed: its atlas must equal run A's table for table, row for row -- which shows
both the resume after a crash and determinism across two runs. Run A's shareable outputs are
scanned for the raw IDs, calendar dates and filesystem paths of its inputs. The swap test
copies run A, swaps two tumour BAMs between the two patients and reruns.

Both runs use the same pseudonymisation key (``UNLOCK_ATLAS_KEY``): pseudonyms are keyed, so
two runs with different generated keys are *meant* to differ.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import time
import zlib
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest
from conftest import BIN, REPO, small_run_dir, snakemake
from conftest import SMALL_DATES as DATES
from conftest import SMALL_ENV as ENV

pytestmark = pytest.mark.slow


def _smk(run: Path, *extra: str, timeout: int = 1500) -> subprocess.CompletedProcess:
    return snakemake(run, "--cores", "2", *extra, env=ENV, timeout=timeout)


def _atlas_tables(run: Path) -> dict[str, object]:
    return {p.stem: pq.read_table(p) for p in sorted((run / "results" / "atlas").glob("*.parquet"))}


def test_killed_run_resumes_to_the_same_atlas(small_sim, small_run, tmp_path):
    run = small_run_dir(small_sim, tmp_path / "run_b")
    log = open(tmp_path / "killed.log", "w")
    proc = subprocess.Popen([str(BIN / "snakemake"), "-s", str(REPO / "Snakefile"), "--directory", str(run),
                             "--configfile", str(run / "config" / "config.yaml"), "--cores", "2"],
                            stdout=log, stderr=subprocess.STDOUT, env=ENV, cwd=tmp_path, start_new_session=True)
    parts = run / "results" / "tables" / "variants"
    deadline = time.monotonic() + 900
    while not (parts.is_dir() and any(parts.glob("UNL*.parquet"))):
        assert proc.poll() is None, "the workflow ended before it could be killed"
        assert time.monotonic() < deadline, "no variants part after 15 min"
        time.sleep(0.5)
    os.killpg(proc.pid, signal.SIGKILL)      # the scheduler and every running job, mid-way
    proc.wait()
    log.close()
    assert not (run / "results" / "atlas").exists()
    r = _smk(run, "--unlock")
    assert r.returncode == 0, r.stderr[-3000:]
    r = _smk(run, "--rerun-incomplete", "results/atlas")
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-8000:]
    # determinism + resume: identical atlas tables (schema, row order and values) to the clean run
    a, b = _atlas_tables(small_run), _atlas_tables(run)
    assert sorted(a) == sorted(b) and len(a) >= 10
    for name in a:
        assert a[name].equals(b[name]), f"atlas table {name} differs between the two runs"
    assert sum(t.num_rows for t in a.values()) > 100
    # nothing stale from the killed jobs under a final name: every variants part reads
    for p in parts.glob("*.parquet"):
        if not p.name.startswith("."):
            pq.read_table(p)


def test_atlas_is_replaced_all_or_nothing(small_run, tmp_path):
    """A failure while writing the atlas leaves the previous atlas untouched and no temp dir behind."""
    from unlock_atlas.atlas.build import build_atlas
    from unlock_atlas.inputs import load_run
    from unlock_atlas.qc.metrics import read_qc_json

    run = tmp_path / "copy"
    shutil.copytree(small_run, run, symlinks=True, ignore=shutil.ignore_patterns(".snakemake"))
    before = {p.name: p.read_bytes() for p in (run / "results" / "atlas").iterdir()}
    bad = run / "results" / "tables" / "mechanisms" / "UNL002.parquet"
    bad.write_bytes(b"not parquet")          # a corrupt part: the atlas build fails half-way
    loaded = load_run(run / "config" / "config.yaml", run, check_files=False)
    qc = {r.sample_id: read_qc_json(run / "results" / "qc" / r.patient_id / f"{r.sample_id}.json")
          for r in loaded.samples.itertuples()}
    from unlock_atlas.contract.parts import PartError

    with pytest.raises(PartError):
        build_atlas(loaded.patients, loaded.samples, qc, run / "results" / "atlas", run / "results" / "private",
                    reference_build="GRCh38", config_hash="x", qc_thresholds={}, parts_dir=run / "results" / "tables")
    after = {p.name: p.read_bytes() for p in (run / "results" / "atlas").iterdir()}
    assert after == before
    assert not [p for p in (run / "results").iterdir() if p.name.startswith(".atlas")]


def _texts(path: Path) -> list[str]:
    """Every text a shareable file carries: Parquet cell values and metadata, deflated PDF streams, raw bytes."""
    data = path.read_bytes()
    out = [data.decode("latin-1")]
    if path.suffix == ".parquet":
        t = pq.read_table(path)
        out.append(str(t.schema.metadata))
        for col in t.columns:
            out.append("\n".join(str(v) for v in col.to_pylist()))
    if path.suffix == ".pdf":
        for m in re.finditer(rb"stream\r?\n(.*?)endstream", data, re.S):
            try:
                out.append(zlib.decompress(m.group(1)).decode("latin-1"))
            except zlib.error:
                pass
    return out


def test_shareable_outputs_carry_no_raw_ids_dates_or_paths(small_run, shared_data):
    sheet_p = pd.read_csv(small_run / "config" / "patients.tsv", sep="\t", dtype=str)
    sheet_s = pd.read_csv(small_run / "config" / "samples.tsv", sep="\t", dtype=str)
    needles = set(sheet_p.patient_id) | set(sheet_s.sample_id) | set(DATES.values())
    needles |= {d.replace("-", "") for d in DATES.values()} | {"/".join(reversed(d.split("-"))) for d in DATES.values()}
    needles |= {str(small_run), str(small_run.resolve()), str(shared_data), str(REPO), "bams/", ".bam"}
    files = [p for d in ("atlas", "report", "export") for p in (small_run / "results" / d).rglob("*") if p.is_file()]
    kinds = {p.suffix for p in files}
    assert {".parquet", ".json", ".html", ".maf"} <= kinds, kinds
    leaks = [(str(p.relative_to(small_run)), n) for p in files for text in _texts(p) for n in needles if n in text]
    assert not sorted(set(leaks)), sorted(set(leaks))[:20]
    # the raw IDs are where they belong: the private map
    idmap = pd.read_csv(small_run / "results" / "private" / "id_map.tsv", sep="\t")
    assert set(sheet_s.sample_id) <= set(idmap.raw_id)
    assert idmap.pseudonym.str.fullmatch(r"[0-9a-f]{12}").all()


# ------------------------------------------------------------------ identity must-show: two swapped samples

def test_swapped_samples_in_the_small_cohort_are_detected(small_run, tmp_path):
    """Must-show (issue 10): swap the progression-tissue BAMs of UNL001 and UNL002 in a copy of the
    small cohort's sheet (run directory with a space in its name: paths with spaces), rerun."""
    run = tmp_path / "swap run"
    # keep Snakemake's metadata (minus locks) so the rerun sees which jobs' inputs the swap changed
    shutil.copytree(small_run, run, symlinks=True, ignore=shutil.ignore_patterns("locks", "incomplete", "log"))
    sheet = pd.read_csv(run / "config" / "samples.tsv", sep="\t", dtype=str, keep_default_na=False)
    a, b = sheet.sample_id == "UNL001-T-PD", sheet.sample_id == "UNL002-T-PD"
    bam_a, bam_b = sheet.loc[a, "bam"].item(), sheet.loc[b, "bam"].item()
    sheet.loc[a, "bam"], sheet.loc[b, "bam"] = bam_b, bam_a
    sheet.to_csv(run / "config" / "samples.tsv", sep="\t", index=False)
    r = _smk(run, "results/atlas")
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-5000:]
    ids = pd.read_csv(run / "results" / "identity" / "samples.tsv", sep="\t").set_index("sample_id")
    assert set(ids.index[ids.status == "mismatch"]) == {"UNL001-T-PD", "UNL002-T-PD"}
    assert ids.loc["UNL001-T-PD", "matches_patient"] == "UNL002"
    assert ids.loc["UNL002-T-PD", "matches_patient"] == "UNL001"
    assert (ids.drop(["UNL001-T-PD", "UNL002-T-PD"]).status == "ok").all()
    # classification stopped for both patients: no mechanisms, no alterations
    for p in ("UNL001", "UNL002"):
        assert len(pd.read_parquet(run / "results" / "tables" / "mechanisms" / f"{p}.parquet")) == 0
    # the atlas carries it (pseudonymised): exactly the two swapped samples have identity_ok false
    import unlock_atlas

    atlas = unlock_atlas.load_atlas(run / "results")
    idmap = pd.read_csv(run / "results" / "private" / "id_map.tsv", sep="\t")
    raw = dict(zip(idmap.pseudonym, idmap.raw_id))
    bad = {raw[s] for s in atlas.samples.loc[atlas.samples.identity_ok == False, "sample_id"]}  # noqa: E712
    assert bad == {"UNL001-T-PD", "UNL002-T-PD"}
    assert len(atlas.mechanisms) == 0
