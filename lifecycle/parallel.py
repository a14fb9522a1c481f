"""``-parallel`` (``CNB_PARALLEL_EXPORT``, platform API 0.13 on): the app image and the build
cache are exported at the same time, and report.toml is written as soon as the image is saved,
not after the cache.

The cache part reads the build's layers and writes the cache as the build's user
(:mod:`lifecycle.privileges`), and that switch is the whole process's, not one thread's. So when
a switch is in effect, the two run at once only for a registry target, with the whole of both
run as the build's user (a registry needs nothing of root's); a daemon (its socket) or a layout
(root's directory) then gets its image first and its cache after, and the log says why.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager, nullcontext
from typing import TypeVar

from lifecycle import interrupts
from lifecycle.log import get_logger

T = TypeVar("T")


def export_image_and_cache(save_image: Callable[[], None], export_cache: Callable[[], T], *,
                           parallel: bool, needs_root: str | None,
                           as_user: Callable[[], AbstractContextManager[None]] | None) -> T:
    """``save_image()`` and ``export_cache()``, one after the other, or at once if
    ``parallel``. ``as_user`` is the switch to the build's user when one is in effect (else
    None); ``needs_root`` says why the image needs root's IDs while it is saved, if it does.
    A failed image is raised once the cache is done too (the cache only ever warns)."""
    if parallel and as_user is not None and needs_root:
        get_logger().info(f"Exporting the cache after the image: {needs_root}")
        parallel = False
    if not parallel:
        save_image()
        return export_cache()
    with as_user() if as_user else nullcontext(), ThreadPoolExecutor(1) as pool:
        cache = pool.submit(export_cache)
        try:
            save_image()
        finally:
            cached = interrupts.result(cache)
    return cached
