"""Entry point of the self-contained binary: one program, dispatching on the name it was run
as (``exporter``, ``rebaser``, ``rebase-many``), as the Go lifecycle's binaries do."""

import os
import sys


def main() -> int:
    phase = os.path.basename(sys.argv[0])
    if phase == "exporter":
        from lifecycle.exporter import main as run
    elif phase == "rebaser":
        from lifecycle.rebaser import main as run
    elif phase == "rebase-many":
        from lifecycle.rebasemany import main as run
    else:
        print(f"run as exporter, rebaser or rebase-many, not {phase!r}", file=sys.stderr)
        return 2
    return run()


if __name__ == "__main__":
    sys.exit(main())
