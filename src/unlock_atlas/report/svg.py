"""Inline SVG figures of the cohort report, written as text (no plotting library, no assets).

Hand-written SVG keeps every page self-contained and small, renders identically offline in any
browser, and gives hover details for free through SVG ``<title>`` elements (the static fallback
is the figure itself). Layout uses a fixed character-width estimate (:data:`CHAR_W`) to size the
label margins, so labels never overlap the plot area.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from html import escape

#: Okabe-Ito colour-blind-safe palette (Okabe & Ito 2008, "Color Universal Design").
CLASS_COLOURS = {"on_target": "#D55E00", "bypass": "#0072B2", "other": "#009E73", "unknown": "#9a9a9a"}
SERIES_COLOURS = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#F0E442", "#000000"]
RESISTANCE_COLOURS = {"acquired": "#0072B2", "primary": "#D55E00", "not_progressed": "#009E73", "unknown": "#9a9a9a"}
#: Width of one character of 11-12 px DejaVu Sans, in px (upper estimate, used for margins).
CHAR_W = 7.6
FONT = 12


def esc(x: object) -> str:
    """Text escaped for SVG/HTML content and attributes."""
    return escape(str(x), quote=True)


def _svg(width: float, height: float, body: str, label: str) -> str:
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0f}" height="{height:.0f}" '
            f'viewBox="0 0 {width:.0f} {height:.0f}" role="img" aria-label="{esc(label)}">'
            f'<title>{esc(label)}</title>{body}</svg>')


def _text(x: float, y: float, s: object, anchor: str = "start", size: int = FONT, weight: str = "normal",
          extra: str = "") -> str:
    return (f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}" text-anchor="{anchor}" font-weight="{weight}"'
            f'{extra}>{esc(s)}</text>')


def nice_ticks(lo: float, hi: float, n: int = 5) -> list[float]:
    """About ``n`` round tick values covering [lo, hi] (1-2-5 steps)."""
    if hi <= lo:
        hi = lo + 1
    raw = (hi - lo) / max(n, 1)
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 5, 10) if m * mag >= raw)
    start = math.floor(lo / step) * step
    ticks, t = [], start
    while True:
        ticks.append(round(t, 10))
        if t >= hi - step * 1e-9:
            return ticks
        t += step


def _fmt_tick(v: float) -> str:
    return f"{v:g}"


@dataclass
class Bar:
    """One stacked bar: a label and (category, value, hover text) segments."""

    label: str
    segments: list[tuple[str, float, str]]
    note: str = ""


def stacked_hbars(bars: Sequence[Bar], colours: dict[str, str], label: str, x_label: str,
                  width: int = 760) -> str:
    """Horizontal stacked bars (one per row), value axis at the bottom, optional note after each bar."""
    if not bars:
        return ""
    left = min(320.0, max(CHAR_W * max(len(b.label) for b in bars) + 12, 60))
    note_w = min(260.0, max((CHAR_W * max((len(b.note) for b in bars), default=0)) + 10, 10))
    plot_w = max(width - left - note_w - 10, 200)
    row_h, top = 24, 8
    height = top + row_h * len(bars) + 40
    vmax = max((sum(v for _, v, _ in b.segments) for b in bars), default=1) or 1
    ticks = nice_ticks(0, vmax)
    scale = plot_w / ticks[-1]
    out = []
    for t in ticks:
        x = left + t * scale
        out.append(f'<line x1="{x:.1f}" y1="{top}" x2="{x:.1f}" y2="{top + row_h * len(bars)}" stroke="#e3e7ec"/>')
        out.append(_text(x, top + row_h * len(bars) + 14, _fmt_tick(t), "middle", 11))
    for i, b in enumerate(bars):
        y = top + i * row_h
        out.append(_text(left - 6, y + row_h / 2 + 4, b.label, "end"))
        x = left
        for cat, v, tip in b.segments:
            if v <= 0:
                continue
            w = v * scale
            out.append(f'<rect class="hov" x="{x:.1f}" y="{y + 3}" width="{w:.1f}" height="{row_h - 6}" '
                       f'fill="{colours.get(cat, "#777")}"><title>{esc(tip)}</title></rect>')
            txt = f"{v:.0f}"
            if w > CHAR_W * len(txt) + 6:
                out.append(_text(x + w / 2, y + row_h / 2 + 4, txt, "middle", 11, extra=' fill="#fff"'))
            x += w
        if b.note:
            out.append(_text(left + plot_w + 8, y + row_h / 2 + 4, b.note, "start", 11, extra=' fill="#5b6675"'))
    out.append(_text(left + plot_w / 2, height - 6, x_label, "middle", 12))
    return _svg(left + plot_w + note_w + 10, height, "".join(out), label)


def legend(colours: dict[str, str], names: dict[str, str] | None = None) -> str:
    """An HTML legend line for ``colours`` (category -> colour)."""
    names = names or {}
    return '<div class="legend">' + "".join(
        f'<span><i style="background:{c}"></i>{esc(names.get(k, k.replace("_", "-")))}</span>'
        for k, c in colours.items()) + "</div>"


@dataclass
class OncoCell:
    """One oncoprint cell: colour class, kind (drawn as bar height) and hover text."""

    cls: str
    kind: str
    tip: str


def oncoprint(genes: Sequence[str], columns: Sequence[tuple[str, str, str]],
              cells: dict[tuple[str, str], list[OncoCell]], annotations: Sequence[tuple[str, dict[str, str],
              dict[str, str]]], label: str) -> str:
    """Genes x patients grid. ``columns`` are (patient id, hover text, href); ``annotations`` are
    (track name, patient -> category, category -> colour) rows drawn above the grid.

    Amplifications / deletions fill the cell; sequence variants and fusions are a narrower bar in
    the middle (cBioPortal OncoPrinter convention), so both are visible when a patient has both.
    """
    n = len(columns)
    cw = max(3.0, min(16.0, 900.0 / max(n, 1)))
    ch = 16
    left = max(CHAR_W * max([len(g) + 5 for g in genes] + [len(a[0]) for a in annotations] + [4]) + 10, 70)
    top = 6
    grid_top = top + len(annotations) * (ch - 4 + 2) + 4
    width = left + cw * n + 60
    height = grid_top + ch * len(genes) + 10
    out = []
    for a_i, (name, values, colours) in enumerate(annotations):
        y = top + a_i * (ch - 2)
        out.append(_text(left - 6, y + ch - 7, name, "end", 11))
        for j, (pid, _, _) in enumerate(columns):
            cat = values.get(pid)
            if cat is None:
                continue
            out.append(f'<rect x="{left + j * cw:.1f}" y="{y}" width="{max(cw - 1, 1):.1f}" height="{ch - 4}" '
                       f'fill="{colours.get(cat, "#ccc")}"><title>{esc(name)}: {esc(cat)}</title></rect>')
    counts = {g: sum(1 for pid, _, _ in columns if (g, pid) in cells) for g in genes}
    for i, g in enumerate(genes):
        y = grid_top + i * ch
        pct = 100 * counts[g] / n if n else 0
        out.append(_text(left - 6, y + ch - 4, f"{g} {pct:.0f}%", "end", 11))
        out.append(f'<rect x="{left}" y="{y + 1}" width="{cw * n:.1f}" height="{ch - 2}" fill="#f0f2f5"/>')
        for j, (pid, ptip, href) in enumerate(columns):
            for c in cells.get((g, pid), []):
                full = c.kind in ("amplification", "deep_deletion")
                h = ch - 2 if full else (ch - 2) / 2.2
                y0 = y + 1 + ((ch - 2) - h) / 2
                rect = (f'<rect class="hov" x="{left + j * cw:.1f}" y="{y0:.1f}" width="{max(cw - 1, 1):.1f}" '
                        f'height="{h:.1f}" fill="{CLASS_COLOURS.get(c.cls, "#777")}"><title>{esc(ptip)}: '
                        f'{esc(c.tip)}</title></rect>')
                out.append(f'<a href="{esc(href)}">{rect}</a>' if href else rect)
    return _svg(width, height, "".join(out), label)


@dataclass
class Lane:
    """One swimmer-plot lane (a patient)."""

    pid: str
    label: str
    href: str
    end_day: float
    colour_key: str
    search: str
    tip: str
    progression_day: float | None = None
    samples: list[tuple[float, str, str]] = field(default_factory=list)   # (day, sample type, tip)
    detections: list[tuple[float, str]] = field(default_factory=list)     # (day, tip)
    #: treatment lines when there are several: (start day, end day, short label, tip); line 1 first
    lines: list[tuple[float, float, str, str]] = field(default_factory=list)
    #: progression days of later lines (the first line's is ``progression_day``)
    later_progressions: list[float] = field(default_factory=list)


def swimmer(lanes: Sequence[Lane], label: str, lane_h: float | None = None, with_labels: bool | None = None) -> str:
    """Swimmer plot: a line per patient from day 0 to the last follow-up, with markers.

    Markers: tissue biopsy = square, plasma draw = circle, progression = red bar, first plasma
    detection of a resistance alteration = diamond. Lanes are coloured by resistance type. A patient
    with several treatment lines has each line drawn as its own band (alternating shades) that
    starts with a black tick and carries the line's drug as a label when lanes are tall enough.
    """
    if not lanes:
        return ""
    many = len(lanes) > 80
    lane_h = lane_h or (7.0 if many else 20.0)
    with_labels = (not many) if with_labels is None else with_labels
    left = (CHAR_W * max(len(ln.label) for ln in lanes) + 14) if with_labels else 20
    plot_w = 760
    lo = min(0.0, min((d for ln in lanes for d, _, _ in ln.samples), default=0.0))
    hi = max(max(ln.end_day for ln in lanes), 1.0)
    ticks = nice_ticks(lo, hi, 8)
    lo, hi = min(lo, ticks[0]), ticks[-1]
    sx = plot_w / (hi - lo)
    top = 6
    height = top + lane_h * len(lanes) + 40

    def X(d: float) -> float:
        return left + (d - lo) * sx

    out = []
    for t in ticks:
        out.append(f'<line x1="{X(t):.1f}" y1="{top}" x2="{X(t):.1f}" y2="{top + lane_h * len(lanes)}" '
                   f'stroke="{"#b0b8c2" if t == 0 else "#e3e7ec"}"/>')
        out.append(_text(X(t), top + lane_h * len(lanes) + 14, _fmt_tick(t), "middle", 11))
    r = max(2.0, min(5.0, lane_h / 3.2))
    for i, ln in enumerate(lanes):
        y = top + i * lane_h + lane_h / 2
        col = RESISTANCE_COLOURS.get(ln.colour_key, "#777")
        g = [f'<g class="lane" data-search="{esc(ln.search)}"><title>{esc(ln.tip)}</title>']
        if with_labels:
            g.append(f'<a href="{esc(ln.href)}">' + _text(left - 6, y + 4, ln.label, "end", 11) + "</a>")
        g.append(f'<a href="{esc(ln.href)}"><line class="track" x1="{X(0):.1f}" y1="{y:.1f}" x2="{X(ln.end_day):.1f}" '
                 f'y2="{y:.1f}" stroke="{col}" stroke-width="{max(1.5, lane_h / 3.5):.1f}"/></a>')
        g.extend(_line_bands(ln, X, y, lane_h))
        for d, stype, tip in ln.samples:
            if stype == "tissue":
                g.append(f'<rect x="{X(d) - r:.1f}" y="{y - r:.1f}" width="{2 * r:.1f}" height="{2 * r:.1f}" '
                         f'fill="#fff" stroke="#1d2430"><title>{esc(tip)}</title></rect>')
            else:
                g.append(f'<circle cx="{X(d):.1f}" cy="{y:.1f}" r="{r * 0.8:.1f}" fill="#1d2430">'
                         f'<title>{esc(tip)}</title></circle>')
        for prog in ([ln.progression_day] if ln.progression_day is not None else []) + ln.later_progressions:
            x = X(prog)
            g.append(f'<line x1="{x:.1f}" y1="{y - lane_h / 2 + 1:.1f}" x2="{x:.1f}" y2="{y + lane_h / 2 - 1:.1f}" '
                     f'stroke="#c00000" stroke-width="2.5"><title>progression, day {prog:g}</title></line>')
        for d, tip in ln.detections:
            x = X(d)
            g.append(f'<path d="M{x:.1f},{y - r - 1:.1f} L{x + r + 1:.1f},{y:.1f} L{x:.1f},{y + r + 1:.1f} '
                     f'L{x - r - 1:.1f},{y:.1f}Z" fill="#E69F00" stroke="#7a4d00"><title>{esc(tip)}</title></path>')
        g.append("</g>")
        out.append("".join(g))
    out.append(_text(left + plot_w / 2, height - 6, "days from treatment start", "middle", 12))
    return _svg(left + plot_w + 20, height, "".join(out), label)


def _line_bands(ln: Lane, X, y: float, lane_h: float) -> list[str]:
    """The treatment-line bands of a lane with several lines (drawn under the markers)."""
    out = []
    if len(ln.lines) < 2:
        return out
    half = lane_h / 2 - 1
    for i, (a, b, short, tip) in enumerate(ln.lines):
        shade = "#1d2430" if i % 2 == 0 else "#8a94a3"
        out.append(f'<rect class="line-band" x="{X(a):.1f}" y="{y + half - 3:.1f}" width="{max(1.0, X(b) - X(a)):.1f}" '
                   f'height="3" fill="{shade}"><title>{esc(tip)}</title></rect>')
        out.append(f'<line x1="{X(a):.1f}" y1="{y - half:.1f}" x2="{X(a):.1f}" y2="{y + half:.1f}" stroke="#1d2430" '
                   f'stroke-width="1.5"><title>{esc(tip)}</title></line>')
        if lane_h >= 18:
            out.append(_text(X(a) + 3, y - half + 8, short, "start", 9))
    return out


SWIMMER_LEGEND = ('<div class="legend"><span><i style="background:#0072B2"></i>acquired resistance</span>'
                  '<span><i style="background:#D55E00"></i>primary resistance</span>'
                  '<span><i style="background:#009E73"></i>not progressed</span>'
                  '<span><i style="background:#9a9a9a"></i>unknown</span>'
                  '<span>&#9633; tissue biopsy</span><span>&#9679; blood (plasma) sample</span>'
                  '<span style="color:#c00000">&#10073; progression</span>'
                  '<span style="color:#E69F00">&#9670; first blood detection of the resistance alteration</span>'
                  '<span>&#9474; start of a treatment line (bands: successive lines, labelled with the drug)</span></div>')


@dataclass
class Series:
    """One line of a line chart: points (x, y, hover text)."""

    name: str
    points: list[tuple[float, float, str]]
    colour: str
    dashed: bool = False
    width: float = 2.0
    href: str = ""


def line_chart(series: Sequence[Series], label: str, x_label: str, y_label: str,
               vlines: Sequence[tuple[float, str]] = (), y_percent: bool = True, width: int = 760,
               height: int = 300, show_names: bool = True) -> str:
    """Lines with point markers; ``vlines`` are (x, text) reference lines (e.g. progression)."""
    pts = [p for s in series for p in s.points]
    if not pts:
        return ""
    xs = [p[0] for p in pts] + [v for v, _ in vlines]
    ys = [p[1] for p in pts]
    xt = nice_ticks(min(xs), max(xs), 8)
    yt = nice_ticks(0, max(max(ys), 1e-3), 5)
    name_w = (CHAR_W * min(max(len(s.name) for s in series), 28) + 16) if show_names else 10
    left, right, top, bottom = 58, name_w, 14, 42
    pw, ph = width - left - right, height - top - bottom

    def X(v: float) -> float:
        return left + (v - xt[0]) / (xt[-1] - xt[0]) * pw

    def Y(v: float) -> float:
        return top + ph - (v - yt[0]) / (yt[-1] - yt[0]) * ph

    out = []
    for t in yt:
        out.append(f'<line x1="{left}" y1="{Y(t):.1f}" x2="{left + pw}" y2="{Y(t):.1f}" stroke="#e3e7ec"/>')
        out.append(_text(left - 6, Y(t) + 4, f"{t * 100:g}%" if y_percent else _fmt_tick(t), "end", 11))
    for t in xt:
        out.append(_text(X(t), top + ph + 15, _fmt_tick(t), "middle", 11))
    out.append(f'<line x1="{left}" y1="{top + ph}" x2="{left + pw}" y2="{top + ph}" stroke="#8a94a0"/>')
    for v, txt in vlines:
        out.append(f'<line x1="{X(v):.1f}" y1="{top}" x2="{X(v):.1f}" y2="{top + ph}" stroke="#c00000" '
                   f'stroke-dasharray="4,3"><title>{esc(txt)}</title></line>')
        out.append(_text(X(v) - 3, top + 10, txt, "end", 10, extra=' fill="#c00000"'))
    label_ys: list[float] = []
    for s in series:
        s_pts = sorted(s.points)
        path = " ".join(f"{'M' if k == 0 else 'L'}{X(x):.1f},{Y(y):.1f}" for k, (x, y, _) in enumerate(s_pts))
        dash = ' stroke-dasharray="6,4"' if s.dashed else ""
        grp = [f'<g><title>{esc(s.name)}</title><path d="{path}" fill="none" stroke="{s.colour}" '
               f'stroke-width="{s.width}"{dash} opacity="0.9"/>']
        for x, y, tip in s_pts:
            grp.append(f'<circle class="hov" cx="{X(x):.1f}" cy="{Y(y):.1f}" r="3" fill="{s.colour}">'
                       f'<title>{esc(tip)}</title></circle>')
        if show_names:
            ly = Y(s_pts[-1][1]) + 4
            for prev in sorted(label_ys):   # push labels apart so they never overlap
                if abs(ly - prev) < 13:
                    ly = prev + 13
            label_ys.append(ly)
            name = s.name if len(s.name) <= 28 else s.name[:27] + "…"
            grp.append(_text(left + pw + 6, ly, name, "start", 11, extra=f' fill="{s.colour}"'))
        grp.append("</g>")
        g = "".join(grp)
        out.append(f'<a href="{esc(s.href)}">{g}</a>' if s.href else g)
    out.append(_text(left + pw / 2, height - 6, x_label, "middle", 12))
    out.append(f'<text x="14" y="{top + ph / 2:.1f}" font-size="12" text-anchor="middle" '
               f'transform="rotate(-90 14 {top + ph / 2:.1f})">{esc(y_label)}</text>')
    return _svg(width, max(height, max(label_ys, default=0) + bottom), "".join(out), label)


def heatmap(rows: Sequence[str], cols: Sequence[str], values: dict[tuple[str, str], tuple[float, str]],
            label: str, vmax: float = 1.0, percent: bool = True) -> str:
    """A rows x columns heatmap (white -> blue); ``values`` (row, col) -> (value, hover text)."""
    if not rows or not cols:
        return ""
    cw, ch = max(70.0, CHAR_W * max(len(c) for c in cols) + 10), 22
    left = CHAR_W * max(len(r) for r in rows) + 12
    top = 22
    out = []
    for j, c in enumerate(cols):
        out.append(_text(left + j * cw + cw / 2, top - 7, c, "middle", 11, "bold"))
    for i, r in enumerate(rows):
        y = top + i * ch
        out.append(_text(left - 6, y + ch / 2 + 4, r, "end", 11))
        for j, c in enumerate(cols):
            v = values.get((r, c))
            if v is None:
                out.append(f'<rect x="{left + j * cw:.1f}" y="{y}" width="{cw - 2:.1f}" height="{ch - 2}" fill="#f5f5f5"/>')
                continue
            t = max(0.0, min(1.0, v[0] / vmax if vmax else 0))
            fill = f"rgb({int(255 - 255 * t)},{int(255 - 141 * t)},{int(255 - 77 * t)})"
            out.append(f'<rect class="hov" x="{left + j * cw:.1f}" y="{y}" width="{cw - 2:.1f}" height="{ch - 2}" '
                       f'fill="{fill}"><title>{esc(v[1])}</title></rect>')
            txt = f"{100 * v[0]:.0f}%" if percent else f"{v[0]:.2g}"
            out.append(_text(left + j * cw + cw / 2 - 1, y + ch / 2 + 3, txt, "middle", 11,
                             extra=' fill="#fff"' if t > 0.55 else ""))
    return _svg(left + cw * len(cols) + 10, top + ch * len(rows) + 6, "".join(out), label)
