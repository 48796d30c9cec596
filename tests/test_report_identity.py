"""The report's QC section flags samples that failed the germline identity check (issue 10)."""

from __future__ import annotations

import pandas as pd

from unlock_atlas.report.molecular import _identity


def _samples(ok: list) -> pd.DataFrame:
    return pd.DataFrame({"patient_id": ["aaaaaaaaaaaa", "aaaaaaaaaaaa", "bbbbbbbbbbbb"],
                         "sample_id": ["s1s1s1s1s1s1", "s2s2s2s2s2s2", "s3s3s3s3s3s3"],
                         "sample_type": ["normal", "tissue", "tissue"], "timepoint": [None, "baseline", "progression"],
                         "identity_ok": pd.array(ok, dtype="boolean")})


def test_failed_sample_is_listed_with_its_consequence() -> None:
    html = _identity(_samples([True, True, False]))
    assert "Sample identity failures (1 of 3 samples)" in html
    assert "s3s3s3s3s3s3" in html and "s1s1s1s1s1s1" not in html
    assert "withheld" in html and 'href="patients/' in html


def test_all_match_and_not_checked() -> None:
    assert "all 3 checked samples match" in _identity(_samples([True, True, True]))
    assert "not checked" in _identity(_samples([None, None, None]))
