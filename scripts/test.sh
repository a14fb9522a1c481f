#!/usr/bin/env bash
# The project's test command (README, .ci/run): installs the package with its test and
# lint dependencies into .venv, then runs ruff, mypy --strict and the whole pytest suite.
# The suite's harness installs and starts the real registry and Docker Engine it needs.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv
.venv/bin/pip install -q --upgrade pip
.venv/bin/pip install -q -e '.[test,dev]'
.venv/bin/ruff check lifecycle tests bench examples release
.venv/bin/mypy
status=0
.venv/bin/python -m pytest -q -p no:cacheprovider "$@" || status=$?
if [ "$status" -eq 5 ]; then
  echo "pytest collected no tests: that is a failure" >&2
  exit 1
fi
exit "$status"
