"""The acceptance story's expensive set-up, once per session and outside the per-test
timeout: docker-compose, the Debian 12 base with Python and the lifecycle image."""

from __future__ import annotations

import shutil

import pytest

from tests.acceptance.images import build_lifecycle_image
from tests.harness.dockerd import Dockerd
from tests.harness.preparing import preparing
from tests.harness.services import ensure_commands


@pytest.fixture(scope="session")
def docker_compose() -> str:
    """The ``docker-compose`` command (Debian's v1), installed if missing."""
    with preparing("installing docker-compose"):
        ensure_commands(["docker-compose"], ["docker-compose"])
    return str(shutil.which("docker-compose"))


@pytest.fixture(scope="session")
def lifecycle_image(dockerd: Dockerd, tmp_path_factory: pytest.TempPathFactory) -> str:
    """The repository's Dockerfile built into the tests' dockerd (its build context removed
    once built)."""
    context = tmp_path_factory.mktemp("lifecycle-image-context")
    with preparing("building the lifecycle image (the Debian 12 base with Python, then the "
                   "Dockerfile)"):
        image = build_lifecycle_image(dockerd.client, context)
    shutil.rmtree(context)
    return image
