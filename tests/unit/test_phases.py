"""Exporter and rebaser logic against an in-memory store (fast; no services).

The same behaviours are exercised end to end against the real registry, daemon and layout
in tests/integration; here the focus is on labels, reuse decisions, checks and errors.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from lifecycle import archive, cli, exporter, rebaser
from lifecycle.image import mutate
from lifecycle.image.model import Image
from lifecycle.platform.api import PlatformAPI, features_for
from lifecycle.platform.files import LIFECYCLE_LABEL
from lifecycle.reference import parse_reference
from lifecycle.samplebuild import SampleBuild, write_sample_build
from tests.unit.memory_store import MemoryStore

APP = "reg.io/apps/web:latest"
STACK = ('[run-image]\nimage = "canonical.io/run:v1"\n'
         'mirrors = ["other.io/run:v1", "reg.io/run:v1"]\n')
RUN = ('[[images]]\nimage = "canonical.io/run:v1"\n'
       'mirrors = ["other.io/run:v1", "reg.io/run:v1"]\n')


def run_image(tmp_path: Path, version: str, stack_id: str = "io.example.stack") -> Image:
    scratch = tmp_path / f"run-{version}-{stack_id}"
    scratch.mkdir(exist_ok=True)
    (scratch / "version").write_text(version)
    layer = archive.write_layer(
        [archive.TarEntry("/etc", archive.EntryKind.DIRECTORY, 0o755),
         archive.TarEntry("/etc/version", archive.EntryKind.FILE, 0o644,
                          source=scratch / "version", size=len(version))], scratch, True)
    base = Image({"architecture": "amd64", "os": "linux",
                  "config": {"Env": ["PATH=/bin"],
                             "Labels": {"io.buildpacks.stack.id": stack_id,
                                        "io.buildpacks.stack.version": version}}}, ())
    return mutate.append_layers(base, [(layer, f"run {version}")])


def publish(store: MemoryStore, image: Image, *names: str) -> None:
    store.write(image, [parse_reference(name) for name in names])


@pytest.fixture
def build(tmp_path: Path) -> SampleBuild:
    (tmp_path / "stack.toml").write_text(STACK)
    (tmp_path / "run.toml").write_text(RUN)
    return write_sample_build(tmp_path / "build")


def export(build: SampleBuild, *args: str, image: str = APP) -> int:
    """The exporter with the run images of the run file from platform API 0.12, else of the
    stack file (``CNB_PLATFORM_API`` unset: 0.3)."""
    api = PlatformAPI.parse(os.environ.get("CNB_PLATFORM_API") or "0.3")
    names = ["-run", "run.toml"] if features_for(api).run_toml else ["-stack", "stack.toml"]
    names[1] = str(build.layers_dir.parent.parent / names[1])
    return exporter.main([*names, "-layers", str(build.layers_dir),
                          "-app", str(build.app_dir), "-group", str(build.group_path),
                          *args, image])


def label_of(store: MemoryStore, name: str = APP) -> dict[str, object]:
    image = store.images[parse_reference(name).name]
    result: dict[str, object] = json.loads(image.labels[LIFECYCLE_LABEL])
    return result


def test_export_selects_mirror_and_stamps_label(store: MemoryStore, build: SampleBuild,
                                                tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("CNB_PLATFORM_API", "0.12")
    v1 = run_image(tmp_path, "v1")
    publish(store, v1, "canonical.io/run:v1", "reg.io/run:v1")
    assert export(build) == 0
    out = capsys.readouterr().out
    assert "Selected run image 'reg.io/run:v1': first readable candidate on the target" in out
    assert "other.io/run:v1 (on other.io): not checked" in out

    label = label_of(store)
    assert list(label) == ["app", "buildpacks", "config", "launcher", "process-types",
                           "runImage", "stack"]
    assert label["runImage"] == {
        "topLayer": v1.top_layer, "reference": f"reg.io/run@{v1.digest()}",
        "image": "canonical.io/run:v1", "mirrors": ["other.io/run:v1", "reg.io/run:v1"]}
    assert label["stack"] == {"runImage": {"image": "canonical.io/run:v1",
                                           "mirrors": ["other.io/run:v1", "reg.io/run:v1"]}}
    app = store.images[parse_reference(APP).name]
    assert app.diff_ids[0] == v1.diff_ids[0]
    buildpacks = label["buildpacks"]
    assert isinstance(buildpacks, list)
    assert buildpacks[0]["key"] == "examples/hello"
    assert buildpacks[0]["layers"]["hello"]["launch"] is True
    assert buildpacks[0]["layers"]["hello"]["data"] == {"version": "1.0"}
    assert buildpacks[0]["store"] == {"metadata": {"builds": 1}}
    assert buildpacks[1] == {"key": "examples_cache", "version": "1.2.3", "layers": {}}
    assert len(label["app"]) == 2  # type: ignore[arg-type]  # static slice + the rest
    config = app.image_config
    assert config["Entrypoint"] == ["/cnb/process/web"]
    assert "Cmd" not in config and config["WorkingDir"] == str(build.app_dir)
    assert f"CNB_LAYERS_DIR={build.layers_dir}" in config["Env"]
    assert "PATH=/cnb/process:/cnb/lifecycle:/bin" in config["Env"]
    assert config["Labels"]["io.buildpacks.stack.id"] == "io.example.stack"
    assert app.config["created"] == "1980-01-01T00:00:01Z"
    assert [h.get("created_by") for h in app.config["history"]][1:] == [
        "Layer: 'hello', Created by buildpack: examples/hello@0.0.1", "Application Slice: 1",
        "Application Slice: 2", "Buildpacks Application Launcher", "Buildpacks Launcher Config",
        "Buildpacks Process Types"]


def test_canonical_fallback_when_no_mirror_on_target(store: MemoryStore, build: SampleBuild,
                                                     tmp_path: Path) -> None:
    publish(store, run_image(tmp_path, "v1"), "canonical.io/run:v1", "other.io/run:v1")
    assert export(build, image="third.io/app") == 0
    assert label_of(store, "third.io/app")["runImage"]["reference"].startswith(  # type: ignore[index]
        "canonical.io/run@")


def test_unreadable_mirror_on_target_is_skipped(store: MemoryStore, build: SampleBuild,
                                                tmp_path: Path) -> None:
    publish(store, run_image(tmp_path, "v1"), "canonical.io/run:v1", "reg.io/run:v1")
    store.denied.add("reg.io/run:v1")
    assert export(build) == 0
    assert label_of(store)["runImage"]["reference"].startswith(  # type: ignore[index]
        "canonical.io/run@")


def test_no_readable_run_image_is_exit_3_listing_candidates(
        store: MemoryStore, build: SampleBuild, capsys: pytest.CaptureFixture[str]) -> None:
    assert export(build) == 3
    err = capsys.readouterr().err
    assert "ERROR: failed to select run image: no run image is readable: canonical.io/run:v1: "\
        "not found; other.io/run:v1: not found; reg.io/run:v1: not found" in err
    assert store.images == {}


def test_explicit_run_image_wins_but_label_records_stack(store: MemoryStore, build: SampleBuild,
                                                         tmp_path: Path) -> None:
    publish(store, run_image(tmp_path, "v1"), "reg.io/run:v1")
    publish(store, run_image(tmp_path, "custom"), "custom.io/run:x")
    assert export(build, "-runImage", "custom.io/run:x") == 0
    label = label_of(store)
    assert label["runImage"]["reference"].startswith("custom.io/run@")  # type: ignore[index]
    assert label["stack"]["runImage"]["image"] == "canonical.io/run:v1"  # type: ignore[index]


def test_second_export_reuses_every_layer(store: MemoryStore, build: SampleBuild,
                                          tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    publish(store, run_image(tmp_path, "v1"), "reg.io/run:v1")
    assert export(build) == 0
    first = store.images[parse_reference(APP).name]
    uploads = len(store.uploaded)
    capsys.readouterr()
    assert export(build) == 0
    out = capsys.readouterr().out
    assert len(store.uploaded) == uploads
    assert "Adding layer" not in out and "Reusing layer 'buildpacksio/lifecycle:config'" in out
    assert "Reused 2/2 app layer(s)" in out
    assert store.images[parse_reference(APP).name].digest() == first.digest()


def test_changed_app_file_is_noticed(store: MemoryStore, build: SampleBuild,
                                     tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    publish(store, run_image(tmp_path, "v1"), "reg.io/run:v1")
    assert export(build) == 0
    (build.app_dir / "message.txt").write_text("hi therf\n")
    capsys.readouterr()
    assert export(build) == 0
    assert "Adding layer 'slice-2'" in capsys.readouterr().out


def test_unwritable_report_is_a_clean_export_failure(
        store: MemoryStore, build: SampleBuild, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    publish(store, run_image(tmp_path, "v1"), "reg.io/run:v1")
    (tmp_path / "file").write_text("")
    assert export(build, "-report", str(tmp_path / "file" / "report.toml")) == 62
    assert "failed to write export report" in capsys.readouterr().err


def test_reproducible_across_stores(monkeypatch: pytest.MonkeyPatch, build: SampleBuild,
                                    tmp_path: Path) -> None:
    digests = []
    for _ in range(2):
        memory = MemoryStore()
        monkeypatch.setattr(cli, "open_store", lambda target, connections, m=memory: m)
        publish(memory, run_image(tmp_path, "v1"), "reg.io/run:v1")
        assert export(build) == 0
        digests.append(memory.images[parse_reference(APP).name].digest())
    assert digests[0] == digests[1]


def test_toml_only_layer_is_reused_from_previous_image(store: MemoryStore, build: SampleBuild,
                                                       tmp_path: Path) -> None:
    publish(store, run_image(tmp_path, "v1"), "reg.io/run:v1")
    assert export(build) == 0
    sha = label_of(store)["buildpacks"][0]["layers"]["hello"]["sha"]  # type: ignore[index]
    layer_dir = build.layers_dir / "examples_hello" / "hello"
    layer_dir.rename(tmp_path / "moved")
    assert export(build) == 0
    assert label_of(store)["buildpacks"][0]["layers"]["hello"]["sha"] == sha  # type: ignore[index]


@pytest.mark.parametrize(("toml", "message"), [
    ("[types]\nlaunch = true\n", "cannot reuse 'examples/hello:extra', previous image has no "
                                 "metadata for layer 'examples/hello:extra'"),
    ("[types]\nlaunch = true\ncache = true\n",
     "layer 'examples/hello:extra' is cache=true but has no contents"),
])
def test_layer_without_contents_errors(store: MemoryStore, build: SampleBuild, tmp_path: Path,
                                       capsys: pytest.CaptureFixture[str], toml: str,
                                       message: str) -> None:
    publish(store, run_image(tmp_path, "v1"), "reg.io/run:v1")
    (build.layers_dir / "examples_hello" / "extra.toml").write_text(toml)
    assert export(build) == 62
    assert message in capsys.readouterr().err
    assert parse_reference(APP).name not in store.images


def test_unknown_process_type_fails_before_anything_is_written(
        store: MemoryStore, build: SampleBuild, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    publish(store, run_image(tmp_path, "v1"), "reg.io/run:v1")
    assert export(build, "-process-type", "worker") == 62
    assert "tried to set worker to default but it doesn't exist" in capsys.readouterr().err
    assert store.uploaded == [store.images["reg.io/run:v1"].layers[0].digest]


# -- rebaser ---------------------------------------------------------------------------------

@pytest.fixture
def exported(store: MemoryStore, build: SampleBuild, tmp_path: Path) -> Image:
    publish(store, run_image(tmp_path, "v1"), "canonical.io/run:v1", "reg.io/run:v1")
    assert export(build) == 0
    return store.images[parse_reference(APP).name]



def test_rebase_scenario_1_uses_recorded_mirror(store: MemoryStore, exported: Image,
                                                tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("CNB_LAYERS_DIR", str(tmp_path))
    v2 = run_image(tmp_path, "v2")
    publish(store, v2, "canonical.io/run:v1", "reg.io/run:v1")
    assert rebaser.main([APP]) == 0
    assert "Selected run image 'reg.io/run:v1'" in capsys.readouterr().out
    rebased = store.images[parse_reference(APP).name]
    assert rebased.diff_ids[0] == v2.diff_ids[0]
    assert rebased.diff_ids[1:] == exported.diff_ids[1:]
    label = label_of(store)
    assert label["runImage"]["topLayer"] == v2.top_layer  # type: ignore[index]
    assert label["runImage"]["reference"] == f"reg.io/run@{v2.digest()}"  # type: ignore[index]
    assert label["stack"] == {"runImage": {"image": "canonical.io/run:v1",
                                           "mirrors": ["other.io/run:v1", "reg.io/run:v1"]}}
    assert rebased.labels["io.buildpacks.stack.version"] == "v2"
    assert (tmp_path / "report.toml").is_file()
    assert rebaser.main([APP]) == 0  # idempotent: same base → same image
    assert store.images[parse_reference(APP).name].digest() == rebased.digest()


def test_rebase_scenario_2_records_custom_image(store: MemoryStore, exported: Image,
                                                tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("CNB_LAYERS_DIR", str(tmp_path))
    custom = run_image(tmp_path, "custom")
    publish(store, custom, "custom/image")
    assert rebaser.main(["-runImage", "custom/image", APP]) == 0
    assert "recording 'custom/image' as the run image" in capsys.readouterr().err
    label = label_of(store)
    assert "image" not in label["runImage"]  # type: ignore[operator]  # 0.3: only in stack
    assert label["stack"] == {"runImage": {"image": "custom/image"}}


def test_rebase_stack_mismatch_needs_force(store: MemoryStore, exported: Image, tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("CNB_LAYERS_DIR", str(tmp_path))
    publish(store, run_image(tmp_path, "v2", stack_id="other.stack"), "reg.io/run:v1")
    assert rebaser.main([APP]) == 72
    assert ("incompatible stack: 'other.stack' is not compatible with 'io.example.stack'; "
            "platform API 0.12 and later can override this with -force"
            ) in capsys.readouterr().err
    assert store.images[parse_reference(APP).name] == exported
    monkeypatch.setenv("CNB_PLATFORM_API", "0.12")  # the first to define -force
    assert rebaser.main(["-force", APP]) == 0
    assert "continuing because of -force" in capsys.readouterr().err


def test_rebase_os_arch_mismatch_needs_force(store: MemoryStore, exported: Image,
                                             tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("CNB_LAYERS_DIR", str(tmp_path))
    arm = run_image(tmp_path, "arm")
    arm = Image({**arm.config, "architecture": "arm64"}, arm.layers)
    publish(store, arm, "reg.io/run:v1")
    assert rebaser.main([APP]) == 72
    assert ("unable to satisfy target os/arch constraints; new run image: linux/arm64, "
            "old run image: linux/amd64") in capsys.readouterr().err
    monkeypatch.setenv("CNB_PLATFORM_API", "0.12")
    assert rebaser.main(["-force", APP]) == 0
    assert store.images[parse_reference(APP).name].architecture == "arm64"


def test_rebase_refuses_non_rebasable(store: MemoryStore, exported: Image, tmp_path: Path,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CNB_LAYERS_DIR", str(tmp_path))
    publish(store, mutate.set_labels(exported, {"io.buildpacks.rebasable": "false"}), APP)
    assert rebaser.main([APP]) == 72


def test_rebase_without_label(store: MemoryStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                              capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("CNB_LAYERS_DIR", str(tmp_path))
    publish(store, run_image(tmp_path, "v1"), APP)
    assert rebaser.main([APP]) == 72
    err = capsys.readouterr().err
    assert err.startswith("ERROR: failed to rebase 'reg.io/apps/web:latest': image has no label")
    assert err.count("\n") == 1


def test_rebase_missing_image(store: MemoryStore, tmp_path: Path,
                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CNB_LAYERS_DIR", str(tmp_path))
    assert rebaser.main([APP]) == 72
