"""Non-genetic resistance candidates from scRNA programme scores (issue 7 link to issue 6).

Expected outcomes follow the rule written in the issue ("no genetic mechanism but high persister /
EMT score -> non-genetic candidate") with the documented thresholds; the numbers are hand-built.
"""

from __future__ import annotations

import pandas as pd
from test_classify_rules import acquired_snv, make_patient

from unlock_atlas.classify.nongenetic import programme_shifts
from unlock_atlas.classify.stage import classify


def _sc(f_base: float, f_prog: float, n: int = 500, baseline: bool = True) -> pd.DataFrame:
    rows = []
    for sid, tp, f in (("T-BL", "baseline", f_base), ("T-PD", "progression", f_prog)):
        if tp == "baseline" and not baseline:
            continue
        for prog in ("persister", "emt_partial", "mpas"):
            rows.append({"patient_id": "PX", "sample_id": sid, "timepoint": tp, "cell_type": "epithelial",
                         "malignant": True, "programme": prog,
                         "method": "zsum_sqrt_n" if prog == "mpas" else "score_genes", "verified": True,
                         "n_cells": n, "mean_score": 0.1, "fraction_high": f if prog == "persister" else 0.1,
                         "high_threshold": 0.0, "genes_measured": 4})
        # non-malignant cells with a large shift must not count
        rows.append({"patient_id": "PX", "sample_id": sid, "timepoint": tp, "cell_type": "fibroblast",
                     "malignant": False, "programme": "emt_partial", "method": "score_genes", "verified": True,
                     "n_cells": 300, "mean_score": 0.5, "fraction_high": 0.9 if tp == "progression" else 0.05,
                     "high_threshold": 0.0, "genes_measured": 14})
    return pd.DataFrame(rows)


def _mechanisms(pat):
    res = classify(pat)
    return res.mechanisms


def test_persister_shift_without_genetic_mechanism_is_a_non_genetic_candidate() -> None:
    pat = make_patient("osimertinib")
    pat.sc_programs = _sc(0.10, 0.55)
    mech = _mechanisms(pat)
    assert len(mech) == 1
    row = mech.iloc[0]
    assert (row["class"], row["subclass"]) == ("other", "NON_GENETIC")
    assert "persister high in 10% of 500 malignant cells" in row["evidence"]
    assert "Shaffer" in row["citation"] and "Puram" in row["citation"]


def test_small_shift_or_no_baseline_stays_unknown() -> None:
    pat = make_patient("osimertinib")
    pat.sc_programs = _sc(0.10, 0.25)           # +0.15 < 0.20, although significant at n = 500
    mech = _mechanisms(pat)
    assert list(mech["subclass"]) == ["UNKNOWN"] and "persister" in mech.iloc[0]["note"]
    pat.sc_programs = _sc(0.10, 0.9, baseline=False)
    mech = _mechanisms(pat)
    assert list(mech["subclass"]) == ["UNKNOWN"] and "not assessable" in mech.iloc[0]["note"]


def test_shift_needs_enough_cells() -> None:
    # +0.30 on 12 cells per biopsy: pooled 0.35, se 0.195, z = 1.54, one-sided p = 0.06 > 0.01 / 2
    shifts = programme_shifts(_sc(0.2, 0.5, n=12))
    persister = next(s for s in shifts if s["programme"] == "persister")
    assert not persister["significant"] and 0.05 < persister["p_value"] < 0.1


def test_genetic_mechanism_takes_precedence() -> None:
    pat = make_patient("osimertinib", acquired_snv("EGFR", 55181398, "p.Cys797Ser"))
    pat.sc_programs = _sc(0.10, 0.55)
    mech = _mechanisms(pat)
    assert "NON_GENETIC" not in set(mech["subclass"]) and "ON_TARGET_MUT" in set(mech["subclass"])
