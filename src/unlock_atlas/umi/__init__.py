"""UMI molecule grouping and single-strand / duplex consensus reads (docs/umi.md).

``grouping`` (position key + UMI-tools directional clustering, streamed over a
coordinate-sorted BAM), ``consensus`` (fgbio-style likelihood consensus, duplex agreement),
``stage`` (consensus BAM + metrics, the UMI-tag check used when a run is validated).
"""

from __future__ import annotations

from .._lazy import lazy_exports

#: public names, imported on first use (unlock_atlas._lazy)
_EXPORTS = {
    "DEFAULTS": ".stage",
    "MODES": ".stage",
    "umi_consensus": ".stage",
    "umi_settings": ".stage",
    "umi_tag_problem": ".stage",
}
__getattr__, __dir__ = lazy_exports(globals(), _EXPORTS)


__all__ = ["DEFAULTS", "MODES", "umi_consensus", "umi_settings", "umi_tag_problem"]
