"""Shared pytest configuration: the harness modules provide the real-service fixtures."""

import uuid

import pytest

pytest_plugins = ["tests.harness.registry", "tests.harness.dockerd", "tests.harness.tlsregistry"]


@pytest.fixture
def unique() -> str:
    """A repository-name prefix no other test uses (the registries live for the session)."""
    return f"t{uuid.uuid4().hex[:10]}"
