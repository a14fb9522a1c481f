"""Shared pytest configuration: the harness modules provide the real-service fixtures, the
count of each test group with its guard (``groups``), the check that no test changed the
host's default paths (``hostpaths``), the background warm-up of the test cache
(``warmup``), and the order the tests run in (``ordering``)."""

import uuid

import pytest

pytest_plugins = ["tests.harness.registry", "tests.harness.dockerd", "tests.harness.tlsregistry",
                  "tests.harness.groups", "tests.harness.hostpaths", "tests.harness.warmup",
                  "tests.harness.ordering", "pytester"]


@pytest.fixture
def unique() -> str:
    """A repository-name prefix no other test uses (the registries live for the session)."""
    return f"t{uuid.uuid4().hex[:10]}"
