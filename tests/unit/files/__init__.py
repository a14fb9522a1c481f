"""Unit tests of the platform's file formats, one module per format."""

from __future__ import annotations

from pathlib import Path

import pytest

from lifecycle.platform.exits import ExitCode, LifecycleError


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def invalid(read: object, *args: object) -> str:
    """The one-line exit-3 message ``read(*args)`` fails with."""
    assert callable(read)
    with pytest.raises(LifecycleError) as err:
        read(*args)
    assert err.value.code == ExitCode.INVALID_ARGS
    assert "\n" not in err.value.message
    return err.value.message
