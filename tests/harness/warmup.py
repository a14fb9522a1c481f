"""Warming the test cache in the background while the first tests run.

A cold run waits minutes on the network and on unpacking: two debootstraps (the Python base
of the acceptance story and the Dockerfile tests; the builder without Python of the dist
tests) and Debian 13's engine for the containerd image store, each made once per machine
into the test cache; and the dist tests wait on PyInstaller (``make dist``, once per run,
into a temporary directory). Once collection shows which of them the selected tests need,
they are made side by side in background threads. The fixtures call the same functions, which hold
one lock per cache entry: a fixture waits for a warm-up under way, then finds the entry made.
A warm-up that fails is only noted here; the fixture then makes the entry itself and
reports its own failure, with its own bound.
"""

from __future__ import annotations

import threading
import warnings
from collections.abc import Callable

import pytest

from tests.acceptance.images import BASE_ROOTFS, NO_PYTHON_ROOTFS, debootstrap_rootfs
from tests.dist import make_dist
from tests.harness.dockerd import trixie_docker


def pytest_collection_finish(session: pytest.Session) -> None:
    if session.config.option.collectonly:
        return
    items = session.items
    wanted: dict[str, Callable[[], object]] = {}
    if any(item.get_closest_marker(group) for item in items for group in ("acceptance", "dist")):
        wanted["the Python base"] = lambda: debootstrap_rootfs(("python3", "python3-pip"),
                                                               BASE_ROOTFS)
    if any("release_build" in getattr(item, "fixturenames", ()) for item in items):
        wanted["the release build"] = make_dist.release_build
    if any(item.get_closest_marker("dist") for item in items):
        wanted["the builder without Python"] = lambda: debootstrap_rootfs((), NO_PYTHON_ROOTFS)
    if any("containerd_dockerd" in getattr(item, "fixturenames", ()) for item in items):
        wanted["Debian 13's engine"] = trixie_docker
    for what, make in wanted.items():
        threading.Thread(target=_warm, args=(what, make), name=f"warm-up: {what}",
                         daemon=True).start()


def _warm(what: str, make: Callable[[], object]) -> None:
    try:
        make()
    except Exception as err:  # noqa: BLE001 - the fixture that needs it tries again and says why
        warnings.warn(f"warming the test cache ({what}) failed: {err}; the tests that need it "
                      "make it themselves", stacklevel=1)
