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
BASE_ROOTFS = CACHE / "bookworm-python3-minbase.tar"
BASE_IMAGE = "cnb-acceptance/python-base:bookworm"
LIFECYCLE_IMAGE = "cnb-acceptance/lifecycle:dev"


def base_rootfs() -> Path:
    """``debootstrap --variant=minbase --include=python3,python3-pip bookworm``, tarred once per
    machine (about a minute) into the test cache."""
    if BASE_ROOTFS.is_file():
        return BASE_ROOTFS
    ensure_commands(["debootstrap"], ["debootstrap"])
    CACHE.mkdir(parents=True, exist_ok=True)
    rootfs = CACHE / "bookworm-rootfs"
    shutil.rmtree(rootfs, ignore_errors=True)
    subprocess.run(["debootstrap", "--variant=minbase", "--include=python3,python3-pip",
                    "bookworm", str(rootfs), "http://deb.debian.org/debian"], check=True,
                   capture_output=True, timeout=1800)
    partial = BASE_ROOTFS.with_suffix(".partial")
    subprocess.run(["tar", "-C", str(rootfs), "--numeric-owner", "-cf", str(partial), "."],
                   check=True)
    os.replace(partial, BASE_ROOTFS)
    shutil.rmtree(rootfs, ignore_errors=True)
    return BASE_ROOTFS


def import_base(client: docker.DockerClient) -> str:
    """The base image in this daemon (``docker import`` of the cached rootfs)."""
    try:
        client.images.get(BASE_IMAGE)
    except docker.errors.ImageNotFound:
        with base_rootfs().open("rb") as rootfs:
            client.api.import_image_from_data(rootfs.read(), repository=BASE_IMAGE.split(":")[0],
                                              tag=BASE_IMAGE.split(":")[1])
    return BASE_IMAGE


def build_lifecycle_image(client: docker.DockerClient, context: Path) -> str:
    """The repository's Dockerfile, built from wheels made on the host (no network inside)."""
    if context.exists():
        shutil.rmtree(context)
    context.mkdir(parents=True)
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--wheel-dir",
                    str(context / "wheels"), str(ROOT)], check=True, timeout=600,
                   capture_output=True)
    for item in ("Dockerfile", ".dockerignore", "cmd"):
        source = ROOT / item
        (shutil.copytree if source.is_dir() else shutil.copy)(source, context / item)
    (context / "lifecycle").mkdir()
    shutil.copy(ROOT / "lifecycle" / "launcher.sh", context / "lifecycle" / "launcher.sh")
    client.images.build(path=str(context), tag=LIFECYCLE_IMAGE, rm=True, network_mode="none",
                        buildargs={"BASE_IMAGE": import_base(client)})
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
