"""Multi-platform images in the phases, against the in-memory store: the exporter's choice of
the run image's child and ``-index``; the rebaser's app indexes, every child onto the new run
image's child of its platform, the index written last, a missing platform refused with the
index untouched. The same stories run against the real registry and a layout in
tests/integration/test_multiplatform.py."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pytest

from lifecycle import cli, exporter, rebaser
from lifecycle.image import mutate
from lifecycle.image.index import ImageIndex, IndexChild
from lifecycle.image.model import Image
from lifecycle.platform.files import LIFECYCLE_LABEL, labels_json
from lifecycle.record import replace
from lifecycle.reference import parse_reference
from lifecycle.samplebuild import SampleBuild, write_sample_build
from tests.unit.memory_store import MemoryStore
from tests.unit.test_phases import run_image

APP = "reg.io/apps/web:latest"
RUN = "reg.io/run:v1"


@pytest.fixture
def store(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> MemoryStore:
    memory = MemoryStore()
    monkeypatch.setattr(cli, "open_store", lambda target, connections: memory)
    for key in ("CNB_RUN_IMAGE", "CNB_PLATFORM_API", "SOURCE_DATE_EPOCH", "CNB_STACK_PATH",
                "CNB_MIRRORS_PATH"):
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


# -- exporter ---------------------------------------------------------------------------------

@pytest.fixture
def build(tmp_path: Path) -> SampleBuild:
    return write_sample_build(tmp_path / "build")


def export(build: SampleBuild, *args: str) -> int:
    return exporter.main(["-run-image", RUN, "-layers", str(build.layers_dir),
                          "-app", str(build.app_dir), "-group", str(build.group_path), *args,
                          APP])


def two_platform_run_image(store: MemoryStore, tmp_path: Path) -> list[Image]:
    bases = [for_arch(run_image(tmp_path, "v1"), arch) for arch in ("amd64", "arm64")]
    publish_index(store, RUN, bases)
    return bases


def test_export_builds_on_the_child_for_the_platform(store: MemoryStore, build: SampleBuild,
                                                     tmp_path: Path) -> None:
    bases = two_platform_run_image(store, tmp_path)
    assert export(build, "-platform", "linux/arm64") == 0
    image = store.images[parse_reference(APP).name]
    assert image.architecture == "arm64" and image.diff_ids[:1] == bases[1].diff_ids
    assert image.annotations == {"org.opencontainers.image.base.name": RUN,
                                 "org.opencontainers.image.base.digest": bases[1].digest()}
    assert export(build) == 0  # no platform asked: linux/amd64, as before
    assert store.images[parse_reference(APP).name].architecture == "amd64"


@pytest.mark.parametrize(("api", "architecture"), [("0.12", "arm64"), ("0.11", "amd64")])
def test_analyzed_run_image_target_names_the_platform_from_0_12(
        store: MemoryStore, build: SampleBuild, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch, api: str, architecture: str) -> None:
    two_platform_run_image(store, tmp_path)
    (build.layers_dir / "analyzed.toml").write_text(
        f'[run-image]\nreference = "{RUN}"\n[run-image.target]\nos = "linux"\n'
        'arch = "arm64"\n')
    monkeypatch.setenv("CNB_PLATFORM_API", api)
    assert export(build) == 0
    assert store.images[parse_reference(APP).name].architecture == architecture


def test_a_platform_the_run_image_lacks_is_exit_3_listing_what_it_has(
        store: MemoryStore, build: SampleBuild, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    two_platform_run_image(store, tmp_path)
    assert export(build, "-platform", "linux/s390x") == 3
    assert (f"image '{RUN}' has no image for platform linux/s390x (it has: linux/amd64, "
            "linux/arm64)") in capsys.readouterr().err
    assert parse_reference(APP).name not in store.images


def test_two_exports_with_index_make_one_index_and_a_third_replaces_a_child(
        store: MemoryStore, build: SampleBuild, tmp_path: Path) -> None:
    bases = two_platform_run_image(store, tmp_path)
    assert export(build, "-index", "-platform", "linux/amd64") == 0
    assert export(build, "-index", "-platform", "linux/arm64") == 0
    index = store.indexes[parse_reference(APP).name]
    assert [str(c.platform) for c in index.children] == ["linux/amd64", "linux/arm64"]
    arm = index.children[1].digest
    assert store.manifests[arm].annotations[
        "org.opencontainers.image.base.digest"] == bases[1].digest()
    report = tomllib.loads((build.layers_dir / "report.toml").read_text())["image"]
    assert report["digest"] == arm and report["platform"] == "linux/arm64"
    assert report["indexes"][0]["digest"] == index.digest()

    (build.app_dir / "new.txt").write_text("changed\n")
    assert export(build, "-index", "-platform", "linux/arm64") == 0
    again = store.indexes[parse_reference(APP).name]
    assert again.children[0] == index.children[0] and again.children[1].digest != arm
    change = tomllib.loads((build.layers_dir / "report.toml").read_text())["image"][
        "indexes"][0]["platforms"][0]
    assert change["previous-digest"] == arm


def test_json_log_carries_each_platform_and_the_index(store: MemoryStore, tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    before, _ = two_platform_story(store, tmp_path)
    assert rebaser.main(["-log-format", "json", APP]) == 0
    events = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    after = store.indexes[parse_reference(APP).name]
    platforms = [e for e in events if "platform" in e and "digest" in e]
    assert [(e["platform"], e["digest"], e["previous_digest"]) for e in platforms] == [
        (str(old.platform), now.digest, old.digest)
        for old, now in zip(before.children, after.children, strict=True)]
    (index,) = [e for e in events if "index_digest" in e]
    assert index["index_digest"] == after.digest()
    assert index["previous_index_digest"] == before.digest()


def test_the_index_keeps_its_own_fields_and_each_childs_annotations(
        store: MemoryStore, tmp_path: Path) -> None:
    before, _ = two_platform_story(store, tmp_path)
    annotated = ImageIndex(
        tuple(replace(child, annotations={"org.example.child": str(n)})
              for n, child in enumerate(before.children)),
        before.media_type, {"annotations": {"org.opencontainers.image.title": "web"}})
    store.indexes[parse_reference(APP).name] = annotated
    assert rebaser.main([APP]) == 0
    after = store.indexes[parse_reference(APP).name]
    assert after.other == {"annotations": {"org.opencontainers.image.title": "web"}}
    assert [c.annotations for c in after.children] == [{"org.example.child": "0"},
                                                       {"org.example.child": "1"}]
    assert [c.digest for c in after.children] != [c.digest for c in before.children]
