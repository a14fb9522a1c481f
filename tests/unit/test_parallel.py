"""-parallel: the image and the cache at once, or one after the other and why."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from lifecycle.parallel import export_image_and_cache


def test_parallel_saves_the_image_while_the_cache_is_exported() -> None:
    """The image waits for the cache to have started: one after the other, it never would."""
    cache_started, image_saved = threading.Event(), threading.Event()
    order: list[str] = []

    def save_image() -> None:
        assert cache_started.wait(10), "the cache was not exported at the same time"
        order.append("image saved")
        image_saved.set()

    def export_cache() -> str:
        cache_started.set()
        assert image_saved.wait(10)
        order.append("cache done")
        return "cached"

    assert export_image_and_cache(save_image, export_cache, parallel=True, needs_root=None,
                                  as_user=None) == "cached"
    assert order == ["image saved", "cache done"]


def test_without_parallel_the_image_comes_first() -> None:
    order: list[str] = []
    result = export_image_and_cache(lambda: order.append("image"),
                                    lambda: order.append("cache") or 7, parallel=False,
                                    needs_root=None, as_user=None)
    assert (order, result) == (["image", "cache"], 7)


def test_a_failed_image_is_raised_after_the_cache_is_done() -> None:
    done: list[str] = []

    def save_image() -> None:
        raise RuntimeError("image failed")

    with pytest.raises(RuntimeError, match="image failed"):
        export_image_and_cache(save_image, lambda: done.append("cache"), parallel=True,
                               needs_root=None, as_user=None)
    assert done == ["cache"]


def test_one_user_switch_covers_both_and_root_needs_go_one_after_the_other(
        capsys: pytest.CaptureFixture[str]) -> None:
    switches: list[str] = []

    @contextmanager
    def as_user() -> Iterator[None]:
        switches.append("switched")
        yield

    export_image_and_cache(lambda: None, lambda: None, parallel=True, needs_root=None,
                           as_user=as_user)
    assert switches == ["switched"]
    order: list[str] = []
    export_image_and_cache(lambda: order.append("image"), lambda: order.append("cache"),
                           parallel=True, needs_root="the Docker socket is root's",
                           as_user=as_user)
    assert order == ["image", "cache"] and switches == ["switched"]
    assert "Exporting the cache after the image: the Docker socket is root's" in \
        capsys.readouterr().out
