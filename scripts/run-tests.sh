#!/usr/bin/env bash
# The test tiers, each timed (called by `make test` / `make test-fast`; docs/testing.md).
#   lint: ruff over src, tests, benchmarks and scripts (pyproject.toml)
#   fast: every module's unit tests, no workflow run, no cohort simulation once the cache is warm
#   slow: the end-to-end runs (demo workflow, the shared small-cohort run, faults, SLURM, browser)
# Each tier prints its 25 slowest tests; the summary line gives each tier's wall time.
# Usage: scripts/run-tests.sh fast|all [extra pytest arguments]
set -uo pipefail
cd "$(dirname "$0")/.."
tier=${1:-all}
shift || true
PYTEST=${PYTEST:-.venv/bin/pytest}
RUFF=${RUFF:-.venv/bin/ruff}
status=0
# lint first (seconds): the rules and their reasons are in pyproject.toml [tool.ruff]
"$RUFF" check src tests benchmarks scripts || status=$?
t0=$(date +%s)
"$PYTEST" -m "not slow" --durations=25 "$@" tests || status=$?
fast=$(( $(date +%s) - t0 ))
summary="fast tier ${fast} s"
if [ "$tier" = all ]; then
  t1=$(date +%s)
  "$PYTEST" -m slow --durations=25 "$@" tests || status=$?
  slow=$(( $(date +%s) - t1 ))
  summary="$summary; slow tier ${slow} s"
fi
echo "TESTS: $summary (exit status $status)"
exit $status
