"""Logging with structlog: plain lifecycle-style lines for people, JSON lines for machines.

Console output mirrors the Go lifecycle: info and debug lines are the bare message on stdout,
warnings are ``Warning: ...`` and errors ``ERROR: ...`` on stderr. ``-log-format json`` emits
one JSON object per event with its structured fields, to stdout for every level.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import MutableMapping
from dataclasses import dataclass
from typing import Any

import structlog
from structlog.typing import FilteringBoundLogger

_LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warn": logging.WARNING,
           "warning": logging.WARNING, "error": logging.ERROR}


def _console_renderer(_: Any, method: str, event: MutableMapping[str, Any]) -> str:
    message = str(event.get("event", ""))
    if "item" in event:
        message = f"{event['item']}: {message}"
    if method in ("warning", "warn"):
        return f"Warning: {message}"
    if method in ("error", "exception", "critical"):
        return f"ERROR: {message}"
    return message


class _SplitStreamLogger:
    """Warnings and errors to stderr, everything else to stdout (console mode)."""

    def __init__(self, split: bool) -> None:
        self.split = split

    def msg(self, message: str, stream: Any = None) -> None:
        # One write per line: lines logged by threads at once (the children of an index
        # rebase) must not interleave, as print's separate newline write lets them.
        out = stream or sys.stdout
        out.write(message + "\n")
        out.flush()

    def _err(self, message: str) -> None:
        self.msg(message, sys.stderr if self.split else sys.stdout)

    debug = info = msg
    warning = warn = error = critical = exception = _err


@dataclass
class _Settings:
    level: str = "info"
    json_mode: bool = False


_settings = _Settings()


def configure(level: str = "info", fmt: str = "console") -> None:
    json_mode = fmt == "json"
    _settings.level, _settings.json_mode = level, json_mode
    processors: list[Any] = [structlog.processors.add_log_level]
    if json_mode:
        processors += [structlog.processors.TimeStamper(fmt="iso", utc=True),
                       structlog.processors.JSONRenderer()]
    else:
        processors.append(_console_renderer)
    structlog.configure(
        processors=processors,
        wrapper_class=structlog.make_filtering_bound_logger(_LEVELS.get(level, logging.INFO)),
        logger_factory=lambda *_: _SplitStreamLogger(split=not json_mode),
        cache_logger_on_first_use=False,
    )


def get_logger() -> FilteringBoundLogger:
    logger: FilteringBoundLogger = structlog.get_logger()
    return logger


def item_logger(item: str) -> FilteringBoundLogger:
    """A logger for one item of a batch: every line names the item, and its info lines are
    detail, shown only at debug level, so a batch prints one line per item by default."""
    level = logging.DEBUG if _settings.level == "debug" else logging.WARNING
    logger: FilteringBoundLogger = structlog.wrap_logger(
        _SplitStreamLogger(split=not _settings.json_mode),
        wrapper_class=structlog.make_filtering_bound_logger(level)).bind(item=item)
    return logger
