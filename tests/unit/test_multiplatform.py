"""App indexes in the rebaser, against the in-memory store: every child onto the new run
image's child of its platform, the index written last, a missing platform refused with the
index untouched. The same stories run against the real registry and a layout in
tests/integration/test_multiplatform.py."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pytest

from lifecycle import rebaser
from lifecycle.image import mutate
from lifecycle.image.index import ImageIndex, IndexChild
from lifecycle.image.model import Image
from lifecycle.platform.files import LIFECYCLE_LABEL, labels_json
from lifecycle.reference import parse_reference
from tests.unit.memory_store import MemoryStore
from tests.unit.test_phases import run_image

APP = "reg.io/apps/web:latest"
RUN = "reg.io/run:v1"


@pytest.fixture
def store(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> MemoryStore:
    memory = MemoryStore()
    monkeypatch.setattr(rebaser, "open_store", lambda target: memory)
    for key in ("CNB_RUN_IMAGE", "CNB_PLATFORM_API", "SOURCE_DATE_EPOCH"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("CNB_LAYERS_DIR", str(tmp_path))
    return memory


def for_arch(image: Image, architecture: str) -> Image:
    return Image({**image.config, "architecture": architecture}, image.layers)


def publish_index(store: MemoryStore, name: str, images: list[Image]) -> ImageIndex:
    for image in images:
        store.manifests[image.digest()] = image
    index = ImageIndex(tuple(IndexChild.for_image(image) for image in images))
    store.indexes[parse_reference(name).name] = index
    return index


def app_on(base: Image) -> Image:
    """An app image on ``base`` with a lifecycle label naming the run image."""
    label = {"runImage": {"topLayer": base.top_layer, "reference": f"reg.io/run@{base.digest()}",
                          "image": RUN}, "stack": {"runImage": {"image": RUN}}}
    app = mutate.append_layers(base, [(base.layers[0], "app")])  # any layer will do
    return mutate.set_labels(app, {LIFECYCLE_LABEL: labels_json(label)})


def two_platform_story(store: MemoryStore, tmp_path: Path) -> tuple[ImageIndex, list[Image]]:
    old = [for_arch(run_image(tmp_path, "v1"), arch) for arch in ("amd64", "arm64")]
    new = [for_arch(run_image(tmp_path, "v2"), arch) for arch in ("amd64", "arm64")]
    app = publish_index(store, APP, [app_on(base) for base in old])
    publish_index(store, RUN, new)
    return app, new


def test_every_child_is_rebased_onto_its_platform_and_the_index_keeps_its_order(
        store: MemoryStore, tmp_path: Path) -> None:
    before, new = two_platform_story(store, tmp_path)
    assert rebaser.main([APP]) == 0
    after = store.indexes[parse_reference(APP).name]
    assert [str(c.platform) for c in after.children] == ["linux/amd64", "linux/arm64"]
    for child, base in zip(after.children, new, strict=True):
        image = store.manifests[child.digest]
        assert image.architecture == base.architecture
        assert image.diff_ids[:1] == base.diff_ids
        assert image.annotations == {"org.opencontainers.image.base.name": RUN,
                                     "org.opencontainers.image.base.digest": base.digest()}
        label = json.loads(image.labels[LIFECYCLE_LABEL])
        assert label["runImage"]["reference"] == f"reg.io/run@{base.digest()}"
    report = tomllib.loads((tmp_path / "report.toml").read_text())["image"]
    assert report["digest"] == after.digest() and report["previous-digest"] == before.digest()
    assert report["platforms"] == [
        {"platform": str(old.platform), "digest": now.digest, "previous-digest": old.digest,
         "run-image": f"reg.io/run@{base.digest()}"}
        for old, now, base in zip(before.children, after.children, new, strict=True)]


def test_a_platform_the_new_run_image_lacks_is_refused_and_the_index_untouched(
        store: MemoryStore, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    before, new = two_platform_story(store, tmp_path)
    publish_index(store, RUN, new[:1])
    assert rebaser.main([APP]) == 72
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "has no image for platform linux/arm64 (it has: linux/amd64)" in err
    assert store.indexes[parse_reference(APP).name] == before
    assert not (tmp_path / "report.toml").exists()


def test_a_single_image_is_rebased_onto_the_child_of_its_own_platform(
        store: MemoryStore, tmp_path: Path) -> None:
    old = for_arch(run_image(tmp_path, "v1"), "arm64")
    new = [for_arch(run_image(tmp_path, "v2"), arch) for arch in ("amd64", "arm64")]
    store.write(app_on(old), [parse_reference(APP)])
    publish_index(store, RUN, new)
    assert rebaser.main([APP]) == 0
    rebased = store.images[parse_reference(APP).name]
    assert rebased.architecture == "arm64" and rebased.diff_ids[:1] == new[1].diff_ids
    assert rebased.annotations["org.opencontainers.image.base.digest"] == new[1].digest()
