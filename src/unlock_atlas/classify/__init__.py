"""Classification: alterations across timepoints, ctDNA tumour fraction and concordance,
drug-aware resistance mechanisms (docs/classification.md; the cohort summary is
computed by the atlas stage, :mod:`unlock_atlas.atlas.summary`)."""

from __future__ import annotations

from .._lazy import lazy_exports

#: public names, imported on first use (unlock_atlas._lazy)
_EXPORTS = {
    "PatientResult": ".stage",
    "classify": ".stage",
    "write_parts": ".stage",
}
__getattr__, __dir__ = lazy_exports(globals(), _EXPORTS)


__all__ = ["PatientResult", "classify", "write_parts"]
