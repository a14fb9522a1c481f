"""Reproducible layer tarballs, written in one streamed pass.

A layer is a tar of :class:`TarEntry` s. The bytes flow tar → sha256 (the diffID) → optional
gzip → sha256 (the blob digest) → a file in a work directory, in chunks of about 1 MiB, so
memory does not grow with the layer's size.

Normalisation, as the Go lifecycle's layer writer does it, so that the same inputs always give the
same diffID:

* names are absolute (``/layers/bp/layer/bin/x``), directories without a trailing slash;
* every mtime is 1980-01-01T00:00:01Z, uname/gname are empty, atime/ctime are never written;
* the walked tree is owned by the given uid/gid; the *parent directories* of a walked tree
  (``/layers``, ``/layers/bp``) are written as root-owned 0755 directories. The Go lifecycle
  copies their on-disk owner and mode instead, which differs from machine to machine (a
  0700 temp dir, the uid of whoever ran the build) and so would make diffIDs depend on where
  the export ran;
* order: parents outermost-first, then a pre-order walk with each directory's children
  sorted bytewise (app slices: all entries sorted bytewise by full name, as the lifecycle);
* symlinks are stored with their raw target and never followed; sockets, FIFOs and devices
  are skipped and reported through an ``on_skip`` callback; a file with several hard links
  in one layer is stored once and its other names become tar hard links to the first;
* USTAR headers, PAX where USTAR cannot represent a name or number (never GNU), and the
  archive ends with exactly two zero blocks (no padding to a 10 KiB record), so an empty
  layer is 1024 zero bytes.
"""

from __future__ import annotations

import enum
import hashlib
import os
import posixpath
import queue
import re
import stat
import tarfile
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from typing import BinaryIO

from isal import isal_zlib

from lifecycle import interrupts
from lifecycle.image.growing import GrowingBlob
from lifecycle.image.model import OCI_LAYER_GZIP, OCI_LAYER_TAR, BlobSource, Layer
from lifecycle.record import record

NORMALISED_MTIME = 315532801
"""1980-01-01T00:00:01Z, the lifecycle's timestamp for every entry."""

LAUNCHER_PATH = "/cnb/lifecycle/launcher"
PROCESS_DIR = "/cnb/process"
FORBIDDEN_PROCESS_TYPE_CHARACTERS = "/><:|&\\"

PARENT_DIR_MODE = 0o755
"""Mode of the parent directories above a walked tree (owned by root, see module doc)."""

# isal level 2 (its default). Measured here on one core: on incompressible data levels 1 and
# 2 both compress at ~1.3 GB/s; on a typical mix (binaries, text, pyc) level 1 does ~570 MB/s
# and level 2 ~530 MB/s for 1.4% smaller blobs, and level 3 drops to ~390 MB/s for another
# 1.3%. Level 2 keeps compression well above registry upload speeds while saving bytes on
# the wire; the whole pass (tar + sha256 + gzip + sha256 + write) runs at ~450 MB/s on
# incompressible data.
GZIP_LEVEL = 2

_BLOCK = tarfile.BLOCKSIZE
_END_OF_ARCHIVE = bytes(2 * _BLOCK)
_CHUNK = 1 << 20
# Fixed gzip member header (RFC 1952): deflate, no flags, mtime 0, no extra flags, OS
# "unknown". Written by hand so that only the deflate stream (isal's version) can move the
# blob digest; the diffID, which reuse is decided on, never depends on compression.
_GZIP_HEADER = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"

OnSkip = Callable[[Path, str], None]
"""Told about each entry left out of a layer: its path on disk and why."""


class ArchiveError(Exception):
    """A layer could not be built; the message names the path and the cause."""


class EntryKind(enum.Enum):
    """The tar entry types a layer may hold; values are the tar type flags."""

    FILE = tarfile.REGTYPE
    HARDLINK = tarfile.LNKTYPE
    SYMLINK = tarfile.SYMTYPE
    DIRECTORY = tarfile.DIRTYPE


@record
class TarEntry:
    """One normalised tar entry.

    ``name`` is the absolute path in the image. A ``FILE`` has ``size`` bytes read from
    ``source``; a ``SYMLINK``'s ``link_target`` is its raw target and a ``HARDLINK``'s is the
    name of the entry holding the contents, earlier in the same layer.
    """

    name: str
    kind: EntryKind
    mode: int
    uid: int = 0
    gid: int = 0
    source: Path | None = None
    size: int = 0
    link_target: str = ""

    def __post_init__(self) -> None:
        # A normalised absolute name is what keeps every entry inside the image's root.
        if (not self.name.startswith("/") or self.name.startswith("//") or self.name == "/"
                or posixpath.normpath(self.name) != self.name or "\0" in self.name):
            raise ValueError(f"tar entry name {self.name!r} is not a normalised absolute path")
        if self.kind is EntryKind.FILE and self.source is None:
            raise ValueError(f"tar entry {self.name!r} is a file without a source")


@record
class LocalBlob(BlobSource):
    """A layer blob stored in a local file."""

    path: Path
    digest: str

    def open_blob(self, digest: str) -> AbstractContextManager[BinaryIO]:
        if digest != self.digest:
            raise ValueError(f"{self.path} holds blob {self.digest}, not {digest}")
        return self.path.open("rb")

    def describe(self) -> str:
        return str(self.path)


@record
class SourceStamp:
    """What the file system says about a file whose bytes go into a layer.

    Contents cannot change without one of these changing: a write moves mtime and ctime,
    a replacement moves the inode, and ctime cannot be set back by the user.
    """

    device: int
    inode: int
    size: int
    mtime_ns: int
    ctime_ns: int

    @classmethod
    def of(cls, status: os.stat_result) -> SourceStamp:
        return cls(status.st_dev, status.st_ino, status.st_size, status.st_mtime_ns,
                   status.st_ctime_ns)


RACY_WINDOW_NS = 2_000_000_000
"""A file changed this close to (or after) the moment its layer was planned may change again
within the file system's timestamp granularity without its stamp moving (git's "racily
clean" problem; 2 s covers the coarsest common granularity), so such a plan gets no
fingerprint. Clock skew that puts a timestamp in the future lands here too."""

FORMAT_VERSION = "1"
"""Part of every fingerprint: bump it when the bytes written for the same entries change."""


@record
class LayerPlan:
    """The entries of one layer, decided before any byte is written, with the stamps of the
    files they read and when the tree was read."""

    entries: tuple[TarEntry, ...]
    stamps: tuple[SourceStamp, ...]
    planned_at_ns: int

    def fingerprint(self) -> str | None:
        """A digest that changes whenever the layer's bytes could; None when in doubt."""
        fresh_after = self.planned_at_ns - RACY_WINDOW_NS
        if any(max(stamp.mtime_ns, stamp.ctime_ns) >= fresh_after for stamp in self.stamps):
            return None
        digest = hashlib.sha256(FORMAT_VERSION.encode())
        for entry in self.entries:
            digest.update(_header(entry) + os.fsencode(entry.source or "") + b"\0")
        for stamp in self.stamps:
            digest.update(repr(stamp).encode())
        return "sha256:" + digest.hexdigest()


# -- writing ---------------------------------------------------------------------------------

class _NormalisedTarInfo(tarfile.TarInfo):
    """tarfile appends "/" to directory names when encoding them; the lifecycle does not."""

    def get_info(self) -> Mapping[str, str | int | bytes | Mapping[str, str]]:
        return {**super().get_info(), "name": self.name}


class _Stage:
    """Runs ``work`` on each chunk in a thread of its own, a few chunks behind the caller.

    hashlib and isal release the GIL, so the caller (reading, tar hash) and this thread
    (compression, blob hash, writing) use two cores for one layer. The queue is bounded, so
    memory stays a few chunks whatever the layer's size. A failure in ``work`` is raised to
    the caller at its next :meth:`put` or at :meth:`close`.
    """

    DEPTH = 4

    def __init__(self, work: Callable[[bytes | bytearray], None]) -> None:
        self._work = work
        self._queue: queue.Queue[bytes | bytearray | None] = queue.Queue(maxsize=self.DEPTH)
        self._failure: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="layer-gzip", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while (chunk := self._queue.get()) is not None:
            if self._failure is None:  # after a failure, only drain so put() never blocks
                try:
                    self._work(chunk)
                except BaseException as err:  # noqa: BLE001 - raised in the caller's thread
                    self._failure = err

    def put(self, chunk: bytes | bytearray) -> None:
        self._raise_failure()
        self._queue.put(chunk)

    def close(self) -> None:
        """Wait until every chunk is done; idempotent."""
        if self._thread.is_alive():
            self._queue.put(None)
            self._thread.join()
        self._raise_failure()

    def _raise_failure(self) -> None:
        if self._failure is not None:
            raise self._failure


class _LayerSink:
    """Takes tar bytes; hashes them, optionally gzips, hashes the blob and writes it out.

    Small writes (headers, padding) are gathered into one buffer so the compressor and the
    hashes see large chunks; a write of a full chunk or more passes straight through. An
    uncompressed blob is the tar itself, so its digest is the diffID and is hashed once.
    Compression runs in a :class:`_Stage`: use the sink as a context manager.
    """

    def __init__(self, blob_file: BinaryIO, compress: bool,
                 follower: GrowingBlob | None = None) -> None:
        self._blob_file = blob_file
        self._follower = follower
        self._diff_hash = hashlib.sha256()
        self._tar_size = 0
        self._pending = bytearray()
        self._compressor = (isal_zlib.compressobj(GZIP_LEVEL, isal_zlib.DEFLATED,
                                                  -isal_zlib.MAX_WBITS) if compress else None)
        self._gzip_hash = hashlib.sha256()
        self._gzip_size = 0
        self._crc = 0
        self._gzip_stage: _Stage | None = None
        if compress:
            self._emit_gzip(_GZIP_HEADER)
            self._gzip_stage = _Stage(self._compress)

    def __enter__(self) -> _LayerSink:
        return self

    def __exit__(self, *_: object) -> None:
        if self._gzip_stage is not None:
            self._gzip_stage.close()

    def write(self, data: bytes) -> None:
        if len(data) >= _CHUNK:
            self._flush_pending()
            self._process(data)
            return
        self._pending += data
        if len(self._pending) >= _CHUNK:
            self._flush_pending()

    def finish(self) -> tuple[str, str, int]:
        """Ends the stream; returns (diffID, blob digest, blob size)."""
        self._flush_pending()
        diff_id = "sha256:" + self._diff_hash.hexdigest()
        if self._compressor is None or self._gzip_stage is None:
            return diff_id, diff_id, self._tar_size
        self._gzip_stage.close()
        self._emit_gzip(self._compressor.flush())
        self._emit_gzip(self._crc.to_bytes(4, "little")
                        + (self._tar_size & 0xFFFFFFFF).to_bytes(4, "little"))
        return diff_id, "sha256:" + self._gzip_hash.hexdigest(), self._gzip_size

    def _flush_pending(self) -> None:
        if self._pending:
            self._process(self._pending)
            self._pending = bytearray()

    def _process(self, tar_bytes: bytes | bytearray) -> None:
        self._diff_hash.update(tar_bytes)
        self._tar_size += len(tar_bytes)
        if self._compressor is None:
            self._blob_file.write(tar_bytes)
            self._tell_follower(self._tar_size)
            return
        self._crc = isal_zlib.crc32(tar_bytes, self._crc)
        assert self._gzip_stage is not None
        self._gzip_stage.put(tar_bytes)

    def _compress(self, tar_bytes: bytes | bytearray) -> None:
        assert self._compressor is not None
        self._emit_gzip(self._compressor.compress(tar_bytes))

    def _emit_gzip(self, gzip_bytes: bytes) -> None:
        self._gzip_hash.update(gzip_bytes)
        self._blob_file.write(gzip_bytes)
        self._gzip_size += len(gzip_bytes)
        self._tell_follower(self._gzip_size)

    def _tell_follower(self, size: int) -> None:
        if self._follower is not None:
            self._blob_file.flush()  # what the follower is told about must be in the file
            self._follower.grew(size)


def _header(entry: TarEntry) -> bytes:
    info = _NormalisedTarInfo(entry.name)
    info.type = entry.kind.value
    info.mode = entry.mode
    info.uid, info.gid = entry.uid, entry.gid
    info.uname = info.gname = ""
    info.mtime = NORMALISED_MTIME
    info.size = entry.size if entry.kind is EntryKind.FILE else 0
    info.linkname = entry.link_target
    # surrogateescape + PAX: a name that is not valid UTF-8 is stored as its raw bytes.
    return info.tobuf(tarfile.PAX_FORMAT, "utf-8", "surrogateescape")


def _write_contents(sink: _LayerSink, source: Path, size: int) -> None:
    try:
        contents = source.open("rb", buffering=0)
    except OSError as err:
        raise _cannot_read(source, err) from None
    with contents:
        remaining = size
        while remaining:
            chunk = _read(contents, source, min(_CHUNK, remaining))
            if not chunk:
                raise ArchiveError(f"cannot read '{_display(source)}': it shrank while being "
                                   f"archived")
            sink.write(chunk)
            remaining -= len(chunk)
        if _read(contents, source, 1):
            raise ArchiveError(f"cannot read '{_display(source)}': it grew while being archived")
    sink.write(bytes(-size % _BLOCK))


def _read(contents: BinaryIO, source: Path, size: int) -> bytes:
    interrupts.check()
    try:
        return contents.read(size)
    except OSError as err:
        raise _cannot_read(source, err) from None


def write_layer(entries: Iterable[TarEntry], workdir: Path, compress: bool,
                stage: Callable[[GrowingBlob], None] | None = None) -> Layer:
    """Writes ``entries`` as one layer blob in ``workdir`` (gzip-compressed if ``compress``).

    ``stage``, if given, is handed the blob as soon as the file exists, to follow it while it
    is written (an upload that overlaps the writing).
    """
    follower: GrowingBlob | None = None
    try:
        fd, temp_name = tempfile.mkstemp(dir=workdir, prefix=".layer-")
        try:
            if stage is not None:
                follower = GrowingBlob(temp_name)
                stage(follower)
            with os.fdopen(fd, "wb") as blob_file, \
                    _LayerSink(blob_file, compress, follower) as sink:
                for entry in entries:
                    sink.write(_header(entry))
                    if entry.kind is EntryKind.FILE and entry.source is not None:
                        _write_contents(sink, entry.source, entry.size)
                sink.write(_END_OF_ARCHIVE)
                diff_id, digest, size = sink.finish()
            # Named by digest: a layer built twice in one export is stored once.
            blob_path = workdir / f"blob-{digest.removeprefix('sha256:')}"
            os.replace(temp_name, blob_path)
        except BaseException:
            Path(temp_name).unlink(missing_ok=True)
            if follower is not None:
                follower.broke()
            raise
    except OSError as err:
        # Problems reading the sources are already ArchiveErrors; this one is the work dir's.
        raise ArchiveError(f"cannot write a layer in '{_display(workdir)}': "
                           f"{err.strerror or err}") from None
    if follower is not None:
        follower.finished(digest, size)
    return Layer(digest=digest, diff_id=diff_id, size=size,
                 media_type=OCI_LAYER_GZIP if compress else OCI_LAYER_TAR,
                 source=LocalBlob(blob_path, digest))


# -- entries from the file system ------------------------------------------------------------

def _display(path: str | Path) -> str:
    """A path for messages: bytes that are not UTF-8 are shown as \\x escapes."""
    return os.fsencode(path).decode("utf-8", "backslashreplace")


def _cannot_read(path: str | Path, err: OSError) -> ArchiveError:
    return ArchiveError(f"cannot read '{_display(path)}': {err.strerror or err}")


def _absolute(path: Path) -> str:
    # abspath keeps POSIX's special leading "//"; on Linux it is the same directory as "/".
    return "/" + os.path.abspath(path).lstrip("/")


def _lstat(path: str) -> os.stat_result:
    try:
        return os.lstat(path)
    except OSError as err:
        raise _cannot_read(path, err) from None


def _sorted_children(directory: str) -> list[str]:
    try:
        names = os.listdir(directory)
    except OSError as err:
        raise _cannot_read(directory, err) from None
    return [posixpath.join(directory, name) for name in sorted(names, key=os.fsencode)]


def _walk(root: str) -> Iterator[tuple[str, os.stat_result]]:
    """Pre-order walk of ``root``, children sorted bytewise, symlinks not followed."""
    pending: list[Iterator[str]] = [iter([root])]
    while pending:
        path = next(pending[-1], None)
        if path is None:
            pending.pop()
            continue
        status = _lstat(path)
        yield path, status
        if stat.S_ISDIR(status.st_mode):
            pending.append(iter(_sorted_children(path)))


def _root_dir(name: str) -> TarEntry:
    return TarEntry(name, EntryKind.DIRECTORY, PARENT_DIR_MODE)


def _parent_dirs(path: str) -> list[TarEntry]:
    """Root-owned entries for the directories above ``path``, outermost first, without "/"."""
    parents: list[TarEntry] = []
    parent = posixpath.dirname(path)
    while parent != "/":
        parents.append(_root_dir(parent))
        parent = posixpath.dirname(parent)
    return parents[::-1]


def _unsupported_kind(mode: int) -> str:
    if stat.S_ISSOCK(mode):
        return "socket"
    if stat.S_ISFIFO(mode):
        return "named pipe (FIFO)"
    if stat.S_ISCHR(mode):
        return "character device"
    if stat.S_ISBLK(mode):
        return "block device"
    return "unknown file type"


class _EntryMaker:
    """Turns walked paths into entries for one layer, remembering hard links within it and
    the status of every file whose contents the layer will hold."""

    def __init__(self, uid: int, gid: int, on_skip: OnSkip) -> None:
        self._uid, self._gid, self._on_skip = uid, gid, on_skip
        self._first_name_of_inode: dict[tuple[int, int], str] = {}
        self.planned_at_ns = time.time_ns()
        self.stamps: list[SourceStamp] = []

    def entry(self, path: str, status: os.stat_result) -> TarEntry | None:
        mode = stat.S_IMODE(status.st_mode)  # permission bits plus setuid/setgid/sticky
        if stat.S_ISDIR(status.st_mode):
            return TarEntry(path, EntryKind.DIRECTORY, mode, self._uid, self._gid)
        if stat.S_ISLNK(status.st_mode):
            try:
                target = os.readlink(path)
            except OSError as err:
                raise _cannot_read(path, err) from None
            return TarEntry(path, EntryKind.SYMLINK, mode, self._uid, self._gid,
                            link_target=target)
        if stat.S_ISREG(status.st_mode):
            if status.st_nlink > 1:
                first = self._first_name_of_inode.setdefault((status.st_dev, status.st_ino), path)
                if first != path:
                    return TarEntry(path, EntryKind.HARDLINK, mode, self._uid, self._gid,
                                    link_target=first)
            self.stamps.append(SourceStamp.of(status))
            return TarEntry(path, EntryKind.FILE, mode, self._uid, self._gid,
                            source=Path(path), size=status.st_size)
        self._on_skip(Path(path), f"unsupported file type: {_unsupported_kind(status.st_mode)}")
        return None

    def plan(self, parents: Iterable[TarEntry],
             walked: Iterable[tuple[str, os.stat_result]]) -> LayerPlan:
        entries = list(parents)
        for path, status in walked:
            entry = self.entry(path, status)
            if entry is not None:
                entries.append(entry)
        return LayerPlan(tuple(entries), tuple(self.stamps), self.planned_at_ns)


# -- the layers the exporter builds ----------------------------------------------------------

def dir_plan(source: Path, uid: int, gid: int, on_skip: OnSkip) -> LayerPlan:
    """The layer of ``source`` at its absolute path, with its parent directories."""
    root = _absolute(source)
    return _EntryMaker(uid, gid, on_skip).plan(_parent_dirs(root), _walk(root))


def launcher_plan(launcher_file: Path) -> LayerPlan:
    """``/cnb/lifecycle/launcher`` (root, 0755) with the contents of ``launcher_file``."""
    planned_at_ns = time.time_ns()
    try:
        status = os.stat(launcher_file)
    except OSError as err:
        raise ArchiveError(f"cannot read launcher '{_display(launcher_file)}': "
                           f"{err.strerror or err}") from None
    if not stat.S_ISREG(status.st_mode):
        raise ArchiveError(f"cannot read launcher '{_display(launcher_file)}': not a file")
    entries = (_root_dir("/cnb"), _root_dir("/cnb/lifecycle"),
               TarEntry(LAUNCHER_PATH, EntryKind.FILE, 0o755, source=launcher_file,
                        size=status.st_size))
    return LayerPlan(entries, (SourceStamp.of(status),), planned_at_ns)


def process_types_plan(types: Sequence[str]) -> LayerPlan:
    """``/cnb/process/<type>`` → the launcher, one root-owned symlink per type, in order.

    Raises ValueError for an empty type, one containing any of ``/><:|&\\``, or one that is
    not a plain name (``.``, ``..``, a NUL byte).
    """
    entries = [_root_dir("/cnb"), _root_dir(PROCESS_DIR)]
    for process_type in types:
        if not process_type:
            raise ValueError("type is required for all processes")
        if any(char in FORBIDDEN_PROCESS_TYPE_CHARACTERS for char in process_type):
            raise ValueError(f"invalid process type '{process_type}': type may not contain "
                             f"characters '{FORBIDDEN_PROCESS_TYPE_CHARACTERS}'")
        if process_type in (".", "..") or "\0" in process_type:
            raise ValueError(f"invalid process type {process_type!r}: not a file name")
        entries.append(TarEntry(f"{PROCESS_DIR}/{process_type}", EntryKind.SYMLINK, 0o755,
                                link_target=LAUNCHER_PATH))
    return LayerPlan(tuple(entries), (), time.time_ns())


# -- app slices ------------------------------------------------------------------------------

def app_slice_plans(app_dir: Path, slices: Sequence[Sequence[str]], uid: int, gid: int,
                    on_skip: OnSkip) -> list[LayerPlan]:
    """``len(slices) + 1`` layers of the app dir, as the Go lifecycle slices an app.

    Slice *n* holds what its globs match (relative to the app dir, Go ``filepath.Match``
    syntax; a matched directory brings its subtree) that no earlier slice took, plus the
    matched entries' parent directories up to the app dir. The last layer holds the rest.
    A layer with nothing in it is an empty tar; otherwise it starts with the app dir's parent
    directories. Entries are sorted bytewise by name; no file is deleted.
    """
    planned_at_ns = time.time_ns()
    tree = _AppTree(_absolute(app_dir))
    taken = [tree.take_slice(globs) for globs in slices]
    taken.append(tree.take_rest())
    return [tree.plan(paths, uid, gid, on_skip, planned_at_ns) for paths in taken]


class _AppTree:
    """The app dir walked once, with what the slices have consumed so far."""

    def __init__(self, root: str) -> None:
        self.root = root
        self._status: dict[str, os.stat_result] = {}
        self._children: dict[str, list[str]] = {}
        for path, status in _walk(root):
            self._status[path] = status
            if path != root:
                self._children.setdefault(posixpath.dirname(path), []).append(path)
        self._consumed: set[str] = set()

    def take_slice(self, globs: Sequence[str]) -> set[str]:
        matched: set[str] = set()
        for pattern in globs:
            for path in self._glob(pattern):
                self._take_subtree(path, matched)
        parents = {parent for path in matched for parent in self._parents_in_app(path)}
        parents -= matched
        # Deepest first, so a directory is judged after its children have been.
        for directory in sorted(parents, key=lambda path: path.count("/"), reverse=True):
            if all(child in self._consumed for child in self._children.get(directory, ())):
                self._consumed.add(directory)
        return matched | parents

    def take_rest(self) -> set[str]:
        rest = self._status.keys() - self._consumed
        self._consumed.update(rest)
        return rest

    def plan(self, paths: set[str], uid: int, gid: int, on_skip: OnSkip,
             planned_at_ns: int) -> LayerPlan:
        if not paths:
            return LayerPlan((), (), planned_at_ns)
        maker = _EntryMaker(uid, gid, on_skip)
        maker.planned_at_ns = planned_at_ns  # the walk happened when the tree was read
        ordered = sorted(paths, key=os.fsencode)
        return maker.plan(_parent_dirs(self.root),
                          ((path, self._status[path]) for path in ordered))

    def _take_subtree(self, top: str, matched: set[str]) -> None:
        pending = [top]
        while pending:
            path = pending.pop()
            if path in self._consumed:
                continue
            self._consumed.add(path)
            matched.add(path)
            pending.extend(self._children.get(path, ()))

    def _parents_in_app(self, path: str) -> Iterator[str]:
        while path != self.root:
            path = posixpath.dirname(path)
            yield path

    def _glob(self, pattern: str) -> list[str]:
        # Like Go's filepath.Glob(filepath.Join(app, pattern)): the joined pattern is cleaned,
        # and only walked entries count (nothing behind a symlink, nothing outside the app).
        # Unlike it, a pattern that climbs out of the app dir matches nothing.
        joined = posixpath.normpath(f"{self.root}/{pattern}")
        if joined == self.root:
            return [self.root]
        if not joined.startswith(self.root + "/"):
            return []
        components = [_component_regex(part, pattern)
                      for part in joined[len(self.root) + 1:].split("/")]
        matches = []
        for path in self._status:
            parts = path[len(self.root) + 1:].split("/")
            if path != self.root and len(parts) == len(components) and all(
                    regex.fullmatch(part) for regex, part in zip(components, parts, strict=True)):
                matches.append(path)
        return matches


def _component_regex(component: str, pattern: str) -> re.Pattern[str]:
    """One path component of a Go ``filepath.Match`` pattern as a regular expression.

    ``*`` any run of characters, ``?`` one character, ``[a-z]`` / ``[^a-z]`` classes, ``\\``
    escapes the next character. Malformed patterns raise :class:`ArchiveError`, as Go's
    ``ErrBadPattern``.
    """
    bad = ArchiveError(f"bad pattern for glob path '{pattern}'")
    regex: list[str] = []
    index = 0

    def class_char() -> str:
        # Go's getEsc: "-" and "]" must be escaped, and a class must be closed.
        nonlocal index
        if index >= len(component) or component[index] in "-]":
            raise bad
        if component[index] == "\\":
            index += 1
            if index >= len(component):
                raise bad
        index += 1
        if index >= len(component):
            raise bad
        return component[index - 1]

    while index < len(component):
        char = component[index]
        index += 1
        if char == "*":
            regex.append(".*")
        elif char == "?":
            regex.append(".")
        elif char == "\\":
            if index >= len(component):
                raise bad
            regex.append(re.escape(component[index]))
            index += 1
        elif char == "[":
            negated = index < len(component) and component[index] == "^"
            if negated:
                index += 1
            ranges: list[str] = []
            first = True
            while first or component[index] != "]":
                first = False
                low = high = class_char()
                if component[index] == "-":
                    index += 1
                    high = class_char()
                if low <= high:  # Go accepts a reversed range; it matches nothing
                    ranges.append(f"{re.escape(low)}-{re.escape(high)}")
            index += 1
            if ranges:
                regex.append(f"[{'^' if negated else ''}{''.join(ranges)}]")
            else:
                regex.append("." if negated else "(?!)")
        else:
            regex.append(re.escape(char))
    return re.compile("".join(regex), re.DOTALL)
