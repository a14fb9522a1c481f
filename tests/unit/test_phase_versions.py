"""What each platform API changes in the exporter and the rebaser, against an in-memory store.

The same rules run end to end against the real registry, daemon and layout in
tests/integration/test_platform_apis.py; here each rule has its own small case.
"""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Any

import pytest

from lifecycle import exporter, rebaser
from lifecycle.image import mutate
from lifecycle.image.model import Image
from lifecycle.platform.files import BUILD_LABEL, LIFECYCLE_LABEL
from lifecycle.reference import parse_reference
from lifecycle.samplebuild import SampleBuild, write_sample_build
from tests.unit.memory_store import MemoryStore
from tests.unit.test_phases import publish, run_image

APP = "reg.io/apps/web:latest"
RUN = "reg.io/run:v1"


@pytest.fixture
def build(tmp_path: Path, store: MemoryStore) -> SampleBuild:
    publish(store, run_image(tmp_path, "v1"), RUN, "mirror.io/run:v1")
    (tmp_path / "stack.toml").write_text(f'[run-image]\nimage = "{RUN}"\n')
    (tmp_path / "run.toml").write_text(
        f'[[images]]\nimage = "{RUN}"\nmirrors = ["mirror.io/run:v1"]\n'
        '[[images]]\nimage = "other.io/run:v1"\n')
    return write_sample_build(tmp_path / "build")


def export(build: SampleBuild, api: str, *args: str, monkeypatch: pytest.MonkeyPatch,
           names_file: bool = True) -> int:
    monkeypatch.setenv("CNB_PLATFORM_API", api)
    root = build.layers_dir.parent.parent
    names = []
    if names_file:
        names = (["-run", str(root / "run.toml")] if api in ("0.12", "0.13", "0.14", "0.15")
                 else ["-stack", str(root / "stack.toml")])
    return exporter.main([*names, "-layers", str(build.layers_dir), "-app", str(build.app_dir),
                          "-group", str(build.group_path), "-report",
                          str(root / "report.toml"), *args, APP])


def app_image(store: MemoryStore) -> Image:
    return store.images[parse_reference(APP).name]


def label(store: MemoryStore, key: str = LIFECYCLE_LABEL) -> dict[str, Any]:
    result: dict[str, Any] = json.loads(app_image(store).labels[key])
    return result


def write_analyzed(build: SampleBuild, run_image_table: str) -> None:
    (build.layers_dir / "analyzed.toml").write_text(run_image_table)


# -- exporter: where the run image comes from -------------------------------------------------

def test_from_0_7_the_run_image_is_analyzed_toml_s(store: MemoryStore, build: SampleBuild,
                                                   tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    reference = f"mirror.io/run@{store.images['mirror.io/run:v1'].digest()}"
    write_analyzed(build, f'[run-image]\nreference = "{reference}"\n')
    assert export(build, "0.7", monkeypatch=monkeypatch) == 0
    assert f"Using run image '{reference}' (named by '{build.layers_dir}/analyzed.toml'" \
        in capsys.readouterr().out
    assert label(store)["runImage"]["reference"] == reference
    report = tomllib.loads((tmp_path / "report.toml").read_text())
    assert report["run-image"]["image"] == reference


def test_below_0_7_analyzed_toml_names_no_run_image(store: MemoryStore, build: SampleBuild,
                                                    monkeypatch: pytest.MonkeyPatch,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    write_analyzed(build, '[run-image]\nreference = "mirror.io/run:v1"\n')
    assert export(build, "0.6", monkeypatch=monkeypatch) == 0
    assert f"Selected run image '{RUN}'" in capsys.readouterr().out


@pytest.mark.parametrize(("how", "origin"), [("flag", "-run-image"), ("env", "CNB_RUN_IMAGE")])
def test_an_explicit_run_image_of_another_repository_is_exit_3(
        store: MemoryStore, build: SampleBuild, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str], how: str, origin: str) -> None:
    write_analyzed(build, f'[run-image]\nreference = "{RUN}"\nimage = "{RUN}"\n')
    args = ["-run-image", "other.io/run:v1"] if how == "flag" else []
    if how == "env":
        monkeypatch.setenv("CNB_RUN_IMAGE", "other.io/run:v1")
    assert export(build, "0.12", *args, monkeypatch=monkeypatch) == 3
    err = capsys.readouterr().err
    assert f"'{build.layers_dir}/analyzed.toml' names the run image '{RUN}' but {origin} " \
        "names 'other.io/run:v1'" in err
    assert parse_reference(APP).name not in store.images


def test_an_explicit_run_image_of_the_same_repository_agrees(
        store: MemoryStore, build: SampleBuild, monkeypatch: pytest.MonkeyPatch) -> None:
    # kpack: CNB_RUN_IMAGE is the tag, analyzed.toml the digest reference.
    reference = f"reg.io/run@{store.images[RUN].digest()}"
    write_analyzed(build, f'[run-image]\nreference = "{reference}"\n')
    monkeypatch.setenv("CNB_RUN_IMAGE", RUN)
    assert export(build, "0.9", monkeypatch=monkeypatch) == 0
    assert label(store)["runImage"]["reference"] == reference


@pytest.mark.parametrize(("api", "file_kind", "key"), [
    ("0.11", "stack file", "[run-image] image"), ("0.12", "run file", "[[images]] image")])
def test_no_run_image_anywhere_names_each_place(store: MemoryStore, build: SampleBuild,
                                                tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                capsys: pytest.CaptureFixture[str], api: str,
                                                file_kind: str, key: str) -> None:
    (tmp_path / "stack.toml").write_text('[build-image]\nimage = "b"\n')
    (tmp_path / "run.toml").write_text("images = []\n")
    assert export(build, api, monkeypatch=monkeypatch) == 3
    name = "stack.toml" if file_kind == "stack file" else "run.toml"
    assert ("failed to parse arguments: -run-image is required when there is no run image "
            f"metadata available: {file_kind} '{tmp_path / name}' has no '{key}'; "
            f"'{build.layers_dir}/analyzed.toml' names no run image ([run-image] reference)"
            ) in capsys.readouterr().err


def test_a_missing_run_file_says_so(build: SampleBuild, monkeypatch: pytest.MonkeyPatch,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    assert export(build, "0.15", "-run", "/nowhere/run.toml", monkeypatch=monkeypatch,
                  names_file=False) == 3
    assert "run file '/nowhere/run.toml' does not exist" in capsys.readouterr().err


def test_at_0_12_the_label_names_the_run_toml_entry_of_the_analyzed_image(
        store: MemoryStore, build: SampleBuild, monkeypatch: pytest.MonkeyPatch) -> None:
    reference = f"reg.io/run@{store.images[RUN].digest()}"
    publish(store, store.images[RUN], "other.io/run:v1")
    other = f"other.io/run@{store.images[RUN].digest()}"
    write_analyzed(build, f'[run-image]\nreference = "{other}"\nimage = "other.io/run:v1"\n')
    assert export(build, "0.12", monkeypatch=monkeypatch) == 0
    run = label(store)["runImage"]
    assert (run["image"], "mirrors" in run, run["reference"]) == ("other.io/run:v1", False,
                                                                  other)
    assert label(store)["stack"] == {"runImage": {"image": "other.io/run:v1"}}
    # The analyzer chose a mirror: its entry is recorded whole.
    write_analyzed(build, f'[run-image]\nreference = "{reference}"\nimage = "mirror.io/run:v1"\n')
    assert export(build, "0.12", monkeypatch=monkeypatch) == 0
    assert label(store)["runImage"]["image"] == RUN
    assert label(store)["runImage"]["mirrors"] == ["mirror.io/run:v1"]


# -- exporter: outputs per version -------------------------------------------------------------

@pytest.mark.parametrize(("api", "entrypoint", "process_env", "working_dir"), [
    ("0.3", "/cnb/lifecycle/launcher", "web", False),
    ("0.4", "/cnb/process/web", None, False),
    ("0.6", "/cnb/process/web", None, True),
])
def test_entry_point_per_version(store: MemoryStore, build: SampleBuild,
                                 monkeypatch: pytest.MonkeyPatch, api: str, entrypoint: str,
                                 process_env: str | None, working_dir: bool) -> None:
    assert export(build, api, "-process-type", "web", monkeypatch=monkeypatch) == 0
    config = app_image(store).image_config
    assert config["Entrypoint"] == [entrypoint]
    assert mutate.env_value(app_image(store), "CNB_PROCESS_TYPE") == process_env
    assert ("WorkingDir" in config) == working_dir
    assert mutate.env_value(app_image(store), "CNB_PLATFORM_API") == api


def test_at_0_4_an_unknown_process_type_is_not_the_default(
        store: MemoryStore, build: SampleBuild, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    assert export(build, "0.4", "-process-type", "worker", monkeypatch=monkeypatch) == 0
    assert "Process type 'worker' does not exist" in capsys.readouterr().err
    assert app_image(store).image_config["Entrypoint"] == ["/cnb/lifecycle/launcher"]


@pytest.mark.parametrize(("api", "texts"), [("0.11", False), ("0.12", True)])
def test_history_texts_from_0_12(store: MemoryStore, build: SampleBuild,
                                 monkeypatch: pytest.MonkeyPatch, api: str, texts: bool) -> None:
    assert export(build, api, monkeypatch=monkeypatch) == 0
    history = app_image(store).config["history"]
    assert len(history) == len(app_image(store).layers)
    assert any("created_by" in entry for entry in history) == texts
    assert all(entry["created"] == "1980-01-01T00:00:01Z" for entry in history)


@pytest.mark.parametrize(("api", "created"), [("0.8", "1980-01-01T00:00:01Z"),
                                              ("0.9", "2023-11-14T22:13:20Z")])
def test_source_date_epoch_from_0_9(store: MemoryStore, build: SampleBuild,
                                    monkeypatch: pytest.MonkeyPatch, api: str,
                                    created: str) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    assert export(build, api, monkeypatch=monkeypatch) == 0
    assert app_image(store).config["created"] == created


@pytest.mark.parametrize(("api", "command"), [("0.9", "hello"), ("0.10", ["hello"])])
def test_build_label_command_per_version(store: MemoryStore, build: SampleBuild,
                                         monkeypatch: pytest.MonkeyPatch, api: str,
                                         command: object) -> None:
    assert export(build, api, monkeypatch=monkeypatch) == 0
    build_label = label(store, BUILD_LABEL)
    assert build_label["processes"][0]["command"] == command
    assert ("bom" in build_label) == (api == "0.8")
    assert build_label["launcher"]["source"]["git"]["repository"] == "cnb-lifecycle"


def test_the_launcher_label_describes_another_launcher_from_its_launcher_toml(
        store: MemoryStore, build: SampleBuild, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    launcher = tmp_path / "go" / "launcher"
    launcher.parent.mkdir()
    launcher.write_bytes(b"\x7fELF a Go launcher")
    (launcher.parent / "launcher.toml").write_text(
        '[launcher]\nversion = "0.7.2"\n[launcher.source.git]\n'
        'repository = "github.com/buildpacks/lifecycle"\ncommit = "abc1234"\n')
    assert export(build, "0.3", "-launcher", str(launcher), monkeypatch=monkeypatch) == 0
    assert label(store, BUILD_LABEL)["launcher"] == {
        "version": "0.7.2",
        "source": {"git": {"repository": "github.com/buildpacks/lifecycle", "commit": "abc1234"}}}
    (launcher.parent / "launcher.toml").unlink()
    assert export(build, "0.3", "-launcher", str(launcher), monkeypatch=monkeypatch) == 0
    assert label(store, BUILD_LABEL)["launcher"]["version"] == ""


@pytest.mark.parametrize(("api", "bom", "manifest_size_key"), [
    ("0.4", False, False), ("0.5", True, False), ("0.8", True, True), ("0.9", False, True)])
def test_report_per_version(store: MemoryStore, build: SampleBuild, tmp_path: Path,
                            monkeypatch: pytest.MonkeyPatch, api: str, bom: bool,
                            manifest_size_key: bool) -> None:
    (build.layers_dir / "examples_hello" / "build.toml").write_text(
        '[[bom]]\nname = "hello"\n[bom.metadata]\nversion = "1"\n')
    assert export(build, api, monkeypatch=monkeypatch) == 0
    report = tomllib.loads((tmp_path / "report.toml").read_text())
    assert ("build" in report) == bom
    if bom:
        assert report["build"]["bom"] == [{"name": "hello", "metadata": {"version": "1"},
                                           "buildpack": {"id": "examples/hello",
                                                         "version": "0.0.1"}}]
    assert ("manifest-size" in report["image"]) == manifest_size_key


@pytest.mark.parametrize(("api", "env", "value"), [
    ("0.14", {}, None), ("0.15", {}, "production"), ("0.15", {"CNB_EXEC_ENV": "test"}, "test")])
def test_exec_env_label_at_0_15(store: MemoryStore, build: SampleBuild,
                                monkeypatch: pytest.MonkeyPatch, api: str,
                                env: dict[str, str], value: str | None) -> None:
    for key, text in env.items():
        monkeypatch.setenv(key, text)
    assert export(build, api, monkeypatch=monkeypatch) == 0
    assert app_image(store).labels.get("io.buildpacks.exec-env") == value
    assert label(store).get("exec-env") == value


# -- rebaser -----------------------------------------------------------------------------------

def exported_at(store: MemoryStore, build: SampleBuild, api: str,
                monkeypatch: pytest.MonkeyPatch) -> Image:
    assert export(build, api, monkeypatch=monkeypatch) == 0
    return app_image(store)


def rebase(api: str, *args: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> int:
    monkeypatch.setenv("CNB_PLATFORM_API", api)
    return rebaser.main(["-report", str(tmp_path / "rebase.toml"), *args, APP])


def test_name_rule_another_tag_of_a_recorded_repository_needs_no_force(
        store: MemoryStore, build: SampleBuild, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    exported_at(store, build, "0.12", monkeypatch)
    publish(store, run_image(tmp_path, "v2"), "reg.io/run:v2")
    assert rebase("0.12", "-run-image", "reg.io/run:v2", monkeypatch=monkeypatch,
                  tmp_path=tmp_path) == 0
    assert "New run image 'reg.io/run:v2' is another tag or digest of the recorded run image" \
        in capsys.readouterr().out
    run = label(store)["runImage"]
    assert (run["image"], "mirrors" in run) == ("reg.io/run:v2", False)


def test_name_rule_another_repository_needs_force_and_is_recorded(
        store: MemoryStore, build: SampleBuild, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    before = exported_at(store, build, "0.12", monkeypatch)
    publish(store, run_image(tmp_path, "v2"), "elsewhere.io/base:v2")
    assert rebase("0.12", "-run-image", "elsewhere.io/base:v2", monkeypatch=monkeypatch,
                  tmp_path=tmp_path) == 72
    err = capsys.readouterr().err
    assert "new run image 'elsewhere.io/base:v2' is in none of the repositories of the " \
        "recorded run image and mirrors" in err and "please provide -force to override" in err
    assert app_image(store) == before
    assert rebase("0.12", "-force", "-run-image", "elsewhere.io/base:v2",
                  monkeypatch=monkeypatch, tmp_path=tmp_path) == 0
    assert label(store)["runImage"]["image"] == "elsewhere.io/base:v2"
    assert "mirrors" not in label(store)["runImage"]
    assert label(store)["stack"] == {"runImage": {"image": "elsewhere.io/base:v2"}}


def test_below_0_12_no_name_check(store: MemoryStore, build: SampleBuild, tmp_path: Path,
                                  monkeypatch: pytest.MonkeyPatch,
                                  capsys: pytest.CaptureFixture[str]) -> None:
    exported_at(store, build, "0.11", monkeypatch)
    publish(store, run_image(tmp_path, "v2"), "elsewhere.io/base:v2")
    assert rebase("0.11", "-run-image", "elsewhere.io/base:v2", monkeypatch=monkeypatch,
                  tmp_path=tmp_path) == 0
    assert "recording 'elsewhere.io/base:v2' as the run image" in capsys.readouterr().err
    assert label(store)["stack"] == {"runImage": {"image": "elsewhere.io/base:v2"}}
    assert "image" not in label(store)["runImage"]


def with_labels(image: Image, labels: dict[str, str], **config: str) -> Image:
    image = mutate.set_labels(image, labels)
    return Image({**image.config, **config}, image.layers)


@pytest.mark.parametrize(("built_at", "new_base_change", "problem"), [
    ("0.11", {"labels": {"io.buildpacks.stack.mixins": '["curl"]'}}, None),
    ("0.11", {"app_labels": {"io.buildpacks.stack.mixins": '["build:git", "run:curl"]'}},
     "missing required mixin(s): curl, git"),
    ("0.11", {"labels": {"io.buildpacks.stack.id": "other"}}, "incompatible stack"),
    ("0.12", {"labels": {"io.buildpacks.stack.id": "other"}}, None),
    ("0.12", {"config": {"architecture": "arm64"}},
     'unable to satisfy target os/arch constraints; new run image: {"os":"linux",'
     '"arch":"arm64","arch-variant":""}'),
    ("0.12", {"labels": {"io.buildpacks.base.distro.name": "ubuntu"}},
     "unable to satisfy target os/arch constraints"),
    ("0.12", {"labels": {"io.buildpacks.base.distro.name": "ubuntu"},
              "app_labels": {"io.buildpacks.base.distro.name": "ubuntu"}}, None),
    ("0.12", {"config": {"variant": "v8"}}, None),
])
def test_checks_are_those_of_the_api_that_built_the_app(
        store: MemoryStore, build: SampleBuild, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], built_at: str,
        new_base_change: dict[str, dict[str, str]], problem: str | None) -> None:
    app = exported_at(store, build, built_at, monkeypatch)
    publish(store, with_labels(app, new_base_change.get("app_labels", {})), APP)
    base = run_image(tmp_path, "v2")
    publish(store, with_labels(base, new_base_change.get("labels", {}),
                               **new_base_change.get("config", {})), "reg.io/run:v2")
    code = rebase("0.15", "-run-image", "reg.io/run:v2", monkeypatch=monkeypatch,
                  tmp_path=tmp_path)
    err = capsys.readouterr().err
    assert code == (72 if problem else 0), err
    if problem:
        assert problem in err and "please provide -force to override" in err
        assert rebase("0.15", "-force", "-run-image", "reg.io/run:v2",
                      monkeypatch=monkeypatch, tmp_path=tmp_path) == 0


@pytest.mark.parametrize("built_at", ["0.3", "0.12"])
def test_not_rebasable_at_every_version(store: MemoryStore, build: SampleBuild, tmp_path: Path,
                                        monkeypatch: pytest.MonkeyPatch, built_at: str) -> None:
    app = exported_at(store, build, built_at, monkeypatch)
    publish(store, with_labels(app, {"io.buildpacks.rebasable": "false"}), APP)
    publish(store, run_image(tmp_path, "v2"), "reg.io/run:v2")
    assert rebase(built_at, "-run-image", "reg.io/run:v2", monkeypatch=monkeypatch,
                  tmp_path=tmp_path) == 72
