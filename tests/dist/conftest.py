"""What the dist tests share: a directory containers can mount, and running one to its end."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docker
import pytest


@pytest.fixture
def reachable(tmp_path: Path) -> Iterator[Path]:
    """A directory under /tmp that a container's users can reach (pytest's are 0700)."""
    root = Path("/tmp") / f"cnb-dist-{tmp_path.name}"
    root.mkdir(mode=0o755)
    yield root
    shutil.rmtree(root, ignore_errors=True)


def run_to_completion(client: docker.DockerClient, image: str, command: list[str],
                      binds: dict[str, dict[str, str]], **options: Any) -> str:
    """Run ``command`` in a container of ``image`` on the host network; its output, once it
    exited 0 (else the test fails showing it)."""
    container = client.containers.run(image, command, volumes=binds, detach=True,
                                      **{"network_mode": "host", **options})
    try:
        status = container.wait(timeout=300)
        logs = container.logs().decode()
    finally:
        container.remove(force=True)
    assert status["StatusCode"] == 0, logs
    return str(logs)
