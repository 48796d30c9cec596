"""Run inputs: the one loader and validator of ``config.yaml``, ``patients.tsv``, ``samples.tsv`` and ``treatments.tsv``.

``load_run(config, workdir)`` returns a :class:`Run` (validated config + typed sheets) or raises
one :class:`~unlock_atlas.errors.InputError` listing every problem with file, line and column.
"""

from __future__ import annotations

from .._lazy import lazy_exports

#: public names, imported on first use (unlock_atlas._lazy)
_EXPORTS = {
    "check_bam_contigs": ".bamcheck",
    "find_bam_index": ".bamcheck",
    "ID_WILDCARD": ".sheets",
    "Line": ".treatments",
    "TREATMENT_COLUMNS": ".treatments",
    "attach_line": ".treatments",
    "PATIENT_COLUMNS": ".run",
    "SAMPLE_COLUMNS": ".run",
    "Run": ".run",
    "load_run": ".run",
    "load_run_or_exit": ".run",
}
__getattr__, __dir__ = lazy_exports(globals(), _EXPORTS)


__all__ = ["ID_WILDCARD", "PATIENT_COLUMNS", "SAMPLE_COLUMNS", "TREATMENT_COLUMNS", "Line", "Run", "attach_line",
           "check_bam_contigs", "find_bam_index", "load_run", "load_run_or_exit"]
