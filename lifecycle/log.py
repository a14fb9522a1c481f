"""Logging: plain lifecycle-style lines for people, JSON lines for machines.

Console output mirrors the Go lifecycle: info and debug lines are the bare message on stdout,
warnings are ``Warning: ...`` and errors ``ERROR: ...`` on stderr (coloured on a terminal,
unless ``-no-color`` or ``NO_COLOR``). ``-log-format json`` emits one JSON object per line,
to stdout for every level: ``event`` (a stable name such as ``layer.added``, or ``log`` for a
line without one), ``message`` (the console text), ``level``, ``timestamp`` and the fields the
call gave: ``image``, ``digest``, ``run_image``, ``reason``, ``layer``, ``bytes``, ``seconds``,
``status``. A call names its event with ``kind=``: ``logger.info(text, kind="layer.added",
layer=...)``. The event names are listed in docs/logging.md.

This is a small bound logger of our own rather than structlog, whose import loads asyncio and
the logging module (about a fifth of a phase's start-up, measured). Its output is kept field
for field: the bound fields, then the call's, then ``level``, then ``timestamp``, ISO 8601 in
UTC with a ``Z``.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping

from lifecycle.checking import TYPE_CHECKING

if TYPE_CHECKING:
    from typing import Any, TextIO

_DEBUG, _INFO, _WARNING, _ERROR = 10, 20, 30, 40
_LEVELS = {"debug": _DEBUG, "info": _INFO, "warn": _WARNING, "warning": _WARNING,
           "error": _ERROR}
_RED, _YELLOW, _RESET = "\x1b[31m", "\x1b[33m", "\x1b[0m"


def color_wanted(stream: TextIO, environ: Mapping[str, str], no_color: bool) -> bool:
    """Colour only on a terminal, and never with ``-no-color`` or ``NO_COLOR`` (any value,
    as no-color.org asks)."""
    return not no_color and "NO_COLOR" not in environ and stream.isatty()


class _Settings:
    """What :func:`configure` set; every logger reads it at each call."""

    level = "info"
    json_mode = False
    color = False


_settings = _Settings()


class Logger:
    """Fields bound to every line (``bind``), and a fixed threshold or, when there is none,
    the configured level read at each call (so module-level loggers follow ``configure``)."""

    __slots__ = ("_context", "_threshold")

    def __init__(self, context: dict[str, Any], threshold: int | None = None) -> None:
        self._context = context
        self._threshold = threshold

    def bind(self, **fields: Any) -> Logger:
        return Logger({**self._context, **fields}, self._threshold)

    def debug(self, message: str, **fields: Any) -> None:
        self._log(_DEBUG, "debug", message, fields)

    def info(self, message: str, **fields: Any) -> None:
        self._log(_INFO, "info", message, fields)

    def warning(self, message: str, **fields: Any) -> None:
        self._log(_WARNING, "warning", message, fields)

    def error(self, message: str, **fields: Any) -> None:
        self._log(_ERROR, "error", message, fields)

    def _log(self, level: int, name: str, message: str, fields: dict[str, Any]) -> None:
        threshold = self._threshold
        if threshold is None:
            threshold = _LEVELS.get(_settings.level, _INFO)
        if level < threshold:
            return
        event = {**self._context, **fields}
        if _settings.json_mode:
            _write(sys.stdout, _json_line(name, message, event))
        else:
            _write(sys.stderr if level >= _WARNING else sys.stdout,
                   _console_line(level, message, event))


def _write(stream: TextIO, line: str) -> None:
    # One write per line: lines logged by threads at once (the children of an index rebase)
    # must not interleave, as print's separate newline write lets them.
    stream.write(line + "\n")
    stream.flush()


def _console_line(level: int, message: str, event: dict[str, Any]) -> str:
    if "item" in event:
        message = f"{event['item']}: {message}"
    if level == _WARNING:
        return _colored("Warning:", _YELLOW) + f" {message}"
    if level >= _ERROR:
        return _colored("ERROR:", _RED) + f" {message}"
    return message


def _colored(text: str, color: str) -> str:
    return f"{color}{text}{_RESET}" if _settings.color else text


def _json_line(level: str, message: str, event: dict[str, Any]) -> str:
    """``event`` is the event's name and the text is ``message``; a batch item's name
    (rebase-many) is its ``image``. Values JSON cannot hold are written as their repr."""
    import datetime
    import json

    item = event.pop("item", None)
    named: dict[str, Any] = {"event": event.pop("kind", "log"), "message": message}
    if item is not None:
        named["image"] = item
    named.update(event)
    named["level"] = level
    stamp = datetime.datetime.now(tz=datetime.UTC).isoformat()
    named["timestamp"] = stamp.replace("+00:00", "Z")
    return json.dumps(named, default=repr)


def configure(level: str = "info", fmt: str = "console", color: bool = False) -> None:
    _settings.level, _settings.json_mode, _settings.color = level, fmt == "json", color


def get_logger() -> Logger:
    return Logger({})


def item_logger(item: str) -> Logger:
    """A logger for one item of a batch: every line names the item, and its info lines are
    detail, shown only at debug level, so a batch prints one line per item by default."""
    return Logger({"item": item}, _DEBUG if _settings.level == "debug" else _WARNING)
