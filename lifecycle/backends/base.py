"""The one small interface every image backend (registry, daemon, OCI layout) implements.

Phases talk to an :class:`ImageStore`; they never know which backend they have. Data flows
one way: the phase builds an :class:`~lifecycle.image.model.Image` with pure transforms and
hands it to :meth:`ImageStore.write`, which makes sure every blob is present before any name
points at the new manifest.
"""

from __future__ import annotations

from collections.abc import Sequence

from lifecycle.checking import TYPE_CHECKING, Protocol
from lifecycle.image.index import ImageIndex, IndexChild, StoredIndex
from lifecycle.image.model import Image, SaveResult, StoredImage
from lifecycle.record import record
from lifecycle.reference import Reference

if TYPE_CHECKING:
    from lifecycle.image.growing import GrowingBlob

DEFAULT_CONNECTIONS = 10
"""Connections a backend keeps open per server (requests' own default pool size)."""


class BackendError(Exception):
    """A backend could not do what was asked; the message is one line naming the image."""


class ImageNotFound(BackendError):
    """The image does not exist at that reference."""


class AccessDenied(BackendError):
    """The image may exist but we may not read it (HTTP 401/403)."""


@record
class Access:
    """The answer to "can this image be read?", with the reason for the log and report."""

    readable: bool
    reason: str


class BlobStager(Protocol):
    """Starts uploads of new blobs while they are still being written."""

    def stage(self, blob: GrowingBlob) -> None:
        """Start uploading ``blob`` in the background; the stager closes it when done."""
        ...

    def finish(self) -> None:
        """Wait for every staged upload. One that failed is only logged: :meth:`ImageStore.write`
        makes every blob present anyway, so staging only ever saves time."""
        ...


class ImageStore(Protocol):
    """Where images are read from and written to."""

    kind: str
    """``registry``, ``daemon`` or ``layout``: used in messages and report.toml."""

    compress_layers: bool
    """Whether new layers should be stored gzip-compressed (the daemon wants plain tars)."""

    def check_read_access(self, ref: Reference) -> Access:
        """Whether ``ref`` can be read, without reading any layer."""
        ...

    def read(self, ref: Reference) -> StoredImage:
        """Manifest and config of ``ref``; layers stay where they are (lazy blob sources).

        Raises :class:`ImageNotFound`, :class:`AccessDenied` or :class:`BackendError`.
        """
        ...

    def read_index(self, ref: Reference) -> StoredImage | StoredIndex:
        """What ``ref`` names, one level: an image, or an index whose children are not read
        (a usable one: no nested index, no platform twice). Raises as :meth:`read`."""
        ...

    def read_child(self, ref: Reference, child: IndexChild) -> StoredImage:
        """The image ``child`` (a descriptor of the index ``ref`` names) describes."""
        ...

    def blob_stager(self, refs: Sequence[Reference]) -> BlobStager | None:
        """A stager for blobs of an image to be written to ``refs``, or None where starting
        early gains nothing (the blob is read whole at write time anyway)."""
        ...

    def close(self) -> None:
        """Let go of connections and scratch files; the store is not used afterwards."""
        ...

    def write(self, image: Image, refs: Sequence[Reference], *,
              new_configs: bool = False) -> SaveResult:
        """Store ``image`` under every name in ``refs``.

        All blobs are made present first; only then is each name pointed at the manifest. A
        blob failure raises :class:`BackendError` with no name touched; a per-name failure is
        recorded in ``SaveResult.failed`` and the other names are still written.

        ``new_configs`` says the configs were made just now from others, as a rebase makes
        them, so a store that would ask whether it has each one first sends it at once; one
        it has after all is sent again, which costs a request more than asking would have.
        """
        ...

    def write_index(self, index: ImageIndex, images: Sequence[Image],
                    refs: Sequence[Reference], *, new_configs: bool = False) -> SaveResult:
        """Store ``index`` under every name in ``refs``, as :meth:`write` stores an image.

        ``images`` are the children this write adds; each is made complete (blobs, then its
        manifest) at every name before any name points at the index. The index's other
        children must already be where the names are. Raises :class:`BackendError` where
        indexes cannot be stored (the daemon).
        """
        ...
