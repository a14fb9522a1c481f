"""What every phase entry point shares: parse, configure logging, run, map errors to exits.

A user never sees a traceback for a failure they can act on: every error ends as one line
(``ERROR: failed to <action>: <cause>``) and a documented exit code. Unexpected failures
exit 1 with their cause in words; the traceback is shown only at ``-log-level debug``.
Ctrl-C exits 130 and SIGTERM 143, once everything this run made is taken back
(:mod:`lifecycle.interrupts`).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from lifecycle import interrupts, log
from lifecycle.backends import open_store
from lifecycle.backends.base import DEFAULT_CONNECTIONS, BackendError, ImageStore
from lifecycle.causes import describe
from lifecycle.checking import TYPE_CHECKING
from lifecycle.platform.exits import ExitCode, LifecycleError
from lifecycle.platform.inputs import EarlyExit, LogSettings, Target

if TYPE_CHECKING:
    from typing import TypeVar

    InputsT = TypeVar("InputsT")


def run_phase(argv: Sequence[str] | None,
              resolve: Callable[[Sequence[str], dict[str, str], Path], InputsT],
              log_settings: Callable[[InputsT], LogSettings],
              phase: Callable[[InputsT], None]) -> int:
    """Run one phase; returns the process exit code."""
    args = list(sys.argv[1:] if argv is None else argv)
    environ = dict(os.environ)
    log.configure(color=log.color_wanted(sys.stderr, environ, no_color=False))
    interrupts.install()
    debug = False
    try:
        inputs = resolve(args, environ, Path.cwd())
        settings = log_settings(inputs)
        debug = settings.level == "debug"
        log.configure(settings.level, settings.format,
                      log.color_wanted(sys.stderr, environ, settings.no_color))
        phase(inputs)
        return ExitCode.SUCCESS
    except EarlyExit as early:
        print(early.output, end="", file=sys.stderr if early.to_stderr else sys.stdout)
        return early.code
    except LifecycleError as err:
        log.get_logger().error(err.message, kind="phase.failed", status="failed")
        return err.code
    except KeyboardInterrupt:
        log.get_logger().error("interrupted (Ctrl-C): stopped and cleaned up",
                               kind="phase.interrupted", status="interrupted")
        return ExitCode.INTERRUPTED
    except interrupts.Terminated:
        log.get_logger().error("terminated (SIGTERM): stopped and cleaned up",
                               kind="phase.interrupted", status="terminated")
        return ExitCode.TERMINATED
    except Exception as err:  # noqa: BLE001 - the last line of defence: one line, exit 1
        if debug:
            import traceback  # only a debug run that fails unexpectedly prints one

            traceback.print_exc()
        log.get_logger().error(f"failed to finish: {describe(err)}", kind="phase.failed",
                               status="failed")
        return ExitCode.FAILED


def open_target(target: Target, action: str, code: ExitCode,
                connections: int = DEFAULT_CONNECTIONS) -> ImageStore:
    """The phase's store; one that cannot be opened (no Docker daemon) fails the phase with
    its own exit code, naming where it looked."""
    try:
        return open_store(target, connections)
    except BackendError as err:
        raise LifecycleError(action, err, code) from None
