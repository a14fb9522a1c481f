"""Logging with structlog: plain lifecycle-style lines for people, JSON lines for machines.

Console output mirrors the Go lifecycle: info and debug lines are the bare message on stdout,
warnings are ``Warning: ...`` and errors ``ERROR: ...`` on stderr (coloured on a terminal,
unless ``-no-color`` or ``NO_COLOR``). ``-log-format json`` emits one JSON object per line,
to stdout for every level: ``event`` (a stable name such as ``layer.added``, or ``log`` for a
line without one), ``message`` (the console text), ``level``, ``timestamp`` and the fields the
call gave: ``image``, ``digest``, ``run_image``, ``reason``, ``layer``, ``bytes``, ``seconds``,
``status``. A call names its event with ``kind=``: ``logger.info(text, kind="layer.added",
layer=...)``. The event names are listed in docs/logging.md.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass
from typing import Any, TextIO

import structlog
from structlog.typing import FilteringBoundLogger

_LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warn": logging.WARNING,
           "warning": logging.WARNING, "error": logging.ERROR}
_RED, _YELLOW, _RESET = "\x1b[31m", "\x1b[33m", "\x1b[0m"


def color_wanted(stream: TextIO, environ: Mapping[str, str], no_color: bool) -> bool:
    """Colour only on a terminal, and never with ``-no-color`` or ``NO_COLOR`` (any value,
    as no-color.org asks)."""
    return not no_color and "NO_COLOR" not in environ and stream.isatty()


@dataclass
class _Settings:
    level: str = "info"
    json_mode: bool = False
    color: bool = False


_settings = _Settings()


def _console_renderer(_: Any, method: str, event: MutableMapping[str, Any]) -> str:
    message = str(event.get("event", ""))
    if "item" in event:
        message = f"{event['item']}: {message}"
    if method in ("warning", "warn"):
        return _colored("Warning:", _YELLOW) + f" {message}"
    if method in ("error", "exception", "critical"):
        return _colored("ERROR:", _RED) + f" {message}"
    return message


def _colored(text: str, color: str) -> str:
    return f"{color}{text}{_RESET}" if _settings.color else text


def _json_event(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """``event`` becomes the event's name and the text moves to ``message``; a batch item's
    name (rebase-many) is its ``image``."""
    message = event.pop("event", "")
    item = event.pop("item", None)
    named: dict[str, Any] = {"event": event.pop("kind", "log"), "message": message}
    if item is not None:
        named["image"] = item
    named.update(event)
    return named


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


def _processors() -> list[Any]:
    if _settings.json_mode:
        return [structlog.processors.add_log_level, _json_event,
                structlog.processors.TimeStamper(fmt="iso", utc=True),
                structlog.processors.JSONRenderer()]
    return [_console_renderer]


def configure(level: str = "info", fmt: str = "console", color: bool = False) -> None:
    json_mode = fmt == "json"
    _settings.level, _settings.json_mode, _settings.color = level, json_mode, color
    structlog.configure(
        processors=_processors(),
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
        _SplitStreamLogger(split=not _settings.json_mode), processors=_processors(),
        wrapper_class=structlog.make_filtering_bound_logger(level)).bind(item=item)
    return logger
