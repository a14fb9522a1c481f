"""The OCI layout backend on its own, with skopeo and umoci as referees."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from lifecycle.backends.base import BackendError
from lifecycle.backends.layout import LayoutStore
from lifecycle.backends.registry import RegistryStore
from lifecycle.image import mutate
from lifecycle.image.model import Image
from lifecycle.record import replace
from lifecycle.reference import parse_reference
from tests.harness.images import (
    failing_layer,
    make_gzip_layer,
    make_index_layout,
    make_run_image_layout,
    publish_run_image,
)
from tests.harness.registry import Registries
from tests.harness.services import ensure_commands

RUN = "example.com/cnb/run:v1"
APP = "example.com/apps/web:latest"


@pytest.fixture(scope="module", autouse=True)
def tools() -> None:
    ensure_commands(["skopeo", "umoci"], ["skopeo", "umoci"])


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """A layout root holding the run image at the path of ``RUN``."""
    make_run_image_layout(tmp_path / "oci/example.com/cnb/run/v1")
    return tmp_path / "oci"


def app_image(store: LayoutStore, tmp_path: Path) -> Image:
    base = store.read(parse_reference(RUN)).image
    layer = make_gzip_layer(tmp_path / "local", {"/workspace/app.txt": b"hello\n"})
    return mutate.append_layers(base, [(layer, "app")])


def skopeo_inspect_layout(path: Path, tag: str) -> dict[str, object]:
    result = subprocess.run(["skopeo", "inspect", f"oci:{path}:{tag}"], check=True,
                            capture_output=True, text=True, timeout=60)
    inspected: dict[str, object] = json.loads(result.stdout)
    return inspected


def test_paths_follow_the_lifecycle(tmp_path: Path) -> None:
    """``<registry>/<repository>/<tag>`` or ``.../<algorithm>/<hex>`` (lifecycle
    ``layout.ParseRefToPath``), with the registry and repository normalised as ggcr does."""
    store = LayoutStore(tmp_path)
    hex_digest = "a" * 64
    assert store.path_for(parse_reference(APP)) == tmp_path / "example.com/apps/web/latest"
    assert store.path_for(parse_reference(f"localhost:5000/x/y@sha256:{hex_digest}")) == \
        tmp_path / "localhost:5000/x/y/sha256" / hex_digest
    assert store.path_for(parse_reference("busybox")) == \
        tmp_path / "index.docker.io/library/busybox/latest"


def test_write_and_read_back(root: Path, tmp_path: Path) -> None:
    store = LayoutStore(root)
    run = store.read(parse_reference(RUN))
    assert run.reference == f"{store.path_for(parse_reference(RUN))}@{run.digest}"
    image = app_image(store, tmp_path)
    refs = [parse_reference(APP), parse_reference("example.com/apps/web:extra")]
    result = store.write(image, refs)
    assert result.saved == (APP, "example.com/apps/web:extra") and not result.failed
    assert result.digest == image.digest()

    stored = store.read(parse_reference(APP))
    assert stored.digest == image.digest() and stored.image.diff_ids == image.diff_ids
    assert stored.image.config == image.config
    path = store.path_for(parse_reference(APP))
    index = json.loads((path / "index.json").read_text())
    assert index["manifests"][0]["annotations"] == {"org.opencontainers.image.ref.name": "latest"}
    assert skopeo_inspect_layout(path, "latest")["Digest"] == image.digest()
    subprocess.run(["umoci", "stat", "--image", f"{path}:latest"], check=True,
                   capture_output=True, timeout=60)
    extra = store.path_for(refs[1])
    assert skopeo_inspect_layout(extra, "extra")["Digest"] == image.digest()
    layer_blob = Path("blobs/sha256", image.layers[-1].digest.split(":")[1])
    assert (extra / layer_blob).stat().st_ino == (path / layer_blob).stat().st_ino  # linked


def test_rewrite_skips_present_blobs(root: Path, tmp_path: Path) -> None:
    store = LayoutStore(root)
    image = app_image(store, tmp_path)
    assert store.write(image, [parse_reference(APP)]).saved
    # Without layer sources, only blobs already in place can let this succeed.
    sourceless = replace(image, layers=tuple(replace(layer, source=None)
                                             for layer in image.layers))
    assert store.write(sourceless, [parse_reference(APP)]).saved == (APP,)


def test_failed_write_leaves_the_old_image(root: Path, tmp_path: Path) -> None:
    store = LayoutStore(root)
    base = store.read(parse_reference(RUN)).image
    assert store.write(base, [parse_reference(APP)]).saved
    path = store.path_for(parse_reference(APP))
    index_before = (path / "index.json").read_bytes()
    broken = failing_layer(b"x" * 1000, 500)
    with pytest.raises(BackendError):
        store.write(mutate.append_layers(base, [(broken, "broken")]), [parse_reference(APP)])
    assert (path / "index.json").read_bytes() == index_before
    assert not [p for p in path.rglob("*") if p.name.endswith(".tmp")]
    assert not (path / "blobs/sha256" / broken.digest.split(":")[1]).exists()
    assert store.read(parse_reference(APP)).digest == base.digest()


def test_reads_a_nested_index_choosing_linux_amd64(tmp_path: Path) -> None:
    manifests = make_index_layout(tmp_path / "oci/example.com/cnb/run/v1", ["arm64", "amd64"])
    stored = LayoutStore(tmp_path / "oci").read(parse_reference(RUN))
    assert stored.digest == manifests["amd64"] and stored.image.architecture == "amd64"


def test_read_access(root: Path) -> None:
    store = LayoutStore(root)
    assert store.check_read_access(parse_reference(RUN)).readable
    missing = store.check_read_access(parse_reference("example.com/cnb/run:v2"))
    assert not missing.readable and "not present in the layout" in missing.reason
    (root / "example.com/cnb/run/v1/index.json").write_text("{not json")
    corrupt = store.check_read_access(parse_reference(RUN))
    assert not corrupt.readable and "unreadable" in corrupt.reason


@pytest.mark.registry
def test_layers_stream_from_a_registry(registries: Registries, tmp_path: Path,
                                       unique: str) -> None:
    ref = f"{registries.one.host}/{unique}/run:v1"
    publish_run_image(tmp_path, [ref])
    image = RegistryStore().read(parse_reference(ref)).image
    store = LayoutStore(tmp_path / "oci")
    assert store.write(image, [parse_reference(APP)]).saved
    path = store.path_for(parse_reference(APP))
    assert skopeo_inspect_layout(path, "latest")["Digest"] == image.digest()
