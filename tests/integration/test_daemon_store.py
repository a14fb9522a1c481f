"""DaemonStore against the tests' own Docker Engine: reads by inspect, writes by a streamed
``docker load`` that leaves out every layer the daemon already has."""

from __future__ import annotations

import gzip
import hashlib
import io
import tarfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import BinaryIO

import docker.errors
import pytest

from lifecycle.backends.base import BackendError, ImageNotFound
from lifecycle.backends.daemon import DaemonStore, oci_config
from lifecycle.image.model import OCI_LAYER_GZIP, OCI_LAYER_TAR, Image, Layer
from lifecycle.image.mutate import append_layers, rebase
from lifecycle.reference import Reference, parse_reference
from tests.harness.dockerd import Dockerd, make_daemon_run_image

pytestmark = pytest.mark.daemon


@dataclass(frozen=True)
class BytesBlobs:
    """Layer blobs held in memory, by digest."""

    blobs: dict[str, bytes]

    @contextmanager
    def open_blob(self, digest: str) -> Iterator[BinaryIO]:
        yield io.BytesIO(self.blobs[digest])

    def describe(self) -> str:
        return "test blobs"


def file_layer(path: str, text: str, compressed: bool = False, size_known: bool = True) -> Layer:
    """A one-file layer; ``size_known=False`` gives size 0, as a source that cannot tell."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        info = tarfile.TarInfo(path.lstrip("/"))
        info.size, info.mode = len(text.encode()), 0o644
        tar.addfile(info, io.BytesIO(text.encode()))
    plain = buffer.getvalue()
    blob = gzip.compress(plain, mtime=0) if compressed else plain
    digest = "sha256:" + hashlib.sha256(blob).hexdigest()
    return Layer(digest, "sha256:" + hashlib.sha256(plain).hexdigest(),
                 len(blob) if size_known else 0, OCI_LAYER_GZIP if compressed else OCI_LAYER_TAR,
                 BytesBlobs({digest: blob}))


@pytest.fixture
def run_ref(dockerd: Dockerd, unique: str) -> Reference:
    name = f"localhost:5001/{unique}/run:v1"
    make_daemon_run_image(dockerd.client, name)
    return parse_reference(name)


@pytest.fixture
def store(dockerd: Dockerd) -> DaemonStore:
    return DaemonStore(client=dockerd.client)


def with_file(base: Image, path: str, text: str) -> Image:
    return append_layers(base, [(file_layer(path, text), f"test layer {path}")])


def test_read_is_inspect_only(dockerd: Dockerd, store: DaemonStore, run_ref: Reference) -> None:
    inspected = dockerd.client.api.inspect_image(str(run_ref))  # type: ignore[no-untyped-call]
    stored = store.read(run_ref)
    assert stored.image_id == inspected["Id"]
    assert stored.reference == inspected["Id"].removeprefix("sha256:")
    assert stored.digest == ""
    image = stored.image
    assert image.diff_ids == tuple(inspected["RootFS"]["Layers"])
    assert len(image.layers) == 2  # busybox, version file
    assert {layer.media_type for layer in image.layers} == {OCI_LAYER_TAR}
    assert (image.os, image.architecture) == ("linux", "amd64")
    assert image.labels["io.buildpacks.stack.id"] == "io.example.stack"
    assert image.image_config["Env"] == ["PATH=/usr/local/bin:/usr/bin:/bin"]
    assert [h["created_by"] for h in image.config["history"]] == [
        "test run image v1 layer 0", "test run image v1 layer 1"]
    assert store.image_store == "classic"  # Debian's Engine 20.10 with vfs


def test_write_sends_only_new_layers_and_tags_every_name(
        dockerd: Dockerd, store: DaemonStore, run_ref: Reference, unique: str) -> None:
    base = store.read(run_ref).image
    app = with_file(base, "/hello.txt", "hello from the new layer\n")
    names = [parse_reference(f"{unique}/app:latest"), parse_reference(f"{unique}/app:v2")]
    result = store.write(app, names)
    assert store.layers_sent == 1
    assert store.bytes_sent < 16 * 1024  # busybox alone is over 1 MiB: the base stayed home
    loaded = {dockerd.client.images.get(str(name)).id for name in names}
    assert loaded == {result.image_id}
    assert result.image_id == app.config_digest()  # the classic store's ID is the config's
    assert result.saved == tuple(str(name) for name in names) and not result.failed
    assert dockerd.run(str(names[0]), "cat", "/hello.txt") == "hello from the new layer\n"

    # A warm write, as the exporter does it: a new store that has read the previous image.
    warm = DaemonStore(client=dockerd.client)
    warm.read(names[0])
    again = warm.write(app, names[:1])
    assert (warm.layers_sent, again.image_id) == (0, result.image_id)
    assert warm.bytes_sent < 8 * 1024  # config and manifest.json only


def test_compressed_and_unsized_layers(dockerd: Dockerd, store: DaemonStore,
                                       run_ref: Reference, unique: str) -> None:
    base = store.read(run_ref).image
    app = append_layers(base, [(file_layer("/a.txt", "gzip\n", compressed=True), "gzip"),
                               (file_layer("/b.txt", "unsized\n", size_known=False), "unsized")])
    name = parse_reference(f"{unique}/app:latest")
    store.write(app, [name])
    assert store.layers_sent == 2
    assert dockerd.run(str(name), "cat", "/a.txt", "/b.txt") == "gzip\nunsized\n"


def test_layer_on_a_new_base_is_read_back_once(dockerd: Dockerd, store: DaemonStore,
                                               run_ref: Reference, unique: str,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    base = store.read(run_ref).image
    app_ref = parse_reference(f"{unique}/app:latest")
    store.write(with_file(base, "/hello.txt", "hi\n"), [app_ref])
    new_base_ref = parse_reference(f"{unique}/run:v2")
    make_daemon_run_image(dockerd.client, str(new_base_ref), "v2")

    rebaser = DaemonStore(client=dockerd.client)
    app = rebaser.read(app_ref).image
    rebased = rebase(app, base.top_layer, rebaser.read(new_base_ref).image)
    rebaser.write(rebased, [app_ref])
    # The app layer is a new chain on the new base; only docker save can give it back.
    assert rebaser.layers_sent == 1
    assert capsys.readouterr().out.count("with docker save") == 1
    assert dockerd.run(str(app_ref), "cat", "/etc/run-image-version", "/hello.txt") == "v2\nhi\n"
    # What other readers of a daemon layer get: the uncompressed tar of its diffID.
    layer = app.layers[-1]
    assert layer.source is not None
    with layer.source.open_blob(layer.digest) as blob:
        assert "sha256:" + hashlib.sha256(blob.read()).hexdigest() == layer.diff_id


def test_a_layer_shorter_than_its_size_tags_nothing(dockerd: Dockerd, store: DaemonStore,
                                                    run_ref: Reference, unique: str) -> None:
    layer = file_layer("/x.txt", "x\n")
    lying = Layer(layer.digest, layer.diff_id, layer.size + 512, layer.media_type, layer.source)
    name = parse_reference(f"{unique}/broken:latest")
    with pytest.raises(BackendError, match="short of its size"):
        store.write(append_layers(store.read(run_ref).image, [(lying, "lying")]), [name])
    with pytest.raises(docker.errors.ImageNotFound):
        dockerd.client.images.get(str(name))


def test_check_read_access_and_missing_images(store: DaemonStore, run_ref: Reference,
                                              unique: str) -> None:
    assert store.check_read_access(run_ref).readable
    assert store.check_read_access(run_ref).reason == "present in the daemon"
    missing = parse_reference(f"{unique}/nothing:1")
    access = store.check_read_access(missing)
    assert (access.readable, access.reason) == (False, "not present in the daemon")
    with pytest.raises(ImageNotFound, match="not found in the daemon"):
        store.read(missing)


def test_history_marks_empty_layers_by_their_zero_size() -> None:
    inspected = {"Architecture": "amd64", "Os": "linux", "Created": "2024-01-01T00:00:00Z",
                 "Config": {"Env": ["A=1"], "User": "", "Cmd": None, "ArgsEscaped": False},
                 "RootFS": {"Type": "layers", "Layers": ["sha256:a", "sha256:b"]}}
    newest_first = [{"Created": 2, "CreatedBy": "ADD b", "Size": 5},
                    {"Created": 1, "CreatedBy": "ENV A=1", "Size": 0},
                    {"Created": 0, "CreatedBy": "ADD a", "Size": 7, "Comment": "base"}]
    config = oci_config(inspected, newest_first)
    assert config["config"] == {"Env": ["A=1"]}
    assert config["history"] == [
        {"created": "1970-01-01T00:00:00Z", "created_by": "ADD a", "comment": "base"},
        {"created": "1970-01-01T00:00:01Z", "created_by": "ENV A=1", "empty_layer": True},
        {"created": "1970-01-01T00:00:02Z", "created_by": "ADD b"}]
    # Entries that cannot be matched to the layers are dropped rather than misattributed.
    assert "history" not in oci_config(inspected, newest_first[:1])
