"""Sample identity: germline SNP fingerprints, pairwise concordance, swap / contamination verdicts.

See docs/identity.md. Public entry points: :func:`.sites.cohort_sites`,
:func:`.fingerprint.fingerprint`, :func:`.verdict.judge`, :func:`.stage.check_run`.
"""

from __future__ import annotations

from .._lazy import lazy_exports

#: public names, imported on first use (unlock_atlas._lazy); other stages import only these
_EXPORTS = {
    "read_identity_part": ".stage",
    "read_patient_verdicts": ".stage",
}
__getattr__, __dir__ = lazy_exports(globals(), _EXPORTS)


__all__ = [
    "read_identity_part", "read_patient_verdicts"
]
