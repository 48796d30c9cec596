"""HTML page shell: inline CSS and JS (resources/report/), header, table of contents, sections.

Pages are self-contained: no external URL is referenced (no CDN, fonts or images), so they open
offline from a file share or an e-mail attachment.
"""

from __future__ import annotations

from functools import cache
from html import escape

from ..paths import resources_dir


@cache
def asset(name: str) -> str:
    """Text of ``resources/report/<name>`` (report.css, report.js)."""
    return (resources_dir() / "report" / name).read_text()


def page(title: str, subtitle: str, sections: list[tuple[str, str, str]], *, banner: str = "",
         back_link: str = "", filter_box: bool = False, footer: str = "") -> str:
    """A full HTML document with a header, a table of contents and ``sections`` ((anchor, title, html))."""
    toc = "".join(f'<a href="#{escape(a)}">{escape(t)}</a>' for a, t, _ in sections)
    back = f'<a href="{escape(back_link)}">&larr; cohort report</a>' if back_link else ""
    flt = ('<div id="filter-box"><label>Filter patients: <input type="search" placeholder="pseudonym, drug, tumour '
           'type, gene…" aria-label="filter patients"></label> <span id="filter-count"></span></div>'
           if filter_box else "")
    body = "".join(f'<section id="{escape(a)}"><h2>{escape(t)}</h2>{h}</section>' for a, t, h in sections)
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title><style>{asset('report.css')}</style></head><body>"
        f'<header class="top"><h1>{escape(title)}</h1><p>{escape(subtitle)}</p></header>'
        f'<nav class="toc">{back}{toc}</nav><main>{banner}{flt}{body}</main>'
        f"<footer>{footer}</footer><script>{asset('report.js')}</script></body></html>\n")
