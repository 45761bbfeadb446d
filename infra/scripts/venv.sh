#!/usr/bin/env bash
# Creates (or refreshes) the project's Python environment in .venv from pip: the packages of
# infra/python-requirements.txt, including the trainer (workers/trainer) installed editable.
# PIP_RETRIES=0: where the default index is unreachable, pip falls through to the configured
# mirror at once instead of retrying every package. torch is the CPU wheel (torch==…+cpu), found
# through pip's find-links (/opt/wheels on CI machines).
# Fast when nothing changed: a stamp holds the hash of the requirements and of the trainer's
# pyproject.toml; the editable install needs no reinstall when only sources change.
set -euo pipefail
cd "$(dirname "$0")/../.."
export PIP_RETRIES=0 PIP_DISABLE_PIP_VERSION_CHECK=1
PY=${PYTHON:-python3}
if ! command -v "$PY" >/dev/null; then
  echo "tokenmill: python3 is required (set PYTHON=... to choose one)" >&2
  exit 1
fi
stamp=.venv/.requirements.sha256
want=$(cat infra/python-requirements.txt infra/python-eval-requirements.txt workers/trainer/pyproject.toml | sha256sum | cut -c1-64)
if [ -x .venv/bin/python ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  exit 0
fi
[ -x .venv/bin/python ] || "$PY" -m venv .venv
echo "tokenmill: installing Python packages into .venv" >&2
.venv/bin/python -m pip install --quiet --timeout 30 -r infra/python-requirements.txt
# The evaluation entry (tokenmill_trainer.eval): lm-eval without the dependencies the mirror lacks.
.venv/bin/python -m pip install --quiet --timeout 30 -r infra/python-eval-requirements.txt
.venv/bin/python -m pip install --quiet --timeout 30 --no-deps 'lm-eval>=0.4.8,<0.5'
echo "$want" > "$stamp"
