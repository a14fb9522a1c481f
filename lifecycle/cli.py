"""What every phase entry point shares: parse, configure logging, run, map errors to exits.

A user never sees a traceback for a failure they can act on: every error ends as one line
(``ERROR: failed to <action>: <cause>``) and a documented exit code. Unexpected failures
exit 1 with their cause; the traceback is shown only at ``-log-level debug``.
"""

from __future__ import annotations

import os
import sys
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TypeVar

from lifecycle import log
from lifecycle.platform.exits import ExitCode, LifecycleError, one_line
from lifecycle.platform.inputs import EarlyExit, LogSettings

InputsT = TypeVar("InputsT")


def run_phase(argv: Sequence[str] | None,
              resolve: Callable[[Sequence[str], dict[str, str], Path], InputsT],
              log_settings: Callable[[InputsT], LogSettings],
              phase: Callable[[InputsT], None]) -> int:
    """Run one phase; returns the process exit code."""
    args = list(sys.argv[1:] if argv is None else argv)
    log.configure()
    debug = False
    try:
        inputs = resolve(args, dict(os.environ), Path.cwd())
        settings = log_settings(inputs)
        debug = settings.level == "debug"
        log.configure(settings.level, settings.format)
        phase(inputs)
        return ExitCode.SUCCESS
    except EarlyExit as early:
        print(early.output, end="", file=sys.stderr if early.to_stderr else sys.stdout)
        return early.code
    except LifecycleError as err:
        log.get_logger().error(err.message)
        return err.code
    except KeyboardInterrupt:
        log.get_logger().error("failed to finish: interrupted")
        return ExitCode.FAILED
    except Exception as err:  # noqa: BLE001 - the last line of defence: one line, exit 1
        if debug:
            traceback.print_exc()
        log.get_logger().error(f"failed to finish: {type(err).__name__}: {one_line(str(err))}")
        return ExitCode.FAILED
