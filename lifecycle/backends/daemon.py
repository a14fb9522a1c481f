"""Docker daemon backend (``-daemon``), through the docker SDK, avoiding ``docker save``.

Reading is ``docker image inspect`` plus ``docker history``: config, labels, diffIDs and
history, no layer data. Writing is a ``docker load`` of an archive generated while it is sent
(a chunked request body read straight from the layer sources) that contains **only the
layers the daemon lacks**: the classic image store's loader looks a layer up by its chain ID before
it opens the layer's file, so a layer whose chain (it and every layer below it) already
exists in the daemon may be left out of the archive. We know such chains from the images we
read from this daemon (the run image, the previous image, the app being rebased). A warm
export therefore sends only the layers that changed, and a rebase onto the base the app
already has sends none.

Verified on Docker Engine 20.10.24 (Debian ``docker.io``, vfs driver, classic store): a
missing layer file whose chain exists is never opened; a missing one whose chain does not
exist fails the load (``open .../<file>: no such file or directory``) before any name is
tagged; gzip layer files are accepted (the loader sniffs the compression), so compressed
sources are sent as stored; an aborted upload leaves nothing behind.

With the containerd image store (Engine 24+; verified on 26.1) the archive is an OCI layout
that names every layer by its diffID and holds only the layers this process made
(:meth:`DaemonStore._write_by_reference`): the engine has the rest as content or snapshots,
so a rebase onto a new base sends and reads no layer. docs/design.md says more.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import re
import shutil
import tarfile
import tempfile
import uuid
from collections.abc import Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path
from typing import IO, Any, BinaryIO, cast

import docker
import docker.errors

from lifecycle.backends.base import Access, BackendError, ImageNotFound, ImageStore
from lifecycle.causes import describe
from lifecycle.image.index import ImageIndex, IndexChild
from lifecycle.image.model import (
    OCI_CONFIG,
    OCI_INDEX,
    OCI_LAYER_TAR,
    OCI_MANIFEST,
    Image,
    Layer,
    SaveResult,
    StoredImage,
)
from lifecycle.log import get_logger
from lifecycle.progress import count_sent
from lifecycle.record import record
from lifecycle.reference import DEFAULT_REGISTRY, Reference

# Seconds the daemon may stay silent on one request. The SDK's 60 s default is too short for
# a docker save of a large image, whose first byte comes only once the daemon has exported
# every layer to its own scratch directory.
DAEMON_TIMEOUT_SECONDS = 600
DEFAULT_DOCKER_HOST = "unix:///var/run/docker.sock"

# Runtime config keys of a Docker inspect that belong in an OCI image config (the rest,
# Hostname, AttachStdin, Image ..., describe a container, not an image).
_CONFIG_KEYS = ("User", "ExposedPorts", "Env", "Entrypoint", "Cmd", "Volumes", "WorkingDir",
                "Labels", "StopSignal", "Healthcheck", "OnBuild", "Shell", "ArgsEscaped")

_CHUNK = 1 << 20
_BLOCK = tarfile.BLOCKSIZE
_GZIP_MAGIC = b"\x1f\x8b"


_IMAGE_ID_HEX = re.compile(r"[0-9a-f]{64}")


def daemon_name(ref: Reference) -> str:
    """The name the daemon knows ``ref`` by (Docker Hub names are written short).

    Docker reserves 64-hex names for image IDs, so ``<hex>`` and ``sha256:<hex>`` (which
    parse as Docker Hub names) are the image ID they are: that is how an analyzer records
    a run image in the daemon.
    """
    if ref.registry == DEFAULT_REGISTRY and ref.digest is None:
        for hex_id in ((ref.repository,) if ref.tag in (None, "latest") else ()) + \
                ((ref.tag or "",) if ref.repository == "sha256" else ()):
            if _IMAGE_ID_HEX.fullmatch(hex_id):
                return f"sha256:{hex_id}"
    repository = ref.repository_str if ref.registry == DEFAULT_REGISTRY else ref.context
    return f"{repository}@{ref.digest}" if ref.digest else f"{repository}:{ref.identifier}"


def chain_ids(diff_ids: Iterable[str]) -> list[str]:
    """The daemon's layer identities: each diffID chained with every layer below it."""
    chains: list[str] = []
    for diff_id in diff_ids:
        chains.append(diff_id if not chains else
                      "sha256:" + hashlib.sha256(f"{chains[-1]} {diff_id}".encode()).hexdigest())
    return chains


def daemon_cause(err: docker.errors.DockerException) -> str:
    """What the daemon said (its explanation of an API error), else what went wrong on the
    way to it, in words."""
    if isinstance(err, docker.errors.APIError) and err.explanation:
        return str(err.explanation)
    if isinstance(err, docker.errors.APIError) and err.status_code:
        return f"the daemon answered HTTP {err.status_code}"
    return describe(err)


def detect_image_store(client: docker.DockerClient) -> str:
    """``containerd`` when the engine stores images in containerd (snapshotters), else
    ``classic`` (graph drivers: overlay2, vfs, ...)."""
    try:
        info = client.info()
    except docker.errors.DockerException as err:
        raise BackendError(f"cannot query the Docker daemon: {daemon_cause(err)}") from None
    status = info.get("DriverStatus") or []
    uses_snapshotter = any("io.containerd.snapshotter" in str(value)
                           for pair in status for value in pair)
    return "containerd" if uses_snapshotter else "classic"


def oci_config(inspected: dict[str, Any], history: list[dict[str, Any]]) -> dict[str, Any]:
    """An OCI image config rebuilt from ``docker image inspect`` and ``docker history``.

    The API never returns the stored config document itself (only ``docker save`` does, at
    the price of every layer), so this is a reconstruction: the same runtime config, labels,
    platform and diffIDs. History times are whole seconds, as the API reports them.
    """
    diff_ids = list((inspected.get("RootFS") or {}).get("Layers") or [])
    runtime = inspected.get("Config") or {}
    config: dict[str, Any] = {
        "architecture": inspected.get("Architecture", ""),
        "os": inspected.get("Os", ""),
        "created": inspected.get("Created", ""),
        # Empty strings and false are how inspect spells "not set"; an OCI config omits them.
        "config": {k: runtime[k] for k in _CONFIG_KEYS if runtime.get(k) not in (None, "", False)},
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
    }
    for key, field in (("os.version", "OsVersion"), ("variant", "Variant"), ("author", "Author")):
        if inspected.get(field):
            config[key] = inspected[field]
    entries = _history_entries(history, len(diff_ids))
    if entries is not None:
        config["history"] = entries
    return config


def _history_entries(items: list[dict[str, Any]], layer_count: int) -> list[dict[str, Any]] | None:
    """History entries, oldest first, or None when they cannot be matched to the layers.

    ``docker history`` does not say which entries are empty layers; it reports them with size
    0. If the entries with a size are exactly one per layer, the rest are the empty ones; if
    there are exactly as many entries as layers, each is a layer. Anything else is ambiguous,
    and the image gets no history (the transforms then write one blank entry per layer).
    """
    oldest_first = list(reversed(items))
    sized = sum(1 for item in oldest_first if item.get("Size"))
    if sized == layer_count:
        empty = [not item.get("Size") for item in oldest_first]
    elif len(oldest_first) == layer_count:
        empty = [False] * layer_count
    else:
        return None
    entries = []
    for item, is_empty in zip(oldest_first, empty, strict=True):
        entry: dict[str, Any] = {}
        seconds = int(item.get("Created") or 0)
        if seconds >= 0:  # an unset time comes back as Go's zero time, year 1: negative
            entry["created"] = datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        for key, field in (("created_by", "CreatedBy"), ("comment", "Comment")):
            if item.get(field):
                entry[key] = item[field]
        if is_empty:
            entry["empty_layer"] = True
        entries.append(entry)
    return entries


class SavedImages:
    """``docker save`` archives, at most one per image, kept on disk while the store lives.

    The classic store keys layers by chain, so a layer put onto a different base (a rebase
    onto a new run image, a reused layer below a changed one) is new to it and its tar must
    be sent again; the only way to read a layer back through the API is ``docker save``.
    """

    def __init__(self, client: docker.DockerClient) -> None:
        self.client = client
        self._scratch: tempfile.TemporaryDirectory[str] | None = None   # made when needed
        self._archives: dict[str, tuple[Path, dict[str, str]]] = {}

    def close(self) -> None:
        """Remove the saved archives."""
        if self._scratch is not None:
            self._scratch.cleanup()
            self._scratch = None
        self._archives.clear()

    def _archive(self, image_id: str) -> tuple[Path, dict[str, str]]:
        """The saved archive of ``image_id`` and its member name for each diffID."""
        if image_id not in self._archives:
            get_logger().info(f"Reading layers of image {image_id[7:19]} with docker save: the "
                              "daemon needs them again on a new base", kind="daemon.save",
                              image=image_id)
            if self._scratch is None:
                self._scratch = tempfile.TemporaryDirectory(prefix="cnb-save-")
            path = Path(self._scratch.name) / f"{image_id.removeprefix('sha256:')}.tar"
            try:
                with path.open("wb") as out:
                    for chunk in self.client.api.get_image(image_id):
                        out.write(chunk)
                with tarfile.open(path) as saved:
                    manifest = json.load(_member(saved, "manifest.json"))[0]
                    config = json.load(_member(saved, manifest["Config"]))
            except docker.errors.DockerException as err:
                raise BackendError(f"docker save of image {image_id} failed: "
                                   f"{daemon_cause(err)}") from None
            members = dict(zip(config["rootfs"]["diff_ids"], manifest["Layers"], strict=True))
            self._archives[image_id] = (path, members)
        return self._archives[image_id]

    @contextmanager
    def layer(self, image_id: str, diff_id: str) -> Iterator[tuple[BinaryIO, int]]:
        """The layer's bytes as the daemon saved them, and their length."""
        path, members = self._archive(image_id)
        if diff_id not in members:
            raise BackendError(f"image {image_id} has no layer {diff_id}")
        with tarfile.open(path) as saved:
            member = saved.getmember(members[diff_id])
            yield cast(BinaryIO, _member(saved, member.name)), member.size


@record
class DaemonLayers:
    """Layers of an image in the daemon, read back (rarely) through :class:`SavedImages`."""

    saved: SavedImages
    image_id: str

    @contextmanager
    def open_blob(self, digest: str) -> Iterator[BinaryIO]:
        """The uncompressed layer tar (what ``OCI_LAYER_TAR`` promises)."""
        with self.saved.layer(self.image_id, digest) as (stored, _):
            # A containerd-store engine saves layers as it stores them, possibly gzip.
            gzipped = stored.read(2) == _GZIP_MAGIC
            stored.seek(0)
            yield cast(BinaryIO, gzip.GzipFile(fileobj=stored)) if gzipped else stored

    def open_stored(self, digest: str) -> AbstractContextManager[tuple[BinaryIO, int]]:
        """The layer as saved, with its length: what a load archive can carry unchanged."""
        return self.saved.layer(self.image_id, digest)

    def describe(self) -> str:
        return f"daemon image {self.image_id}"


class DaemonStore(ImageStore):
    """Images in a Docker Engine: read by inspect, written by a streamed ``docker load``."""

    kind = "daemon"
    compress_layers = False

    def __init__(self, docker_host: str | None = None, *,
                 client: docker.DockerClient | None = None) -> None:
        """Talk to ``client``, or to ``docker_host``, or to ``DOCKER_HOST`` (else the default
        socket, ``unix:///var/run/docker.sock``); ``DOCKER_TLS_VERIFY``/``DOCKER_CERT_PATH``
        apply either way, as for the docker CLI's ``-H``."""
        if client is not None and docker_host is not None:
            raise ValueError("give a docker client or a docker host, not both")
        if client is None:
            environment = dict(os.environ)
            if docker_host:
                environment["DOCKER_HOST"] = docker_host
            try:
                client = docker.from_env(environment=environment,
                                         timeout=DAEMON_TIMEOUT_SECONDS)
            except docker.errors.DockerException as err:
                host = environment.get("DOCKER_HOST") or DEFAULT_DOCKER_HOST
                raise BackendError(f"cannot connect to the Docker daemon at {host}: "
                                   f"{daemon_cause(err)}") from None
        self.client = client
        self._known_chains: set[str] = set()
        self._saved = SavedImages(self.client)
        self.layers_sent = 0
        """How many layers the last write had to send (the rest the daemon already had)."""
        self.bytes_sent = 0
        """Size of the last write's load archive: config, manifest and the layers sent."""

    def close(self) -> None:
        self._saved.close()
        self.client.close()

    @cached_property
    def image_store(self) -> str:
        """``classic`` or ``containerd``: see :func:`detect_image_store`."""
        return detect_image_store(self.client)

    # -- reading -----------------------------------------------------------------------
    def _inspect(self, name: str, what: str) -> dict[str, Any]:
        try:
            inspected: dict[str, Any] = self.client.api.inspect_image(  # type: ignore[no-untyped-call]
                name)
            return inspected
        except docker.errors.ImageNotFound:
            raise ImageNotFound(f"image '{what}' not found in the daemon") from None
        except docker.errors.DockerException as err:
            raise BackendError(f"cannot inspect '{what}' in the daemon: "
                               f"{daemon_cause(err)}") from None

    def check_read_access(self, ref: Reference) -> Access:
        try:
            self._inspect(daemon_name(ref), str(ref))
        except ImageNotFound:
            return Access(False, "not present in the daemon")
        except BackendError as err:
            return Access(False, str(err))
        return Access(True, "present in the daemon")

    def read(self, ref: Reference) -> StoredImage:
        inspected = self._inspect(daemon_name(ref), str(ref))
        image_id = str(inspected["Id"])
        try:
            history: list[dict[str, Any]] = self.client.api.history(  # type: ignore[no-untyped-call]
                image_id)
        except docker.errors.DockerException as err:
            raise BackendError(f"cannot read the history of '{ref}' in the daemon: "
                               f"{daemon_cause(err)}") from None
        config = oci_config(inspected, history)
        diff_ids = config["rootfs"]["diff_ids"]
        self._remember(diff_ids)
        source = DaemonLayers(self._saved, image_id)
        # The API gives no layer digests or sizes: digest = diffID of the uncompressed tar,
        # size 0 = unknown (a docker save is the only thing that would tell).
        layers = tuple(Layer(d, d, 0, OCI_LAYER_TAR, source) for d in diff_ids)
        # reference: the ID without "sha256:", as the lifecycle label's runImage.reference.
        return StoredImage(Image(config, layers), image_id.removeprefix("sha256:"),
                           image_id=image_id)

    def _remember(self, diff_ids: Sequence[str]) -> None:
        """Chains the daemon has, so later loads can leave them out (classic store only:
        skipping layers is verified there; with the containerd store every layer is sent)."""
        if self.image_store == "classic":
            self._known_chains.update(chain_ids(diff_ids))

    # -- writing -----------------------------------------------------------------------
    def read_index(self, ref: Reference) -> StoredImage:
        return self.read(ref)  # the daemon holds one image per name, never an index

    def read_child(self, ref: Reference, child: IndexChild) -> StoredImage:
        raise BackendError(f"the Docker daemon holds no image index at '{ref}'")

    def write_index(self, index: ImageIndex, images: Sequence[Image],
                    refs: Sequence[Reference], *, new_configs: bool = False) -> SaveResult:
        raise BackendError("the Docker daemon cannot store an image index")

    def blob_stager(self, refs: Sequence[Reference]) -> None:
        return None  # docker load takes the archive in one stream at write time

    def write(self, image: Image, refs: Sequence[Reference], *,
              new_configs: bool = False) -> SaveResult:
        # The daemon is never asked which blobs it has: new_configs changes nothing here.
        if self.image_store == "containerd":
            result = self._write_by_reference(image, refs)
            if result is not None:
                return result
        return self._write_archive(image, refs)

    def _write_archive(self, image: Image, refs: Sequence[Reference]) -> SaveResult:
        """A docker-archive load: every layer the daemon may lack is in it (classic store:
        by chain; containerd store: all of them, the fallback of :meth:`_write_by_reference`)."""
        names = [daemon_name(ref) for ref in refs]
        # docker save's layout: one directory per layer, named here by diffID.
        members = [(f"{layer.diff_id.removeprefix('sha256:')}/layer.tar", layer,
                    chain not in self._known_chains)
                   for layer, chain in zip(image.layers, chain_ids(image.diff_ids), strict=True)]
        self.layers_sent = sum(1 for _, _, send in members if send)
        self.bytes_sent = 0
        try:
            # quiet=False: the daemon reports progress while it registers layers, so a long
            # load never looks like a silent connection to the client's timeout.
            output = list(self.client.api.load_image(  # type: ignore[no-untyped-call]
                self._counted(self._load_archive(image, names, members)), quiet=False))
        except docker.errors.DockerException as err:
            raise BackendError(f"docker load failed: {daemon_cause(err)}") from None
        for line in output:
            if isinstance(line, dict) and line.get("errorDetail"):
                raise BackendError(f"docker load failed: {line['errorDetail'].get('message')}")
        result = self._tagged(refs, names)
        self._remember(image.diff_ids)
        get_logger().info(f"Loaded {self.layers_sent} of {len(image.layers)} layer(s) into the "
                          "daemon; it had the others", kind="daemon.loaded",
                          bytes=self.bytes_sent)
        return result

    def _write_by_reference(self, image: Image, refs: Sequence[Reference]) -> SaveResult | None:
        """Containerd image store: load an OCI archive holding the manifest, the config and
        only the layers this process made; every other layer is named by its diffID.

        The store keys content by digest and unpacks by chain, so layers it holds (as
        uncompressed content under their diffID, as we load them; or as a snapshot of the
        same chain) need not be sent or read, whatever base they now sit on: a rebase sends
        no layer at all. If the daemon lacks one (it cannot unpack: a layer of an image it
        got compressed, on a new base), the load fails before any name of ours is touched
        (it is loaded under a temporary name first), and None sends them all instead.
        """
        sent = [layer for layer in image.layers if not isinstance(layer.source, DaemonLayers)]
        temporary = f"cnb-lifecycle-load/{uuid.uuid4().hex}:pending"
        self.bytes_sent = 0
        try:
            output = list(self.client.api.load_image(  # type: ignore[no-untyped-call]
                self._counted(self._oci_archive(image, sent, temporary)), quiet=False))
            failure = next((line["errorDetail"].get("message") for line in output
                            if isinstance(line, dict) and line.get("errorDetail")), None)
        except docker.errors.DockerException as err:
            failure = daemon_cause(err)
        except BaseException:  # interrupted: the load may have gone through even so
            self._forget(temporary)
            raise
        if failure is not None:
            self._forget(temporary)
            get_logger().debug(f"The daemon lacks layers of the image ({failure}); sending "
                               "them all")
            return None
        try:
            for ref, name in zip(refs, (daemon_name(ref) for ref in refs), strict=True):
                repository, _, tag = name.rpartition(":") if not ref.digest else (name, "", "")
                self.client.api.tag(temporary, repository, tag or None)
        except docker.errors.DockerException as err:
            raise BackendError(f"cannot tag the loaded image: {daemon_cause(err)}") from None
        finally:
            self._forget(temporary)
        self.layers_sent = len(sent)
        get_logger().info(f"Loaded {len(sent)} of {len(image.layers)} layer(s) into the "
                          "daemon; it had the others", kind="daemon.loaded",
                          bytes=self.bytes_sent)
        return self._tagged(refs, [daemon_name(ref) for ref in refs])

    def _forget(self, name: str) -> None:
        """Remove a name (never the content another name still uses)."""
        try:
            self.client.api.remove_image(name, noprune=True)
        except docker.errors.DockerException:
            pass  # not created, or already gone

    def _oci_archive(self, image: Image, sent: Sequence[Layer], name: str) -> Iterator[bytes]:
        """An OCI image layout as a tar: ``index.json`` naming the image ``name``, the
        manifest, the config and the blobs of ``sent``; every layer uncompressed, so that
        its blob digest is its diffID."""
        config = image.config_bytes()
        manifest = json.dumps({
            "schemaVersion": 2, "mediaType": OCI_MANIFEST,
            "config": {"mediaType": OCI_CONFIG, "digest": image.config_digest(),
                       "size": len(config)},
            "layers": [{"mediaType": OCI_LAYER_TAR, "digest": layer.diff_id,
                        "size": layer.size} for layer in image.layers]}).encode()
        manifest_digest = "sha256:" + hashlib.sha256(manifest).hexdigest()
        index = json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [{
            "mediaType": OCI_MANIFEST, "digest": manifest_digest, "size": len(manifest),
            "annotations": {"io.containerd.image.name": f"docker.io/{name}",
                            "org.opencontainers.image.ref.name": name.rpartition(":")[2]}}]})
        for member, data in (("oci-layout", b'{"imageLayoutVersion":"1.0.0"}'),
                             ("index.json", index.encode()),
                             (_blob_path(image.config_digest()), config),
                             (_blob_path(manifest_digest), manifest)):
            yield from _tar_member(member, [data], len(data))
        for layer in sent:
            if layer.digest != layer.diff_id:
                raise BackendError(f"layer {layer.diff_id} is compressed; the daemon is sent "
                                   "uncompressed layers")
            with self._open_sized(layer) as (blob, size):
                yield from _tar_member(_blob_path(layer.diff_id), _exactly(blob, size, layer),
                                       size)
        yield b"\0" * (2 * _BLOCK)

    def _tagged(self, refs: Sequence[Reference], names: Sequence[str]) -> SaveResult:
        """The loaded image's ID (the first name's), and every name not pointing at it."""
        ids = [str(self._inspect(name, str(ref))["Id"]) for ref, name in zip(refs, names,
                                                                              strict=True)]
        failed = {str(ref): "the daemon did not tag the loaded image"
                  for ref, image_id in zip(refs, ids, strict=True) if image_id != ids[0]}
        return SaveResult(image_id=ids[0], failed=failed,
                          saved=tuple(str(ref) for ref in refs if str(ref) not in failed))

    def _counted(self, chunks: Iterator[bytes]) -> Iterator[bytes]:
        for chunk in chunks:
            self.bytes_sent += len(chunk)
            count_sent(len(chunk))
            yield chunk

    def _load_archive(self, image: Image, names: list[str],
                      members: list[tuple[str, Layer, bool]]) -> Iterator[bytes]:
        """A docker-archive: config, ``manifest.json`` (listing every layer), and the files
        of the layers to send. The daemon unpacks the whole upload before it reads any of
        it, so the order is free and a failure while streaming tags nothing."""
        config = image.config_bytes()
        config_name = image.config_digest().removeprefix("sha256:") + ".json"
        manifest = json.dumps([{"Config": config_name, "RepoTags": names,
                                "Layers": [name for name, _, _ in members]}]).encode()
        yield from _tar_member(config_name, [config], len(config))
        yield from _tar_member("manifest.json", [manifest], len(manifest))
        for name, layer, send in members:
            if send:
                with self._open_sized(layer) as (blob, size):
                    yield from _tar_member(name, _exactly(blob, size, layer), size)
        yield b"\0" * (2 * _BLOCK)

    @contextmanager
    def _open_sized(self, layer: Layer) -> Iterator[tuple[BinaryIO, int]]:
        """The layer's bytes, gzip or plain as stored (the loader takes both), and their
        length, which the tar header needs before the first byte."""
        source = layer.source
        if source is None:
            raise BackendError(f"layer {layer.diff_id} has no source to load it from")
        try:
            if isinstance(source, DaemonLayers):
                with source.open_stored(layer.digest) as (stored, size):
                    yield stored, size
            elif layer.size > 0:
                with source.open_blob(layer.digest) as blob:
                    yield blob, layer.size
            else:
                with tempfile.TemporaryFile(prefix="cnb-layer-") as spool:
                    with source.open_blob(layer.digest) as blob:
                        shutil.copyfileobj(blob, spool, _CHUNK)
                    size = spool.tell()
                    spool.seek(0)
                    yield cast(BinaryIO, spool), size
        except OSError as err:
            raise BackendError(f"cannot read layer {layer.diff_id} from "
                               f"{source.describe()}: {describe(err)}") from None


def _blob_path(digest: str) -> str:
    algorithm, _, hex_digest = digest.partition(":")
    return f"blobs/{algorithm}/{hex_digest}"


def _tar_member(name: str, chunks: Iterable[bytes], size: int) -> Iterator[bytes]:
    info = tarfile.TarInfo(name)
    info.size, info.mode = size, 0o644
    yield info.tobuf(tarfile.PAX_FORMAT)
    yield from chunks
    yield b"\0" * (-size % _BLOCK)


def _exactly(blob: BinaryIO, size: int, layer: Layer) -> Iterator[bytes]:
    """``size`` bytes of ``blob``; a source that disagrees aborts the load (raising here
    breaks the upload, and the daemon tags nothing) instead of corrupting the archive."""
    remaining = size
    while remaining:
        chunk = blob.read(min(remaining, _CHUNK))
        if not chunk:
            raise BackendError(f"layer {layer.diff_id} ended {remaining} bytes short of its "
                               f"size {size}")
        remaining -= len(chunk)
        yield chunk
    if blob.read(1):
        raise BackendError(f"layer {layer.diff_id} is longer than its size {size}")


def _member(archive: tarfile.TarFile, name: str) -> IO[bytes]:
    stream = archive.extractfile(name)
    if stream is None:
        raise BackendError(f"'{name}' missing from the saved image archive")
    return stream

