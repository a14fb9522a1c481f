"""Fixtures the phase tests share."""

from __future__ import annotations

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
