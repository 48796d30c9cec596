"""The cohort report (issue 8): built from a synthetic atlas written through the real atlas writer.

Expected values come from the synthetic cohort's truth (benchmarks/report/synth.py counts the
patients, biopsies and planted on-target / bypass alterations from its scenarios) and from the
atlas's own cohort_summary read with pyarrow, never from the report code.
"""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from conftest import REPO

from unlock_atlas.cli import main
from unlock_atlas.report.data import HEADLINE


def _synth():
    spec = importlib.util.spec_from_file_location("report_synth", REPO / "benchmarks" / "report" / "synth.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def build_cohort(root: Path, n: int = 9, stages: tuple[str, ...] | None = None) -> tuple[Path, dict, Path]:
    """A synthetic atlas (every scenario once when n = 9) and its report; (results, truth, report dir)."""
    results, truth = _synth().make_cohort(root, n, stages=stages)
    out = results / "report"
    assert main(["report", str(results / "atlas"), "-o", str(out)]) == 0
    return results, truth, out


@pytest.fixture(scope="module")
def cohort(tmp_path_factory) -> tuple[Path, dict, Path]:
    return build_cohort(tmp_path_factory.mktemp("report"))


def headline_shown(html: str) -> dict[str, str]:
    """metric -> the displayed value text of its headline card."""
    return dict(re.findall(r'data-metric="([a-z_]+)"[^>]*><div class="value">([^<]*)</div>', html))


def expected_display(value: float | None, unit: str) -> str:
    """The atlas value at the precision the report promises (counts whole, percent one decimal)."""
    if value is None:
        return "–"
    return f"{value:.1f} %" if unit == "percent" else f"{value:,.0f}"


def test_outputs_exist_and_are_self_contained(cohort):
    results, truth, out = cohort
    html = (out / "cohort_report.html").read_text()
    pats = pq.read_table(results / "atlas" / "patients.parquet").column("patient_id").to_pylist()
    assert len(pats) == truth["patients_included"] == 9
    # every patient has a page, linked from the cohort view
    for pid in pats:
        assert (out / "patients" / f"{pid}.html").is_file()
        assert f'href="patients/{pid}.html"' in html
    # offline: no external URL is loaded (the only http(s) string allowed is the SVG namespace)
    for page in [out / "cohort_report.html", *sorted((out / "patients").glob("*.html"))[:3]]:
        text = page.read_text()
        urls = set(re.findall(r'(?:src|href)\s*=\s*"(https?:[^"]*)"', text)) | set(re.findall(r"url\(\s*['\"]?https?:", text))
        assert not urls, f"{page.name} references external URLs: {urls}"
        assert "<style>" in text and "<script>" in text
    pdf = out / "cohort_summary.pdf"
    assert pdf.read_bytes()[:5] == b"%PDF-" and pdf.stat().st_size > 5000


def test_headline_equals_atlas_cohort_summary_and_truth(cohort):
    results, truth, out = cohort
    cs = pq.read_table(results / "atlas" / "cohort_summary.parquet").to_pandas()
    allrows = cs[cs["stratum"] == "all"].set_index("metric")
    shown = headline_shown((out / "cohort_report.html").read_text())
    assert set(shown) == set(HEADLINE)
    for metric in HEADLINE:
        v = allrows.at[metric, "value"]
        assert shown[metric] == expected_display(None if v != v else float(v), allrows.at[metric, "unit"]), metric
    # and the atlas figures are the synthetic cohort's truth (scenario counts)
    assert shown["patients_included"] == str(truth["patients_included"])
    assert shown["biopsies"] == str(truth["biopsies"])
    assert shown["sequenced_samples"] == str(truth["sequenced_samples"])
    assert shown["resistance_alterations_on_target"] == str(truth["on_target"])
    assert shown["resistance_alterations_bypass"] == str(truth["bypass"])


def test_sections_present_and_ids_pseudonymous(cohort):
    results, _, out = cohort
    html = (out / "cohort_report.html").read_text()
    for anchor in ("headline", "mechanisms", "oncoprint", "swimmer", "trajectories", "concordance", "copy-number",
                   "single-cell", "patients", "qc", "methods", "glossary"):
        assert f'<section id="{anchor}">' in html, anchor
    assert "Not available in this atlas" not in html          # every stage ran in this cohort
    # raw IDs (UNL0001...) never appear; only the 12-hex pseudonyms
    for page in [out / "cohort_report.html", *(out / "patients").glob("*.html")]:
        assert "UNL0" not in page.read_text(), page.name
    # mechanism genes of the scenarios reach the oncoprint (hover titles)
    for gene in ("EGFR p.C797S", "MET amplification", "NRAS p.Q61K", "ALK p.G1202R"):
        assert gene in html, gene


def test_patient_page_content(cohort):
    results, _, out = cohort
    mech = pq.read_table(results / "atlas" / "mechanisms.parquet").to_pandas()
    row = mech[(mech["gene"] == "EGFR")].iloc[0]
    page = (out / "patients" / f"{row['patient_id']}.html").read_text()
    assert "p.C797S" in page and "ON_TARGET_MUT" in page
    assert 'href="../cohort_report.html"' in page
    # the lead time shown is the atlas's (progression day - first plasma day)
    assert f">{int(row['lead_time_days'])}<" in page


def test_empty_tables_give_notes_not_crashes(tmp_path):
    _, truth, out = build_cohort(tmp_path, n=3, stages=())      # no stage parts: every part table empty
    html = (out / "cohort_report.html").read_text()
    sections = dict(re.findall(r'<section id="([a-z-]+)">(.*?)</section>', html, re.S))
    for anchor in ("oncoprint", "trajectories", "concordance", "copy-number", "single-cell"):
        assert "Not available in this atlas" in sections[anchor], anchor
    shown = headline_shown(html)
    assert shown["patients_included"] == "3" and shown["resistance_alterations_at_progression"] == "0"
    assert len(list((out / "patients").glob("*.html"))) == 3
