"""One page per patient: course of treatment, mechanisms, trajectories, copy number, single cell, QC."""

from __future__ import annotations

from html import escape
from typing import Any

import numpy as np
import pandas as pd

from ..domain import allele_id, is_somatic
from . import svg
from .clinical import CLASS_NAMES, mechanism_label, table
from .data import ReportData, num
from .molecular import malignant_not_run

#: Variant lines drawn per patient at most: resistance alterations first, then by highest VAF.
MAX_VARIANT_LINES = 15


def _by_patient(df: pd.DataFrame | None, cols: list[str], sort_by: list[str] | None = None
                ) -> dict[str, list[dict[str, Any]]]:
    """patient -> its rows (dicts of ``cols``), in table order or stably sorted by ``sort_by``; ONE pass.

    Per-page pandas filtering/sorting costs ~1 ms per call, which for 1,000 patients x several
    tables dominated the report (issue 8), so every table is split by patient once here and the
    pages only format plain Python rows. A multi-column ``sort_values`` is a stable lexsort, so
    sorting the whole table then splitting keeps each patient's rows in exactly the order a
    per-patient sort gives. Values come from Series iteration, as ``itertuples`` gives them.
    """
    out: dict[str, list[dict[str, Any]]] = {}
    if df is None:
        return out
    if sort_by:
        df = df.sort_values(sort_by, kind="stable")
    columns = [list(df[c]) for c in cols]
    for pid, *vals in zip(df["patient_id"], *columns):
        out.setdefault(pid, []).append(dict(zip(cols, vals)))
    return out


class PatientPages:
    """Splits every table by patient once (plain rows), then renders pages (fast for 1,000 patients)."""

    def __init__(self, data: ReportData) -> None:
        self.data = data
        smp = data.get("samples")
        self.samples = _by_patient(smp, ["sample_id", "sample_type", "timepoint", "collection_day", "mean_depth",
                                         "tumour_fraction", "qc_status", "qc_reasons"], ["collection_day", "sample_type"])
        self.mechanisms = _by_patient(data.get("mechanisms"), ["class", "subclass", "gene", "alteration", "alteration_id",
                                                               "drug", "acquisition", "first_plasma_day",
                                                               "lead_time_days", "first_plasma_day_tumour_informed",
                                                               "lead_time_tumour_informed_days", "citation", "note"])
        self.alterations = _by_patient(data.get("alterations"), ["gene", "hgvsp_short", "kind", "acquisition",
                                                                 "seen_in_tissue", "seen_in_plasma", "first_detected_day",
                                                                 "resistance_relevance"],
                                       ["resistance_relevance", "gene"])
        self.ctdna = self._ctdna(data.get("ctdna"))
        self.copy_number = self._copy_number_rows(data.get("copy_number"), smp)
        self.composition = self._composition(data.get("sc_composition"))
        self.malignant_not_run = self._not_run(data.get("sc_composition"))
        self.programmes = self._programmes(data.get("sc_programs"))
        self.variants = self._variants(data.get("variants"), smp)

    @staticmethod
    def _ctdna(ct: pd.DataFrame | None) -> dict[str, list[tuple[Any, Any]] | None]:
        """patient -> (day, tumour fraction) of its blood samples by day ([] when none; absent: no ctdna row)."""
        out: dict[str, list[tuple[Any, Any]] | None] = {}
        if ct is None:
            return out
        c = ct[(ct["sample_type"] == "plasma") & ct["tumour_fraction"].notna()]
        rows = _by_patient(c, ["collection_day", "tumour_fraction"], ["collection_day"])
        for pid in ct["patient_id"].unique():
            out[pid] = [(r["collection_day"], r["tumour_fraction"]) for r in rows.get(pid, [])]
        return out

    @staticmethod
    def _copy_number_rows(cn: pd.DataFrame | None, smp: pd.DataFrame | None) -> dict[str, list[dict[str, Any]]]:
        """patient -> its non-neutral tumour calls with the sample's time point and day, sorted by gene then day.

        Patients without any sample row keep no time point and are sorted by gene then sample (as
        before). A patient with copy-number rows but no change maps to ``[]``.
        """
        out: dict[str, list[dict[str, Any]]] = {}
        if cn is None:
            return out
        keep = cn[(cn["sample_type"] != "normal") & cn["call"].notna() & (cn["call"] != "neutral")]
        cols = ["gene", "call", "sample_type", "timepoint", "collection_day", "copy_number", "log2_ratio"]
        with_samples = set() if smp is None else set(smp["patient_id"])
        if smp is not None:
            keep = keep.merge(smp[["patient_id", "sample_id", "timepoint", "collection_day"]],
                              on=["patient_id", "sample_id"], how="left")
            dated = _by_patient(keep, cols, ["gene", "collection_day"])
        else:
            dated = {}
        undated = _by_patient(keep.assign(timepoint="", collection_day=None), cols, ["gene", "sample_id"])
        for pid in cn["patient_id"].unique():
            out[pid] = dated.get(pid, []) if pid in with_samples else undated.get(pid, [])
        return out

    @staticmethod
    def _not_run(comp: pd.DataFrame | None) -> dict[str, list[tuple[Any, str]]]:
        """patient -> [(sample, reason)] of its biopsies whose malignant calls were not made."""
        out: dict[str, list[tuple[Any, str]]] = {}
        if comp is None:
            return out
        reasons = malignant_not_run(comp)
        if not reasons:
            return out
        for pid, sid in comp[comp["sample_id"].isin(reasons)].drop_duplicates("sample_id")[
                ["patient_id", "sample_id"]].itertuples(index=False):
            out.setdefault(pid, []).append((sid, reasons[sid]))
        return out

    @staticmethod
    def _composition(comp: pd.DataFrame | None) -> dict[str, tuple[list[str], list[tuple[Any, Any, dict]]]]:
        """patient -> (sorted cell types, [(sample, time point, {cell type: cells})] by sample)."""
        out: dict[str, tuple[list[str], list[tuple[Any, Any, dict]]]] = {}
        if comp is None:
            return out
        types: dict[str, set] = {}
        first_tp: dict[tuple[Any, Any], Any] = {}
        for pid, sid, tp, ct in zip(comp["patient_id"], comp["sample_id"], comp["timepoint"], comp["cell_type"]):
            types.setdefault(pid, set()).add(ct)
            first_tp.setdefault((pid, sid), tp)
        sums = comp.groupby(["patient_id", "sample_id", "cell_type"], sort=True)["n_cells"].sum()
        per: dict[tuple[Any, Any], dict] = {}
        for (pid, sid, ct), n in sums.items():
            per.setdefault((pid, sid), {})[ct] = n
        for pid, ts in types.items():
            out[pid] = (sorted(ts), [])
        for (pid, sid), by in per.items():
            out[pid][1].append((sid, first_tp[(pid, sid)], by))
        return out

    @staticmethod
    def _programmes(prog: pd.DataFrame | None) -> dict[str, tuple[str, list[str], list[str], dict] | None]:
        """patient -> (which cells, programmes, columns, {(programme, column): (value, text)}).

        Malignant cells when the patient has any with a score, else all cells (as the page says).
        The value is the cell-weighted share of programme-high cells of a biopsy, summed with
        numpy over the same rows in the same order as a per-patient pandas sum (identical floats).
        """
        out: dict[str, tuple[str, list[str], list[str], dict] | None] = {}
        if prog is None:
            return out
        scored = prog["fraction_high"].notna()
        mal = prog["malignant"].fillna(False).astype(bool) & scored
        has_mal = set(prog.loc[mal, "patient_id"])
        sel = prog[scored & (mal | ~prog["patient_id"].isin(has_mal))]
        fh = sel["fraction_high"].to_numpy(dtype=float)
        w = sel["n_cells"].astype(float).to_numpy(dtype=float, na_value=np.nan)
        tps = list(sel["timepoint"])
        progs: dict[str, set] = {}
        for pid, prg in zip(sel["patient_id"], sel["programme"]):
            progs.setdefault(pid, set()).add(prg)
        groups = sel.groupby(["patient_id", "sample_id", "programme"], sort=True).indices
        for pid in prog["patient_id"].unique():
            out[pid] = None
        for pid, ps in progs.items():
            out[pid] = ("malignant cells" if pid in has_mal else "all cells", sorted(ps), [], {})
        for (pid, sid, prg) in sorted(groups):
            pos = groups[(pid, sid, prg)]
            which, _, cols, values = out[pid]
            col = f"{sid} {(tps[pos[0]] or '').replace('_', ' ')}"
            if col not in cols:
                cols.append(col)
            ww = w[pos]
            tot = np.nansum(ww)
            val = float(np.nansum(fh[pos] * ww) / tot) if tot else 0.0
            values[(prg, col)] = (val, f"{prg}, {col}: {100 * val:.1f}% of {which} programme-high")
        return out

    @staticmethod
    def _variants(var: pd.DataFrame | None, smp: pd.DataFrame | None) -> dict[str, tuple[set, dict]]:
        """patient -> (keys called in any sample, key -> [(day, VAF, status, sample type, gene, protein change)]).

        Somatic (:func:`unlock_atlas.domain.is_somatic`: origin somatic, FILTER PASS) tumour
        measurements with a VAF only; rows without a collection day are left out
        of the series (they cannot be placed on the time axis) but still count as called.
        """
        out: dict[str, tuple[set, dict]] = {}
        if var is None or smp is None:
            return out
        v = var[is_somatic(var) & (var["sample_type"] != "normal") & var["vaf"].notna()]
        day = v["sample_id"].map(dict(zip(smp["sample_id"], smp["collection_day"])))
        for pid, k, st, d, has_d, x, stype, gene, hp in zip(v["patient_id"], allele_id(v), v["status"], day,
                                                            day.notna(), v["vaf"], v["sample_type"], v["gene"],
                                                            v["hgvsp_short"]):
            called, by_key = out.setdefault(pid, (set(), {}))
            if st == "called":
                called.add(k)
            if has_d:
                by_key.setdefault(k, []).append((d, x, st, stype, gene, hp))
        return out

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
        m = self.mechanisms.get(pid)
        if m is None:
            return self._na("mechanisms", "resistance mechanism rows (the patient has not progressed, or none was "
                            "classified)")
        rows = []
        for r in m:
            rows.append([f'<span class="pill {escape(r["class"])}">{escape(CLASS_NAMES.get(r["class"], r["class"]))}</span>',
                         escape(r["subclass"]), escape(mechanism_label(r)), escape(r["drug"]), escape(r["acquisition"] or ""),
                         num(r["first_plasma_day"]), num(r["lead_time_days"]),
                         num(r["first_plasma_day_tumour_informed"]), num(r["lead_time_tumour_informed_days"]),
                         escape(r["citation"] or ""), escape(r["note"] or "")])
        return table(["class", "subclass", "alteration", "drug", "acquisition", "first blood day", "lead time (days)",
                      "first blood day, tumour-informed", "lead time, tumour-informed (days)", "citation", "note"],
                     rows, raw_html=True)

    def _trajectories(self, pid: str, p: pd.Series) -> str:
        v = self.variants.get(pid)
        if v is None or pid not in self.samples:
            return self._na("variants", "variant measurements")
        called, by_key = v
        if not called:
            return '<p class="na">No somatic mutation was called in this patient\'s samples.</p>'
        mech_cls = {r["alteration_id"]: r["class"] for r in self.mechanisms.get(pid, [])}
        peak = {k: max(row[1] for row in by_key[k]) for k in called if k in by_key}
        # a called key without any dated measurement has nothing to draw
        order = sorted(peak, key=lambda k: (k not in mech_cls, -peak[k], k))[:MAX_VARIANT_LINES]
        series = []
        for k in order:
            g = sorted(by_key[k], key=lambda row: row[0])   # by collection day (stable)
            name = f"{g[0][4] or ''} {g[0][5] or k}".strip()
            cls = mech_cls.get(k)
            colour = svg.CLASS_COLOURS[cls] if cls in svg.CLASS_COLOURS else "#9aa3ad"
            for stype in sorted({row[3] for row in g if isinstance(row[3], str)}):
                pts = [(float(d), float(x), f"{name} in {stype}, day {int(d)}: VAF {100 * x:.2f}% ({st})")
                       for d, x, st, t, _, _ in g if t == stype]
                series.append(svg.Series(f"{name} ({stype})", pts, colour, dashed=stype == "tissue",
                                         width=2.5 if cls else 1.2))
        ct = self.ctdna.get(pid)
        if ct:
            series.append(svg.Series("tumour fraction (blood)", [(float(d), float(t), f"tumour fraction {100 * t:.1f}% "
                                     f"on day {int(d)}") for d, t in ct], "#000000", dashed=True, width=1.5))
        prog = p.get("progression_day")
        vl = [] if pd.isna(prog) else [(float(prog), "progression")]
        note = ('<p class="note">Solid lines: blood (plasma); dashed coloured lines: tissue; black dashed: tumour fraction '
                "in blood. Coloured = resistance alteration (legend above), grey = other mutations.</p>")
        return note + '<div class="scroll">' + svg.line_chart(series, f"Mutation levels of {pid}", "days from treatment "
                                                              "start", "VAF / tumour fraction", vlines=vl, width=900) + "</div>"

    def _alterations(self, pid: str) -> str:
        a = self.alterations.get(pid)
        if a is None:
            return self._na("alterations", "somatic alteration")
        rows = [[escape(r["gene"] or ""), escape(r["hgvsp_short"] or r["kind"]), escape(r["kind"]), escape(r["acquisition"]),
                 "yes" if r["seen_in_tissue"] else "no", "yes" if r["seen_in_plasma"] else "no",
                 num(r["first_detected_day"]), escape(r["resistance_relevance"].replace("_", " "))] for r in a]
        return table(["gene", "change", "kind", "acquisition", "in tissue", "in blood", "first seen (day)", "relevance"],
                     rows, raw_html=True)

    def _copy_number(self, pid: str) -> str:
        cn = self.copy_number.get(pid)
        if cn is None:
            return self._na("copy_number", "copy-number measurement")
        if not cn:
            return '<p class="na">No copy-number change called in this patient\'s tumour samples.</p>'
        rows = [[escape(r["gene"]), escape(r["call"]), escape(r["sample_type"]), escape(r["timepoint"] or ""),
                 num(r["collection_day"]), num(r["copy_number"], 1), num(r["log2_ratio"], 2)] for r in cn]
        return table(["gene", "call", "sample", "time point", "day", "copies", "log2 ratio"], rows, numeric_from=4,
                     raw_html=True)

    def _single_cell(self, pid: str) -> str:
        comp = self.composition.get(pid)
        if comp is None:
            return self._na("sc_composition", "single-cell data")
        types, biopsies = comp
        colours = {ct: svg.SERIES_COLOURS[i % len(svg.SERIES_COLOURS)] for i, ct in enumerate(types)}
        bars = []
        for sid, tp, by in biopsies:
            tot = sum(by.values())
            tp = tp or ""
            bars.append(svg.Bar(f"{sid} {tp.replace('_', ' ')}", [(ct, 100 * by.get(ct, 0) / tot,
                                 f"{ct}: {by.get(ct, 0):,} of {tot:,} cells") for ct in types]))
        out = [svg.legend(colours), '<div class="scroll">' + svg.stacked_hbars(bars, colours, "Cell types per biopsy",
                                                                              "% of cells") + "</div>"]
        for sid, reason in self.malignant_not_run.get(pid, []):
            out.append(f'<p class="na">Malignant cells could not be called in {escape(str(sid))}: {escape(reason)}.</p>')
        prog = self.programmes.get(pid)
        if prog is not None and prog[3]:
            which, programmes, cols, values = prog
            out.append(f"<h3>Share of {which} with a high programme score</h3>")
            out.append('<div class="scroll">' + svg.heatmap(programmes, cols, values, "Programme scores per biopsy",
                                                            vmax=max([v[0] for v in values.values()] + [0.05])) + "</div>")
        return "".join(out)

    def _samples(self, pid: str) -> str:
        s = self.samples.get(pid)
        if s is None:
            return self._na("samples", "sample")
        rows = [[escape(r["sample_id"]), escape(r["sample_type"]), escape(r["timepoint"] or ""), num(r["collection_day"]),
                 num(r["mean_depth"]), num(r["tumour_fraction"] * 100 if pd.notna(r["tumour_fraction"]) else None, 1),
                 escape(r["qc_status"]), escape(r["qc_reasons"] or "")] for r in s]
        return table(["sample", "type", "time point", "day", "mean depth", "tumour fraction %", "QC", "QC reasons"],
                     rows, raw_html=True)
