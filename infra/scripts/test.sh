#!/usr/bin/env bash
# The whole test suite: setup, the Python trainer's tests, then vitest — last, so that a CI log
# ends with vitest's summary. Extra arguments go to vitest.
set -euo pipefail
cd "$(dirname "$0")/../.."
bash infra/scripts/setup.sh

py_rc=0
if [ -d workers/trainer/tests ]; then
  .venv/bin/python -m pytest -q workers/trainer/tests || py_rc=$?
  # pytest exits 5 when it collected no tests: an empty suite is not a failure.
  [ "$py_rc" -eq 5 ] && py_rc=0
  # Lint the trainer (rules in workers/trainer/pyproject.toml) only where pytest passed, so a
  # failing test's exit code is the one reported.
  if [ "$py_rc" -eq 0 ]; then .venv/bin/ruff check workers/trainer || py_rc=$?; fi
  [ "$py_rc" -eq 0 ] || echo "tokenmill: pytest or ruff failed (exit $py_rc); running vitest anyway" >&2
fi

# Static checks: types across the monorepo, and no import cycles.
npx --no-install tsc -p tsconfig.json --noEmit
npm run --silent lint:cycles

vt_rc=0
npx --no-install vitest run "$@" || vt_rc=$?
[ "$vt_rc" -ne 0 ] && exit "$vt_rc"
exit "$py_rc"
