"""The registry backend on its own, against real registries, with skopeo as the referee and
the registries' own request logs as the witness of what moved."""

from __future__ import annotations

import base64
import os
from pathlib import Path

import pytest

from lifecycle.backends.auth import Keychain
from lifecycle.backends.base import BackendError, ImageNotFound
from lifecycle.backends.registry import CHUNK_SIZE, RegistryStore
from lifecycle.image import mutate
from lifecycle.image.model import (
    DOCKER_MANIFEST,
    DOCKER_MANIFEST_LIST,
    OCI_INDEX,
    OCI_MANIFEST,
    Image,
    StoredImage,
)
from lifecycle.reference import parse_reference
from tests.harness.images import (
    failing_layer,
    make_gzip_layer,
    make_index_layout,
    make_run_image_layout,
    publish_run_image,
    pull_to_layout,
    push_layout,
    skopeo_inspect,
)
from tests.harness.registry import Registries
from tests.harness.services import Registry

pytestmark = pytest.mark.registry


def run_image(store: RegistryStore, registry: Registry, tmp_path: Path,
              unique: str) -> StoredImage:
    run = f"{registry.host}/{unique}/run:v1"
    publish_run_image(tmp_path, [run])
    return store.read(parse_reference(run))


def with_local_layer(base: Image, tmp_path: Path, size: int = 1000) -> Image:
    layer = make_gzip_layer(tmp_path / "local", {"/app/payload.bin": os.urandom(size)})
    return mutate.append_layers(base, [(layer, "app")])


def basic(credentials: tuple[str, str]) -> str:
    return "Basic " + base64.b64encode(":".join(credentials).encode()).decode()


@pytest.mark.parametrize("docker_format", [False, True], ids=["oci", "docker-v2s2"])
def test_reads_a_pushed_image_by_tag_and_digest(registries: Registries, tmp_path: Path,
                                                 unique: str, docker_format: bool) -> None:
    ref = f"{registries.one.host}/{unique}/run:v1"
    digest = push_layout(make_run_image_layout(tmp_path / "layout"), ref, docker_format)
    store = RegistryStore()
    stored = store.read(parse_reference(ref))
    assert stored.digest == digest
    assert stored.reference == f"{registries.one.host}/{unique}/run@{digest}"
    assert stored.image.manifest_media_type == (DOCKER_MANIFEST if docker_format
                                                else OCI_MANIFEST)
    assert stored.image.labels["io.buildpacks.stack.id"] == "io.example.stack"
    assert stored.image.diff_ids == tuple(skopeo_inspect(ref, config=True)["rootfs"]["diff_ids"])
    assert store.read(parse_reference(stored.reference)).digest == digest
    with pytest.raises(ImageNotFound, match=f"{unique}/run:v2"):
        store.read(parse_reference(f"{registries.one.host}/{unique}/run:v2"))


@pytest.mark.parametrize("docker_format", [False, True], ids=["oci", "docker-v2s2"])
def test_reads_an_index_choosing_linux_amd64(registries: Registries, tmp_path: Path,
                                             unique: str, docker_format: bool) -> None:
    layout = tmp_path / "layout"
    manifests = make_index_layout(layout, ["arm64", "amd64"])
    ref = f"{registries.one.host}/{unique}/multi:1"
    push_layout(layout, ref, docker_format, all_images=True)
    index = skopeo_inspect(ref, raw=True)
    assert index["mediaType"] == (DOCKER_MANIFEST_LIST if docker_format else OCI_INDEX)
    amd64 = next(m["digest"] for m in index["manifests"]
                 if m["platform"]["architecture"] == "amd64")
    stored = RegistryStore().read(parse_reference(ref))
    assert stored.digest == amd64
    assert docker_format or amd64 == manifests["amd64"]  # converting gives new digests
    assert stored.image.architecture == "amd64" and len(stored.image.layers) == 2


def test_writes_new_layer_once_then_mounts_it(registries: Registries, tmp_path: Path,
                                              unique: str) -> None:
    """Two tags in one repository and one in another: base layers are mounted from the run
    image's repository, the new blobs uploaded once and mounted into the second repository,
    and no layer is ever downloaded."""
    store = RegistryStore()
    base = run_image(store, registries.one, tmp_path, unique)
    image = with_local_layer(base.image, tmp_path)
    names = [f"{registries.one.host}/{unique}/app:a", f"{registries.one.host}/{unique}/app:b",
             f"{registries.one.host}/{unique}/other:c"]
    log_start = len(registries.one.requests_seen())
    result = store.write(image, [parse_reference(name) for name in names])
    assert result.saved == tuple(names) and not result.failed
    seen = registries.one.requests_seen()[log_start:]
    uploads = [uri for method, uri in seen if method == "PUT" and "/blobs/uploads/" in uri]
    assert len(uploads) == 2                                  # new layer + config, once each
    mounts = [uri for method, uri in seen if method == "POST" and "mount=" in uri]
    assert len(mounts) == 2 * len(base.image.layers) + 2      # base into both, new into other
    assert not [uri for method, uri in seen if method == "GET" and "/blobs/" in uri]
    for name in names:
        assert skopeo_inspect(name)["Digest"] == result.digest
    pulled = pull_to_layout(names[2], tmp_path / "pulled")
    new_layer = image.layers[-1]
    assert (pulled / "blobs/sha256" / new_layer.digest.split(":")[1]).stat().st_size == \
        new_layer.size


def test_chunked_upload_and_skip_of_present_blobs(registries: Registries, tmp_path: Path,
                                                  unique: str) -> None:
    store = RegistryStore()
    base = run_image(store, registries.one, tmp_path, unique)
    image = with_local_layer(base.image, tmp_path, CHUNK_SIZE + CHUNK_SIZE // 2)
    log_start = len(registries.one.requests_seen())
    first = f"{registries.one.host}/{unique}/app:1"
    assert store.write(image, [parse_reference(first)]).saved
    seen = registries.one.requests_seen()[log_start:]
    assert sum(1 for method, _ in seen if method == "PATCH") == 2
    pull_to_layout(first, tmp_path / "pulled")

    log_start = len(registries.one.requests_seen())
    assert store.write(image, [parse_reference(f"{registries.one.host}/{unique}/app:2")]).saved
    again = registries.one.requests_seen()[log_start:]
    # Base layers: one mount request each (it answers "already there" too); the layer and
    # config known only locally: one HEAD each. No byte is uploaded again.
    assert [method for method, uri in again if "/blobs/" in uri] == \
        ["POST"] * len(base.image.layers) + ["HEAD"] * 2


def test_new_configs_are_sent_without_asking_first(registries: Registries, tmp_path: Path,
                                                   unique: str) -> None:
    """A rebase's config is new: sent at once, one request less. Should it be there after
    all (the same rebase made again), it is sent again and the write is as good."""
    store = RegistryStore()
    base = run_image(store, registries.one, tmp_path, unique)
    image = mutate.set_labels(base.image, {"rebased": unique})
    app = f"{registries.one.host}/{unique}/run:rebased"
    for attempt in range(2):
        log_start = len(registries.one.requests_seen())
        assert store.write(image, [parse_reference(app)], new_configs=True).saved == (app,)
        seen = registries.one.requests_seen()[log_start:]
        assert not [uri for method, uri in seen if method == "HEAD"], attempt
        assert len([uri for method, uri in seen if method == "PUT" and "/blobs/uploads/" in uri
                    and image.config_digest() in uri.replace("%3A", ":")]) == 1, attempt
        assert skopeo_inspect(app, config=True)["config"]["Labels"]["rebased"] == unique
    assert skopeo_inspect(app)["Digest"] == image.digest()


def test_cross_registry_copy_streams_each_layer_once(registries: Registries, tmp_path: Path,
                                                     unique: str) -> None:
    store = RegistryStore()
    source = run_image(store, registries.one, tmp_path, unique)
    target = f"{registries.two.host}/{unique}/copy:1"
    gets_before = len(registries.one.blob_requests("GET"))
    assert store.write(source.image, [parse_reference(target)]).saved
    assert len(registries.one.blob_requests("GET")) - gets_before == len(source.image.layers)
    # the model re-serialises config and manifest, so the copy has its own (stable) digest
    assert skopeo_inspect(target)["Digest"] == source.image.digest()
    pull_to_layout(target, tmp_path / "pulled")


@pytest.mark.parametrize(("good_bytes", "declared_size", "cause"), [
    (500, None, "disk vanished"),
    (1000, 2000, "ended 1000 bytes short"),
], ids=["read-error", "source-too-short"])
def test_failed_blob_upload_never_touches_the_tag(registries: Registries, tmp_path: Path,
                                                  unique: str, good_bytes: int,
                                                  declared_size: int | None, cause: str) -> None:
    store = RegistryStore()
    app = f"{registries.one.host}/{unique}/app:1"
    old_digest = publish_run_image(tmp_path, [app], "old")
    base = store.read(parse_reference(app)).image
    broken = failing_layer(os.urandom(1000), good_bytes, declared_size)
    with pytest.raises(BackendError, match=cause):
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


def test_the_read_after_an_access_check_asks_the_registry_nothing_more(
        registries: Registries, tmp_path: Path, unique: str) -> None:
    store = RegistryStore()
    run = f"{registries.one.host}/{unique}/run:v1"
    publish_run_image(tmp_path, [run])
    log_start = len(registries.one.requests_seen())
    assert store.check_read_access(parse_reference(run)).readable
    checked = store.read(parse_reference(run))
    manifest_requests = [(method, uri) for method, uri in registries.one.requests_seen()[log_start:]
                         if "/manifests/" in uri]
    assert manifest_requests == [("GET", f"/v2/{unique}/run/manifests/v1")]
    # the kept answer served one read: the next one asks again, and sees the same image
    log_start = len(registries.one.requests_seen())
    assert store.read(parse_reference(run)).digest == checked.digest
    assert [method for method, uri in registries.one.requests_seen()[log_start:]
            if "/manifests/" in uri] == ["GET"]


def test_basic_auth_reads_and_writes(registries: Registries, tmp_path: Path,
                                     unique: str) -> None:
    locked = registries.locked
    assert locked.credentials is not None
    run = f"{locked.host}/{unique}/run:v1"
    push_layout(make_run_image_layout(tmp_path / "layout"), run, credentials=locked.credentials)
    store = RegistryStore(keychain=Keychain({locked.host: basic(locked.credentials)}))
    assert store.check_read_access(parse_reference(run)).readable
    app = f"{locked.host}/{unique}/app:1"
    image = with_local_layer(store.read(parse_reference(run)).image, tmp_path)
    assert store.write(image, [parse_reference(app)]).saved == (app,)
    assert store.read(parse_reference(app)).digest == image.digest()

    wrong = RegistryStore(keychain=Keychain({locked.host: basic(("tester", "wrong-pass"))}))
    access = wrong.check_read_access(parse_reference(run))
    assert access.reason == "access denied (HTTP 401)" and "wrong-pass" not in access.reason
