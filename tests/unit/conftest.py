"""Fixtures the phase tests share."""

from __future__ import annotations

import signal
from collections.abc import Iterator

import pytest

from lifecycle import cli
from tests.unit.memory_store import MemoryStore


@pytest.fixture
def store(monkeypatch: pytest.MonkeyPatch) -> MemoryStore:
    """Both phases write to one in-memory store, with no platform variable from outside."""
    memory = MemoryStore()
    monkeypatch.setattr(cli, "open_store", lambda target, connections: memory)
    for key in ("CNB_RUN_IMAGE", "CNB_STACK_PATH", "CNB_MIRRORS_PATH", "CNB_PLATFORM_API",
                "SOURCE_DATE_EPOCH", "CNB_LAYERS_DIR", "CNB_RUN_PATH", "CNB_EXEC_ENV"):
        monkeypatch.delenv(key, raising=False)
    return memory


@pytest.fixture(autouse=True)
def _signal_handlers_restored() -> Iterator[None]:
    """A phase run in-process installs its Ctrl-C and SIGTERM handlers: the next test must
    not inherit them (nor the stop they may have begun)."""
    handlers = {number: signal.getsignal(number) for number in (signal.SIGINT, signal.SIGTERM)}
    yield
    for number, handler in handlers.items():
        signal.signal(number, handler)


@pytest.fixture
def sigint_raises() -> None:
    """SIGINT raises KeyboardInterrupt in the main thread, as in a fresh interpreter."""
    signal.signal(signal.SIGINT, signal.default_int_handler)
