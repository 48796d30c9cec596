"""Cohort-page sections about patients and mechanisms: headline figures, mechanism breakdown,
oncoprint, swimmer plot and the patient list. Each returns an HTML fragment."""

from __future__ import annotations

from html import escape

import pandas as pd

from . import svg
from .data import HEADLINE, HEADLINE_LABELS, ReportData, fmt_value, num, page_name

CLASS_NAMES = {"on_target": "on-target", "bypass": "bypass", "other": "other", "unknown": "unknown"}
#: Genes shown in the oncoprint at most (the most frequent; the rest are listed in the table below it).
ONCOPRINT_MAX_GENES = 25


def na(note: str | None) -> str:
    return f'<p class="na">{note}</p>' if note else ""


def headline(data: ReportData) -> str:
    """The programme's headline figures, straight from cohort_summary (stratum ``all``)."""
    note = data.missing("cohort_summary")
    if note:
        return na(note)
    cards = []
    for metric in HEADLINE:
        got = data.summary_value(metric)
        if got is None:
            cards.append(f'<div class="card"><div class="value">–</div><div class="label">'
                         f'{escape(HEADLINE_LABELS[metric])}</div><div class="sub">not in this atlas</div></div>')
            continue
        value, n, unit = got
        sub = {"resistance_alterations_bypass": f"of {n} alterations", "resistance_alterations_on_target":
               f"of {n} alterations", "patients_with_mechanism": f"of {n} progressed patients",
               "resistance_alterations_at_progression": f"in {n} progressed patients",
               "pct_early_phase_trial": f"of {n} patients with the outcome recorded"}.get(metric, "")
        raw = "" if value is None else repr(value)
        cards.append(f'<div class="card" data-metric="{metric}" data-value="{raw}" data-unit="{escape(unit)}">'
                     f'<div class="value">{escape(fmt_value(value, unit))}</div>'
                     f'<div class="label">{escape(HEADLINE_LABELS[metric])}</div><div class="sub">{escape(sub)}</div></div>')
    return '<div class="cards" id="headline">' + "".join(cards) + "</div>"


def _stratum_bars(data: ReportData, prefix: str) -> tuple[list[svg.Bar], list[list[str]]]:
    cs = data.get("cohort_summary")
    strata = sorted(s for s in cs["stratum"].unique() if s.startswith(prefix))
    bars, rows = [], []
    for s in strata:
        name = s[len(prefix):]
        vals = {m: data.summary_value(m, s) for m in ("resistance_alterations_on_target", "resistance_alterations_bypass",
                                                     "resistance_alterations_other", "patients_progressed",
                                                     "patients_unknown_mechanism", "patients_non_informative",
                                                     "patients_included")}
        v = {k: (x[0] if x and x[0] is not None else 0) for k, x in vals.items()}
        segs = [(c, v[f"resistance_alterations_{c}"], f"{name}: {v[f'resistance_alterations_{c}']:g} "
                 f"{CLASS_NAMES[c]} alteration(s)") for c in ("on_target", "bypass", "other")]
        nomech = f"unknown {v['patients_unknown_mechanism']:g} · non-inf. {v['patients_non_informative']:g} " \
                 f"of {v['patients_progressed']:g} progressed"
        bars.append(svg.Bar(name, segs, nomech))
        rows.append([name, num(v["patients_included"]), num(v["patients_progressed"]),
                     *(num(v[f"resistance_alterations_{c}"]) for c in ("on_target", "bypass", "other")),
                     num(v["patients_unknown_mechanism"]), num(v["patients_non_informative"])])
    return bars, rows


def mechanism_breakdown(data: ReportData) -> str:
    """Resistance alterations by class, per regimen and per tumour type (cohort_summary strata)."""
    note = data.missing("cohort_summary")
    if note:
        return na(note)
    out = [svg.legend({k: svg.CLASS_COLOURS[k] for k in ("on_target", "bypass", "other")}, CLASS_NAMES)]
    for prefix, title in (("drug:", "By drug (regimen)"), ("tumour_type:", "By tumour type")):
        bars, rows = _stratum_bars(data, prefix)
        out.append(f"<h3>{title}</h3>")
        if not bars:
            out.append(na("Not available in this atlas: cohort_summary has no strata of this kind."))
            continue
        out.append('<div class="scroll">' + svg.stacked_hbars(bars, svg.CLASS_COLOURS, f"Resistance alterations {title.lower()}",
                                                              "resistance alterations at progression") + "</div>")
        head = ["", "patients", "progressed", "on-target", "bypass", "other", "unknown (patients)",
                "non-informative (patients)"]
        out.append(_table(head, rows, numeric_from=1))
    out.append('<p class="note">Bars count distinct resistance alterations (a patient may have several); the text after '
               "each bar gives the progressed patients in whom no mechanism was found (unknown) or could not be found "
               "(non-informative: the progression samples could not have shown it).</p>")
    return "".join(out)


def _table(head: list[str], rows: list[list[str]], numeric_from: int = 99, cls: str = "sortable",
           raw_html: bool = False, row_attrs: list[str] | None = None) -> str:
    th = "".join(f'<th class="{"num" if i >= numeric_from else ""}">{escape(h)}</th>' for i, h in enumerate(head))
    body = []
    for k, r in enumerate(rows):
        cells = "".join(f'<td class="{"num" if i >= numeric_from else ""}">{c if raw_html else escape(str(c))}</td>'
                        for i, c in enumerate(r))
        attrs = row_attrs[k] if row_attrs else ""
        body.append(f"<tr{attrs}>{cells}</tr>")
    return f'<table class="{cls}"><thead><tr>{th}</tr></thead><tbody>{"".join(body)}</tbody></table>'


def mechanism_label(row: pd.Series) -> str:
    """'EGFR p.C797S' / 'MET amplification' / the subclass for rows without an alteration; a mechanism of a
    later treatment line says which: 'MET amplification (line 2: osimertinib)'."""
    parts = [str(x) for x in (row.get("gene"), row.get("alteration")) if isinstance(x, str) and x]
    label = " ".join(parts) if parts else str(row.get("subclass", "")).replace("_", " ").lower()
    line = row.get("line")
    if line is not None and not pd.isna(line) and int(line) > 1:
        label += f" (line {int(line)}: {row.get('regimen')})"
    return label


def patient_mechanisms(data: ReportData) -> dict[str, list[tuple[str, str]]]:
    """patient -> [(class, label)] of its mechanism rows, one per distinct (class, label)."""
    mech = data.get("mechanisms")
    out: dict[str, list[tuple[str, str]]] = {}
    if mech is None:
        return out
    for pid, cls, lab in zip(mech["patient_id"], mech["class"], mech.apply(mechanism_label, axis=1)):
        if (cls, lab) not in out.setdefault(pid, []):
            out[pid].append((cls, lab))
    return out


def oncoprint_section(data: ReportData, href_prefix: str = "patients/") -> str:
    """Genes x progressed patients: resistance alterations coloured by mechanism class."""
    note = data.missing("mechanisms")
    if note:
        return na(note)
    mech = data.get("mechanisms")
    m = mech[mech["class"].isin(["on_target", "bypass", "other"]) & mech["gene"].notna()]
    if m.empty:
        return na("No resistance alteration with a gene in this atlas (every progressed patient is unknown or "
                  "non-informative, or lineage change only).")
    pats = data.get("patients").set_index("patient_id")
    counts = m.groupby("gene")["patient_id"].nunique().sort_values(ascending=False, kind="stable")
    genes = list(counts.index[:ONCOPRINT_MAX_GENES])
    progressed = [p for p in pats.index if pd.notna(pats.at[p, "progression_day"])]
    cells: dict[tuple[str, str], list[svg.OncoCell]] = {}
    for r in m.rename(columns={"class": "cls"}).itertuples(index=False):
        if r.gene in genes:
            cells.setdefault((r.gene, r.patient_id), []).append(svg.OncoCell(
                r.cls, str(r.kind or ""), f"{r.gene} {r.alteration or ''} ({CLASS_NAMES[r.cls]}, {r.subclass}; "
                f"drug {r.drug})"))
    # memo-sort: patients with alterations in the most frequent genes first
    progressed.sort(key=lambda p: tuple(0 if (g, p) in cells else 1 for g in genes))
    cols = [(p, f"{p} ({pats.at[p, 'tumour_type']}, {pats.at[p, 'drug']})", f"{href_prefix}{page_name(p)}")
            for p in progressed]
    drugs = sorted(pats["drug"].dropna().unique())
    types = sorted(pats["tumour_type"].dropna().unique())
    dcol = {d: svg.SERIES_COLOURS[i % len(svg.SERIES_COLOURS)] for i, d in enumerate(drugs)}
    tcol = {t: svg.SERIES_COLOURS[(i + 3) % len(svg.SERIES_COLOURS)] for i, t in enumerate(types)}
    ann = [("drug", pats["drug"].to_dict(), dcol), ("tumour type", pats["tumour_type"].to_dict(), tcol)]
    fig = svg.oncoprint(genes, cols, cells, ann, "Oncoprint of resistance alterations")
    rest = len(counts) - len(genes)
    table_rows = [[g, num(counts[g]), num(100 * counts[g] / max(len(progressed), 1), 1)] for g in counts.index]
    return ("".join([
        svg.legend({k: svg.CLASS_COLOURS[k] for k in ("on_target", "bypass", "other")}, CLASS_NAMES),
        '<p class="note">One column per progressed patient (click a cell to open the patient). Full-height cells: '
        "amplification or deletion; thin bars: mutation or fusion.</p>",
        '<div class="scroll">', fig, "</div>",
        "<h3>Legend of the top tracks</h3>", svg.legend(dcol), svg.legend(tcol),
        f'<p class="note">{len(genes)} most frequent genes shown' + (f"; {rest} more in the table." if rest > 0 else ".") +
        "</p>", "<details><summary>Genes with resistance alterations (table)</summary>",
        _table(["gene", "patients", "% of progressed patients"], table_rows, numeric_from=1), "</details>"]))


def build_lanes(data: ReportData, href_prefix: str = "patients/") -> dict[str, svg.Lane]:
    """One swimmer lane per patient: samples, progression, first plasma detection of a resistance alteration."""
    pats, samples, mech = data.get("patients"), data.get("samples"), data.get("mechanisms")
    by_patient = {pid: g for pid, g in samples.groupby("patient_id", sort=False)} if samples is not None else {}
    mechs = patient_mechanisms(data)
    det: dict[str, list[tuple[float, str]]] = {}
    if mech is not None:
        m = mech[mech["first_plasma_day"].notna() & (mech["class"] != "unknown")]
        for r in m.drop_duplicates(["patient_id", "alteration_id", "first_plasma_day"]).itertuples(index=False):
            lead = "" if pd.isna(r.lead_time_days) else f", lead time {int(r.lead_time_days)} days"
            det.setdefault(r.patient_id, []).append(
                (float(r.first_plasma_day), f"first blood detection of {mechanism_label(pd.Series(r._asdict()))}, "
                                            f"day {int(r.first_plasma_day)}{lead}"))
    lanes = {}
    for p in pats.itertuples(index=False):
        s = by_patient.get(p.patient_id)
        smp = []
        if s is not None:
            for sr in s[s["sample_type"] != "normal"].itertuples(index=False):
                smp.append((float(sr.collection_day), sr.sample_type,
                            f"{sr.sample_type} sample {sr.sample_id}, {sr.timepoint or ''} day {sr.collection_day} "
                            f"(QC {sr.qc_status})"))
        prog = None if pd.isna(p.progression_day) else float(p.progression_day)
        bands, later = _line_bands(data, p.patient_id)
        end = max([prog or 0.0] + later + [d for d, _, _ in smp] + [b for _, b, _, _ in bands if b is not None] + [1.0])
        bands = [(a, end if b is None else b, short, tip) for a, b, short, tip in bands]
        mtxt = "; ".join(f"{CLASS_NAMES.get(c, c)}: {lab}" for c, lab in mechs.get(p.patient_id, []))
        prog_txt = f"progression day {int(prog)}" if prog is not None else "not progressed"
        drugs = " → ".join(short for _, _, short, _ in bands) if bands else str(p.drug)
        tip = f"{p.patient_id} · {p.tumour_type} · {drugs} · {p.resistance_type} · {prog_txt}" + \
              (f" · {'; '.join(t for _, _, _, t in bands)}" if bands else "") + (f" · {mtxt}" if mtxt else "")
        lanes[p.patient_id] = svg.Lane(
            pid=p.patient_id, label=f"{p.patient_id} {drugs}"[:34], href=f"{href_prefix}{page_name(p.patient_id)}",
            end_day=end, colour_key=str(p.resistance_type), search=tip, tip=tip, progression_day=prog, samples=smp,
            detections=det.get(p.patient_id, []), lines=bands, later_progressions=later)
    return lanes


def _line_bands(data: ReportData, patient_id: str) -> tuple[list[tuple[float, float | None, str, str]], list[float]]:
    """(start, end or None = open, drug, tip) of each treatment line of a patient with several lines, and the
    progression days of its lines after the first (the treatments table; nothing for one line)."""
    t = data.get("treatments")
    if t is None:
        return [], []
    mine = t[t["patient_id"] == patient_id].sort_values("line")
    if len(mine) < 2:
        return [], []
    rows = list(mine.itertuples(index=False))
    bands = []
    for i, r in enumerate(rows):
        end = r.end_day if not pd.isna(r.end_day) else (r.progression_day if not pd.isna(r.progression_day) else None)
        if end is None and i + 1 < len(rows):
            end = rows[i + 1].start_day
        prog = "" if pd.isna(r.progression_day) else f", progression day {int(r.progression_day)}"
        tip = f"line {int(r.line)}: {r.drug} from day {int(r.start_day)}{prog} ({r.resistance_type})"
        bands.append((float(r.start_day), None if end is None else float(end), str(r.drug), tip))
    later = [float(r.progression_day) for r in rows[1:] if not pd.isna(r.progression_day)]
    return bands, later


def swimmer_section(data: ReportData, lanes: dict[str, svg.Lane]) -> str:
    """Swimmer plot of every patient, ordered by resistance type then progression day."""
    if data.get("patients") is None:
        return na(data.missing("patients"))
    pats = data.get("patients")
    order = {"acquired": 0, "primary": 1, "unknown": 2, "not_progressed": 3}
    srt = pats.assign(o=pats["resistance_type"].map(order).fillna(9),
                      d=pats["progression_day"].astype("Float64").fillna(1e9)).sort_values(["o", "d", "patient_id"])
    chosen = [lanes[p] for p in srt["patient_id"]]
    many = len(chosen) > 80
    note = ('<p class="note">Hover a lane for the patient, drug and mechanism; click it to open the patient page. '
            + ("Lanes are too many to label: use the filter box or the patient list below." if many else "") + "</p>")
    fig = svg.swimmer(chosen, "Swimmer plot: treatment course of each patient")
    wrap = '<div class="scroll scroll-y">' if many else '<div class="scroll">'
    return svg.SWIMMER_LEGEND + note + wrap + fig + "</div>"


def patient_list(data: ReportData, href_prefix: str = "patients/") -> str:
    """Every patient, with links to their pages (filterable / sortable with JS, plain table without)."""
    pats = data.get("patients")
    mechs = patient_mechanisms(data)
    rows, attrs = [], []
    for p in pats.itertuples(index=False):
        pills = " ".join(f'<span class="pill {escape(c)}">{escape(lab)}</span>' for c, lab in mechs.get(p.patient_id, []))
        rows.append([f'<a href="{escape(href_prefix + page_name(p.patient_id))}">{escape(p.patient_id)}</a>',
                     escape(p.tumour_type), escape(p.drug), escape(p.best_response or ""), escape(p.resistance_type),
                     num(p.progression_day), num(p.n_samples), pills])
        search = " ".join(str(x) for x in (p.patient_id, p.tumour_type, p.drug, p.resistance_type,
                                             *(lab for _, lab in mechs.get(p.patient_id, []))))
        attrs.append(f' data-search="{escape(search)}"')
    head = ["patient", "tumour type", "drug", "best response", "resistance", "progression day", "samples", "mechanisms"]
    return ('<div class="scroll-y">' + _table(head, rows, numeric_from=99, raw_html=True, row_attrs=attrs)
            + "</div>").replace('<table class="sortable">', '<table class="sortable" id="patients">', 1)


table = _table
