"""The images the acceptance story builds, since none can be pulled: a Debian 12 base with
Python (debootstrap, cached as a tarball), the lifecycle image from the repository's
Dockerfile on top of it, and a builder image carrying /buildpacks/stack.toml.

Each step has its own bound (the session fixtures that call them are outside pytest's
per-test timeout) and raises :class:`~tests.harness.services.ServiceError` saying which step
failed.
"""

from __future__ import annotations

import io
import os
import shutil
import sys
import tarfile
import tempfile
import time
from pathlib import Path
from typing import Any

import docker

from tests.harness.dockerd import Dockerd
from tests.harness.services import CACHE, ServiceError, ensure_commands, run_bounded

ROOT = Path(__file__).resolve().parents[2]
BASE_ROOTFS = "bookworm-python3-minbase.tar"
BASE_IMAGE = "cnb-acceptance/python-base:bookworm"
LIFECYCLE_IMAGE = "cnb-acceptance/lifecycle:dev"
DEBOOTSTRAP_SECONDS = 900
DEBOOTSTRAP_ATTEMPTS = 2
IMPORT_SECONDS = 600
WHEELS_SECONDS = 600
BUILD_SECONDS = 900


def debootstrap_rootfs(include: tuple[str, ...], cache_name: str) -> Path:
    """``debootstrap --variant=minbase [--include=...] bookworm``, tarred once per machine
    (a few minutes) into the test cache."""
    tarball = CACHE / cache_name
    if tarball.is_file():
        return tarball
    ensure_commands(["debootstrap"], ["debootstrap"])
    CACHE.mkdir(parents=True, exist_ok=True)
    # Each its own scratch names: other test runs on the machine may be making it too.
    rootfs = Path(tempfile.mkdtemp(prefix=f"{cache_name}.rootfs-", dir=CACHE))
    partial = rootfs.with_name(f"{rootfs.name}.tar")
    try:
        for attempt in range(DEBOOTSTRAP_ATTEMPTS):  # a mirror mid-sync serves corrupt debs
            shutil.rmtree(rootfs, ignore_errors=True)
            try:
                run_bounded(["debootstrap", "--variant=minbase",
                             *([f"--include={','.join(include)}"] if include else []),
                             "bookworm", str(rootfs), "http://deb.debian.org/debian"],
                            f"debootstrap of Debian 12 into {rootfs}", DEBOOTSTRAP_SECONDS)
                break
            except ServiceError:
                if attempt + 1 == DEBOOTSTRAP_ATTEMPTS:
                    raise
        run_bounded(["tar", "-C", str(rootfs), "--numeric-owner", "-cf", str(partial), "."],
                    f"tarring {rootfs}", 300)
        os.replace(partial, tarball)
    finally:
        shutil.rmtree(rootfs, ignore_errors=True)
        partial.unlink(missing_ok=True)
    return tarball


def import_rootfs(daemon: Dockerd, tarball: Path, name: str) -> str:
    """``docker import`` of a rootfs tarball as ``name`` (once per daemon), streamed."""
    try:
        daemon.client.images.get(name)
    except docker.errors.ImageNotFound:
        repository, _, tag = name.rpartition(":")
        api = docker.APIClient(base_url=daemon.host, timeout=IMPORT_SECONDS)
        with tarball.open("rb") as rootfs:
            api.import_image_from_data(rootfs, repository=repository, tag=tag)
    return name


def build_image(daemon: Dockerd, what: str, **options: Any) -> None:
    """``docker build`` with ``options`` (no network), within :data:`BUILD_SECONDS`."""
    deadline = time.monotonic() + BUILD_SECONDS
    api = docker.APIClient(base_url=daemon.host, timeout=BUILD_SECONDS)
    for event in api.build(rm=True, network_mode="none", decode=True, **options):
        if "error" in event:
            raise ServiceError(f"{what} failed: {str(event['error']).strip()}")
        if time.monotonic() > deadline:
            raise ServiceError(f"{what} did not finish in {BUILD_SECONDS} s")


def import_base(daemon: Dockerd) -> str:
    """The Python base image: Debian 12 minbase with python3 and pip."""
    return import_rootfs(daemon, debootstrap_rootfs(("python3", "python3-pip"), BASE_ROOTFS),
                         BASE_IMAGE)


def build_lifecycle_image(daemon: Dockerd, context: Path) -> str:
    """The repository's Dockerfile, built from wheels made on the host (no network inside)."""
    if context.exists():
        shutil.rmtree(context)
    context.mkdir(parents=True)
    run_bounded([sys.executable, "-m", "pip", "wheel", "--quiet", "--wheel-dir",
                 str(context / "wheels"), str(ROOT)], "building the wheels for the image",
                WHEELS_SECONDS)
    for item in ("Dockerfile", ".dockerignore", "cmd"):
        source = ROOT / item
        (shutil.copytree if source.is_dir() else shutil.copy)(source, context / item)
    (context / "lifecycle").mkdir()
    shutil.copy(ROOT / "lifecycle" / "launcher.sh", context / "lifecycle" / "launcher.sh")
    build_image(daemon, "building the lifecycle image", path=str(context),
                tag=LIFECYCLE_IMAGE, buildargs={"BASE_IMAGE": import_base(daemon)})
    return LIFECYCLE_IMAGE


def build_builder_image(daemon: Dockerd, stack_toml: str, tag: str) -> str:
    """A builder: the lifecycle image plus /buildpacks/stack.toml, named by CNB_MIRRORS_PATH."""
    dockerfile = (f"FROM {LIFECYCLE_IMAGE}\n"
                  "COPY stack.toml /buildpacks/stack.toml\n"
                  "ENV CNB_MIRRORS_PATH=/buildpacks/stack.toml\n").encode()
    context = io.BytesIO()
    with tarfile.open(fileobj=context, mode="w") as tar:
        for name, data in (("Dockerfile", dockerfile), ("stack.toml", stack_toml.encode())):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    context.seek(0)
    build_image(daemon, "building the builder image", fileobj=context, custom_context=True,
                tag=tag)
    return tag
