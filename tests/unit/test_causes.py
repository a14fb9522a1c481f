"""Causes in words: the innermost error that says what happened, never a class name or repr."""

from __future__ import annotations

import errno
import socket
import ssl

import pytest
import requests
import urllib3

from lifecycle.causes import describe


def wrapped(inner: BaseException) -> requests.ConnectionError:
    """As requests raises it: a ConnectionError around urllib3's errors around the socket's."""
    reason = urllib3.exceptions.NewConnectionError(None, f"Failed to establish: {inner!r}")  # type: ignore[arg-type]
    reason.__cause__ = inner
    pool = urllib3.exceptions.MaxRetryError(None, "/v2/", reason)  # type: ignore[arg-type]
    return requests.ConnectionError(pool)


@pytest.mark.parametrize(("error", "words"), [
    (wrapped(ConnectionRefusedError(errno.ECONNREFUSED, "Connection refused")),
     "connection refused"),
    (wrapped(ConnectionResetError(errno.ECONNRESET, "Connection reset by peer")),
     "connection reset by the other end"),
    (wrapped(socket.gaierror(-2, "Name or service not known")), "unknown host"),
    (wrapped(TimeoutError("timed out")), "timed out"),
    (requests.ConnectionError(urllib3.exceptions.ProtocolError(
        "Connection aborted.", FileNotFoundError(2, "No such file or directory"))),
     "no such file"),
    (OSError(errno.ENOSPC, "No space left on device"), "no space left on the device"),
    (PermissionError(errno.EACCES, "Permission denied"), "permission denied"),
])
def test_the_innermost_cause_in_words(error: BaseException, words: str) -> None:
    assert describe(error) == words


def test_a_tls_failure_names_its_reason() -> None:
    failure = ssl.SSLError(1, "[SSL: WRONG_VERSION_NUMBER] wrong version number")
    failure.reason = "WRONG_VERSION_NUMBER"  # type: ignore[misc]
    assert describe(wrapped(failure)) == "TLS handshake failed: wrong version number"


def test_a_docker_sdk_message_with_a_repr_inside() -> None:
    # The docker SDK keeps only the text of what requests raised.
    text = ("Error while fetching server API version: ('Connection aborted.', "
            "FileNotFoundError(2, 'No such file or directory'))")
    try:
        try:
            raise requests.ConnectionError(urllib3.exceptions.ProtocolError(
                "Connection aborted.", FileNotFoundError(2, "No such file or directory")))
        except requests.ConnectionError as err:
            raise RuntimeError(text) from err
    except RuntimeError as outer:
        assert describe(outer) == "no such file"


@pytest.mark.parametrize(("error", "words"), [
    (ValueError("the blob ended 3 bytes short"), "the blob ended 3 bytes short"),
    (KeyError("topLayer"), "unexpected key error: 'topLayer'"),
    (RuntimeError(), "unexpected runtime error"),
])
def test_anything_else_is_its_message_or_its_kind_in_words(error: BaseException,
                                                           words: str) -> None:
    assert describe(error) == words
    assert type(error).__name__ not in describe(error)
