"""Multi-platform images in the phases: image indexes written, and app indexes rebased.

* The exporter with ``-index`` puts the image it made into the index at each tag
  (:func:`export_into_indexes`): that platform's child is added or replaced, the others are
  kept, and the index is written only after the child is complete.
* The rebaser rebases an app index child by child, the children at the same time over one
  store (:func:`plan_rebase`); the backend writes the children, then the new index.
* Both report, per platform, the old and new child digests and the index digest
  (:class:`ChildChange`), in report.toml and in the log's structured fields.

Which child serves which platform is the pure :mod:`lifecycle.image.platforms`; reading a
name's image for one platform is :mod:`lifecycle.platformimage`. Only a run that writes or
rebases an index imports this module (with its thread pool).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence

from lifecycle.backends.base import BackendError, ImageNotFound, ImageStore
from lifecycle.backends.shared import SharedReads
from lifecycle.checking import TYPE_CHECKING
from lifecycle.image import platforms
from lifecycle.image.index import ImageIndex, IndexChild, IndexProblem, Platform, StoredIndex
from lifecycle.image.model import Image, SaveResult
from lifecycle.log import Logger, get_logger
from lifecycle.platform.exits import ExitCode
from lifecycle.record import record, replace
from lifecycle.reference import Reference
from lifecycle.saving import save_with
from lifecycle.workers import run_each

if TYPE_CHECKING:
    from typing import Any

CHILD_WORKERS = 8
"""Children of one app index rebased at the same time."""


@record
class ChildChange:
    """One platform of an index written: its child's digest now and before."""

    platform: Platform
    digest: str
    previous: str = ""    # "" for a platform the index did not have
    base: str = ""        # the run-image manifest the child is on (digest reference)

    def to_report(self) -> dict[str, str]:
        entry = {"platform": str(self.platform), "digest": self.digest,
                 "previous-digest": self.previous, "run-image": self.base}
        return {key: value for key, value in entry.items() if value}


@record
class IndexWrite:
    """An index to write at some names, and what it changes."""

    index: ImageIndex
    previous_digest: str
    changes: tuple[ChildChange, ...]

    def to_report(self, result: SaveResult) -> dict[str, Any]:
        entry: dict[str, Any] = {"digest": result.digest, "manifest-size": result.manifest_size}
        if self.previous_digest:
            entry["previous-digest"] = self.previous_digest
        entry["platforms"] = [change.to_report() for change in self.changes]
        return entry

    def log(self, logger: Logger, names: Sequence[str], digest: str) -> None:
        for change in self.changes:
            was = f" (was {change.previous})" if change.previous else " (new)"
            logger.info(f"*** Platform {change.platform}: {change.digest}{was}",
                        kind="index.platform", platform=str(change.platform), digest=change.digest,
                        previous_digest=change.previous, run_image=change.base)
        logger.info(f"*** Index: {digest}", kind="index.written", index_digest=digest,
                    previous_index_digest=self.previous_digest, tags=list(names))


# -- export: add or replace this platform's child in each tag's index ---------------------

def index_at(store: ImageStore, ref: Reference) -> tuple[ImageIndex, str]:
    """The index ``ref`` holds now and its digest: an empty one where there is nothing, one
    containing the image where a single image is."""
    try:
        top = store.read_index(ref)
    except ImageNotFound:
        return ImageIndex(()), ""
    if isinstance(top, StoredIndex):
        return top.index, top.digest
    platform = Platform.of_image(top.image)
    child = IndexChild(top.digest, top.manifest_size, top.image.manifest_media_type,
                       platform if platform.os and platform.architecture else None)
    return ImageIndex((child,)), top.digest


def plan_export(store: ImageStore, image: Image, ref: Reference, base: str) -> IndexWrite:
    current, digest = index_at(store, ref)
    child = IndexChild.for_image(image)
    index, replaced = platforms.put_child(current, child)
    assert child.platform is not None
    return IndexWrite(index, digest, (ChildChange(child.platform, child.digest,
                                                  replaced.digest if replaced else "", base),))


def export_into_indexes(store: ImageStore, image: Image, refs: Sequence[Reference],
                        base: str, logger: Logger
                        ) -> tuple[SaveResult, list[dict[str, Any]]]:
    """Write ``image`` by digest and point each name at its index with it; every index is
    read before anything is written. Returns the image's result (its digest; a name whose
    index could not be written is failed) and report.toml's ``indexes`` entries."""
    plans = []
    for ref in refs:
        try:
            plans.append((ref, plan_export(store, image, ref, base)))
        except (BackendError, IndexProblem) as err:
            raise BackendError(f"cannot add to the index at '{ref}': {err}") from None
    saved, failed, entries = [], {}, []
    for ref, plan in plans:
        try:
            result = store.write_index(plan.index, [image], [ref])
        except BackendError as err:
            failed[str(ref)] = str(err)
            continue
        if result.failed:
            failed.update(result.failed)
            continue
        saved.append(str(ref))
        plan.log(logger, [str(ref)], result.digest)
        entries.append({"tag": str(ref), **plan.to_report(result)})
    manifest = image.manifest_bytes()
    return SaveResult(digest=image.digest(), manifest_size=len(manifest), saved=tuple(saved),
                      failed=failed), entries


def save_into_indexes(store: ImageStore, image: Image, refs: Sequence[Reference],
                      names: Sequence[str], base: str) -> tuple[SaveResult, dict[str, Any]]:
    """:func:`export_into_indexes` with the exporter's output; the result and what
    report.toml's ``[image]`` adds (the platform, and each tag's index)."""
    entries: list[dict[str, Any]] = []

    def write() -> SaveResult:
        result, written = export_into_indexes(store, image, refs, base, get_logger())
        entries.extend(written)
        return result

    result = save_with(write, refs, names, "export", ExitCode.EXPORT_FAILED)
    return result, {"platform": str(Platform.of_image(image)), "indexes": entries}


# -- rebase: every child onto the new run image's child of its platform --------------------

RebaseChild = Callable[[ImageStore, IndexChild, Logger],
                       tuple[Image, dict[str, str]]]
"""(store, a platform child of the app index, logger) -> (the child read and rebased,
report.toml's [run-image]); nothing is written."""


def plan_rebase(store: ImageStore, app: Reference, stored: StoredIndex, label: str,
                run_image: str | None, rebase_child: RebaseChild,
                logger: Logger
                ) -> tuple[IndexWrite, list[Image], dict[str, str]]:
    """Every platform child rebased (nothing written yet), at the same time over one store
    that reads what they share (run images, access checks) once."""
    children = platforms.platform_children(stored.index)
    if not children:
        raise IndexProblem(f"image '{app}' is an index without an image for any platform")
    shared = store if isinstance(store, SharedReads) else SharedReads(store, run_image)

    def one(child: IndexChild) -> tuple[Image, dict[str, str]]:
        return rebase_child(shared, child, logger.bind(item=f"{label} {child.platform}"))

    rebased = run_each([functools.partial(one, child) for child in children], CHILD_WORKERS,
                       "child")
    new = {old.digest: replace(old, digest=image.digest(), size=len(image.manifest_bytes()),
                               media_type=image.manifest_media_type)
           for old, (image, _) in zip(children, rebased, strict=True)}
    changes = tuple(ChildChange(old.platform, new[old.digest].digest, old.digest,
                                on["reference"])
                    for old, (_, on) in zip(children, rebased, strict=True)
                    if old.platform is not None)
    index = platforms.replace_children(stored.index, new)
    return (IndexWrite(index, stored.digest, changes), [image for image, _ in rebased],
            rebased[0][1])
