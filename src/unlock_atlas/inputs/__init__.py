"""Run inputs: the one loader and validator of ``config.yaml``, ``patients.tsv`` and ``samples.tsv``.

``load_run(config, workdir)`` returns a :class:`Run` (validated config + typed sheets) or raises
one :class:`~unlock_atlas.errors.InputError` listing every problem with file, line and column.
"""

from __future__ import annotations

from .bamcheck import check_bam_contigs, find_bam_index
from .run import PATIENT_COLUMNS, SAMPLE_COLUMNS, Run, load_run, load_run_or_exit

__all__ = ["PATIENT_COLUMNS", "SAMPLE_COLUMNS", "Run", "check_bam_contigs", "find_bam_index", "load_run", "load_run_or_exit"]
