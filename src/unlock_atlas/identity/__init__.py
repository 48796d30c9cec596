"""Sample identity: germline SNP fingerprints, pairwise concordance, swap / contamination verdicts.

See docs/identity.md. Public entry points: :func:`.sites.cohort_sites`,
:func:`.fingerprint.fingerprint`, :func:`.verdict.judge`, :func:`.stage.check_run`.
"""
