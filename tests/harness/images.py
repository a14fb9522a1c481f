"""Test run images, written without the project's own code and published with skopeo.

Nothing is pulled from the internet: a run image is one or two gzip layers written here with
``tarfile`` (a version file, and Debian's busybox-static so the image can run), in an OCI
image layout, then copied to a registry with ``skopeo copy``.

The backends' tests also need layers that exist only on local disk, and sources that fail:
:func:`make_gzip_layer` and :class:`FailingBlobs` give them as the model's
:class:`~lifecycle.image.model.Layer` and ``BlobSource``, still without any backend code.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import subprocess
import tarfile
from collections.abc import Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from lifecycle.image.model import OCI_LAYER_GZIP, Layer
from tests.harness.services import ensure_commands

BUSYBOX = Path("/bin/busybox")
MANIFEST_TYPE = "application/vnd.oci.image.manifest.v1+json"
INDEX_TYPE = "application/vnd.oci.image.index.v1+json"


def _tar(files: dict[str, tuple[bytes, int]], symlinks: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        directories = sorted({str(Path(name).parent) for name in [*files, *symlinks]} - {"/"})
        for directory in directories:
            info = tarfile.TarInfo(directory.lstrip("/"))
            info.type, info.mode, info.mtime = tarfile.DIRTYPE, 0o755, 1
            tar.addfile(info)
        for name, (data, mode) in sorted(files.items()):
            info = tarfile.TarInfo(name.lstrip("/"))
            info.size, info.mode, info.mtime = len(data), mode, 1
            tar.addfile(info, io.BytesIO(data))
        for name, target in sorted(symlinks.items()):
            info = tarfile.TarInfo(name.lstrip("/"))
            info.type, info.linkname, info.mtime = tarfile.SYMTYPE, target, 1
            tar.addfile(info)
    return buffer.getvalue()


def _blob(layout: Path, data: bytes) -> tuple[str, int]:
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    path = layout / "blobs" / "sha256" / digest.split(":")[1]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return digest, len(data)


def _write_image(layout: Path, version: str, stack_id: str, labels: Mapping[str, str],
                 architecture: str, with_busybox: bool) -> dict[str, Any]:
    """Blobs of one linux image into ``layout``; returns its manifest descriptor."""
    layer_files: list[tuple[dict[str, tuple[bytes, int]], dict[str, str]]] = []
    if with_busybox:
        ensure_commands(["busybox"], ["busybox-static"])
        layer_files.append(({"/bin/busybox": (BUSYBOX.read_bytes(), 0o755)},
                            {"/bin/sh": "busybox", "/bin/cat": "busybox", "/bin/echo": "busybox"}))
    layer_files.append(({"/etc/run-image-version": (f"{version}\n".encode(), 0o644)}, {}))
    layers, diff_ids = [], []
    for files, symlinks in layer_files:
        tar = _tar(files, symlinks)
        diff_ids.append("sha256:" + hashlib.sha256(tar).hexdigest())
        digest, size = _blob(layout, gzip.compress(tar, mtime=0))
        layers.append({"mediaType": OCI_LAYER_GZIP, "digest": digest, "size": size})
    config: dict[str, Any] = {
        "architecture": architecture, "os": "linux", "created": "2024-01-01T00:00:00Z",
        "config": {"Env": ["PATH=/usr/local/bin:/usr/bin:/bin"],
                   "Labels": {"io.buildpacks.stack.id": stack_id, **labels}},
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
        # umoci stat crashes on history entries without "created"
        "history": [{"created": "2024-01-01T00:00:00Z",
                     "created_by": f"test run image {version} layer {i}"}
                    for i in range(len(layers))],
    }
    config_digest, config_size = _blob(layout, json.dumps(config).encode())
    manifest = {"schemaVersion": 2, "mediaType": MANIFEST_TYPE,
                "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                           "digest": config_digest, "size": config_size},
                "layers": layers}
    manifest_digest, manifest_size = _blob(layout, json.dumps(manifest).encode())
    return {"mediaType": MANIFEST_TYPE, "digest": manifest_digest, "size": manifest_size,
            "platform": {"os": "linux", "architecture": architecture}}


def _write_index_json(layout: Path, descriptor: Mapping[str, Any]) -> None:
    (layout / "oci-layout").write_text('{"imageLayoutVersion":"1.0.0"}')
    tagged = {**descriptor, "annotations": {"org.opencontainers.image.ref.name": "latest"}}
    (layout / "index.json").write_text(json.dumps({"schemaVersion": 2, "manifests": [tagged]}))


def make_run_image_layout(layout: Path, version: str = "v1",
                          stack_id: str = "io.example.stack",
                          labels: dict[str, str] | None = None,
                          architecture: str = "amd64", with_busybox: bool = True) -> Path:
    """An OCI layout (tag ``latest``) holding a small linux run image; returns ``layout``."""
    descriptor = _write_image(layout, version, stack_id, labels or {}, architecture,
                              with_busybox)
    del descriptor["platform"]  # a plain single image, as skopeo or umoci would write it
    _write_index_json(layout, descriptor)
    return layout


def make_index_layout(layout: Path, architectures: Sequence[str], version: str = "v1",
                      stack_id: str = "io.example.stack",
                      distinct: bool = False) -> dict[str, str]:
    """An OCI layout whose tag ``latest`` is an image index with one linux image per
    architecture, nested the way ``docker buildx`` writes it (``index.json`` → index blob →
    manifests). Returns each architecture's manifest digest.

    With ``distinct`` each image's version layer also names its architecture, so the
    children share no top layer (as real per-architecture run images do)."""
    descriptors = [_write_image(layout, f"{version} {architecture}" if distinct else version,
                                stack_id, {}, architecture, True)
                   for architecture in architectures]
    index = json.dumps({"schemaVersion": 2, "mediaType": INDEX_TYPE,
                        "manifests": descriptors}).encode()
    digest, size = _blob(layout, index)
    _write_index_json(layout, {"mediaType": INDEX_TYPE, "digest": digest, "size": size})
    return {d["platform"]["architecture"]: d["digest"] for d in descriptors}


@dataclass(frozen=True)
class FileBlobs:
    """Blobs stored as ``<directory>/<hex digest>``: a layer that exists only on local disk."""

    directory: Path

    def open_blob(self, digest: str) -> AbstractContextManager[BinaryIO]:
        return (self.directory / digest.split(":", 1)[1]).open("rb")

    def describe(self) -> str:
        return str(self.directory)


def make_gzip_layer(directory: Path, files: Mapping[str, bytes]) -> Layer:
    """A gzip layer holding ``files`` (absolute path -> content), stored in ``directory``."""
    tar = _tar({name: (data, 0o644) for name, data in files.items()}, {})
    # Level 1: the big test layers are random bytes, which no level would compress.
    compressed = gzip.compress(tar, compresslevel=1, mtime=0)
    digest = "sha256:" + hashlib.sha256(compressed).hexdigest()
    directory.mkdir(parents=True, exist_ok=True)
    (directory / digest.split(":", 1)[1]).write_bytes(compressed)
    return Layer(digest, "sha256:" + hashlib.sha256(tar).hexdigest(), len(compressed),
                 OCI_LAYER_GZIP, FileBlobs(directory))


@dataclass(frozen=True)
class FailingBlobs:
    """Serves the first ``good_bytes`` of ``data``, then fails: a source lost mid-copy.

    With ``good_bytes`` >= ``len(data)`` it fails nowhere but simply ends — give it a layer
    size larger than ``data`` to model a source shorter than its descriptor says.
    """

    data: bytes
    good_bytes: int

    @contextmanager
    def open_blob(self, digest: str) -> Iterator[BinaryIO]:
        served = self.data[:self.good_bytes]
        fails = self.good_bytes < len(self.data)

        class Interrupted(io.BytesIO):
            def read(self, size: int | None = -1) -> bytes:
                chunk = super().read(size)
                if not chunk and fails:
                    raise OSError("disk vanished")
                return chunk

        yield Interrupted(served)

    def describe(self) -> str:
        return "a failing test source"


def failing_layer(data: bytes, good_bytes: int, declared_size: int | None = None) -> Layer:
    """A layer over ``data`` whose source breaks after ``good_bytes`` (see FailingBlobs)."""
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    return Layer(digest, digest, declared_size or len(data), OCI_LAYER_GZIP,
                 FailingBlobs(data, good_bytes))


def push_layout(layout: Path, ref: str, docker_format: bool = False,
                credentials: tuple[str, str] | None = None, all_images: bool = False) -> str:
    """Copy the layout's ``latest`` image to ``ref``; returns the pushed manifest digest.

    ``docker_format`` converts to Docker v2 schema 2; ``all_images`` pushes an index with
    every image in it (skopeo ``--all``) instead of the linux/amd64 image alone.
    """
    command = ["skopeo", "copy", "--quiet", "--dest-tls-verify=false"]
    if docker_format:
        command += ["--format", "v2s2"]
    if credentials:
        command += ["--dest-creds", ":".join(credentials)]
    if all_images:
        command += ["--all"]
    digest_file = layout.parent / f".{layout.name}.digest"
    command += ["--digestfile", str(digest_file), f"oci:{layout}:latest", f"docker://{ref}"]
    subprocess.run(command, check=True, capture_output=True, timeout=120)
    return digest_file.read_text().strip()


def publish_run_image(workdir: Path, refs: list[str], version: str = "v1",
                      **options: Any) -> str:
    """Make one run image and push it under every name in ``refs``; returns its digest."""
    layout = make_run_image_layout(workdir / f"run-{version}-{abs(hash(tuple(refs)))}",
                                   version, **options)
    digests = {push_layout(layout, ref) for ref in refs}
    assert len(digests) == 1, digests
    return digests.pop()


def publish_run_index(workdir: Path, refs: list[str], architectures: Sequence[str],
                      version: str = "v1", **options: Any) -> dict[str, str]:
    """A run image index (one image per architecture, each with its own top layer) pushed
    under every name in ``refs``; returns its digest (``index``) and each architecture's."""
    layout = workdir / f"run-index-{version}-{abs(hash(tuple(refs)))}"
    children = make_index_layout(layout, architectures, version, distinct=True, **options)
    digests = {push_layout(layout, ref, all_images=True) for ref in refs}
    assert len(digests) == 1, digests
    return {"index": digests.pop(), **children}


def skopeo_inspect(ref: str, raw: bool = False, config: bool = False) -> Any:
    command = ["skopeo", "inspect", "--tls-verify=false"]
    command += ["--raw"] if raw else ["--config"] if config else []
    result = subprocess.run([*command, f"docker://{ref}"], check=True, capture_output=True,
                            timeout=60, text=True)
    return json.loads(result.stdout)


def pull_to_layout(ref: str, layout: Path) -> Path:
    """``skopeo copy`` of ``ref`` into an OCI layout: it verifies every blob's digest, so a
    successful pull proves the image complete and intact. Returns ``layout``."""
    subprocess.run(["skopeo", "copy", "--quiet", "--src-tls-verify=false", f"docker://{ref}",
                    f"oci:{layout}:latest"], check=True, capture_output=True, timeout=120)
    return layout
