"""Non-genetic resistance candidates from single-cell programme scores (resistance-biology.md §5).

A progressed patient with no genetic mechanism whose malignant cells moved into a drug-tolerant
state between the baseline and the progression biopsy gets a ``NON_GENETIC`` row (class
``other``), labelled a *candidate*: an expression state is evidence of association, not of cause.

Rule (per programme in :data:`PROGRAMMES`, malignant cells only, ``score_genes`` scores, which are
comparable between samples because each cell's score is relative to expression-matched control
genes):

* ``f_b``, ``f_p`` = fraction of malignant cells programme-high (score > 0) in the baseline and the
  progression biopsy (``sc_programs.fraction_high``; cells pooled when a timepoint has several
  biopsies);
* the shift counts when ``f_p - f_b >= MIN_SHIFT`` (0.20: a fifth of the tumour changing state is
  well above biopsy-to-biopsy sampling noise of a few per cent at ~500 malignant cells, and far
  below the near-complete switch seen in persister models, Sharma 2010) AND a one-sided
  two-proportion z-test gives ``p < ALPHA`` (0.01 / number of programmes tested: Bonferroni, since
  any one programme can make the call).

No baseline scRNA, no malignant cells, or a programme measured with < 2 genes → no call (the
reason is written in the unknown row's note instead). The gene sets and their citations are
``resources/singlecell/programmes.tsv`` (persister: Shaffer 2017 [R]; partial EMT: Puram 2017 [V]).
"""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
from scipy.stats import norm

from ..tables import concat_parts

#: programmes that mark a drug-tolerant / mesenchymal escape state (resistance-biology.md §5)
PROGRAMMES = ("persister", "emt_partial")
#: minimal absolute increase of the programme-high fraction of malignant cells (see module docstring)
MIN_SHIFT = 0.20
#: family-wise significance level over :data:`PROGRAMMES`
ALPHA = 0.01


def read_sc_programs(paths: list[str | Path]) -> pd.DataFrame:
    """Concatenate ``sc_programs`` parts (an empty list gives an empty frame)."""
    return concat_parts(paths, "sc_programs part", "rerun `unlock-atlas sc tables` for this biopsy")


def _pooled(df: pd.DataFrame) -> tuple[int, float]:
    n = int(df["n_cells"].sum())
    if n == 0:
        return 0, float("nan")
    return n, float((df["fraction_high"].fillna(0) * df["n_cells"]).sum() / n)


def programme_shifts(sc: pd.DataFrame) -> list[dict]:
    """Baseline → progression shift of each programme in malignant cells (empty when not testable)."""
    if sc is None or not len(sc):
        return []
    m = sc[(sc["malignant"] == True) & (sc["method"] == "score_genes")  # noqa: E712 - nullable boolean
           & sc["programme"].isin(PROGRAMMES) & (sc["genes_measured"] >= 2)]
    out = []
    alpha = ALPHA / len(PROGRAMMES)
    for prog in PROGRAMMES:
        p = m[m["programme"] == prog]
        n_b, f_b = _pooled(p[p["timepoint"] == "baseline"])
        n_p, f_p = _pooled(p[p["timepoint"] == "progression"])
        if n_b == 0 or n_p == 0:
            continue
        pool = (f_b * n_b + f_p * n_p) / (n_b + n_p)
        se = math.sqrt(pool * (1 - pool) * (1 / n_b + 1 / n_p)) if 0 < pool < 1 else 0.0
        z = (f_p - f_b) / se if se > 0 else (math.inf if f_p > f_b else 0.0)
        pval = float(norm.sf(z))
        out.append({"programme": prog, "n_baseline": n_b, "f_baseline": f_b, "n_progression": n_p,
                    "f_progression": f_p, "p_value": pval,
                    "significant": (f_p - f_b) >= MIN_SHIFT and pval < alpha})
    return out


def non_genetic_evidence(sc: pd.DataFrame) -> tuple[bool, str]:
    """Whether the patient's scRNA supports a non-genetic state change, and the evidence text."""
    shifts = programme_shifts(sc)
    if not shifts:
        return False, ("no baseline and progression single-cell data with malignant cells: non-genetic "
                       "resistance not assessable" if sc is not None and len(sc) else "")
    txt = "; ".join(f"{s['programme']} high in {s['f_baseline']:.0%} of {s['n_baseline']} malignant cells at "
                    f"baseline -> {s['f_progression']:.0%} of {s['n_progression']} at progression "
                    f"(one-sided p = {s['p_value']:.2g})" for s in shifts)
    hit = any(s["significant"] for s in shifts)
    rule = (f"shift >= {MIN_SHIFT:.2f} and p < {ALPHA}/{len(PROGRAMMES)} (Bonferroni)")
    return hit, f"scRNA programme scores (score_genes, malignant cells): {txt}; rule: {rule}"
