"""The domain module's shared definitions (unlock_atlas.domain): one meaning, one owner.

Expected values are written by hand from the definitions in docs (resistance-biology.md §4 for
"somatic", the alteration_id convention chrom:pos:ref>alt of docs/classification.md) and from
scipy's Wilson interval (an independent implementation).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from unlock_atlas.domain import allele_id, is_somatic, wilson
from unlock_atlas.export.maf import build_maf


def _rows() -> pd.DataFrame:
    # one PASS somatic call, one somatic candidate kept with FILTER low_evidence, one CH call, one germline
    return pd.DataFrame({
        "patient_id": ["P1"] * 4, "sample_id": ["S1"] * 4, "sample_type": ["plasma"] * 4,
        "chrom": ["chr7", "chr7", "chr2", "chr12"], "pos": [55181378, 55181398, 25234373, 25245350],
        "ref": ["C", "T", "C", "C"], "alt": ["T", "A", "T", "T"],
        "origin": ["somatic", "somatic", "chip", "germline"],
        "filter": ["PASS", "low_evidence", "chip", "germline"],
        "status": ["called"] * 4,
    })


def test_is_somatic_needs_origin_somatic_and_filter_pass() -> None:
    assert is_somatic(_rows()).tolist() == [True, False, False, False]


def test_allele_id_is_chrom_pos_ref_alt_whatever_the_pos_dtype() -> None:
    df = _rows().head(2)
    assert allele_id(df).tolist() == ["chr7:55181378:C>T", "chr7:55181398:T>A"]
    # a float column (pandas turns int columns with a missing value into float) still prints integers
    assert allele_id(df.astype({"pos": float})).tolist() == ["chr7:55181378:C>T", "chr7:55181398:T>A"]


def test_wilson_matches_scipy_and_is_nan_without_depth() -> None:
    for k, n in [(0, 10), (3, 500), (250, 500), (500, 500)]:
        ci = stats.binomtest(k, n).proportion_ci(0.95, method="wilson")
        lo, hi = wilson(k, n)
        assert np.isclose(float(lo), ci.low, atol=1e-12) and np.isclose(float(hi), ci.high, atol=1e-12)
    assert np.isnan(wilson(0, 0)).all()


def test_maf_somatic_is_the_domain_definition() -> None:
    samples = pd.DataFrame({"patient_id": ["P1"], "sample_id": ["S1"], "sample_type": ["plasma"]})
    v = _rows()
    for col in ("gene", "transcript", "refseq_transcript", "hgvsc", "hgvsp", "hgvsp_short", "consequence"):
        v[col] = None
    v = v.assign(kind="snv", alt_reads=10, ref_reads=490, depth=500, vaf=0.02)
    maf = build_maf(v, samples)
    # the low_evidence somatic candidate is not a somatic mutation; CH and germline need --origin
    assert maf["Start_Position"].tolist() == ["55181378"]
    both = build_maf(v, samples, origins=("somatic", "chip"))
    assert sorted(both["Start_Position"]) == ["25234373", "55181378"]
