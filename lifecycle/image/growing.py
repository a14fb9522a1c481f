"""A blob while it is being written, which a reader may follow as it grows.

The exporter writes a new layer blob to a file once; with a registry target the upload of
that blob can start at the same time and read the file just behind the writer, so that tar,
hashing, compression and upload overlap instead of running one after the other. The blob's
digest is known only when the writer finishes; the reader gets it then.
"""

from __future__ import annotations

import functools
import os
import threading
from collections.abc import Iterator

CHUNK = 1 << 20


class BlobBroken(OSError):
    """The writer gave up on the blob; whoever follows it must stop too."""


class GrowingBlob:
    """The writer calls :meth:`grew` and then :meth:`finished` (or :meth:`broke`); one reader
    iterates :meth:`chunks`, asks :meth:`digest` and then calls :meth:`close`."""

    def __init__(self, path: str) -> None:
        # Opened now, while the file still has the name it is being written under: the
        # writer renames it when done, and an open descriptor follows the file anyway.
        self._fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        self._changed = threading.Condition()
        self._size = 0
        self._digest: str | None = None
        self._broken = False

    # -- the writer --------------------------------------------------------------------
    def grew(self, size: int) -> None:
        with self._changed:
            self._size = size
            self._changed.notify_all()

    def finished(self, digest: str, size: int) -> None:
        with self._changed:
            self._size, self._digest = size, digest
            self._changed.notify_all()

    def broke(self) -> None:
        with self._changed:
            self._broken = True
            self._changed.notify_all()

    # -- the reader --------------------------------------------------------------------
    def chunks(self) -> Iterator[bytes]:
        """The blob's bytes in order, waiting for the writer; ends where the blob ends."""
        offset = 0
        while True:
            with self._changed:
                self._changed.wait_for(functools.partial(self._has_more, offset))
                if self._broken:
                    raise BlobBroken("the layer being uploaded could not be written")
                available, complete = self._size, self._digest is not None
            while offset < available:
                data = os.pread(self._fd, min(CHUNK, available - offset), offset)
                if not data:
                    raise BlobBroken("the layer file is shorter than written")
                offset += len(data)
                yield data
            if complete:
                return

    def _has_more(self, offset: int) -> bool:
        return self._size > offset or self._digest is not None or self._broken

    def digest(self) -> str:
        with self._changed:
            self._changed.wait_for(lambda: self._digest is not None or self._broken)
            if self._digest is None:
                raise BlobBroken("the layer being uploaded could not be written")
            return self._digest

    def close(self) -> None:
        os.close(self._fd)
