"""Demo-cohort simulator: realistic hybrid-capture panel reads with planted resistance events.

Entry point :func:`simulate_cohort` (CLI ``unlock-atlas simulate``). Modules:
``scenario`` (YAML loader), ``cohort`` (scenario → per-sample plans, clonal VAF model),
``panelgenome`` (reference arrays, targets, capture efficiency), ``fragments`` (lengths,
capture, duplicates, allele carriers), ``reads`` (bases, qualities, errors, CIGARs),
``bamout`` (SAM → fixmate/sort/markdup/index, FASTQ), ``truth`` (truth tables, run config),
``run`` (orchestration over samples).
"""

from __future__ import annotations

__all__ = ["simulate_cohort"]


def simulate_cohort(*args, **kwargs):  # noqa: D103 - documented in .run
    from .run import simulate_cohort as _sim

    return _sim(*args, **kwargs)


simulate_cohort.__doc__ = "Simulate a cohort; see :func:`unlock_atlas.simulate.run.simulate_cohort`."
