"""One page per patient: course of treatment, mechanisms, trajectories, copy number, single cell, QC."""

from __future__ import annotations

from html import escape

import pandas as pd

from . import svg
from .clinical import CLASS_NAMES, mechanism_label, table
from .data import ReportData, num, seq_key

#: Variant lines drawn per patient at most: resistance alterations first, then by highest VAF.
MAX_VARIANT_LINES = 15


def _groups(df: pd.DataFrame | None) -> dict[str, pd.DataFrame]:
    if df is None:
        return {}
    return {k: g for k, g in df.groupby("patient_id", sort=False)}


class PatientPages:
    """Pre-groups every table by patient once, then renders pages (fast for 1,000 patients)."""

    def __init__(self, data: ReportData) -> None:
        self.data = data
        self.g = {name: _groups(data.get(name)) for name in ("samples", "alterations", "mechanisms",
                                                             "ctdna", "copy_number", "sc_composition", "sc_programs")}
        # variants: keep somatic tumour measurements, add the key and collection day ONCE (not per page)
        var, smp = data.get("variants"), data.get("samples")
        if var is not None and smp is not None:
            v = var[(var["origin"] == "somatic") & (var["sample_type"] != "normal") & var["vaf"].notna()]
            v = v.assign(key=seq_key(v), collection_day=v["sample_id"].map(dict(zip(smp["sample_id"],
                                                                                     smp["collection_day"]))))
            self.g["variants"] = _groups(v)
        else:
            self.g["variants"] = {}

    def _na(self, table_name: str, what: str) -> str:
        if self.data.get(table_name) is None:
            return f'<p class="na">{self.data.missing(table_name)}</p>'
        return f'<p class="na">No {what} for this patient.</p>'

    def sections(self, p: pd.Series, lane: svg.Lane) -> list[tuple[str, str, str]]:
        """(anchor, title, html) of each section of the page of patient ``p``."""
        pid = p["patient_id"]
        facts = [["tumour type", p["tumour_type"]], ["drug", p["drug"]], ["drug class", p.get("drug_class") or ""],
                 ["drug target(s)", p.get("targets") or ""], ["best response (RECIST)", p.get("best_response") or ""],
                 ["resistance", p["resistance_type"]], ["progression day", num(p.get("progression_day")) or "not progressed"],
                 ["early-phase trial after progression", {True: "yes", False: "no"}.get(
                     None if pd.isna(p.get("early_trial_after")) else bool(p.get("early_trial_after")), "not recorded")],
                 ["samples sequenced", f"{num(p['n_samples'])} ({num(p['n_tissue'])} tissue, {num(p['n_plasma'])} blood)"]]
        lane.label = pid
        out = [("summary", "Summary", table(["", ""], facts, cls="")),
               ("course", "Course of treatment", svg.SWIMMER_LEGEND + '<div class="scroll">' +
                svg.swimmer([lane], f"Treatment course of {pid}", lane_h=34, with_labels=False) + "</div>")]
        out.append(("mechanisms", "Resistance mechanisms", self._mechanisms(pid)))
        out.append(("trajectories", "Mutation levels over time (VAF) and tumour fraction", self._trajectories(pid, p)))
        out.append(("alterations", "Alterations found", self._alterations(pid)))
        out.append(("copy-number", "Copy-number changes", self._copy_number(pid)))
        out.append(("single-cell", "Single-cell composition and programmes", self._single_cell(pid)))
        out.append(("qc", "Samples and QC", self._samples(pid)))
        return out

    def _mechanisms(self, pid: str) -> str:
        m = self.g["mechanisms"].get(pid)
        if m is None:
            return self._na("mechanisms", "resistance mechanism rows (the patient has not progressed, or none was "
                            "classified)")
        rows = []
        for _, r in m.iterrows():
            rows.append([f'<span class="pill {escape(r["class"])}">{escape(CLASS_NAMES.get(r["class"], r["class"]))}</span>',
                         escape(r["subclass"]), escape(mechanism_label(r)), escape(r["drug"]), escape(r["acquisition"] or ""),
                         num(r["first_plasma_day"]), num(r["lead_time_days"]),
                         escape(r["citation"] or ""), escape(r["note"] or "")])
        return table(["class", "subclass", "alteration", "drug", "acquisition", "first blood day", "lead time (days)",
                      "citation", "note"], rows, raw_html=True)

    def _trajectories(self, pid: str, p: pd.Series) -> str:
        v, s = self.g["variants"].get(pid), self.g["samples"].get(pid)
        if v is None or s is None:
            return self._na("variants", "variant measurements")
        called = v.loc[v["status"] == "called"]
        if called.empty:
            return '<p class="na">No somatic mutation was called in this patient\'s samples.</p>'
        v = v[v["collection_day"].notna()]
        keys = set(called["key"])
        mech = self.g["mechanisms"].get(pid)
        mech_cls = {} if mech is None else dict(zip(mech["alteration_id"], mech["class"]))
        v = v[v["key"].isin(keys)]
        peak = v.groupby("key")["vaf"].max()
        order = sorted(keys, key=lambda k: (k not in mech_cls, -peak.get(k, 0), k))[:MAX_VARIANT_LINES]
        series = []
        for i, k in enumerate(order):
            g = v[v["key"] == k].sort_values("collection_day")
            name = f"{g['gene'].iloc[0] or ''} {g['hgvsp_short'].iloc[0] or k}".strip()
            cls = mech_cls.get(k)
            colour = svg.CLASS_COLOURS[cls] if cls in svg.CLASS_COLOURS else "#9aa3ad"
            for stype, gg in g.groupby("sample_type"):
                pts = [(float(d), float(x), f"{name} in {stype}, day {int(d)}: VAF {100 * x:.2f}% ({st})")
                       for d, x, st in zip(gg["collection_day"], gg["vaf"], gg["status"])]
                series.append(svg.Series(f"{name} ({stype})", pts, colour, dashed=stype == "tissue",
                                         width=2.5 if cls else 1.2))
        ct = self.g["ctdna"].get(pid)
        if ct is not None:
            c = ct[(ct["sample_type"] == "plasma") & ct["tumour_fraction"].notna()].sort_values("collection_day")
            if len(c):
                series.append(svg.Series("tumour fraction (blood)", [(float(d), float(t), f"tumour fraction {100 * t:.1f}% "
                                         f"on day {int(d)}") for d, t in zip(c["collection_day"], c["tumour_fraction"])],
                                         "#000000", dashed=True, width=1.5))
        prog = p.get("progression_day")
        vl = [] if pd.isna(prog) else [(float(prog), "progression")]
        note = ('<p class="note">Solid lines: blood (plasma); dashed coloured lines: tissue; black dashed: tumour fraction '
                "in blood. Coloured = resistance alteration (legend above), grey = other mutations.</p>")
        return note + '<div class="scroll">' + svg.line_chart(series, f"Mutation levels of {pid}", "days from treatment "
                                                              "start", "VAF / tumour fraction", vlines=vl, width=900) + "</div>"

    def _alterations(self, pid: str) -> str:
        a = self.g["alterations"].get(pid)
        if a is None:
            return self._na("alterations", "somatic alteration")
        a = a.sort_values(["resistance_relevance", "gene"])
        rows = [[escape(r.gene or ""), escape(r.hgvsp_short or r.kind), escape(r.kind), escape(r.acquisition),
                 "yes" if r.seen_in_tissue else "no", "yes" if r.seen_in_plasma else "no", num(r.first_detected_day),
                 escape(r.resistance_relevance.replace("_", " "))] for r in a.itertuples(index=False)]
        return table(["gene", "change", "kind", "acquisition", "in tissue", "in blood", "first seen (day)", "relevance"],
                     rows, raw_html=True)

    def _copy_number(self, pid: str) -> str:
        cn = self.g["copy_number"].get(pid)
        if cn is None:
            return self._na("copy_number", "copy-number measurement")
        cn = cn[(cn["sample_type"] != "normal") & cn["call"].notna() & (cn["call"] != "neutral")]
        if cn.empty:
            return '<p class="na">No copy-number change called in this patient\'s tumour samples.</p>'
        s = self.g["samples"].get(pid)
        if s is not None:
            cn = cn.merge(s[["sample_id", "timepoint", "collection_day"]], on="sample_id", how="left")
        rows = [[escape(r.gene), escape(r.call), escape(r.sample_type), escape(getattr(r, "timepoint", "") or ""),
                 num(getattr(r, "collection_day", None)), num(r.copy_number, 1), num(r.log2_ratio, 2)]
                for r in cn.sort_values(["gene", "collection_day" if "collection_day" in cn else "sample_id"]).itertuples()]
        return table(["gene", "call", "sample", "time point", "day", "copies", "log2 ratio"], rows, numeric_from=4,
                     raw_html=True)

    def _single_cell(self, pid: str) -> str:
        comp = self.g["sc_composition"].get(pid)
        if comp is None:
            return self._na("sc_composition", "single-cell data")
        types = sorted(comp["cell_type"].unique())
        colours = {ct: svg.SERIES_COLOURS[i % len(svg.SERIES_COLOURS)] for i, ct in enumerate(types)}
        bars = []
        for sid, g in comp.groupby("sample_id", sort=True):
            by = g.groupby("cell_type")["n_cells"].sum()
            tot = by.sum()
            tp = g["timepoint"].iloc[0] or ""
            bars.append(svg.Bar(f"{sid} {tp.replace('_', ' ')}", [(ct, 100 * by.get(ct, 0) / tot,
                                 f"{ct}: {by.get(ct, 0):,} of {tot:,} cells") for ct in types]))
        out = [svg.legend(colours), '<div class="scroll">' + svg.stacked_hbars(bars, colours, "Cell types per biopsy",
                                                                              "% of cells") + "</div>"]
        prog = self.g["sc_programs"].get(pid)
        if prog is not None:
            pm = prog[prog["malignant"].fillna(False).astype(bool) & prog["fraction_high"].notna()]
            which = "malignant cells"
            if pm.empty:
                pm, which = prog[prog["fraction_high"].notna()], "all cells"
            cols, values = [], {}
            for (sid, prg), g in pm.groupby(["sample_id", "programme"]):
                col = f"{sid} {(g['timepoint'].iloc[0] or '').replace('_', ' ')}"
                cols.append(col) if col not in cols else None
                w = g["n_cells"].astype(float)
                val = float((g["fraction_high"] * w).sum() / w.sum()) if w.sum() else 0.0
                values[(prg, col)] = (val, f"{prg}, {col}: {100 * val:.1f}% of {which} programme-high")
            if values:
                out.append(f"<h3>Share of {which} with a high programme score</h3>")
                out.append('<div class="scroll">' + svg.heatmap(sorted(pm["programme"].unique()), cols, values,
                           "Programme scores per biopsy", vmax=max([v[0] for v in values.values()] + [0.05])) + "</div>")
        return "".join(out)

    def _samples(self, pid: str) -> str:
        s = self.g["samples"].get(pid)
        if s is None:
            return self._na("samples", "sample")
        s = s.sort_values(["collection_day", "sample_type"])
        rows = [[escape(r.sample_id), escape(r.sample_type), escape(r.timepoint or ""), num(r.collection_day),
                 num(r.mean_depth), num(r.tumour_fraction * 100 if pd.notna(r.tumour_fraction) else None, 1),
                 escape(r.qc_status), escape(r.qc_reasons or "")] for r in s.itertuples(index=False)]
        return table(["sample", "type", "time point", "day", "mean depth", "tumour fraction %", "QC", "QC reasons"],
                     rows, raw_html=True)
