"""pytest plugin: a real Docker Engine (Debian ``docker.io``) of the tests' own.

It gets its own data root, exec root, pid file and unix socket, the vfs storage driver and no
networking set-up (``--iptables=false --ip6tables=false --bridge=none``), so it runs next to
anything else on the machine and needs nothing from the host's Docker set-up; containers
run with ``network_mode="none"``. Started once per session, stopped by PID.

Test images get into it with ``docker load`` of archives written here from the OCI layouts
of :mod:`tests.harness.images` (busybox-static plus a version file): nothing is pulled, and
none of the project's own backend code is involved.
"""

from __future__ import annotations

import io
import json
import lzma
import os
import shutil
import subprocess
import tarfile
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import docker
import docker.errors
import pytest
import requests

from tests.harness.images import make_run_image_layout
from tests.harness.services import ServiceError, ensure_commands, stop_process, wait_until

START_TIMEOUT_SECONDS = 60


@dataclass(frozen=True)
class Dockerd:
    host: str                       # DOCKER_HOST value, unix://...
    client: docker.DockerClient

    def load_layout(self, layout: Path, name: str) -> str:
        """Put an OCI layout's ``latest`` image into the daemon as ``name``; returns its ID."""
        return load_archive(self.client, docker_archive_from_layout(layout, [name]))

    def run(self, image: str, *command: str) -> str:
        """Run ``image`` (its own command unless ``command``) and return its output."""
        output: bytes = self.client.containers.run(image, list(command) or None, remove=True,
                                                   network_mode="none")
        return output.decode()


def docker_archive_from_layout(layout: Path, names: list[str]) -> bytes:
    """The ``docker load`` archive of an OCI layout's ``latest`` image, tagged ``names``.

    Layers go in as the layout stores them (gzip): the loader decompresses them itself.
    """
    blobs = layout / "blobs" / "sha256"

    def blob(descriptor: dict[str, Any]) -> bytes:
        return (blobs / str(descriptor["digest"]).removeprefix("sha256:")).read_bytes()

    index = json.loads((layout / "index.json").read_text())
    manifest = json.loads(blob(next(
        d for d in index["manifests"]
        if d.get("annotations", {}).get("org.opencontainers.image.ref.name") == "latest")))
    files = {"config.json": blob(manifest["config"])}
    for number, layer in enumerate(manifest["layers"]):
        files[f"layer-{number}.tar.gz"] = blob(layer)
    files["manifest.json"] = json.dumps([{
        "Config": "config.json", "RepoTags": names,
        "Layers": [f"layer-{n}.tar.gz" for n in range(len(manifest["layers"]))]}]).encode()
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as archive:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def load_archive(client: docker.DockerClient, archive: bytes) -> str:
    """``docker load``; returns the ID of the (first) image loaded."""
    images = client.images.load(archive)
    return str(images[0].id)


def make_daemon_run_image(client: docker.DockerClient, name: str, version: str = "v1",
                          stack_id: str = "io.example.stack", **options: Any) -> str:
    """Load a small runnable run image as ``name``; returns its image ID.

    Layers: ``/bin/busybox`` (Debian busybox-static) with ``sh``/``cat``/``echo`` links, and
    ``/etc/run-image-version`` holding ``version``; label ``io.buildpacks.stack.id``. Other
    ``options`` are those of :func:`tests.harness.images.make_run_image_layout` (``labels``,
    ``architecture``, ``with_busybox``).
    """
    with tempfile.TemporaryDirectory(prefix="cnb-run-image-") as scratch:
        layout = make_run_image_layout(Path(scratch), version, stack_id, **options)
        return load_archive(client, docker_archive_from_layout(layout, [name]))


@dataclass(frozen=True)
class Engine:
    """Which dockerd to run and how it stores images."""

    binaries: Path | None = None          # a directory with usr/sbin/dockerd; None: the system's
    options: tuple[str, ...] = ("--storage-driver=vfs",)
    features: tuple[str, ...] = ()        # daemon.json features to switch on
    data_parent: Path | None = None       # where its data root goes (default: beside its socket)


CLASSIC = Engine()


def start_dockerd(engine: Engine = CLASSIC) -> tuple[Dockerd, Callable[[], None]]:
    """Start a private dockerd; returns it and the function that stops it."""
    ensure_commands(["dockerd", "containerd", "runc"], ["docker.io"])
    root = Path(tempfile.mkdtemp(prefix="cnb-dockerd-", dir="/tmp"))  # short: socket path
    socket = root / "docker.sock"
    host = f"unix://{socket}"
    log = (root / "dockerd.log").open("wb")
    (root / "daemon.json").write_text(json.dumps(
        {"features": {feature: True for feature in engine.features}}))
    environment = dict(os.environ)
    command = "dockerd"
    if engine.binaries is not None:  # its own docker-init and docker-proxy come first
        command = str(engine.binaries / "usr/sbin/dockerd")
        environment["PATH"] = (f"{engine.binaries / 'usr/bin'}:{engine.binaries / 'usr/sbin'}:"
                               f"{environment.get('PATH', '')}")
    data_root = (Path(tempfile.mkdtemp(prefix="cnb-dockerd-data-", dir=engine.data_parent))
                 if engine.data_parent else root / "data")
    process = subprocess.Popen(
        [command, "--config-file", str(root / "daemon.json"), "--data-root", str(data_root),
         "--exec-root", str(root / "exec"), "--pidfile", str(root / "dockerd.pid"), "-H", host,
         *engine.options, "--iptables=false", "--ip6tables=false", "--bridge=none"],
        stdout=log, stderr=subprocess.STDOUT, start_new_session=True, env=environment)

    def stop() -> None:
        # SIGTERM first: dockerd then stops the containerd it started itself.
        stop_process(process, grace=20)
        log.close()
        shutil.rmtree(data_root, ignore_errors=True)
        shutil.rmtree(root, ignore_errors=True)

    def answers() -> bool:
        try:
            return bool(docker.DockerClient(base_url=host).ping())
        except docker.errors.DockerException:
            return False

    try:
        wait_until(answers, "dockerd", START_TIMEOUT_SECONDS, process)
    except ServiceError as err:
        tail = (root / "dockerd.log").read_text(errors="replace")[-2000:]
        stop()
        raise ServiceError(f"{err}; the end of its log:\n{tail}") from None
    except BaseException:
        stop()
        raise
    return Dockerd(host, docker.DockerClient(base_url=host)), stop


# -- an engine with the containerd image store -----------------------------------------------

TRIXIE_PACKAGES = "http://deb.debian.org/debian/dists/trixie/main/binary-amd64/Packages.xz"
CACHE = Path(os.environ.get("XDG_CACHE_HOME") or "~/.cache").expanduser() / "cnb-lifecycle-tests"


def trixie_docker() -> Path:
    """Debian 13's Engine 26 (``docker.io``) with its ``containerd`` 1.7, unpacked into a cache
    dir, never installed. Downloaded once per machine.

    Debian 12's Engine 20.10 has no containerd image store. Both binaries run on Debian 12's
    libc; runc stays Debian 12's. The engine's own containerd matters: Debian 12's 1.6 hashes
    the layers it unpacks with Go 1.19's sha256, 1.7 with the CPU's SHA instructions, and a
    rebase onto a new base takes it a third of the time.
    """
    target = CACHE / "docker-trixie"
    if all((target / binary).is_file() for binary in ("usr/sbin/dockerd", "usr/bin/containerd")):
        return target
    ensure_commands(["dpkg-deb"], ["dpkg"])
    CACHE.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=CACHE) as scratch:
        # Streamed to files: a bench process that held them would pass its size on to the
        # peak RSS of every phase it starts.
        index = download(TRIXIE_PACKAGES, Path(scratch) / "Packages.xz")
        root = Path(scratch) / "root"
        for package, filename in debian_filenames(index, ("docker.io", "containerd")).items():
            deb = download(f"http://deb.debian.org/debian/{filename}",
                           Path(scratch) / f"{package}.deb")
            subprocess.run(["dpkg-deb", "-x", str(deb), str(root)], check=True)
        shutil.rmtree(target, ignore_errors=True)
        os.replace(root, target)
    return target


def download(url: str, path: Path) -> Path:
    with requests.get(url, stream=True, timeout=600) as response:
        response.raise_for_status()
        with path.open("wb") as file:
            for chunk in response.iter_content(1 << 20):
                file.write(chunk)
    return path


def debian_filenames(index: Path, packages: tuple[str, ...]) -> dict[str, str]:
    """Each package's pool path from a Debian ``Packages.xz`` index."""
    found: dict[str, str] = {}
    package = ""
    with lzma.open(index, "rt") as lines:
        for line in lines:
            if line.startswith("Package: "):
                package = line.split(":", 1)[1].strip()
            elif line.startswith("Filename: ") and package in packages:
                found.setdefault(package, line.split(":", 1)[1].strip())
    missing = [package for package in packages if package not in found]
    if missing:
        raise OSError(f"not in Debian 13's package index: {', '.join(missing)}")
    return found


def containerd_store_engine(data_parent: Path | None = None) -> Engine:
    """Engine 26 keeping images in containerd, with its default snapshotter (overlayfs)."""
    return Engine(trixie_docker(), ("--storage-driver=overlayfs",), ("containerd-snapshotter",),
                  data_parent)


@pytest.fixture(scope="session")
def dockerd() -> Iterator[Dockerd]:
    daemon, stop = start_dockerd()
    try:
        yield daemon
    finally:
        stop()


@pytest.fixture(scope="session")
def containerd_dockerd() -> Iterator[Dockerd]:
    """A dockerd that keeps images in containerd (Engine 26 from Debian 13)."""
    try:
        engine = containerd_store_engine()
    except (requests.RequestException, OSError, subprocess.CalledProcessError) as err:
        pytest.skip(f"cannot fetch Debian 13's docker.io for the containerd image store: {err}")
    daemon, stop = start_dockerd(engine)
    try:
        yield daemon
    finally:
        stop()
