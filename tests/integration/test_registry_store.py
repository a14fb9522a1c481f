"""The registry backend on its own, against the real registry and its request log."""

from __future__ import annotations

import hashlib
import io
import json
import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import pytest

from lifecycle import archive
from lifecycle.backends.base import BackendError
from lifecycle.backends.registry import CHUNK_SIZE, RegistryStore
from lifecycle.image import mutate
from lifecycle.image.model import OCI_LAYER_GZIP, Layer, StoredImage
from lifecycle.reference import parse_reference
from tests.harness.images import make_run_image_layout, publish_run_image, skopeo_inspect
from tests.harness.registry import Registries

pytestmark = pytest.mark.registry


def big_layer(tmp_path: Path, size: int) -> Layer:
    payload = tmp_path / "payload.bin"
    payload.write_bytes(os.urandom(size))
    return archive.write_layer([archive.TarEntry("/payload.bin", archive.EntryKind.FILE, 0o644,
                                                 source=payload, size=size)], tmp_path, True)


def run_image_on_one(store: RegistryStore, registries: Registries, tmp_path: Path,
                     unique: str) -> StoredImage:
    run = f"{registries.one.host}/{unique}/run:v1"
    publish_run_image(tmp_path, [run])
    return store.read(parse_reference(run))


def test_chunked_upload_then_mount_then_skip(registries: Registries, tmp_path: Path,
                                            unique: str) -> None:
    store = RegistryStore()
    base = run_image_on_one(store, registries, tmp_path, unique)
    layer = big_layer(tmp_path, CHUNK_SIZE + CHUNK_SIZE // 2)
    image = mutate.append_layers(base.image, [(layer, "big")])

    log_start = len(registries.one.requests_seen())
    first = parse_reference(f"{registries.one.host}/{unique}/app:1")
    result = store.write(image, [first])
    assert result.saved == (str(first),) and not result.failed
    seen = registries.one.requests_seen()[log_start:]
    assert sum(1 for method, _ in seen if method == "PATCH") == 2   # chunked upload
    mounts = [uri for method, uri in seen if method == "POST" and "mount=" in uri]
    assert len(mounts) == len(base.image.layers)                    # base layers mounted
    assert not [uri for method, uri in seen if method == "GET" and "/blobs/" in uri]
    assert skopeo_inspect(str(first))["Digest"] == result.digest

    log_start = len(registries.one.requests_seen())
    assert store.write(image, [parse_reference(f"{registries.one.host}/{unique}/app:2")]).saved
    again = registries.one.requests_seen()[log_start:]
    assert [m for m, uri in again if "/blobs/" in uri] == ["HEAD"] * (len(image.layers) + 1)


def test_cross_registry_copy_is_streamed(registries: Registries, tmp_path: Path,
                                         unique: str) -> None:
    store = RegistryStore()
    source = run_image_on_one(store, registries, tmp_path, unique)
    target = parse_reference(f"{registries.two.host}/{unique}/copy:1")
    assert store.write(source.image, [target]).saved
    assert skopeo_inspect(str(target), config=True)["rootfs"] == source.image.config["rootfs"]


@dataclass(frozen=True)
class BrokenSource:
    """Serves the first bytes of a blob, then fails: an upload interrupted half-way."""

    data: bytes

    @contextmanager
    def open_blob(self, digest: str) -> Iterator[BinaryIO]:
        class Failing(io.BytesIO):
            def read(self, size: int | None = -1) -> bytes:
                raise OSError("disk vanished")
        yield Failing(self.data)

    def describe(self) -> str:
        return "broken"


def test_failed_blob_upload_never_touches_the_tag(registries: Registries, tmp_path: Path,
                                                  unique: str) -> None:
    store = RegistryStore()
    app = f"{registries.one.host}/{unique}/app:1"
    publish_run_image(tmp_path, [app], "old")
    old_digest = skopeo_inspect(app)["Digest"]
    base = store.read(parse_reference(app)).image
    data = b"x" * 1000
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    broken = Layer(digest, digest, len(data), OCI_LAYER_GZIP, BrokenSource(data))
    with pytest.raises(BackendError, match="disk vanished"):
        store.write(mutate.append_layers(base, [(broken, "broken")]), [parse_reference(app)])
    assert skopeo_inspect(app)["Digest"] == old_digest


def test_read_access(registries: Registries, tmp_path: Path, unique: str) -> None:
    store = RegistryStore()
    present = f"{registries.two.host}/{unique}/run:v1"
    publish_run_image(tmp_path, [present])
    assert store.check_read_access(parse_reference(present)).readable
    assert store.check_read_access(
        parse_reference(f"{registries.two.host}/{unique}/none")).reason == "not found (HTTP 404)"
    assert store.check_read_access(
        parse_reference(f"{registries.locked.host}/{unique}/x")).reason == \
        "access denied (HTTP 401)"
    refused = store.check_read_access(parse_reference("127.0.0.1:9/closed/port"))
    assert not refused.readable and "cannot reach registry 127.0.0.1:9" in refused.reason


def test_reads_an_index_choosing_linux_amd64(registries: Registries, tmp_path: Path,
                                             unique: str) -> None:
    layout = make_run_image_layout(tmp_path / "layout")
    top = json.loads((layout / "index.json").read_text())
    manifest = dict(top["manifests"][0], platform={"os": "linux", "architecture": "amd64"})
    del manifest["annotations"]
    nested = json.dumps({"schemaVersion": 2,
                         "mediaType": "application/vnd.oci.image.index.v1+json",
                         "manifests": [manifest]}).encode()
    nested_digest = "sha256:" + hashlib.sha256(nested).hexdigest()
    (layout / "blobs" / "sha256" / nested_digest.split(":")[1]).write_bytes(nested)
    top["manifests"] = [{"mediaType": "application/vnd.oci.image.index.v1+json",
                         "digest": nested_digest, "size": len(nested),
                         "annotations": {"org.opencontainers.image.ref.name": "latest"}}]
    (layout / "index.json").write_text(json.dumps(top))
    ref = f"{registries.one.host}/{unique}/multi:1"
    subprocess.run(["skopeo", "copy", "--quiet", "--all", "--dest-tls-verify=false",
                    f"oci:{layout}:latest", f"docker://{ref}"], check=True,
                   capture_output=True, timeout=120)
    stored = RegistryStore().read(parse_reference(ref))
    assert stored.digest == manifest["digest"]
    assert stored.image.architecture == "amd64" and len(stored.image.layers) == 2
