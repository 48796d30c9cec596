"""UMI-tagged reads with planted molecules (issue 16): :mod:`.molecules`.

A sub-package on purpose: the cohort simulator (``simulate_cohort``) does not import it, so it
is not part of the simulator fingerprint of :mod:`unlock_atlas.simulate.cache` (which covers
``simulate/*.py`` and what they import) and cached demo/small cohorts stay valid. Used by the
UMI tests and ``benchmarks/umi/error_rate.py``.
"""
