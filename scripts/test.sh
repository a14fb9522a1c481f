#!/usr/bin/env bash
# The project's test command (README, .ci/run): installs the package with its test and
# lint dependencies into .venv, then runs ruff, mypy --strict and the whole pytest suite.
# The suite's harness installs and starts the real registry and Docker Engine it needs.
# Without arguments it is the full run: the suite's guard (tests/harness/groups.py) then
# fails it if any test group the README promises collected or passed no test, and this
# script fails it if the guard did not report at all.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv
.venv/bin/pip install -q --upgrade pip
.venv/bin/pip install -q -e '.[test,dev]'
.venv/bin/ruff check lifecycle tests bench examples release
.venv/bin/mypy
groups_report=$(mktemp)
trap 'rm -f "$groups_report"' EXIT
status=0
CNB_TEST_GROUPS_REPORT="$groups_report" \
  .venv/bin/python -m pytest -q -p no:cacheprovider --durations=15 "$@" || status=$?
if [ "$status" -eq 5 ]; then
  echo "pytest collected no tests: that is a failure" >&2
  exit 1
fi
if [ "$#" -eq 0 ] && [ "$status" -eq 0 ] && [ ! -s "$groups_report" ]; then
  echo "the test-group guard (tests/harness/groups.py) did not run: that is a failure" >&2
  exit 1
fi
exit "$status"
