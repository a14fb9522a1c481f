#!/usr/bin/env bash
# The README's main job: install cnb-lifecycle into .venv, then export an app image into an
# OCI layout and rebase it (Scenario 1 and 2). Needs nothing but Python 3.11+.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv
.venv/bin/pip install -q --upgrade pip
.venv/bin/pip install -q .
exec .venv/bin/python examples/demo.py
