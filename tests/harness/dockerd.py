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

import ctypes
import io
import json
import lzma
import os
import re
import shutil
import subprocess
import tarfile
import tempfile
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import docker
import docker.errors
import pytest

from tests.harness.images import make_run_image_layout
from tests.harness.preparing import preparing
from tests.harness.services import (
    CACHE,
    ServiceError,
    cache_lock,
    download,
    ensure_commands,
    run_bounded,
    stop_process,
    wait_until,
)

START_TIMEOUT_SECONDS = 60
DOWNLOAD_SECONDS = 600
MNT_DETACH = 2


class CleanupWarning(UserWarning):
    """Something the harness started could not be cleaned up completely."""


def warn_cleanup(message: str) -> None:
    warnings.warn(message, CleanupWarning, stacklevel=2)


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
        # SIGTERM first: dockerd then stops the containerd it started itself. Whatever it
        # leaves mounted (the netns it binds under its exec root, a snapshot's overlay) is
        # unmounted before the directories go: rmtree cannot remove a mount point.
        try:
            stop_process(process, grace=20)
        except (OSError, subprocess.TimeoutExpired) as err:
            warn_cleanup(f"dockerd (pid {process.pid}) did not stop: {err}")
        log.close()
        for directory in dict.fromkeys((data_root, root)):
            unmount_below(directory)
            remove_tree(directory)

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


def mounts_below(directory: Path) -> list[Path]:
    """Mount points at or under ``directory``, the most recent first."""
    top = os.path.realpath(directory)
    found = []
    with open("/proc/self/mountinfo", encoding="utf-8") as mountinfo:
        for line in mountinfo:
            # the mount point is the fifth field, with blanks and backslashes octal-escaped
            point = re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)),
                           line.split(" ")[4])
            if point == top or point.startswith(top + os.sep):
                found.append(Path(point))
    return found[::-1]


def unmount_below(directory: Path) -> None:
    """Unmount everything at or under ``directory`` (lazily if it is busy); warn if any
    mount stays."""
    libc = ctypes.CDLL(None, use_errno=True)
    for point in mounts_below(directory):
        if libc.umount2(os.fsencode(point), 0) != 0 and \
                libc.umount2(os.fsencode(point), MNT_DETACH) != 0:
            warn_cleanup(f"cannot unmount {point}: {os.strerror(ctypes.get_errno())}")


def remove_tree(directory: Path) -> None:
    """``rmtree`` that warns, once, naming the first path it could not remove."""
    if not os.path.lexists(directory):
        return
    failures: list[str] = []

    def failed(_function: object, path: str, _excinfo: object) -> None:
        failures.append(path)

    shutil.rmtree(directory, onerror=failed)
    if failures:
        warn_cleanup(f"cannot remove {failures[0]} ({len(failures)} path(s) under "
                     f"{directory} left behind)")


# -- an engine with the containerd image store -----------------------------------------------

TRIXIE_PACKAGES = "http://deb.debian.org/debian/dists/trixie/main/binary-amd64/Packages.xz"


def trixie_docker() -> Path:
    """Debian 13's Engine 26 (``docker.io``) with its ``containerd`` 1.7, unpacked into a cache
    dir, never installed. Downloaded once per machine.

    Debian 12's Engine 20.10 has no containerd image store. Both binaries run on Debian 12's
    libc; runc stays Debian 12's. The engine's own containerd matters: Debian 12's 1.6 hashes
    the layers it unpacks with Go 1.19's sha256, 1.7 with the CPU's SHA instructions, and a
    rebase onto a new base takes it a third of the time.
    """
    with cache_lock("docker-trixie"):
        return _trixie_docker(CACHE / "docker-trixie")


def _trixie_docker(target: Path) -> Path:
    if all((target / binary).is_file() for binary in ("usr/sbin/dockerd", "usr/bin/containerd")):
        return target
    ensure_commands(["dpkg-deb"], ["dpkg"])
    CACHE.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=CACHE) as scratch:
        # Streamed to files: a bench process that held them would pass its size on to the
        # peak RSS of every phase it starts.
        index = download(TRIXIE_PACKAGES, Path(scratch) / "Packages.xz", DOWNLOAD_SECONDS)
        root = Path(scratch) / "root"
        for package, filename in debian_filenames(index, ("docker.io", "containerd")).items():
            deb = download(f"http://deb.debian.org/debian/{filename}",
                           Path(scratch) / f"{package}.deb", DOWNLOAD_SECONDS)
            run_bounded(["dpkg-deb", "-x", str(deb), str(root)], f"unpacking {deb.name}", 300)
        shutil.rmtree(target, ignore_errors=True)
        os.replace(root, target)
    return target


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
    with preparing("starting the tests' dockerd"):
        daemon, stop = start_dockerd()
    try:
        yield daemon
    finally:
        stop()


@pytest.fixture(scope="session")
def containerd_dockerd() -> Iterator[Dockerd]:
    """A dockerd that keeps images in containerd (Engine 26 from Debian 13)."""
    with preparing(f"fetching Debian 13's docker.io for the containerd image store into "
                   f"{CACHE}"):
        engine = containerd_store_engine()
    with preparing("starting the tests' dockerd with the containerd image store"):
        daemon, stop = start_dockerd(engine)
    try:
        yield daemon
    finally:
        stop()
