"""The exporter against two real registries (distribution 2.8) and skopeo as the referee."""

from __future__ import annotations

import base64
import json
import subprocess
import tomllib
from pathlib import Path

import pytest

from lifecycle.samplebuild import SampleBuild
from tests.harness.images import (
    make_run_image_layout,
    publish_run_image,
    push_layout,
    skopeo_inspect,
)
from tests.harness.registry import Registries
from tests.integration.conftest import Result, export_args, run_phase, write_stack

pytestmark = pytest.mark.registry


def lifecycle_label(ref: str) -> dict[str, object]:
    labels = skopeo_inspect(ref, config=True)["config"]["Labels"]
    label: dict[str, object] = json.loads(labels["io.buildpacks.lifecycle.metadata"])
    return label


def report(path: Path) -> dict[str, object]:
    return tomllib.loads(path.read_text())


@pytest.fixture
def run_images(registries: Registries, unique: str, tmp_path: Path) -> dict[str, str]:
    """Run image v1 as the canonical image on registry one and a mirror on registry two."""
    canonical = f"{registries.one.host}/{unique}/run:v1"
    mirror = f"{registries.two.host}/{unique}/run:v1"
    digest = publish_run_image(tmp_path, [canonical, mirror], "v1")
    return {"canonical": canonical, "mirror": mirror, "digest": digest}


def export(build: SampleBuild, stack: Path, *args: str, env: dict[str, str] | None = None,
           report_path: Path | None = None) -> Result:
    report_args = ["-report", str(report_path)] if report_path else []
    return run_phase("exporter", *export_args(build, stack, *report_args, *args), env=env)


@pytest.mark.parametrize("target", ["one", "two"])
def test_run_image_is_the_mirror_on_the_target_registry(
        registries: Registries, run_images: dict[str, str], build: SampleBuild,
        tmp_path: Path, unique: str, target: str) -> None:
    stack = write_stack(tmp_path / "stack.toml", run_images["canonical"], [run_images["mirror"]])
    registry = getattr(registries, target)
    app = f"{registry.host}/{unique}/app:latest"
    result = export(build, stack, app, report_path=tmp_path / "report.toml")
    assert result.code == 0, result.output
    chosen = run_images["canonical"] if target == "one" else run_images["mirror"]
    assert f"Selected run image '{chosen}': first readable candidate on the target registry" \
        in result.stdout

    label = lifecycle_label(app)
    assert list(label) == ["app", "buildpacks", "config", "launcher", "process-types",
                           "runImage", "stack"]
    run_image = label["runImage"]
    assert isinstance(run_image, dict)
    assert run_image["reference"] == f"{registry.host}/{unique}/run@{run_images['digest']}"
    assert "image" not in run_image and "mirrors" not in run_image  # only from platform API 0.12
    assert label["stack"] == {"runImage": {"image": run_images["canonical"],
                                           "mirrors": [run_images["mirror"]]}}
    base_diff_ids = skopeo_inspect(chosen, config=True)["rootfs"]["diff_ids"]
    app_config = skopeo_inspect(app, config=True)
    assert app_config["rootfs"]["diff_ids"][:len(base_diff_ids)] == base_diff_ids
    assert run_image["topLayer"] == base_diff_ids[-1]
    assert app_config["config"]["Entrypoint"] == ["/cnb/lifecycle/launcher"]  # platform API 0.3
    assert app_config["config"]["Labels"]["io.buildpacks.stack.id"] == "io.example.stack"

    written = report(tmp_path / "report.toml")
    digest = skopeo_inspect(app)["Digest"]
    assert written["image"] == {"tags": [app], "digest": digest}  # manifest-size: from 0.6
    assert written["run-image"]["image"] == chosen  # type: ignore[index]
    copied = tmp_path / "copied"
    subprocess.run(["skopeo", "copy", "--quiet", "--src-tls-verify=false", f"docker://{app}",
                    f"oci:{copied}:x"], check=True, capture_output=True, timeout=120)


def test_unreadable_mirrors_are_skipped_with_reasons(
        registries: Registries, run_images: dict[str, str], build: SampleBuild,
        tmp_path: Path, unique: str) -> None:
    missing = f"{registries.two.host}/{unique}/missing:v1"
    locked = f"{registries.locked.host}/{unique}/run:v1"
    stack = write_stack(tmp_path / "stack.toml", run_images["canonical"], [missing, locked])
    app = f"{registries.two.host}/{unique}/app"
    result = export(build, stack, app)
    assert result.code == 0, result.output
    assert f"  {missing} (on target registry): not found (HTTP 404)" in result.stdout
    assert f"Selected run image '{run_images['canonical']}': no readable candidate on " \
        f"{registries.two.host}; first readable candidate on any registry" in result.stdout
    assert lifecycle_label(app)["runImage"]["reference"].startswith(  # type: ignore[index]
        f"{registries.one.host}/{unique}/run@")


def test_no_readable_run_image_fails_listing_each(
        registries: Registries, build: SampleBuild, tmp_path: Path, unique: str) -> None:
    locked = f"{registries.locked.host}/{unique}/run:v1"
    stack = write_stack(tmp_path / "stack.toml", f"{registries.one.host}/{unique}/none",
                        [locked])
    result = export(build, stack, f"{registries.one.host}/{unique}/app")
    assert result.code == 3
    assert result.stderr.splitlines()[-1] == (
        f"ERROR: failed to select run image: no run image is readable: "
        f"{registries.one.host}/{unique}/none: not found (HTTP 404); "
        f"{locked}: access denied (HTTP 401)")


@pytest.mark.parametrize("spelling", [["-runImage", "{x}"], ["-run-image={x}"], ["--image", "{x}"],
                                      ["env"]])
def test_explicit_run_image_wins_and_label_keeps_the_stack(
        registries: Registries, run_images: dict[str, str], build: SampleBuild,
        tmp_path: Path, unique: str, spelling: list[str]) -> None:
    custom = f"{registries.two.host}/{unique}/custom:1"
    publish_run_image(tmp_path, [custom], "custom")
    stack = write_stack(tmp_path / "stack.toml", run_images["canonical"], [run_images["mirror"]])
    args = [] if spelling == ["env"] else [s.replace("{x}", custom) for s in spelling]
    env = {"CNB_RUN_IMAGE": custom} if spelling == ["env"] else None
    app = f"{registries.one.host}/{unique}/app"
    result = export(build, stack, *args, app, env=env)
    assert result.code == 0, result.output
    label = lifecycle_label(app)
    assert label["runImage"]["reference"].startswith(  # type: ignore[index]
        f"{registries.two.host}/{unique}/custom@")
    assert label["stack"]["runImage"]["image"] == run_images["canonical"]  # type: ignore[index]


@pytest.mark.parametrize("spelling", ["-stack", "--mirrors=", "CNB_MIRRORS_PATH",
                                      "CNB_STACK_PATH"])
def test_stack_file_spellings(registries: Registries, run_images: dict[str, str],
                              build: SampleBuild, tmp_path: Path, unique: str,
                              spelling: str) -> None:
    stack = write_stack(tmp_path / "s.toml", run_images["canonical"], [run_images["mirror"]])
    base = ["-layers", str(build.layers_dir), "-app", str(build.app_dir),
            "-group", str(build.group_path)]
    env = {spelling: str(stack)} if spelling.startswith("CNB_") else None
    flag = [] if env else ([f"{spelling}{stack}"] if spelling.endswith("=")
                           else [spelling, str(stack)])
    app = f"{registries.two.host}/{unique}/app"
    result = run_phase("exporter", *base, *flag, app, env=env)
    assert result.code == 0, result.output
    assert f"Selected run image '{run_images['mirror']}'" in result.stdout


def test_reproducible_additional_tags_and_reuse(
        registries: Registries, run_images: dict[str, str], build: SampleBuild,
        tmp_path: Path, unique: str) -> None:
    stack = write_stack(tmp_path / "stack.toml", run_images["canonical"], [run_images["mirror"]])
    host = registries.one.host
    first = export(build, stack, f"{host}/{unique}/app:a", f"{host}/{unique}/app:b",
                   report_path=tmp_path / "r1.toml")
    assert first.code == 0, first.output
    assert report(tmp_path / "r1.toml")["image"]["tags"] == [  # type: ignore[index]
        f"{host}/{unique}/app:a", f"{host}/{unique}/app:b"]
    digest = skopeo_inspect(f"{host}/{unique}/app:a")["Digest"]
    assert skopeo_inspect(f"{host}/{unique}/app:b")["Digest"] == digest

    uploads_before = len(registries.one.blob_requests("PUT"))
    second = export(build, stack, f"{host}/{unique}/app:a", report_path=tmp_path / "r2.toml")
    assert second.code == 0, second.output
    assert "Adding layer" not in second.stdout
    assert "Reusing layer 'examples/hello:hello'" in second.stdout
    # Nothing uploaded (a run-image layer may be mounted again: one request, no bytes).
    assert len(registries.one.blob_requests("PUT")) == uploads_before
    assert report(tmp_path / "r2.toml")["image"]["digest"] == digest  # type: ignore[index]

    (build.app_dir / "message.txt").write_text("changed\n")
    third = export(build, stack, f"{host}/{unique}/app:a")
    assert "Adding layer 'slice-2'" in third.stdout
    assert skopeo_inspect(f"{host}/{unique}/app:a")["Digest"] != digest


def test_docker_v2s2_run_image(registries: Registries, build: SampleBuild, tmp_path: Path,
                               unique: str) -> None:
    run = f"{registries.one.host}/{unique}/dockerrun:v1"
    push_layout(make_run_image_layout(tmp_path / "layout"), run, docker_format=True)
    stack = write_stack(tmp_path / "stack.toml", run, [])
    app = f"{registries.one.host}/{unique}/app"
    result = export(build, stack, app)
    assert result.code == 0, result.output
    manifest = skopeo_inspect(app, raw=True)
    assert manifest["mediaType"] == "application/vnd.docker.distribution.manifest.v2+json"
    assert {layer["mediaType"] for layer in manifest["layers"]} == {
        "application/vnd.docker.image.rootfs.diff.tar.gzip"}


def test_basic_auth_from_cnb_registry_auth(registries: Registries, build: SampleBuild,
                                           tmp_path: Path, unique: str) -> None:
    user, password = registries.locked.credentials or ("", "")
    run = f"{registries.locked.host}/{unique}/run:v1"
    layout = make_run_image_layout(tmp_path / "layout")
    subprocess.run(["skopeo", "copy", "--quiet", "--dest-tls-verify=false", "--dest-creds",
                    f"{user}:{password}", f"oci:{layout}:latest", f"docker://{run}"],
                   check=True, capture_output=True, timeout=120)
    stack = write_stack(tmp_path / "stack.toml", run, [])
    app = f"{registries.locked.host}/{unique}/app"
    header = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()

    denied = export(build, stack, app)
    assert denied.code == 3 and "access denied (HTTP 401)" in denied.stderr
    allowed = export(build, stack, "-log-level", "debug", app,
                     env={"CNB_REGISTRY_AUTH": json.dumps({registries.locked.host: header})})
    assert allowed.code == 0, allowed.output
    assert password not in allowed.output and header not in allowed.output


@pytest.mark.parametrize(("breakage", "code", "message"), [
    ("stack", 3, "failed to read stack file"),
    ("group", 3, "failed to read group file"),
    ("layer", 3, "failed to parse metadata for layers: '[examples/hello:hello]'"),
    ("app", 3, "failed to read app directory"),
    ("ref", 3, "Bad_Name"),
    ("flag", 2, "flag provided but not defined: -no-such-flag"),
    ("registries", 3, "exporting to multiple registries is unsupported"),
])
def test_bad_inputs_fail_cleanly_and_push_nothing(
        registries: Registries, run_images: dict[str, str], build: SampleBuild,
        tmp_path: Path, unique: str, breakage: str, code: int, message: str) -> None:
    stack = write_stack(tmp_path / "stack.toml", run_images["canonical"], [run_images["mirror"]])
    app = f"{registries.one.host}/{unique}/app:latest"
    names = [app]
    extra: list[str] = []
    if breakage == "stack":
        stack.write_text("[run-image\n")
    elif breakage == "group":
        build.group_path.write_text("[[group]]\nid = 3\n")
    elif breakage == "layer":
        (build.layers_dir / "examples_hello" / "hello.toml").write_text("[types]\nlaunch = 1\n")
    elif breakage == "app":
        extra = ["-app", str(tmp_path / "no-such-dir")]
    elif breakage == "ref":
        names = [f"{registries.one.host}/{unique}/Bad_Name"]
    elif breakage == "flag":
        extra = ["-no-such-flag"]
    elif breakage == "registries":
        names = [app, f"{registries.two.host}/{unique}/app"]
    posts_before = len(registries.one.blob_requests("POST"))
    result = export(build, stack, *extra, *names)
    assert result.code == code, result.output
    assert message in result.stderr
    if code == 3:
        errors = [line for line in result.stderr.splitlines() if line.startswith("ERROR:")]
        assert len(errors) == 1 and errors[0].startswith("ERROR: failed to")
    assert len(registries.one.blob_requests("POST")) == posts_before
    missing = subprocess.run(["skopeo", "inspect", "--tls-verify=false", f"docker://{app}"],
                             capture_output=True, timeout=60)
    assert missing.returncode != 0
