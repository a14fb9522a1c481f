"""What the dist tests share: the release archive and a builder without Python, made once per
session and outside the per-test timeout (PyInstaller takes minutes on two cores), a directory
containers can mount, and running one to its end."""

from __future__ import annotations

import shutil
import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docker
import pytest

from tests.acceptance.images import NO_PYTHON_ROOTFS, debootstrap_rootfs, import_rootfs
from tests.dist import make_dist
from tests.dist.pack_descriptor import embed_as_pack
from tests.harness.dockerd import Dockerd
from tests.harness.preparing import preparing

NO_PYTHON_IMAGE = "cnb-dist/minbase:bookworm"


@pytest.fixture(scope="session")
def release_build() -> Iterator[Path]:
    """One PyInstaller run for the session (tests/dist/make_dist.py): ``make dist``'s archive
    in ``dist/`` and what goes over a lifecycle image in ``phases/`` (the Dockerfile's
    ``PREBUILT``); its build environment is the worktree's ``.venv-dist``, as for ``make
    dist``. Removed at the end of the session."""
    with preparing("building the release archive (make dist, with PyInstaller)"):
        output = make_dist.release_build()
    yield output
    make_dist.remove_release_build()


@pytest.fixture(scope="session")
def archive(release_build: Path) -> Path:
    return next((release_build / "dist").glob("*.tgz"))


@pytest.fixture(scope="session")
def phases_root(release_build: Path) -> Path:
    return release_build / "phases"


@pytest.fixture(scope="session")
def lifecycle_dir(archive: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The archive where a container can mount it: ``lifecycle.toml``, and ``lifecycle/``
    holding what pack puts into a builder's /cnb/lifecycle (only ``lifecycle/<name>``)."""
    root = tmp_path_factory.mktemp("dist")
    with tarfile.open(archive) as tar:
        tar.extract("lifecycle.toml", root, filter="tar")
    embed_as_pack(archive, root / "lifecycle")
    return root


@pytest.fixture(scope="session")
def builder(dockerd: Dockerd) -> str:
    """A Debian 12 minbase image: no Python in it."""
    with preparing("making the builder without Python (debootstrap, docker import)"):
        return import_rootfs(dockerd.client, debootstrap_rootfs((), NO_PYTHON_ROOTFS),
                             NO_PYTHON_IMAGE)


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
