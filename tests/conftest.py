"""Shared pytest configuration: the harness modules provide the real-service fixtures, the
count of each test group with its guard (``groups``), and the check that no test changed the
host's default paths (``hostpaths``)."""

import uuid

import pytest

pytest_plugins = ["tests.harness.registry", "tests.harness.dockerd", "tests.harness.tlsregistry",
                  "tests.harness.groups", "tests.harness.hostpaths", "pytester"]


@pytest.fixture
def unique() -> str:
    """A repository-name prefix no other test uses (the registries live for the session)."""
    return f"t{uuid.uuid4().hex[:10]}"
