"""PDF of the cohort summary page, drawn with matplotlib (PdfPages).

Route chosen for robustness: matplotlib is already a dependency and needs no browser, display or
network, so the PDF is produced identically on a cluster node, in CI and on a laptop. It holds
the summary page only (headline figures and the mechanism breakdown by drug and tumour type),
the part a programme lead forwards or prints; the HTML report stays the full document.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

from ..atomic import atomic_path
from .data import HEADLINE, HEADLINE_LABELS, ReportData, fmt_value
from .svg import CLASS_COLOURS

A4 = (8.27, 11.69)


def _strata(data: ReportData, prefix: str) -> list[tuple[str, dict[str, float]]]:
    cs = data.get("cohort_summary")
    out = []
    for s in sorted(x for x in cs["stratum"].unique() if x.startswith(prefix)):
        vals = {}
        for c in ("on_target", "bypass", "other"):
            got = data.summary_value(f"resistance_alterations_{c}", s)
            vals[c] = got[0] if got and got[0] is not None else 0.0
        out.append((s[len(prefix):], vals))
    return out


def write_summary_pdf(data: ReportData, out: Path, title: str) -> Path:
    """Write the one-page cohort summary to ``out`` (atomically)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.backends.backend_pdf import PdfPages

    fig = plt.figure(figsize=A4)
    fig.text(0.06, 0.965, title, fontsize=17, weight="bold", color="#14324f")
    m = data.manifest
    fig.text(0.06, 0.945, f"Unlock resistance atlas · pipeline {m.get('pipeline_version', '?')} · schema "
             f"{m.get('schema_version', '?')} · {m.get('reference_build', '')} · days from treatment start; "
             "pseudonymous IDs", fontsize=8, color="#5b6675")
    y = 0.91
    fig.text(0.06, y, "Headline figures", fontsize=13, weight="bold")
    y -= 0.03
    if data.get("cohort_summary") is None:
        fig.text(0.06, y, "Not available in this atlas (the cohort_summary table is empty).", fontsize=10)
        y -= 0.03
    else:
        for metric in HEADLINE:
            got = data.summary_value(metric)
            val = "–" if got is None else fmt_value(got[0], got[2])
            fig.text(0.08, y, val, fontsize=12, weight="bold", color="#14324f", ha="left")
            fig.text(0.27, y, HEADLINE_LABELS[metric] + ("" if got is None else f"  (n = {got[1]})"), fontsize=10)
            y -= 0.026
    panels = [("By drug (regimen)", "drug:"), ("By tumour type", "tumour_type:")]
    top = y - 0.02
    height_left = top - 0.06
    for k, (ptitle, prefix) in enumerate(panels):
        rows = _strata(data, prefix) if data.get("cohort_summary") is not None else []
        h = height_left / 2 - 0.05
        ax = fig.add_axes([0.34, top - (k + 1) * (h + 0.05) + 0.02, 0.58, h])
        ax.set_title(f"Resistance alterations at progression — {ptitle.lower()}", fontsize=10, loc="left")
        if not rows:
            ax.text(0.5, 0.5, "not available in this atlas", ha="center", va="center", transform=ax.transAxes)
            ax.set_axis_off()
            continue
        rows = rows[:25]
        labels = ["\n".join(textwrap.wrap(r[0], 30)) or "–" for r in rows]
        left = [0.0] * len(rows)
        for c in ("on_target", "bypass", "other"):
            vals = [r[1][c] for r in rows]
            ax.barh(range(len(rows)), vals, left=left, color=CLASS_COLOURS[c], label=c.replace("_", "-"))
            left = [a + b for a, b in zip(left, vals)]
        ax.set_yticks(range(len(rows)), labels, fontsize=7 if len(rows) > 10 else 9)
        ax.invert_yaxis()
        ax.set_xlabel("alterations", fontsize=9)
        ax.tick_params(axis="x", labelsize=8)
        ax.spines[["top", "right"]].set_visible(False)
        if k == 0:
            ax.legend(fontsize=8, frameon=False, loc="lower right")
    fig.text(0.06, 0.02, "Generated from the Parquet atlas alone; definitions of every figure are in the HTML report "
             "(Methods).", fontsize=7, color="#5b6675")
    with atomic_path(out) as tmp:
        with PdfPages(tmp) as pdf:
            pdf.savefig(fig)
    plt.close(fig)
    return out
