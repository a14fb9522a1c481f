"""The cause of a failure in words, for people: never an exception class name or a repr.

Libraries wrap the error that matters several times over (the docker SDK wraps requests,
which wraps urllib3, which wraps the socket's ``OSError``; our registry HTTP client raises its
errors from the socket's), and their messages are reprs of the whole chain, such as
``('Connection aborted.', FileNotFoundError(2, 'No such file or directory'))``.
:func:`describe` walks the chain down to the innermost error that says what happened and
names that in a few words (``connection refused``, ``no such file``, ``TLS handshake failed:
<reason>``), to follow a colon.
"""

from __future__ import annotations

import _socket  # socket's own errors; socket would cost a rebase 4 ms (backends/httpclient.py)
import errno
import re
import sys
from collections.abc import Iterator

_ERRNO_WORDS = {
    errno.ECONNREFUSED: "connection refused",
    errno.ECONNRESET: "connection reset by the other end",
    errno.ECONNABORTED: "connection aborted",
    errno.EPIPE: "connection closed by the other end",
    errno.ENOENT: "no such file",
    errno.EACCES: "permission denied",
    errno.EPERM: "permission denied",
    errno.ETIMEDOUT: "timed out",
    errno.EHOSTUNREACH: "host unreachable",
    errno.ENETUNREACH: "network unreachable",
    errno.ENOSPC: "no space left on the device",
}

# Markers of what happened in messages of library errors that carry no errno.
_MESSAGE_WORDS = (
    ("timed out", "timed out"),
    ("RemoteDisconnected", "connection closed without an answer"),
    ("Connection aborted", "connection closed by the other end"),
    ("Connection broken", "connection broken mid-answer"),
    ("IncompleteRead", "connection broken mid-answer"),
    ("Name or service not known", "unknown host"),
    ("nodename nor servname", "unknown host"),
    ("Temporary failure in name resolution", "unknown host (name resolution failed)"),
    ("Failed to resolve", "unknown host"),
)


def chain(err: BaseException) -> Iterator[BaseException]:
    """``err`` and every error behind it: causes, contexts and wrapped arguments, outermost
    first, each once."""
    seen: set[int] = set()
    pending: list[BaseException] = [err]
    while pending:
        current = pending.pop(0)
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        # An implicit context is followed unless the raiser cut it off (``from None``): that
        # error was being handled when this one happened, and may have nothing to say.
        context = None if current.__suppress_context__ else current.__context__
        inner = [current.__cause__, context, getattr(current, "reason", None)]
        inner += [arg for arg in getattr(current, "args", ()) if isinstance(arg, BaseException)]
        pending += [e for e in inner if isinstance(e, BaseException)]


def describe(err: BaseException) -> str:
    """A few words for what went wrong, from the innermost error that says it."""
    errors = list(chain(err))
    # ssl is loaded by the registry client when it connects; where it is not loaded no
    # error can be a TLS one, and a phase that never speaks TLS does not pay for its import.
    ssl = sys.modules.get("ssl")
    for current in reversed(errors):
        if ssl is not None and isinstance(current, ssl.SSLError):
            reason = current.reason or current.strerror or "handshake error"
            return f"TLS handshake failed: {str(reason).lower().replace('_', ' ')}"
        if isinstance(current, _socket.gaierror):
            return "unknown host"
        if isinstance(current, TimeoutError):  # socket.timeout is TimeoutError
            return "timed out"
        if isinstance(current, OSError) and current.errno in _ERRNO_WORDS:
            words = _ERRNO_WORDS[current.errno]
            return f"{words}: {current.filename}" if current.filename else words
    text = " ".join(str(e) for e in errors)
    for marker, words in _MESSAGE_WORDS:
        if marker in text:
            return words
    if "CERTIFICATE_VERIFY_FAILED" in text or "SSL" in text:
        return "TLS handshake failed"
    for current in reversed(errors):
        if isinstance(current, OSError) and current.strerror:
            return current.strerror.lower()
    return _plain(errors[0])


def _plain(err: BaseException) -> str:
    """The message of an error we know nothing more about. When the message is empty or only
    a repr (a ``KeyError``'s ``'x'``), what kind of error it was is said in words first
    (``KeyError`` → ``key error``)."""
    text = " ".join(str(err).split())
    if text and not text.startswith(("(", "<", "[", "'", '"')):
        return text
    words = re.sub(r"(?<!^)(?=[A-Z])", " ", type(err).__name__).lower()
    return f"unexpected {words}" + (f": {text}" if text else "")
