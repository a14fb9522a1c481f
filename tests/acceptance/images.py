"""The images the acceptance story builds, since none can be pulled: a Debian 12 base with
Python (debootstrap, cached as a tarball), the lifecycle image from the repository's
Dockerfile on top of it, and a builder image carrying /buildpacks/stack.toml."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import docker

from tests.harness.dockerd import CACHE
from tests.harness.services import ensure_commands

ROOT = Path(__file__).resolve().parents[2]
BASE_ROOTFS = "bookworm-python3-minbase.tar"
BASE_IMAGE = "cnb-acceptance/python-base:bookworm"
LIFECYCLE_IMAGE = "cnb-acceptance/lifecycle:dev"


def debootstrap_rootfs(include: tuple[str, ...], cache_name: str) -> Path:
    """``debootstrap --variant=minbase [--include=...] bookworm``, tarred once per machine
    (under a minute) into the test cache."""
    tarball = CACHE / cache_name
    if tarball.is_file():
        return tarball
    ensure_commands(["debootstrap"], ["debootstrap"])
    CACHE.mkdir(parents=True, exist_ok=True)
    rootfs = CACHE / f"{cache_name}.rootfs"
    shutil.rmtree(rootfs, ignore_errors=True)
    subprocess.run(["debootstrap", "--variant=minbase",
                    *([f"--include={','.join(include)}"] if include else []),
                    "bookworm", str(rootfs), "http://deb.debian.org/debian"], check=True,
                   capture_output=True, timeout=1800)
    partial = tarball.with_suffix(".partial")
    subprocess.run(["tar", "-C", str(rootfs), "--numeric-owner", "-cf", str(partial), "."],
                   check=True)
    os.replace(partial, tarball)
    shutil.rmtree(rootfs, ignore_errors=True)
    return tarball


def import_rootfs(client: docker.DockerClient, tarball: Path, name: str) -> str:
    """``docker import`` of a rootfs tarball as ``name`` (once per daemon)."""
    try:
        client.images.get(name)
    except docker.errors.ImageNotFound:
        repository, _, tag = name.rpartition(":")
        with tarball.open("rb") as rootfs:
            client.api.import_image_from_data(rootfs.read(), repository=repository, tag=tag)
    return name


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
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--wheel-dir",
                    str(context / "wheels"), str(ROOT), *more], check=True, timeout=900,
                   capture_output=True)


def build_lifecycle_image(client: docker.DockerClient, context: Path) -> str:
    """The repository's Dockerfile, built from wheels made on the host (no network inside)."""
    add_wheels(source_context(context))
    client.images.build(path=str(context), tag=LIFECYCLE_IMAGE, rm=True, network_mode="none",
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
    client.images.build(fileobj=context, custom_context=True, tag=tag, rm=True,
                        network_mode="none")
    return tag
