"""The cohort report for programme leads, generated from the Parquet atlas alone (docs/report.md)."""

from .._lazy import lazy_exports

#: public names, imported on first use (unlock_atlas._lazy)
_EXPORTS = {
    "build_report": ".build",
}
__getattr__, __dir__ = lazy_exports(globals(), _EXPORTS)


__all__ = ["build_report"]
