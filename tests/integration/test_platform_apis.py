"""Every declared platform API, end to end: an export and a rebase at each version (into an
OCI layout), the labels decoded with the field types of that version, and the command lines
and files of pack 0.40 (0.15, registry and daemon) and kpack (0.9, as a non-root user)."""

from __future__ import annotations

import json
import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from lifecycle.platform.api import SUPPORTED, PlatformAPI
from lifecycle.samplebuild import SampleBuild
from tests.harness.dockerd import Dockerd
from tests.harness.images import make_run_image_layout, publish_run_image, skopeo_inspect
from tests.harness.registry import Registries
from tests.integration.conftest import BUILD_USER, BUILD_USER_ENV, build_of_user, run_phase
from tests.integration.test_layout import inspect, place

V = PlatformAPI.parse
APP = "example.com/apps/web:latest"
CANONICAL = "registry.example.com/cnb/run:v1"
MIRROR = "example.com/cnb/run:v1"
EPOCH = "1700000000"  # 2023-11-14T22:13:20Z


# -- the labels, decoded as each version's platform reads them -------------------------------

class Schema:
    """A JSON shape: a type, a list of a schema, or an object with required and optional keys
    (no other keys allowed), like Go's ``encoding/json`` into a struct with typed fields."""

    def __init__(self, required: Mapping[str, Any] | None = None,
                 optional: Mapping[str, Any] | None = None) -> None:
        self.required, self.optional = dict(required or {}), dict(optional or {})


def decode(value: Any, shape: Any, where: str = "$") -> None:
    if isinstance(shape, Schema):
        assert isinstance(value, dict), f"{where}: {value!r} is not an object"
        missing = set(shape.required) - set(value)
        unknown = set(value) - set(shape.required) - set(shape.optional)
        assert not missing and not unknown, f"{where}: missing {missing}, unknown {unknown}"
        for key, item in value.items():
            decode(item, {**shape.required, **shape.optional}[key], f"{where}.{key}")
    elif isinstance(shape, list):
        assert isinstance(value, list), f"{where}: {value!r} is not an array"
        for index, item in enumerate(value):
            decode(item, shape[0], f"{where}[{index}]")
    elif shape is Any:
        pass
    else:
        assert isinstance(value, shape), f"{where}: {value!r} is not {shape.__name__}"


SHA = Schema({"sha": str})


def lifecycle_label_schema(api: PlatformAPI) -> Schema:
    names = {"image": str, "mirrors": [str]}
    run_image = Schema({"topLayer": str, "reference": str,
                        **(names if api >= V("0.12") else {})})
    return Schema({
        "app": [SHA], "config": SHA, "launcher": SHA, "process-types": SHA,
        "buildpacks": [Schema({"key": str, "version": str,
                               "layers": Schema(optional={"hello": Schema(
                                   {"sha": str, "data": Any, "build": bool, "launch": bool,
                                    "cache": bool})})},
                              {"store": Schema({"metadata": Any})})],
        "runImage": run_image, "stack": Schema({"runImage": Schema(
            optional={"image": str, "mirrors": [str]})}),
        **({"exec-env": str} if api >= V("0.15") else {})})


def build_label_schema(api: PlatformAPI) -> Schema:
    process = Schema({"type": str, "command": [str] if api >= V("0.10") else str,
                      "args": [str], "direct": bool, "buildpackID": str})
    return Schema({
        **({"bom": type(None)} if api < V("0.9") else {}),
        "buildpacks": [Schema({"id": str, "version": str})],
        "launcher": Schema({"version": str, "source": Schema({"git": Schema(
            {"repository": str, "commit": str})})}),
        "processes": [process], "buildpack-default-process-type": str})


def check_image(api: PlatformAPI, config: Mapping[str, Any], app_dir: Path) -> dict[str, Any]:
    """Everything the spec of ``api`` says of the app image's config; returns the label."""
    labels = config["config"]["Labels"]
    label = json.loads(labels["io.buildpacks.lifecycle.metadata"])
    decode(label, lifecycle_label_schema(api))
    decode(json.loads(labels["io.buildpacks.build.metadata"]), build_label_schema(api))
    assert ("io.buildpacks.exec-env" in labels) == (api >= V("0.15"))
    env = dict(entry.split("=", 1) for entry in config["config"]["Env"])
    assert env["CNB_PLATFORM_API"] == str(api)
    assert config["config"]["Entrypoint"] == (
        ["/cnb/process/web"] if api >= V("0.4") else ["/cnb/lifecycle/launcher"])
    assert (env.get("CNB_PROCESS_TYPE") == "web") == (api < V("0.4"))
    assert (config["config"].get("WorkingDir") == str(app_dir)) == (api >= V("0.6"))
    assert config["created"] == ("2023-11-14T22:13:20Z" if api >= V("0.9")
                                 else "1980-01-01T00:00:01Z")
    texts = [entry.get("created_by") for entry in config["history"]]
    if api >= V("0.12"):
        assert "Buildpacks Application Launcher" in texts
    else:
        assert texts == [None] * len(texts)
    return dict(label)


# -- one export and one rebase at every version ------------------------------------------------

def names_file(api: PlatformAPI, root: Path) -> list[str]:
    """The run image and its mirror, in the file this version reads."""
    if api >= V("0.12"):
        path = root / "run.toml"
        path.write_text(f'[[images]]\nimage = "{CANONICAL}"\nmirrors = ["{MIRROR}"]\n')
        return ["-run", str(path)]
    path = root / "stack.toml"
    path.write_text(f'[run-image]\nimage = "{CANONICAL}"\nmirrors = ["{MIRROR}"]\n')
    return ["-stack", str(path)]


@pytest.mark.parametrize("api", SUPPORTED, ids=str)
def test_export_and_rebase_at_every_version(build: SampleBuild, tmp_path: Path,
                                            api: PlatformAPI) -> None:
    layout = tmp_path / "oci"
    place(layout, "example.com/cnb/run/v1", "v1")
    (build.layers_dir / "examples_hello" / "build.toml").write_text('[[bom]]\nname = "hello"\n')
    env = {"CNB_PLATFORM_API": str(api), "SOURCE_DATE_EPOCH": EPOCH}
    report = tmp_path / "report.toml"
    exported = run_phase(
        "exporter", "-layout", "-layout-dir", str(layout), *names_file(api, tmp_path),
        "-layers", str(build.layers_dir), "-app", str(build.app_dir), "-group",
        str(build.group_path), "-report", str(report), "-process-type", "web", APP, env=env)
    assert exported.code == 0, exported.output
    app_path = layout / "example.com/apps/web/latest"
    label = check_image(api, inspect(app_path, config=True), build.app_dir)
    names = {"image": CANONICAL, "mirrors": [MIRROR]}
    assert label["stack"] == {"runImage": names}
    assert {key: label["runImage"].get(key) for key in names} == (
        names if api >= V("0.12") else {"image": None, "mirrors": None})
    written = tomllib.loads(report.read_text())
    assert ("build" in written) == (V("0.5") <= api < V("0.9"))

    place(layout, "example.com/cnb/run/v1", "v2")
    rebased = run_phase("rebaser", "-layout", "-layout-dir", str(layout), "-report",
                        str(tmp_path / "rebase.toml"), APP, env={"CNB_PLATFORM_API": str(api)})
    assert rebased.code == 0, rebased.output
    assert f"Selected run image '{MIRROR}'" in rebased.stdout
    after = inspect(app_path, config=True)
    new_label = json.loads(after["config"]["Labels"]["io.buildpacks.lifecycle.metadata"])
    decode(new_label, lifecycle_label_schema(api))
    assert new_label["runImage"]["topLayer"] != label["runImage"]["topLayer"]
    assert new_label["stack"] == label["stack"]


# -- pack 0.40: platform API 0.15, an untrusted builder ---------------------------------------

PACK_0_40_ENV = {"CNB_PLATFORM_API": "0.15", "CNB_EXEC_ENV": "production",
                 "CNB_REGISTRY_AUTH": "{}"}


def analyzed_0_12(build: SampleBuild, reference: str, image: str) -> None:
    """analyzed.toml as the 0.15 analyzer leaves it for a first build."""
    (build.layers_dir / "analyzed.toml").write_text(
        f'[run-image]\n  reference = "{reference}"\n  image = "{image}"\n'
        '  [run-image.target]\n    os = "linux"\n    arch = "amd64"\n')
    os.lchown(build.layers_dir / "analyzed.toml", BUILD_USER, BUILD_USER)


def pack_0_40_files(root: Path, run: str, mirror: str, reference: str) -> SampleBuild:
    build = build_of_user(root)
    (build.layers_dir / "run.toml").write_text(
        f'[[images]]\n  image = "{run}"\n  mirrors = ["{mirror}"]\n')
    analyzed_0_12(build, reference, run)
    return build


def pack_0_40_exporter(build: SampleBuild, cache: Path, app: str, env: Mapping[str, str],
                       *leading: str) -> Any:
    """pack 0.40's exporter command line (the layers dir is where pack mounts it)."""
    return run_phase("exporter", *leading, "-log-level", "debug", "-app", str(build.app_dir),
                     "-cache-dir", str(cache), "-run", str(build.layers_dir / "run.toml"),
                     "-uid", str(BUILD_USER), "-gid", str(BUILD_USER),
                     "-insecure-registry", "127.0.0.1", "-process-type", "web", app,
                     env={**PACK_0_40_ENV, "CNB_LAYERS_DIR": str(build.layers_dir), **env})


@pytest.mark.registry
@pytest.mark.skipif(os.geteuid() != 0, reason="pack runs the exporter as root")
def test_pack_0_40_publish(registries: Registries, reachable_dir: Path, unique: str) -> None:
    run = f"{registries.one.host}/{unique}/run:v1"
    mirror = f"{registries.two.host}/{unique}/run:v1"
    digest = publish_run_image(reachable_dir, [run])
    publish_run_image(reachable_dir, [mirror])
    reference = f"{registries.one.host}/{unique}/run@{digest}"
    build = pack_0_40_files(reachable_dir, run, mirror, reference)
    app = f"{registries.one.host}/{unique}/app:latest"
    result = pack_0_40_exporter(build, reachable_dir / "cache", app, {})
    assert result.code == 0, result.output
    assert f"Using run image '{reference}' (named by '{build.layers_dir}/analyzed.toml'" \
        in result.stdout

    config = skopeo_inspect(app, config=True)
    labels = config["config"]["Labels"]
    label = json.loads(labels["io.buildpacks.lifecycle.metadata"])
    decode(label, lifecycle_label_schema(V("0.15")))
    decode(json.loads(labels["io.buildpacks.build.metadata"]), build_label_schema(V("0.15")))
    assert label["runImage"] == {"topLayer": config["rootfs"]["diff_ids"][1],
                                 "reference": reference, "image": run, "mirrors": [mirror]}
    assert label["stack"] == {"runImage": {"image": run, "mirrors": [mirror]}}
    assert label["exec-env"] == labels["io.buildpacks.exec-env"] == "production"
    assert "CNB_PLATFORM_API=0.15" in config["config"]["Env"]
    assert config["config"]["Entrypoint"] == ["/cnb/process/web"]
    assert config["config"]["WorkingDir"] == str(build.app_dir)
    assert config["created"] == "1980-01-01T00:00:01Z"
    assert [entry.get("created_by") for entry in config["history"]][-3:] == [
        "Buildpacks Application Launcher", "Buildpacks Launcher Config",
        "Buildpacks Process Types"]
    report = tomllib.loads((build.layers_dir / "report.toml").read_text())
    assert set(report) == {"image", "run-image"}
    assert report["image"]["tags"] == [app] and report["image"]["manifest-size"] > 0
    assert (build.layers_dir / "report.toml").stat().st_uid == BUILD_USER


@pytest.mark.daemon
@pytest.mark.skipif(os.geteuid() != 0, reason="pack runs the exporter as root")
def test_pack_0_40_daemon(dockerd: Dockerd, reachable_dir: Path, unique: str) -> None:
    run = f"{unique}/run:v1"
    image_id = dockerd.load_layout(make_run_image_layout(reachable_dir / "run", "v1"), run)
    build = pack_0_40_files(reachable_dir, run, f"mirror.example.com/{unique}/run:v1",
                            image_id.removeprefix("sha256:"))
    app = f"{unique}/app"
    env = {"DOCKER_HOST": dockerd.host}
    daemon = ("-daemon", "-launch-cache", str(reachable_dir / "launch-cache"))
    for attempt in range(2):
        result = pack_0_40_exporter(build, reachable_dir / "cache", app, env, *daemon)
        assert result.code == 0, result.output
        if attempt == 0:
            assert "hello from the hello layer" in dockerd.run(app)
        else:
            assert "Adding layer" not in result.stdout
    inspected = dockerd.client.api.inspect_image(app)
    labels = inspected["Config"]["Labels"]
    label = json.loads(labels["io.buildpacks.lifecycle.metadata"])
    decode(label, lifecycle_label_schema(V("0.15")))
    assert label["runImage"]["reference"] == image_id.removeprefix("sha256:")
    assert label["runImage"]["image"] == run
    assert labels["io.buildpacks.exec-env"] == "production"
    assert "CNB_PLATFORM_API=0.15" in inspected["Config"]["Env"]
    assert "image-id" in (build.layers_dir / "report.toml").read_text()


# -- kpack: platform API 0.9, as the build's user ---------------------------------------------

@pytest.mark.registry
@pytest.mark.skipif(os.geteuid() != 0, reason="switching to the build's user needs root")
def test_kpack_0_9_as_non_root(registries: Registries, reachable_dir: Path,
                               unique: str) -> None:
    run = f"{registries.one.host}/{unique}/run:v1"
    digest = publish_run_image(reachable_dir, [run])
    build = build_of_user(reachable_dir)
    layers = build.layers_dir
    (layers / "analyzed.toml").write_text(
        f'[run-image]\nreference = "{registries.one.host}/{unique}/run@{digest}"\n')
    (layers / "project-metadata.toml").write_text(
        '[source]\ntype = "git"\n[source.version]\ncommit = "abc"\n')
    for path in (layers / "analyzed.toml", layers / "project-metadata.toml"):
        os.lchown(path, BUILD_USER, BUILD_USER)
    app = f"{registries.one.host}/{unique}/app"
    tags = [f"{app}:latest", f"{app}:b1"]
    result = run_phase(
        "exporter", f"-layers={layers}", f"-app={build.app_dir}",
        f"-group={layers / 'group.toml'}", f"-analyzed={layers / 'analyzed.toml'}",
        f"-project-metadata={layers / 'project-metadata.toml'}", "-process-type=web",
        f"-report={layers / 'report.toml'}", *tags,
        env={"CNB_PLATFORM_API": "0.9", "CNB_RUN_IMAGE": run, "SOURCE_DATE_EPOCH": EPOCH,
             "HOME": str(reachable_dir), **BUILD_USER_ENV},
        user=BUILD_USER)
    assert result.code == 0, result.output
    config = skopeo_inspect(tags[0], config=True)
    label = check_image(V("0.9"), config, build.app_dir)
    assert label["runImage"]["reference"] == f"{registries.one.host}/{unique}/run@{digest}"
    assert json.loads(config["config"]["Labels"]["io.buildpacks.project.metadata"]) == {
        "source": {"type": "git", "version": {"commit": "abc"}}}
    assert skopeo_inspect(tags[1])["Digest"] == skopeo_inspect(tags[0])["Digest"]
    report = tomllib.loads((layers / "report.toml").read_text())
    assert report["image"]["tags"] == tags and "build" not in report
