"""Entry point of the self-contained binary: one program, dispatching on the name it was run
as (``exporter``, ``rebaser``, ``rebase-many``), as the Go lifecycle's binaries do."""

import os
import sys

from lifecycle import console

COMMANDS = {"exporter": console.exporter, "rebaser": console.rebaser,
            "rebase-many": console.rebase_many}


def main() -> int:
    phase = os.path.basename(sys.argv[0])
    if phase not in COMMANDS:
        print(f"run as exporter, rebaser or rebase-many, not {phase!r}", file=sys.stderr)
        return 2
    COMMANDS[phase]()


if __name__ == "__main__":
    sys.exit(main())
