"""Exit codes and the one error type the phases raise (the README lists the codes).

Every failure a user can cause ends as a :class:`LifecycleError`: a one-line message in the
lifecycle's ``failed to <action>: <cause>`` form and the documented exit code.
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    SUCCESS = 0
    FAILED = 1
    FLAG_PARSE = 2
    INVALID_ARGS = 3
    INCOMPATIBLE_PLATFORM_API = 11
    EXPORT_FAILED = 62
    REBASE_FAILED = 72
    INTERRUPTED = 130     # SIGINT (Ctrl-C): 128 + 2, as a shell reports a process it killed
    TERMINATED = 143      # SIGTERM: 128 + 15


class LifecycleError(Exception):
    """A failure with a user-facing one-line message and an exit code."""

    def __init__(self, action: str, cause: str | BaseException | None = None,
                 code: ExitCode = ExitCode.FAILED) -> None:
        self.action = action
        self.cause = cause
        self.code = code
        super().__init__(self.message)

    @property
    def message(self) -> str:
        text = f"failed to {self.action}"
        if self.cause is not None and str(self.cause):
            text += f": {one_line(str(self.cause))}"
        return text


def one_line(text: str) -> str:
    """Collapse a (possibly multi-line) cause into a single line."""
    return " ".join(text.split())


def invalid_args(action: str, cause: str | BaseException | None = None) -> LifecycleError:
    return LifecycleError(action, cause, ExitCode.INVALID_ARGS)
