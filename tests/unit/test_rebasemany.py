"""rebase-many's shared reads: what many images share is asked of the backend once."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

import pytest

from lifecycle.backends.base import Access, BackendError
from lifecycle.backends.shared import SharedReads
from lifecycle.image.model import Image, SaveResult, StoredImage
from lifecycle.rebasemany import Outcome
from lifecycle.reference import Reference, parse_reference


class CountingStore:
    kind = "registry"
    compress_layers = True

    def __init__(self, failing: str = "") -> None:
        self.asked: Counter[tuple[str, str]] = Counter()
        self.lock = threading.Lock()
        self.failing = failing

    def _ask(self, what: str, ref: Reference) -> None:
        with self.lock:
            self.asked[(what, str(ref))] += 1
        time.sleep(0.01)  # long enough for the other jobs to ask at the same time
        if str(ref) == self.failing:
            raise BackendError(f"{ref}: broken")

    def check_read_access(self, ref: Reference) -> Access:
        self._ask("access", ref)
        return Access(True, "readable")

    def read(self, ref: Reference) -> StoredImage:
        self._ask("read", ref)
        return StoredImage(Image({"rootfs": {"type": "layers", "diff_ids": []}}, ()), str(ref))

    def write(self, image: Image, refs: Sequence[Reference], *,
              new_configs: bool = False) -> SaveResult:
        raise NotImplementedError


RUN = parse_reference("registry.example.com/run:v1")


def test_run_images_are_read_once_for_the_whole_batch() -> None:
    backend = CountingStore()
    shared = SharedReads(backend, None)
    apps = [parse_reference(f"registry.example.com/app{n}:latest") for n in range(20)]

    def one(app: Reference) -> None:
        shared.read(app)
        assert shared.check_read_access(RUN).readable
        shared.read(RUN)

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(one, apps))
    assert backend.asked[("access", str(RUN))] == 1
    assert backend.asked[("read", str(RUN))] == 1
    assert all(backend.asked[("read", str(app))] == 1 for app in apps)


def test_an_explicit_run_image_is_shared_without_an_access_check() -> None:
    backend = CountingStore()
    shared = SharedReads(backend, str(RUN))
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(lambda _: shared.read(RUN), range(10)))
    assert backend.asked == Counter({("read", str(RUN)): 1})


def test_a_shared_failure_is_told_to_every_asker() -> None:
    shared = SharedReads(CountingStore(failing=str(RUN)), str(RUN))
    for _ in range(3):
        with pytest.raises(BackendError, match="broken"):
            shared.read(RUN)


def test_outcomes_report_only_what_they_have() -> None:
    assert Outcome("a", digest="sha256:1", run_image="r").to_report() == {
        "name": "a", "status": "rebased", "digest": "sha256:1", "run-image": "r"}
    assert Outcome("b", error="failed to x").to_report() == {
        "name": "b", "status": "failed", "error": "failed to x"}
