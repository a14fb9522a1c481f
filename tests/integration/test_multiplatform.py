"""Multi-platform images against the real registry and an OCI layout.

The story: a two-platform run image (linux/amd64 and linux/arm64, each with its own top
layer); the app exported once per platform with ``-index`` into one app index; a new
two-platform run image; one rebaser run rebases both children. Then what must be refused
cleanly: a platform the run image lacks (export, exit 3) or the new run image lacks
(rebase, exit 72, the tag untouched), malformed, duplicate-platform and nested indexes, and
registry faults during an index rebase.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from lifecycle.samplebuild import SampleBuild
from tests.harness.faultproxy import Fault, FaultProxy
from tests.harness.images import (
    make_index_layout,
    make_run_image_layout,
    publish_run_index,
    pull_to_layout,
    skopeo_inspect,
)
from tests.harness.registry import Registries
from tests.harness.services import ensure_commands
from tests.integration.conftest import Result, export_args, run_phase, write_stack

BASE_NAME = "org.opencontainers.image.base.name"
BASE_DIGEST = "org.opencontainers.image.base.digest"
ARCHITECTURES = ("amd64", "arm64")
FAULT_ENV = {"CNB_REGISTRY_RETRY_DELAY": "0.01", "CNB_REGISTRY_TIMEOUT": "1",
             "CNB_REGISTRY_ATTEMPTS": "3", "CNB_REGISTRY_MAX_DELAY": "0.05"}


def report(path: Path) -> dict[str, Any]:
    image: dict[str, Any] = tomllib.loads(path.read_text())["image"]
    return image


def child_manifest(ref: str, digest: str) -> dict[str, Any]:
    repository = ref.rsplit(":", 1)[0] if "@" not in ref else ref.split("@")[0]
    manifest: dict[str, Any] = skopeo_inspect(f"{repository}@{digest}", raw=True)
    return manifest


def child_config(ref: str, digest: str) -> dict[str, Any]:
    repository = ref.rsplit(":", 1)[0]
    config: dict[str, Any] = skopeo_inspect(f"{repository}@{digest}", config=True)
    return config


def children(index: dict[str, Any]) -> dict[str, str]:
    return {m["platform"]["architecture"]: m["digest"] for m in index["manifests"]}


@dataclass(frozen=True)
class RunIndex:
    run: str
    v1: dict[str, str]    # "index" and each architecture's manifest digest
    stack: Path
    app: str              # where the app goes, not written yet


@pytest.fixture
def run_index(registries: Registries, tmp_path: Path, unique: str) -> RunIndex:
    """Run image v1 (amd64 + arm64) on the registry and a stack naming it."""
    run = f"{registries.one.host}/{unique}/run:v1"
    return RunIndex(run, publish_run_index(tmp_path, [run], ARCHITECTURES, "v1"),
                    write_stack(tmp_path / "stack.toml", run, []),
                    f"{registries.one.host}/{unique}/app:latest")


@dataclass(frozen=True)
class Story:
    app: str
    run: str
    v1: dict[str, str]
    stack: Path
    exported: dict[str, Any]   # the app index after both exports
    exported_digest: str
    build: SampleBuild


def export_platform(build: SampleBuild, stack: Path, app: str, platform: str,
                    report_path: Path, *extra: str) -> Result:
    return run_phase("exporter", *export_args(build, stack, "-index", "-platform", platform,
                                              "-report", str(report_path), *extra, app))


@pytest.fixture
def story(run_index: RunIndex, build: SampleBuild, tmp_path: Path) -> Story:
    """The app exported once per platform into one index."""
    for architecture in ARCHITECTURES:
        result = export_platform(build, run_index.stack, run_index.app, f"linux/{architecture}",
                                 tmp_path / f"export-{architecture}.toml")
        assert result.code == 0, result.output
    return Story(run_index.app, run_index.run, run_index.v1, run_index.stack,
                 skopeo_inspect(run_index.app, raw=True),
                 skopeo_inspect(run_index.app)["Digest"], build)


def test_two_exports_build_one_index_each_child_on_its_own_base(story: Story,
                                                                tmp_path: Path) -> None:
    index = story.exported
    assert index["mediaType"] == "application/vnd.oci.image.index.v1+json"
    assert sorted(children(index)) == sorted(ARCHITECTURES)
    for architecture, digest in children(index).items():
        config = child_config(story.app, digest)
        assert config["architecture"] == architecture and config["os"] == "linux"
        base = child_config(story.run, story.v1[architecture])
        assert config["rootfs"]["diff_ids"][:2] == base["rootfs"]["diff_ids"]
        annotations = child_manifest(story.app, digest)["annotations"]
        assert annotations == {BASE_NAME: story.run, BASE_DIGEST: story.v1[architecture]}
        label = json.loads(config["config"]["Labels"]["io.buildpacks.lifecycle.metadata"])
        assert label["runImage"]["reference"].endswith(f"@{story.v1[architecture]}")

    second = report(tmp_path / "export-arm64.toml")
    assert second["digest"] == children(index)["arm64"] and second["platform"] == "linux/arm64"
    (entry,) = second["indexes"]
    assert entry["tag"] == story.app and entry["digest"] == skopeo_inspect(story.app)["Digest"]
    first = report(tmp_path / "export-amd64.toml")["indexes"][0]
    assert entry["previous-digest"] == first["digest"]
    assert [p["platform"] for p in entry["platforms"]] == ["linux/arm64"]
    assert "previous-digest" not in entry["platforms"][0]  # a platform the index did not have
    pull_to_layout(story.app, tmp_path / "pulled")


def test_exporting_a_platform_again_replaces_its_child(story: Story, tmp_path: Path) -> None:
    (story.build.app_dir / "changed.txt").write_text("a change\n")
    result = export_platform(story.build, story.stack, story.app, "linux/arm64",
                             tmp_path / "again.toml")
    assert result.code == 0, result.output
    now = children(skopeo_inspect(story.app, raw=True))
    before = children(story.exported)
    assert now["amd64"] == before["amd64"] and now["arm64"] != before["arm64"]
    (change,) = report(tmp_path / "again.toml")["indexes"][0]["platforms"]
    assert change == {"platform": "linux/arm64", "digest": now["arm64"],
                      "previous-digest": before["arm64"],
                      "run-image": f"{story.run.rsplit(':', 1)[0]}@{story.v1['arm64']}"}


def test_one_rebase_moves_every_child_onto_the_new_run_image(
        registries: Registries, story: Story, tmp_path: Path) -> None:
    v2 = publish_run_index(tmp_path, [story.run], ARCHITECTURES, "v2")
    app_blobs = {layer["digest"] for digest in children(story.exported).values()
                 for layer in child_manifest(story.app, digest)["layers"][2:]}
    gets_before = len(registries.one.blob_requests("GET"))
    result = run_phase("rebaser", "-report", str(tmp_path / "rebase.toml"), story.app)
    assert result.code == 0, result.output
    # No layer data moved: no app layer was downloaded (the registry links them).
    blob_gets = registries.one.blob_requests("GET")[gets_before:]
    assert not [uri for uri in blob_gets if any(blob in uri for blob in app_blobs)]

    index = skopeo_inspect(story.app, raw=True)
    rebased = report(tmp_path / "rebase.toml")
    assert rebased["digest"] == skopeo_inspect(story.app)["Digest"]
    assert rebased["previous-digest"] == story.exported_digest
    old = children(story.exported)
    for architecture, digest in children(index).items():
        config = child_config(story.app, digest)
        new_base = child_config(story.run, v2[architecture])
        assert config["architecture"] == architecture
        assert config["rootfs"]["diff_ids"][:2] == new_base["rootfs"]["diff_ids"]
        assert child_manifest(story.app, digest)["annotations"] == {
            BASE_NAME: story.run, BASE_DIGEST: v2[architecture]}
        change = next(p for p in rebased["platforms"]
                      if p["platform"] == f"linux/{architecture}")
        assert change["digest"] == digest and change["previous-digest"] == old[architecture]
    pull_to_layout(story.app, tmp_path / "pulled")


def test_a_platform_missing_from_the_new_run_image_leaves_the_tag(
        story: Story, tmp_path: Path) -> None:
    publish_run_index(tmp_path, [story.run], ("amd64",), "v2")
    before = skopeo_inspect(story.app)["Digest"]
    result = run_phase("rebaser", "-report", str(tmp_path / "rebase.toml"), story.app)
    assert result.code == 72
    assert "has no image for platform linux/arm64 (it has: linux/amd64)" in result.stderr
    assert result.stderr.count("ERROR") == 1
    assert skopeo_inspect(story.app)["Digest"] == before
    assert not (tmp_path / "rebase.toml").exists()


def test_a_single_platform_export_from_an_index_run_image(run_index: RunIndex,
                                                         build: SampleBuild) -> None:
    run, digests, stack, app = run_index.run, run_index.v1, run_index.stack, run_index.app
    result = run_phase("exporter", *export_args(build, stack, "-platform", "linux/arm64", app))
    assert result.code == 0, result.output
    manifest = skopeo_inspect(app, raw=True)
    assert manifest["mediaType"] == "application/vnd.oci.image.manifest.v1+json"
    assert manifest["annotations"] == {BASE_NAME: run, BASE_DIGEST: digests["arm64"]}
    assert skopeo_inspect(app, config=True)["architecture"] == "arm64"

    default = run_phase("exporter", *export_args(build, stack, app))
    assert default.code == 0, default.output
    assert skopeo_inspect(app, raw=True)["annotations"][BASE_DIGEST] == digests["amd64"]

    before = skopeo_inspect(app)["Digest"]
    missing = run_phase("exporter", *export_args(build, stack, "-platform", "linux/s390x", app))
    assert missing.code == 3
    assert (f"image '{run}' has no image for platform linux/s390x "
            "(it has: linux/amd64, linux/arm64)") in missing.stderr
    assert skopeo_inspect(app)["Digest"] == before


def test_a_tag_holding_a_single_image_becomes_an_index_containing_it(
        run_index: RunIndex, build: SampleBuild, tmp_path: Path) -> None:
    digests, stack, app = run_index.v1, run_index.stack, run_index.app
    assert run_phase("exporter", *export_args(build, stack, app)).code == 0
    single = skopeo_inspect(app)["Digest"]
    result = export_platform(build, stack, app, "linux/arm64", tmp_path / "r.toml")
    assert result.code == 0, result.output
    now = children(skopeo_inspect(app, raw=True))
    assert now["amd64"] == single
    assert child_manifest(app, now["arm64"])["annotations"][BASE_DIGEST] == digests["arm64"]


def test_index_is_refused_with_the_daemon(build: SampleBuild, tmp_path: Path) -> None:
    stack = write_stack(tmp_path / "stack.toml", "example.com/run:v1", [])
    result = run_phase("exporter", *export_args(build, stack, "-daemon", "-index",
                                                "example.com/app:latest"))
    assert result.code == 3
    assert "-index" in result.stderr and "-daemon" in result.stderr
    assert result.stderr.count("\n") == 1


def test_a_malformed_platform_is_refused(build: SampleBuild, tmp_path: Path) -> None:
    stack = write_stack(tmp_path / "stack.toml", "example.com/run:v1", [])
    result = run_phase("exporter", *export_args(build, stack, "-platform", "linux",
                                                "example.com/app:latest"))
    assert result.code == 3
    assert "'linux' is not a platform of the form os/arch[/variant]" in result.stderr


def test_rebase_many_over_single_images_and_indexes(
        registries: Registries, story: Story, tmp_path: Path, unique: str) -> None:
    single = f"{registries.one.host}/{unique}/single:latest"
    stack = write_stack(tmp_path / "single-stack.toml", story.run, [])
    assert run_phase("exporter", *export_args(story.build, stack, single)).code == 0
    v2 = publish_run_index(tmp_path, [story.run], ARCHITECTURES, "v2")
    listing = tmp_path / "images.txt"
    listing.write_text(f"{story.app}\n{single}\n")
    result = run_phase("rebasemany", "-report", str(tmp_path / "many.toml"), str(listing))
    assert result.code == 0, result.output
    entries = {e["name"]: e for e in tomllib.loads((tmp_path / "many.toml").read_text())["images"]}
    assert entries[single]["digest"] == skopeo_inspect(single)["Digest"]
    assert skopeo_inspect(single, raw=True)["annotations"][BASE_DIGEST] == v2["amd64"]
    assert entries[story.app]["digest"] == skopeo_inspect(story.app)["Digest"]
    index = skopeo_inspect(story.app, raw=True)
    assert {p["platform"]: p["digest"] for p in entries[story.app]["platforms"]} == {
        f"linux/{arch}": digest for arch, digest in children(index).items()}
    for architecture, digest in children(index).items():
        assert child_manifest(story.app, digest)["annotations"][BASE_DIGEST] == v2[architecture]


# -- registry faults during an index rebase --------------------------------------------------

@pytest.fixture
def proxied(registries: Registries) -> Iterator[FaultProxy]:
    proxy = FaultProxy(registries.one.port, stall_seconds=2.5)
    yield proxy
    proxy.stop()


@pytest.mark.parametrize(("kind", "effect", "times", "arm64_child"), [
    ("manifest-put", "503", 1, False), ("manifest-put", "503", 1000, False),
    ("manifest-put", "reset", 1000, False), ("upload-post", "503", 1000, False),
    ("manifest-get", "reset", 1000, False), ("manifest-get", "503", 1000, True)])
def test_registry_faults_during_an_index_rebase_leave_the_old_tag(
        registries: Registries, story: Story, proxied: FaultProxy, tmp_path: Path,
        kind: str, effect: str, times: int, arm64_child: bool) -> None:
    """A fault in every request of a kind, or (``arm64_child``) only in the reads of the
    app's arm64 child, while the amd64 child is rebased as usual."""
    publish_run_index(tmp_path, [story.run], ARCHITECTURES, "v2")
    through_proxy = story.app.replace(registries.one.host, proxied.host)
    before = skopeo_inspect(story.app)["Digest"]
    path = children(story.exported)["arm64"] if arm64_child else ""
    proxied.inject(Fault(kind, effect, times, path_contains=path))
    result = run_phase("rebaser", "-report", str(tmp_path / "rebase.toml"), through_proxy,
                       env=FAULT_ENV)
    assert proxied.injected, f"no {kind} request was made: the scenario tests nothing"
    proxied.clear()
    if times == 1:
        assert result.code == 0, result.output
        assert skopeo_inspect(story.app)["Digest"] == report(tmp_path / "rebase.toml")["digest"]
    else:
        assert result.code == 72, result.output
        assert result.stderr.count("ERROR") == 1
        assert not arm64_child or "(linux/arm64)" in result.stderr, result.stderr
        assert skopeo_inspect(story.app)["Digest"] == before
        assert not (tmp_path / "rebase.toml").exists()
    pull_to_layout(story.app, tmp_path / "pulled")


# -- an OCI layout ---------------------------------------------------------------------------

LAYOUT_APP = "example.com/apps/web:latest"
LAYOUT_RUN = "example.com/cnb/run:v1"


def place_index(layout: Path, architectures: tuple[str, ...], version: str) -> dict[str, str]:
    target = layout / "example.com/cnb/run/v1"
    shutil.rmtree(target, ignore_errors=True)
    return make_index_layout(target, architectures, version, distinct=True)


def layout_inspect(path: Path, *options: str) -> dict[str, Any]:
    result = subprocess.run(["skopeo", "inspect", *options, f"oci:{path}"], check=True,
                            capture_output=True, text=True, timeout=60)
    value: dict[str, Any] = json.loads(result.stdout)
    return value


def layout_index(layout: Path, ref_path: str) -> dict[str, Any]:
    directory = layout / ref_path
    top = json.loads((directory / "index.json").read_text())["manifests"][0]
    index: dict[str, Any] = json.loads(
        (directory / "blobs/sha256" / top["digest"].split(":")[1]).read_text())
    return index


def layout_blob(layout: Path, ref_path: str, digest: str) -> dict[str, Any]:
    value: dict[str, Any] = json.loads(
        (layout / ref_path / "blobs/sha256" / digest.split(":")[1]).read_text())
    return value


@pytest.fixture(scope="module", autouse=True)
def tools() -> None:
    ensure_commands(["skopeo"], ["skopeo"])


def test_export_per_platform_and_rebase_in_a_layout(build: SampleBuild, tmp_path: Path) -> None:
    layout = tmp_path / "oci"
    v1 = place_index(layout, ARCHITECTURES, "v1")
    stack = write_stack(tmp_path / "stack.toml", LAYOUT_RUN, [])
    for architecture in ARCHITECTURES:
        result = export_platform(build, stack, LAYOUT_APP, f"linux/{architecture}",
                                 tmp_path / f"{architecture}.toml", "-layout", "-layout-dir",
                                 str(layout))
        assert result.code == 0, result.output
    app_path = "example.com/apps/web/latest"
    exported = layout_index(layout, app_path)
    for architecture, digest in children(exported).items():
        manifest = layout_blob(layout, app_path, digest)
        assert manifest["annotations"] == {BASE_NAME: LAYOUT_RUN, BASE_DIGEST: v1[architecture]}
        assert layout_blob(layout, app_path, manifest["config"]["digest"])["architecture"] == \
            architecture

    v2 = place_index(layout, ARCHITECTURES, "v2")
    rebased = run_phase("rebaser", "-layout", "-layout-dir", str(layout), "-report",
                        str(tmp_path / "rebase.toml"), LAYOUT_APP)
    assert rebased.code == 0, rebased.output
    index = layout_index(layout, app_path)
    for architecture, digest in children(index).items():
        manifest = layout_blob(layout, app_path, digest)
        assert manifest["annotations"][BASE_DIGEST] == v2[architecture]
        config = layout_blob(layout, app_path, manifest["config"]["digest"])
        base = layout_blob(layout, "example.com/cnb/run/v1",
                           layout_blob(layout, "example.com/cnb/run/v1",
                                       v2[architecture])["config"]["digest"])
        assert config["rootfs"]["diff_ids"][:2] == base["rootfs"]["diff_ids"]
    assert report(tmp_path / "rebase.toml")["previous-digest"] == \
        report(tmp_path / "arm64.toml")["indexes"][0]["digest"]
    # skopeo reads the app as any OCI layout: every blob present and matching its digest
    subprocess.run(["skopeo", "copy", "--quiet", "--all", f"oci:{layout / app_path}:latest",
                    f"oci:{tmp_path / 'copy'}:x"], check=True, capture_output=True, timeout=120)

    place_index(layout, ("amd64",), "v3")
    before = (layout / app_path / "index.json").read_bytes()
    missing = run_phase("rebaser", "-layout", "-layout-dir", str(layout), LAYOUT_APP,
                        "-report", str(tmp_path / "missing.toml"))
    assert missing.code == 72 and "platform linux/arm64" in missing.stderr
    assert (layout / app_path / "index.json").read_bytes() == before


def write_index_layout(target: Path, manifests: list[dict[str, Any]]) -> None:
    """A layout whose ``latest`` is the given index over one real image's blobs."""
    make_run_image_layout(target, "v1")
    top = json.loads((target / "index.json").read_text())["manifests"][0]
    index = json.dumps({"schemaVersion": 2,
                        "mediaType": "application/vnd.oci.image.index.v1+json",
                        "manifests": [{**top, **m} for m in manifests]}).encode()
    digest = "sha256:" + hashlib.sha256(index).hexdigest()
    (target / "blobs/sha256" / digest.split(":")[1]).write_bytes(index)
    (target / "index.json").write_text(json.dumps({"schemaVersion": 2, "manifests": [{
        "mediaType": "application/vnd.oci.image.index.v1+json", "digest": digest,
        "size": len(index), "annotations": {"org.opencontainers.image.ref.name": "latest"}}]}))


AMD64 = {"platform": {"os": "linux", "architecture": "amd64"}}


@pytest.mark.parametrize(("manifests", "message"), [
    ([AMD64, AMD64], "lists platform linux/amd64 more than once"),
    ([{**AMD64, "mediaType": "application/vnd.oci.image.index.v1+json"}], "is a nested index"),
    ([{**AMD64, "size": "big"}], "manifest 1 has no valid size"),
    ([{"platform": {"os": "linux"}}], "a platform needs an os and an architecture"),
], ids=["duplicate", "nested", "malformed-size", "malformed-platform"])
def test_unusable_run_image_indexes_are_refused_naming_the_image(
        build: SampleBuild, tmp_path: Path, manifests: list[dict[str, Any]],
        message: str) -> None:
    layout = tmp_path / "oci"
    write_index_layout(layout / "example.com/cnb/run/v1", manifests)
    stack = write_stack(tmp_path / "stack.toml", LAYOUT_RUN, [])
    result = run_phase("exporter", *export_args(build, stack, "-layout", "-layout-dir",
                                                str(layout), LAYOUT_APP))
    assert result.code in (3, 62), result.output
    (line,) = [line for line in result.stderr.splitlines() if line.startswith("ERROR: ")]
    assert message in line and "example.com/cnb/run:v1" in line, line
    assert not (layout / "example.com/apps").exists()


def test_a_single_arm64_run_image_is_refused_for_amd64(build: SampleBuild,
                                                       tmp_path: Path) -> None:
    layout = tmp_path / "oci"
    make_run_image_layout(layout / "example.com/cnb/run/v1", architecture="arm64")
    stack = write_stack(tmp_path / "stack.toml", LAYOUT_RUN, [])
    result = run_phase("exporter", *export_args(build, stack, "-layout", "-layout-dir",
                                                str(layout), "-platform", "linux/amd64",
                                                LAYOUT_APP))
    assert result.code == 3
    assert "has no image for platform linux/amd64 (it has: linux/arm64)" in result.stderr


def test_inspect_image_shows_each_platform_of_an_app_index(story: Story) -> None:
    result = run_phase("inspect", "-json", story.app)
    assert result.code == 0, result.output
    document = json.loads(result.stdout)
    assert document["index"]["digest"] == story.exported_digest
    described = {child["platform"]["architecture"]: child for child in document["platforms"]}
    assert sorted(described) == sorted(ARCHITECTURES)
    for architecture, child in described.items():
        assert child["reference"].endswith(f"@{children(story.exported)[architecture]}")
        assert child["runImage"]["reference"].endswith(f"@{story.v1[architecture]}")
        assert child["baseAnnotations"] == {BASE_NAME: story.run,
                                            BASE_DIGEST: story.v1[architecture]}
        assert child["selection"]["chosen"] == story.run
    text = run_phase("inspect", story.app)
    assert text.code == 0, text.output
    assert "platforms: linux/amd64, linux/arm64" in text.stdout
    assert "== linux/arm64 ==" in text.stdout and story.v1["arm64"] in text.stdout
