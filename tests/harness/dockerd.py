"""pytest plugin: a real Docker Engine (Debian ``docker.io``) of the tests' own.

It gets its own data root, exec root and unix socket, the vfs storage driver and no
networking set-up (``--iptables=false --bridge=none``), so it runs next to anything else
on the machine and needs nothing from the host's Docker set-up. Stopped by PID.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import docker
import docker.errors
import pytest

from tests.harness.services import ensure_commands, stop_process, wait_until


@dataclass(frozen=True)
class Dockerd:
    host: str                       # DOCKER_HOST value, unix://...
    client: docker.DockerClient

    def load_layout(self, layout: Path, name: str) -> str:
        """Put an OCI layout's image into the daemon as ``name`` (skopeo); returns its ID."""
        subprocess.run(["skopeo", "copy", "--quiet", "--dest-daemon-host", self.host,
                        f"oci:{layout}:latest", f"docker-daemon:{name}"],
                       check=True, capture_output=True, timeout=120)
        return str(self.client.images.get(name).id)

    def run(self, image: str, *command: str) -> str:
        output: bytes = self.client.containers.run(image, list(command) or None, remove=True,
                                                   network_mode="none")
        return output.decode()


def start_dockerd() -> tuple[Dockerd, Callable[[], None]]:
    """Start a private dockerd; returns it and the function that stops it."""
    ensure_commands(["dockerd", "skopeo"], ["docker.io", "skopeo"])
    root = Path(tempfile.mkdtemp(prefix="cnb-dockerd-", dir="/tmp"))  # short: socket path
    socket = root / "docker.sock"
    log = (root / "dockerd.log").open("wb")
    process = subprocess.Popen(
        ["dockerd", "--data-root", str(root / "data"), "--exec-root", str(root / "exec"),
         "--pidfile", str(root / "dockerd.pid"), "-H", f"unix://{socket}",
         "--storage-driver=vfs", "--iptables=false", "--ip6tables=false", "--bridge=none"],
        stdout=log, stderr=subprocess.STDOUT, start_new_session=True)

    def stop() -> None:
        stop_process(process, grace=20)
        shutil.rmtree(root, ignore_errors=True)

    def answers() -> bool:
        try:
            return bool(docker.DockerClient(base_url=f"unix://{socket}").ping())
        except docker.errors.DockerException:
            return False

    try:
        wait_until(answers, "dockerd", 60, process)
    except BaseException:
        stop()
        raise
    return Dockerd(f"unix://{socket}", docker.DockerClient(base_url=f"unix://{socket}")), stop


@pytest.fixture(scope="session")
def dockerd() -> Iterator[Dockerd]:
    daemon, stop = start_dockerd()
    try:
        yield daemon
    finally:
        stop()
