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
from collections import deque
from pathlib import Path
from typing import Any

import docker

from tests.harness.services import (
    CACHE,
    ServiceError,
    cache_lock,
    ensure_commands,
    run_bounded,
)

ROOT = Path(__file__).resolve().parents[2]
BASE_ROOTFS = "bookworm-python3-minbase.tar"
NO_PYTHON_ROOTFS = "bookworm-minbase.tar"
BASE_IMAGE = "cnb-acceptance/python-base:bookworm"
LIFECYCLE_IMAGE = "cnb-acceptance/lifecycle:dev"
DEBOOTSTRAP_SECONDS = 900
DEBOOTSTRAP_ATTEMPTS = 2
WHEELS_SECONDS = 900
BUILD_SECONDS = 900


def debootstrap_rootfs(include: tuple[str, ...], cache_name: str) -> Path:
    """``debootstrap --variant=minbase [--include=...] bookworm``, tarred once per machine
    (a few minutes) into the test cache."""
    with cache_lock(cache_name):
        return _debootstrap_rootfs(include, cache_name)


def _debootstrap_rootfs(include: tuple[str, ...], cache_name: str) -> Path:
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


def import_rootfs(client: docker.DockerClient, tarball: Path, name: str) -> str:
    """``docker import`` of a rootfs tarball as ``name`` (once per daemon), streamed."""
    try:
        client.images.get(name)
    except docker.errors.ImageNotFound:
        repository, _, tag = name.rpartition(":")
        with tarball.open("rb") as rootfs:
            client.api.import_image_from_data(rootfs, repository=repository, tag=tag)
    return name


def build_image(client: docker.DockerClient, what: str, **options: Any) -> None:
    """``docker build`` with ``options``, within :data:`BUILD_SECONDS`; a failure says
    ``what`` failed and shows the end of the build's output."""
    deadline = time.monotonic() + BUILD_SECONDS
    output: deque[str] = deque(maxlen=30)
    for event in client.api.build(rm=True, decode=True, timeout=BUILD_SECONDS, **options):
        output.extend(str(event.get("stream", "")).splitlines())
        if "error" in event:
            raise ServiceError(f"{what} failed: {str(event['error']).strip()}; the end of "
                               f"its output:\n" + "\n".join(output))
        if time.monotonic() > deadline:
            raise ServiceError(f"{what} did not finish in {BUILD_SECONDS} s")


def import_base(client: docker.DockerClient) -> str:
    """The Python base image: Debian 12 minbase with python3 and pip."""
    return import_rootfs(client, debootstrap_rootfs(("python3", "python3-pip"), BASE_ROOTFS),
                         BASE_IMAGE)


# What a fresh clone holds that the Dockerfile's build context takes (see .dockerignore).
SOURCE = ("Dockerfile", ".dockerignore", "cmd", "lifecycle", "release", "pyproject.toml",
          "setup.cfg", "README.md")


def source_context(context: Path) -> Path:
    """A copy of the repository's files that ``docker build .`` sees, at ``context``."""
    if context.exists():
        shutil.rmtree(context)
    context.mkdir(parents=True)
    for item in SOURCE:
        source = ROOT / item
        if source.is_dir():
            shutil.copytree(source, context / item,
                            ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(source, context / item)
    return context


def add_wheels(context: Path, *more: str) -> None:
    """``pip wheel --wheel-dir wheels . [more...]`` on the host, for ``WHEELS=wheels``."""
    run_bounded([sys.executable, "-m", "pip", "wheel", "--quiet", "--wheel-dir",
                 str(context / "wheels"), str(ROOT), *more], "building the wheels for the image",
                WHEELS_SECONDS)


def build_lifecycle_image(client: docker.DockerClient, context: Path) -> str:
    """The repository's Dockerfile, built from wheels made on the host (no network inside)."""
    add_wheels(source_context(context))
    build_image(client, "building the lifecycle image", path=str(context), tag=LIFECYCLE_IMAGE,
                network_mode="none",
                buildargs={"BASE_IMAGE": import_base(client), "WHEELS": "wheels"})
    return LIFECYCLE_IMAGE


def build_builder_image(client: docker.DockerClient, stack_toml: str, tag: str) -> str:
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
    build_image(client, "building the builder image", fileobj=context, custom_context=True,
                tag=tag, network_mode="none")
    return tag
