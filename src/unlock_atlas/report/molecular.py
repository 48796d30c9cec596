"""Cohort-page sections about measurements: VAF / tumour-fraction trajectories with lead time,
tissue–plasma concordance, copy-number highlights, single-cell composition and programmes, QC,
methods and glossary. Each returns an HTML fragment computed from the atlas tables only."""

from __future__ import annotations

import csv
from html import escape

import pandas as pd

from ..contract.vocab import TIMEPOINTS
from ..domain import allele_id
from ..paths import resources_dir
from . import svg
from .clinical import CLASS_NAMES, mechanism_label, na, table
from .data import ReportData, fmt_value, num, page_name

#: Lines drawn at most in a cohort trajectory chart (more would be unreadable; the choice is
#: deterministic: patients in pseudonym order). The per-patient pages show every line.
MAX_LINES = 120
SEQ_KINDS = ("snv", "mnv", "indel")


def resistance_vaf(data: ReportData) -> pd.DataFrame:
    """Plasma VAF of every resistance sequence alteration at every plasma sample of its patient.

    Columns: patient_id, alteration_id, cls, label, day, vaf, progression_day, first_plasma_day.
    """
    mech, var, smp = data.get("mechanisms"), data.get("variants"), data.get("samples")
    if mech is None or var is None or smp is None:
        return pd.DataFrame()
    m = mech[mech["class"].isin(["on_target", "bypass", "other"]) & mech["kind"].isin(SEQ_KINDS)]
    m = m.drop_duplicates(["patient_id", "alteration_id"])
    if m.empty:
        return pd.DataFrame()
    v = var[(var["sample_type"] == "plasma") & var["patient_id"].isin(set(m["patient_id"]))]
    v = v.assign(alteration_id=allele_id(v))
    v = v.merge(m[["patient_id", "alteration_id", "class", "gene", "alteration", "subclass", "progression_day",
                   "first_plasma_day"]], on=["patient_id", "alteration_id"])
    v = v.merge(smp[["sample_id", "collection_day"]], on="sample_id")
    v = v[v["vaf"].notna()]
    v["label"] = v.apply(mechanism_label, axis=1)
    return v.rename(columns={"class": "cls", "collection_day": "day"})[
        ["patient_id", "alteration_id", "cls", "label", "day", "vaf", "status", "progression_day", "first_plasma_day"]]


def trajectories(data: ReportData) -> str:
    """Resistance-alteration VAF and plasma tumour fraction over time, aligned on progression."""
    note = data.missing("mechanisms", "variants")
    out = []
    lead = data.summary_value("median_lead_time_days")
    if lead and lead[0] is not None:
        out.append(f'<p><b>Median molecular lead time: <span data-metric-extra="median_lead_time_days">'
                   f'{escape(fmt_value(lead[0], lead[2]))}</span></b> over {lead[1]} resistance alterations seen in '
                   "blood (progression day minus first blood detection; positive = blood showed it first).</p>")
    lead_ti = data.summary_value("median_lead_time_tumour_informed_days")
    if lead_ti and lead_ti[0] is not None:
        out.append(f'<p><b>Median tumour-informed molecular lead time: <span data-metric-extra='
                   f'"median_lead_time_tumour_informed_days">{escape(fmt_value(lead_ti[0], lead_ti[2]))}</span></b> '
                   f"over {lead_ti[1]} resistance alterations (first blood sample in which the alteration was called OR "
                   "detected by the tumour-informed test of a variant known from another sample of the patient).</p>")
    if note:
        return "".join(out) + na(note)
    rv = resistance_vaf(data)
    rv = rv[rv["progression_day"].notna()] if len(rv) else rv
    if rv.empty:
        out.append(na("No resistance mutation was measured in a blood sample of a progressed patient."))
    else:
        keys = sorted(rv.groupby(["patient_id", "alteration_id"]).groups)
        shown = keys[:MAX_LINES]
        series = []
        for (pid, aid), g in rv.groupby(["patient_id", "alteration_id"]):
            if (pid, aid) not in shown:
                continue
            g = g.sort_values("day")
            pts = [(float(d - g["progression_day"].iloc[0]), float(x), f"{pid} {lab}: VAF {100 * x:.2f}% on day {int(d)} "
                    f"({st})") for d, x, lab, st in zip(g["day"], g["vaf"], g["label"], g["status"])]
            series.append(svg.Series(f"{pid[:8]} {g['label'].iloc[0]}", pts, svg.CLASS_COLOURS.get(g["cls"].iloc[0], "#777"),
                                     width=1.5, href=f"patients/{page_name(pid)}"))
        out.append("<h3>Resistance mutations in blood, aligned on progression</h3>")
        out.append(svg.legend({k: svg.CLASS_COLOURS[k] for k in ("on_target", "bypass", "other")}, CLASS_NAMES))
        out.append('<div class="scroll">' + svg.line_chart(
            series, "Blood VAF of resistance mutations relative to progression", "days relative to clinical progression",
            "VAF in blood", vlines=[(0.0, "progression")], show_names=len(series) <= 12) + "</div>")
        if len(keys) > len(shown):
            out.append(f'<p class="note">{len(shown)} of {len(keys)} alterations drawn (patients in pseudonym order); '
                       "every alteration is on its patient's page.</p>")
    ct, pats = data.get("ctdna"), data.get("patients")
    if ct is not None and pats is not None:
        c = ct[(ct["sample_type"] == "plasma") & ct["tumour_fraction"].notna()].merge(
            pats[["patient_id", "progression_day", "resistance_type"]], on="patient_id")
        c = c[c["progression_day"].notna() & c["collection_day"].notna()]
        if len(c):
            series = []
            for pid in sorted(c["patient_id"].unique())[:MAX_LINES]:
                g = c[c["patient_id"] == pid].sort_values("collection_day")
                pd_ = float(g["progression_day"].iloc[0])
                series.append(svg.Series(pid[:8], [(float(d) - pd_, float(t), f"{pid}: tumour fraction {100 * t:.1f}% on "
                                                    f"day {int(d)}") for d, t in zip(g["collection_day"], g["tumour_fraction"])],
                                         svg.RESISTANCE_COLOURS.get(g["resistance_type"].iloc[0], "#777"), width=1.2,
                                         href=f"patients/{page_name(pid)}"))
            out.append("<h3>Tumour fraction in blood (ctDNA), aligned on progression</h3>")
            out.append('<div class="scroll">' + svg.line_chart(
                series, "Plasma tumour fraction relative to progression", "days relative to clinical progression",
                "tumour fraction", vlines=[(0.0, "progression")], show_names=len(series) <= 12) + "</div>")
    return "".join(out)


def concordance(data: ReportData) -> str:
    """Tissue–plasma agreement: pooled share of tissue mutations found in same-timepoint plasma."""
    out = []
    got = data.summary_value("tissue_plasma_concordance")
    if got and got[0] is not None:
        out.append(f'<p><b>Tissue mutations also found in blood: <span data-metric-extra="tissue_plasma_concordance">'
                   f'{escape(fmt_value(got[0], got[2]))}</span></b> of {got[1]} mutations called in a tissue biopsy with '
                   "a blood sample of the same time point.</p>")
    ct = data.get("ctdna")
    if ct is None:
        return "".join(out) + na(data.missing("ctdna"))
    c = ct[(ct["sample_type"] == "plasma") & ct["n_tissue_mutations"].notna()]
    rows = []
    for tp in TIMEPOINTS:
        g = c[c["timepoint"] == tp]
        n_t = int(g["n_tissue_mutations"].fillna(0).sum())
        if not len(g):
            continue
        hit = int(g["n_tissue_mutations_in_plasma"].fillna(0).sum())
        rows.append([tp.replace("_", " "), num(len(g)), num(n_t), num(hit), num(100 * hit / n_t, 1) if n_t else "",
                     num(g["n_plasma_only_mutations"].fillna(0).sum())])
    if rows:
        out.append(table(["time point", "tissue–blood pairs", "tissue mutations", "also in blood", "% in blood",
                          "blood-only mutations"], rows, numeric_from=1))
    alt = data.get("alterations")
    if alt is not None:
        a = alt[alt["resistance_relevance"] == "mechanism"]
        both = int((a["seen_in_tissue"] & a["seen_in_plasma"]).sum())
        t_only = int((a["seen_in_tissue"] & ~a["seen_in_plasma"]).sum())
        p_only = int((~a["seen_in_tissue"] & a["seen_in_plasma"]).sum())
        if len(a):
            out.append("<h3>Where the resistance alterations were found</h3>")
            out.append(svg.stacked_hbars([svg.Bar("resistance alterations", [
                ("both", both, f"{both} found in tissue and blood"), ("tissue", t_only, f"{t_only} in tissue only"),
                ("plasma", p_only, f"{p_only} in blood only")])], {"both": "#009E73", "tissue": "#CC79A7",
                                                                   "plasma": "#56B4E9"},
                "Resistance alterations by where they were found", "alterations"))
            out.append(svg.legend({"both": "#009E73", "tissue": "#CC79A7", "plasma": "#56B4E9"},
                                  {"both": "tissue and blood", "tissue": "tissue only", "plasma": "blood only"}))
    return "".join(out) or na("No tissue biopsy had a blood sample of the same time point.")


def copy_number(data: ReportData) -> str:
    """Genes most often amplified or deeply deleted in tumour samples, and the highest copy numbers."""
    cn = data.get("copy_number")
    if cn is None:
        return na(data.missing("copy_number"))
    t = cn[(cn["sample_type"] != "normal") & cn["call"].isin(["amplification", "deep_deletion"])]
    if t.empty:
        return '<p class="na">No amplification or deep deletion was called in a tumour sample.</p>'
    n_pat = cn.loc[cn["sample_type"] != "normal", "patient_id"].nunique()
    per = t.groupby(["gene", "call"])["patient_id"].nunique().unstack(fill_value=0)
    for col in ("amplification", "deep_deletion"):
        if col not in per:
            per[col] = 0
    per = per.assign(total=per.sum(axis=1)).sort_values(["total"], ascending=False, kind="stable").head(20)
    bars = [svg.Bar(g, [("amplification", r.amplification, f"{g}: amplified in {r.amplification} patient(s)"),
                        ("deep_deletion", r.deep_deletion, f"{g}: deep deletion in {r.deep_deletion} patient(s)")])
            for g, r in per.iterrows()]
    cols = {"amplification": "#D55E00", "deep_deletion": "#0072B2"}
    out = [svg.legend(cols, {"amplification": "amplification (≥ 5 copies)", "deep_deletion": "deep deletion"}),
           '<div class="scroll">' + svg.stacked_hbars(bars, cols, "Copy-number highlights", f"patients (of {n_pat} with "
                                                      "tumour copy number)") + "</div>"]
    amp = t[t["call"] == "amplification"]
    smp = data.get("samples")
    if len(amp) and smp is not None:
        amp = amp.merge(smp[["sample_id", "collection_day"]], on="sample_id", how="left")
        top = (amp.groupby(["patient_id", "gene"]).agg(copies=("copy_number", "max"), first_day=("collection_day", "min"),
                                                       n=("sample_id", "nunique"))
               .reset_index().sort_values(["copies", "patient_id"], ascending=[False, True]).head(15))
        rows = [[f'<a href="patients/{escape(page_name(r.patient_id))}">{escape(r.patient_id)}</a>', escape(r.gene),
                 num(r.first_day), num(r.n), num(r.copies, 1)] for r in top.itertuples(index=False)]
        out.append("<h3>Highest amplifications (one row per patient and gene)</h3>" + table(
            ["patient", "gene", "first seen (day)", "samples", "highest copy number"], rows, numeric_from=2,
            raw_html=True))
    return "".join(out)


def malignant_not_run(comp: pd.DataFrame) -> dict[str, str]:
    """sample_id -> reason, for biopsies whose malignant calls were not made (sc_composition
    ``malignant_status`` = not_run; atlases older than schema 1.2 lack the column: none listed)."""
    if "malignant_status" not in comp.columns:
        return {}
    nr = comp[comp["malignant_status"] == "not_run"].drop_duplicates("sample_id")
    return {sid: (note if isinstance(note, str) and note else "reason not recorded")
            for sid, note in zip(nr["sample_id"], nr["malignant_note"])}


def malignant_calls_table(comp: pd.DataFrame) -> str:
    """Per biopsy: expected malignant lineage, call status (called / not run + reason), malignant cells
    and their share, and the copy-number reference (sc_composition; columns absent in older atlases
    are shown as not recorded)."""
    rows = []
    for sid, g in comp.groupby("sample_id", sort=True):
        first = g.iloc[0]
        status = str(first.get("malignant_status", "called") or "called")
        note = first.get("malignant_note")
        called = status == "called"
        n_mal = int(g.loc[g["malignant"].fillna(False).astype(bool), "n_cells"].sum()) if called else None
        total = int(first["n_cells_total"])
        lineage, ref = first.get("malignant_lineage"), first.get("cnv_reference")
        rows.append([escape(str(sid)), escape(str(first["timepoint"] or "").replace("_", " ")),
                     escape(str(lineage)) if isinstance(lineage, str) else "not recorded",
                     "called" if called else escape(f"not called: {note if isinstance(note, str) else 'reason not recorded'}"),
                     num(n_mal) if called else "", num(total),
                     num(100 * n_mal / max(total, 1), 1) if called else "",
                     escape(ref) if isinstance(ref, str) else ""])
    return "<h3>Malignant-cell calls per biopsy</h3>" + table(
        ["biopsy", "time point", "expected lineage", "malignant call", "malignant cells", "cells", "% malignant",
         "copy-number reference"], rows, raw_html=True)


def single_cell(data: ReportData) -> str:
    """Pooled cell-type composition and resistance-programme activity by time point."""
    comp, prog = data.get("sc_composition"), data.get("sc_programs")
    if comp is None:
        return na(data.missing("sc_composition"))
    order = [t for t in TIMEPOINTS if t in set(comp["timepoint"].dropna())]
    types = list(comp.groupby("cell_type")["n_cells"].sum().sort_values(ascending=False).index)
    colours = {ct: svg.SERIES_COLOURS[i % len(svg.SERIES_COLOURS)] if i < len(svg.SERIES_COLOURS) else "#bbbbbb"
               for i, ct in enumerate(types)}
    bars = []
    for tp in order:
        g = comp[comp["timepoint"] == tp]
        tot = g["n_cells"].sum()
        by = g.groupby("cell_type")["n_cells"].sum()
        n_s = g["sample_id"].nunique()
        bars.append(svg.Bar(f"{tp.replace('_', ' ')} ({n_s} biopsies)", [
            (ct, 100 * by.get(ct, 0) / tot, f"{tp}: {ct} {100 * by.get(ct, 0) / tot:.1f}% of {tot:,} cells")
            for ct in types]))
    out = ["<h3>Cell types (share of all cells, pooled over biopsies)</h3>", svg.legend(colours),
           '<div class="scroll">' + svg.stacked_hbars(bars, colours, "Single-cell composition by time point",
                                                      "% of cells") + "</div>"]
    not_run = malignant_not_run(comp)
    out.append(malignant_calls_table(comp))
    called = comp[~comp["sample_id"].isin(not_run)]
    mal = called[called["malignant"].fillna(False).astype(bool)]
    if len(mal):
        rows = []
        for tp in order:
            g, a = mal[mal["timepoint"] == tp], called[called["timepoint"] == tp]
            rows.append([tp.replace("_", " "), num(g["n_cells"].sum()), num(a["n_cells"].sum()),
                         num(100 * g["n_cells"].sum() / max(a["n_cells"].sum(), 1), 1)])
        out.append(table(["time point", "malignant cells", "all cells (biopsies with calls)", "% malignant"], rows,
                         numeric_from=1))
    if not_run:
        listed = "; ".join(f"{escape(str(s))} ({escape(r)})" for s, r in list(not_run.items())[:10])
        more = f"; and {len(not_run) - 10} more" if len(not_run) > 10 else ""
        out.append(f'<p class="na">Malignant cells could not be called in {len(not_run)} of '
                   f'{comp["sample_id"].nunique()} biopsies (their cells are neither malignant nor non-malignant): '
                   f"{listed}{more}.</p>")
    if prog is None:
        out.append(na(data.missing("sc_programs")))
        return "".join(out)
    p = prog[prog["fraction_high"].notna()]
    pm = p[p["malignant"].fillna(False).astype(bool)]
    which = "malignant cells" if len(pm) else "all cells (no malignant call available)"
    p = pm if len(pm) else p
    values = {}
    rows = sorted(p["programme"].unique())
    for (prg, tp), g in p.groupby(["programme", "timepoint"]):
        w = g["n_cells"].astype(float)
        val = float((g["fraction_high"] * w).sum() / w.sum()) if w.sum() else 0.0
        values[(prg, tp.replace("_", " "))] = (val, f"{prg} at {tp}: {100 * val:.1f}% of {int(w.sum()):,} {which} "
                                                     f"programme-high ({g['sample_id'].nunique()} biopsies)")
    out.append(f"<h3>Resistance programmes: share of {which} with a high score</h3>")
    out.append('<div class="scroll">' + svg.heatmap(rows, [t.replace("_", " ") for t in order], values,
                                                    "Programme scores by time point", vmax=max(
                                                        [v[0] for v in values.values()] + [0.05])) + "</div>")
    out.append('<p class="note">A rising share from baseline to progression suggests a non-genetic (cell-state) '
               "resistance programme; per-biopsy values are on the patient pages.</p>")
    return "".join(out)


def qc(data: ReportData) -> str:
    """Sample counts by type and QC status, depths, and every sample that did not pass."""
    s = data.get("samples")
    if s is None:
        return na(data.missing("samples"))
    rows = []
    for st, g in s.groupby("sample_type"):
        vc = g["qc_status"].value_counts()
        rows.append([st, num(len(g)), num(vc.get("pass", 0)), num(vc.get("warn", 0)), num(vc.get("fail", 0)),
                     num(g["mean_depth"].median()), num(g["on_target_fraction"].median() * 100
                                                        if g["on_target_fraction"].notna().any() else None, 1)])
    out = [table(["sample type", "samples", "pass", "warn", "fail", "median depth", "median on-target %"], rows,
                 numeric_from=1)]
    bad = s[s["qc_status"] != "pass"].sort_values(["qc_status", "patient_id"])
    if len(bad):
        rows = [[f'<a href="patients/{escape(page_name(r.patient_id))}">{escape(r.patient_id)}</a>', escape(r.sample_id),
                 escape(r.sample_type), escape(r.timepoint or ""), escape(r.qc_status), num(r.mean_depth),
                 escape(r.qc_reasons or "")] for r in bad.head(200).itertuples(index=False)]
        out.append(f"<h3>Samples not passing QC ({len(bad)})</h3>")
        out.append('<div class="scroll-y">' + table(["patient", "sample", "type", "time point", "QC", "mean depth",
                                                      "reasons"], rows, raw_html=True) + "</div>")
    out.append(_identity(s))
    return "".join(out)


def _identity(s) -> str:
    """Sample identity (germline fingerprint) verdicts: every failed sample is listed, its patient unclassified."""
    if "identity_ok" not in s.columns or s["identity_ok"].isna().all():
        return na("sample identity was not checked in this atlas (the identity stage did not run)")
    failed = s[s["identity_ok"] == False]  # noqa: E712 - nullable boolean column
    checked = int(s["identity_ok"].notna().sum())
    if failed.empty:
        return (f'<p class="note">Sample identity: all {num(checked)} checked samples match their patient\'s '
                "germline fingerprint.</p>")
    rows = [[f'<a href="patients/{escape(page_name(r.patient_id))}">{escape(r.patient_id)}</a>', escape(r.sample_id),
             escape(r.sample_type), escape(r.timepoint or "")] for r in failed.itertuples(index=False)]
    return (f"<h3>Sample identity failures ({len(failed)} of {num(checked)} samples)</h3>"
            '<p class="warn">These samples do not match their patient\'s germline fingerprint (swapped or mixed '
            "tube). Resistance classification is withheld for their patients unless the configuration overrides "
            "it.</p>" + table(["patient", "sample", "type", "time point"], rows, raw_html=True))


def methods(data: ReportData) -> str:
    """Provenance from manifest.json, tool / knowledge-base versions, and the metric definitions."""
    m = data.manifest
    prov = [["pipeline (unlock-atlas) version", m.get("pipeline_version", "")],
            ["atlas schema version", m.get("schema_version", "")], ["reference genome", m.get("reference_build", "")],
            ["configuration hash", m.get("config_hash", "")], ["atlas created (UTC)", m.get("created_utc", "")],
            ["identifiers pseudonymised", "yes" if m.get("pseudonymised") else "NO"]]
    out = [table(["", ""], prov, cls="")]
    versions = {k: m[k] for k in ("tools", "tool_versions", "knowledge_base", "knowledge_bases", "versions") if m.get(k)}
    if versions:
        rows = []
        for group, val in versions.items():
            items = val.items() if isinstance(val, dict) else [(str(i), v) for i, v in enumerate(val)]
            rows += [[group.replace("_", " "), str(k), v if isinstance(v, str) else str(v)] for k, v in items]
        out.append("<h3>Tool and knowledge-base versions</h3>" + table(["kind", "name", "version"], rows))
    else:
        out.append('<p class="na">Tool and knowledge-base versions: not recorded in this atlas\'s manifest.json.</p>')
    rc = m.get("row_counts", {})
    out.append("<h3>Atlas tables</h3>" + table(["table", "rows"], [[k, num(v)] for k, v in rc.items()], numeric_from=1))
    cs = data.get("cohort_summary")
    if cs is not None:
        d = cs[cs["stratum"] == "all"][["metric", "unit", "definition"]].drop_duplicates("metric")
        out.append("<h3>How each figure is counted (cohort_summary)</h3>" + table(
            ["metric", "unit", "definition"], [[r.metric, r.unit, r.definition] for r in d.itertuples(index=False)]))
    out.append('<p class="note">Every number in this report is read from, or counted in, the Parquet atlas '
               "(<code>results/atlas/</code>); the run's private files are never read. Days are counted from the start "
               "of the drug; identifiers are pseudonyms. The workflow's provenance report (file paths, raw IDs) is kept "
               "apart in <code>results/private/</code>.</p>")
    return "".join(out)


def glossary() -> str:
    """The glossary table (resources/report/glossary.tsv)."""
    path = resources_dir() / "report" / "glossary.tsv"
    with path.open() as fh:
        rows = list(csv.DictReader((ln for ln in fh if not ln.startswith("#")), delimiter="\t"))
    return "<dl>" + "".join(f"<dt><b>{escape(r['term'])}</b></dt><dd>{escape(r['definition'])} "
                            f'<span class="note" style="color:#5b6675;font-size:12px">({escape(r["source"])})</span></dd>'
                            for r in rows) + "</dl>"
