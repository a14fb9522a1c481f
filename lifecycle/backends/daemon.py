"""Docker daemon backend (``-daemon``), through the docker SDK, without ``docker save``.

Reading is ``docker image inspect``: config, labels and diffIDs, no layer data. Writing is a
``docker load`` of an archive that contains **only the layers the daemon lacks**: the
classic image store's loader looks a layer up by its chain ID before it opens the layer's
file, so a layer whose chain (it and every layer below it) already exists in the daemon
need not be sent. We know such chains from the images we read from this daemon (the run
image, the previous image, the app being rebased). A daemon rebase therefore sends no layer
at all, and a warm export sends only the layers that changed. Tested with Docker Engine
20.10 (Debian ``docker.io``, classic store with the vfs driver); docs/design.md says more.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import shutil
import tarfile
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, BinaryIO, cast

import docker
import docker.errors

from lifecycle.backends.base import Access, BackendError, ImageNotFound
from lifecycle.image.model import (
    OCI_LAYER_TAR,
    Image,
    Layer,
    SaveResult,
    StoredImage,
)
from lifecycle.log import get_logger
from lifecycle.reference import DEFAULT_REGISTRY, Reference

# Runtime config keys a Docker inspect carries that belong in an image config.
_CONFIG_KEYS = ("User", "ExposedPorts", "Env", "Entrypoint", "Cmd", "Volumes", "WorkingDir",
                "Labels", "StopSignal", "Healthcheck", "OnBuild", "Shell", "ArgsEscaped")


def daemon_name(ref: Reference) -> str:
    """The name the daemon knows ``ref`` by (Docker Hub names are written short)."""
    repository = ref.repository_str if ref.registry == DEFAULT_REGISTRY else ref.context
    return f"{repository}@{ref.digest}" if ref.digest else f"{repository}:{ref.identifier}"


def chain_ids(diff_ids: Iterable[str]) -> list[str]:
    """The daemon's layer identities: each diffID chained with every layer below it."""
    chains: list[str] = []
    for diff_id in diff_ids:
        chains.append(diff_id if not chains else
                      "sha256:" + hashlib.sha256(f"{chains[-1]} {diff_id}".encode()).hexdigest())
    return chains


class SavedImages:
    """``docker save`` archives, at most one per image, kept on disk while the store lives.

    The classic store keys layers by chain, so a layer put onto a different base (a rebase
    onto a new run image, a reused layer below a changed one) is new to it and its tar must
    be sent again; the only way to read a layer back through the API is ``docker save``.
    """

    def __init__(self, client: docker.DockerClient) -> None:
        self.client = client
        self._scratch = tempfile.TemporaryDirectory(prefix="cnb-save-")
        self._archives: dict[str, Path] = {}

    def _archive(self, image_id: str) -> Path:
        if image_id not in self._archives:
            get_logger().info(f"Reading layers of image {image_id[7:19]} with docker save: the "
                              "daemon needs them again on a new base")
            path = Path(self._scratch.name) / f"{image_id.removeprefix('sha256:')}.tar"
            with path.open("wb") as out:
                for chunk in self.client.api.get_image(image_id):
                    out.write(chunk)
            self._archives[image_id] = path
        return self._archives[image_id]

    @contextmanager
    def layer(self, image_id: str, diff_id: str) -> Iterator[BinaryIO]:
        with tarfile.open(self._archive(image_id)) as saved:
            manifest = json.load(_member(saved, "manifest.json"))[0]
            config = json.load(_member(saved, manifest["Config"]))
            paths = dict(zip(config["rootfs"]["diff_ids"], manifest["Layers"], strict=True))
            if diff_id not in paths:
                raise BackendError(f"image {image_id} has no layer {diff_id}")
            yield cast(BinaryIO, _member(saved, paths[diff_id]))


@dataclass(frozen=True)
class DaemonLayers:
    """Layers of an image in the daemon, read back (rarely) through :class:`SavedImages`."""

    saved: SavedImages
    image_id: str

    def open_blob(self, digest: str) -> AbstractContextManager[BinaryIO]:
        return self.saved.layer(self.image_id, digest)

    def describe(self) -> str:
        return f"daemon image {self.image_id}"


def detect_image_store(client: docker.DockerClient) -> str:
    """``containerd`` when the engine stores images in containerd (snapshotters), else
    ``classic`` (graph drivers: overlay2, vfs, ...)."""
    try:
        info = client.info()
    except docker.errors.DockerException as err:
        raise BackendError(f"cannot query the Docker daemon: {err}") from None
    status = info.get("DriverStatus") or []
    uses_snapshotter = any("io.containerd.snapshotter" in str(value)
                           for pair in status for value in pair)
    return "containerd" if uses_snapshotter else "classic"


def _member(archive: tarfile.TarFile, name: str) -> IO[bytes]:
    stream = archive.extractfile(name)
    if stream is None:
        raise BackendError(f"'{name}' missing from the saved image archive")
    return stream


class DaemonStore:
    kind = "daemon"
    compress_layers = False

    def __init__(self, docker_host: str | None = None) -> None:
        try:
            self.client = (docker.DockerClient(base_url=docker_host) if docker_host
                           else docker.from_env())
        except docker.errors.DockerException as err:
            raise BackendError(f"cannot connect to the Docker daemon: {err}") from None
        self.image_store = detect_image_store(self.client)
        self._known_chains: set[str] = set()
        self._saved = SavedImages(self.client)
        self.layers_sent = 0
        """How many layers the last write had to send (the rest the daemon already had)."""

    def _inspect(self, ref: Reference) -> dict[str, Any]:
        try:
            inspected: dict[str, Any] = self.client.api.inspect_image(  # type: ignore[no-untyped-call]
                daemon_name(ref))
            return inspected
        except docker.errors.ImageNotFound:
            raise ImageNotFound(f"image '{ref}' not found in the daemon") from None
        except docker.errors.DockerException as err:
            raise BackendError(f"cannot inspect '{ref}' in the daemon: {err}") from None

    def check_read_access(self, ref: Reference) -> Access:
        try:
            self._inspect(ref)
        except ImageNotFound:
            return Access(False, "not present in the daemon")
        except BackendError as err:
            return Access(False, str(err))
        return Access(True, "present in the daemon")

    def read(self, ref: Reference) -> StoredImage:
        inspected = self._inspect(ref)
        image_id = str(inspected["Id"])
        diff_ids = list((inspected.get("RootFS") or {}).get("Layers") or [])
        self._remember(diff_ids)
        runtime = inspected.get("Config") or {}
        config: dict[str, Any] = {
            "architecture": inspected.get("Architecture", ""),
            "os": inspected.get("Os", ""),
            "created": inspected.get("Created", ""),
            "config": {k: runtime[k] for k in _CONFIG_KEYS if runtime.get(k) is not None},
            "rootfs": {"type": "layers", "diff_ids": diff_ids},
        }
        for key, field in (("os.version", "OsVersion"), ("variant", "Variant")):
            if inspected.get(field):
                config[key] = inspected[field]
        source = DaemonLayers(self._saved, image_id)
        layers = tuple(Layer(d, d, 0, OCI_LAYER_TAR, source) for d in diff_ids)
        return StoredImage(Image(config, layers), image_id.removeprefix("sha256:"),
                           image_id=image_id)

    def write(self, image: Image, refs: Sequence[Reference]) -> SaveResult:
        names = [daemon_name(ref) for ref in refs]
        with tempfile.TemporaryDirectory(prefix="cnb-load-") as scratch:
            archive_path = Path(scratch) / "load.tar"
            self.layers_sent = self._write_load_archive(image, names, archive_path)
            try:
                with archive_path.open("rb") as archive:
                    output = list(self.client.api.load_image(archive))  # type: ignore[no-untyped-call]
            except docker.errors.DockerException as err:
                raise BackendError(f"docker load failed: {err}") from None
        for line in output:
            if isinstance(line, dict) and line.get("errorDetail"):
                raise BackendError(f"docker load failed: {line['errorDetail'].get('message')}")
        self._remember(image.diff_ids)
        get_logger().info(f"Loaded {self.layers_sent} of {len(image.layers)} layer(s) into the "
                          "daemon; it had the others")
        return SaveResult(image_id=image.config_digest(), saved=tuple(str(r) for r in refs))

    def _remember(self, diff_ids: Sequence[str]) -> None:
        """Chains the daemon has, so later loads can leave them out (classic store only:
        skipping layers is verified there; with the containerd store every layer is sent)."""
        if self.image_store == "classic":
            self._known_chains.update(chain_ids(diff_ids))

    def _write_load_archive(self, image: Image, names: list[str], path: Path) -> int:
        """A docker-archive with the config, manifest.json and only the missing layers."""
        config = image.config_bytes()
        config_name = image.config_digest().removeprefix("sha256:") + ".json"
        layer_paths, sent = [], 0
        with tarfile.open(path, "w", format=tarfile.PAX_FORMAT) as archive:
            for layer, chain in zip(image.layers, chain_ids(image.diff_ids), strict=True):
                member = layer.diff_id.removeprefix("sha256:") + "/layer.tar"
                layer_paths.append(member)
                if chain in self._known_chains:
                    continue
                self._add_layer(archive, member, layer, path.parent)
                sent += 1
            _add_bytes(archive, config_name, config)
            manifest = [{"Config": config_name, "RepoTags": names, "Layers": layer_paths}]
            _add_bytes(archive, "manifest.json", json.dumps(manifest).encode())
        return sent

    def _add_layer(self, archive: tarfile.TarFile, member: str, layer: Layer,
                   scratch: Path) -> None:
        if layer.source is None:
            raise BackendError(f"layer {layer.diff_id} has no source to load it from")
        plain = scratch / "layer.tar"
        try:
            with layer.source.open_blob(layer.digest) as blob, plain.open("wb") as out:
                stream = gzip.GzipFile(fileobj=blob) if layer.compressed else blob
                shutil.copyfileobj(stream, out, 1 << 20)
            info = tarfile.TarInfo(member)
            info.size = plain.stat().st_size
            with plain.open("rb") as contents:
                archive.addfile(info, contents)
        except OSError as err:
            raise BackendError(f"cannot read layer {layer.diff_id} from "
                               f"{layer.source.describe()}: {err}") from None
        finally:
            plain.unlink(missing_ok=True)


def _add_bytes(archive: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    archive.addfile(info, io.BytesIO(data))

