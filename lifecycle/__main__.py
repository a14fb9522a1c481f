"""``python -m lifecycle <phase> [flags] ...``: every command without its console script.

The phase name is the console script's (``exporter``, ``rebaser``, ``rebase-many``,
``inspect-image``, ``layout-add``); the rest of the command line is the phase's own.
"""

from __future__ import annotations

import importlib
import sys

PHASES = {"exporter": "lifecycle.exporter", "rebaser": "lifecycle.rebaser",
          "rebase-many": "lifecycle.rebasemany", "inspect-image": "lifecycle.inspect",
          "layout-add": "lifecycle.layoutadd"}
USAGE = f"Usage: python -m lifecycle <{'|'.join(PHASES)}> [flags] [arguments]\n"


def main(argv: list[str]) -> int:
    if not argv or argv[0] in ("-h", "-help", "--help"):
        sys.stderr.write(USAGE)
        return 0 if argv else 2
    module = PHASES.get(argv[0])
    if module is None:
        sys.stderr.write(f"unknown phase: {argv[0]}\n{USAGE}")
        return 2
    phase_main = importlib.import_module(module).main
    code: int = phase_main(argv[1:])
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
