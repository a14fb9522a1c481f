"""A store shared by concurrent rebases: what they share is asked of the backend once.

Run images (and their access checks) are what the images of a ``rebase-many`` batch, and the
children of one app index, have in common; everything else is read straight through, so
memory does not grow with the fleet.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence

from lifecycle.backends.base import Access, ImageStore
from lifecycle.checking import TYPE_CHECKING, cast
from lifecycle.image.index import ImageIndex, IndexChild, StoredIndex
from lifecycle.image.model import Image, SaveResult, StoredImage
from lifecycle.reference import Reference

if TYPE_CHECKING:
    from typing import TypeVar

    T = TypeVar("T")


class _Answer:
    """One answer several threads may wait for; the first to ask works it out (a
    ``concurrent.futures.Future`` would cost the import of ``logging``: lifecycle/workers.py)."""

    def __init__(self) -> None:
        self._ready = threading.Event()
        self._value: object = None
        self._failure: Exception | None = None

    def give(self, ask: Callable[[], object]) -> None:
        try:
            self._value = ask()
        except Exception as err:  # noqa: BLE001 - every waiter, this one too, raises it
            self._failure = err
        self._ready.set()

    def wait(self) -> object:
        self._ready.wait()
        if self._failure is not None:
            raise self._failure
        return self._value


class SharedReads:
    """The batch's store: what is shared between images (run images and their access checks)
    is asked of the backend once, even when many jobs ask at the same moment. App images
    are read straight through, so memory does not grow with the fleet."""

    def __init__(self, store: ImageStore, run_image: str | None) -> None:
        self._store = store
        self.kind, self.compress_layers = store.kind, store.compress_layers
        self._lock = threading.Lock()
        self._shared = {run_image} if run_image else set()
        self._reads: dict[str, _Answer] = {}       # StoredImage
        self._indexes: dict[str, _Answer] = {}     # StoredImage | StoredIndex
        self._access: dict[str, _Answer] = {}      # Access

    def check_read_access(self, ref: Reference) -> Access:
        with self._lock:
            self._shared.add(str(ref))
        return self._once(self._access, str(ref), lambda: self._store.check_read_access(ref))

    def read(self, ref: Reference) -> StoredImage:
        if not self._is_shared(ref):
            return self._store.read(ref)
        return self._once(self._reads, str(ref), lambda: self._store.read(ref))

    def read_index(self, ref: Reference) -> StoredImage | StoredIndex:
        if not self._is_shared(ref):
            return self._store.read_index(ref)
        return self._once(self._indexes, str(ref), lambda: self._store.read_index(ref))

    def read_child(self, ref: Reference, child: IndexChild) -> StoredImage:
        if not self._is_shared(ref):
            return self._store.read_child(ref, child)
        return self._once(self._reads, f"{ref}@{child.digest}",
                          lambda: self._store.read_child(ref, child))

    def _is_shared(self, ref: Reference) -> bool:
        with self._lock:
            return str(ref) in self._shared

    def blob_stager(self, refs: Sequence[Reference]) -> None:
        return None  # a rebase writes only a config and a manifest

    def close(self) -> None:
        self._store.close()

    def write(self, image: Image, refs: Sequence[Reference], *,
              new_configs: bool = False) -> SaveResult:
        return self._store.write(image, refs, new_configs=new_configs)

    def write_index(self, index: ImageIndex, images: Sequence[Image],
                    refs: Sequence[Reference], *, new_configs: bool = False) -> SaveResult:
        return self._store.write_index(index, images, refs, new_configs=new_configs)

    def _once(self, answers: dict[str, _Answer], key: str, ask: Callable[[], T]) -> T:
        with self._lock:
            answer = answers.get(key)
            owner = answer is None
            if answer is None:
                answer = answers[key] = _Answer()
        if owner:
            answer.give(ask)
        return cast("T", answer.wait())
