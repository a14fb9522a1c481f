"""The rebaser against two real registries: the seed's Scenario 1 and Scenario 2."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from lifecycle.samplebuild import SampleBuild
from tests.harness.images import publish_run_image, skopeo_inspect
from tests.harness.registry import Registries
from tests.integration.conftest import Result, export_args, run_phase, write_stack

pytestmark = pytest.mark.registry


def label(ref: str) -> dict[str, object]:
    labels = skopeo_inspect(ref, config=True)["config"]["Labels"]
    value: dict[str, object] = json.loads(labels["io.buildpacks.lifecycle.metadata"])
    return value


def rebase(tmp_path: Path, *args: str, api: str = "") -> Result:
    """The rebaser at platform API ``api`` (unset: the default)."""
    return run_phase("rebaser", "-report", str(tmp_path / "rebase-report.toml"), *args,
                     env={"CNB_PLATFORM_API": api} if api else None)


@pytest.fixture
def story(registries: Registries, build: SampleBuild, tmp_path: Path,
          unique: str) -> dict[str, str]:
    """Run image v1 on both registries, the app exported to both, then v2 on every mirror."""
    canonical = f"{registries.one.host}/{unique}/run:v1"
    mirror = f"{registries.two.host}/{unique}/run:v1"
    publish_run_image(tmp_path, [canonical, mirror], "v1")
    stack = write_stack(tmp_path / "stack.toml", canonical, [mirror])
    apps = {"one": f"{registries.one.host}/{unique}/app:latest",
            "two": f"{registries.two.host}/{unique}/app:latest"}
    for app in apps.values():
        result = run_phase("exporter", *export_args(build, stack, app))
        assert result.code == 0, result.output
    v2 = publish_run_image(tmp_path, [canonical, mirror], "v2")
    return {**apps, "canonical": canonical, "mirror": mirror, "v2": v2}


@pytest.mark.parametrize("target", ["one", "two"])
def test_scenario_1_rebases_onto_the_mirror_of_the_app_registry(
        registries: Registries, story: dict[str, str], tmp_path: Path, unique: str,
        target: str) -> None:
    app = story[target]
    registry = getattr(registries, target)
    before = skopeo_inspect(app, config=True)
    app_blobs = [layer["digest"] for layer in skopeo_inspect(app, raw=True)["layers"]]
    gets_before = len(registry.blob_requests("GET"))

    result = rebase(tmp_path, app)
    assert result.code == 0, result.output
    chosen = story["canonical"] if target == "one" else story["mirror"]
    assert f"Selected run image '{chosen}'" in result.stdout

    blob_gets = registry.blob_requests("GET")[gets_before:]
    assert not [uri for uri in blob_gets if any(d in uri for d in app_blobs[2:])]
    after = skopeo_inspect(app, config=True)
    new_base = skopeo_inspect(chosen, config=True)["rootfs"]["diff_ids"]
    old_base_len = 2  # busybox + version layer
    assert after["rootfs"]["diff_ids"] == new_base + before["rootfs"]["diff_ids"][old_base_len:]
    run_image = label(app)["runImage"]
    assert run_image == {"topLayer": new_base[-1],  # type: ignore[comparison-overlap]
                         "reference": f"{registry.host}/{unique}/run@{story['v2']}"}
    assert after["config"]["Entrypoint"] == before["config"]["Entrypoint"]
    subprocess.run(["skopeo", "copy", "--quiet", "--src-tls-verify=false", f"docker://{app}",
                    f"oci:{tmp_path / 'copy'}:x"], check=True, capture_output=True, timeout=120)

    digest = skopeo_inspect(app)["Digest"]
    again = rebase(tmp_path, app)  # idempotent: the same base gives the same image
    assert again.code == 0 and skopeo_inspect(app)["Digest"] == digest


def test_scenario_2_custom_image_is_recorded(registries: Registries, story: dict[str, str],
                                             tmp_path: Path, unique: str) -> None:
    custom = f"{registries.two.host}/{unique}/custom/image:latest"
    digest = publish_run_image(tmp_path, [custom], "custom")
    result = rebase(tmp_path, "-runImage", custom, story["two"])
    assert result.code == 0, result.output
    assert f"recording '{custom}' as the run image" in result.stderr
    value = label(story["two"])
    # Platform API 0.3: the names are recorded in the stack copy only.
    assert "image" not in value["runImage"]  # type: ignore[operator]
    assert value["runImage"]["reference"] == (  # type: ignore[index]
        f"{registries.two.host}/{unique}/custom/image@{digest}")
    assert value["stack"] == {"runImage": {"image": custom}}


def test_cross_registry_base_is_copied(registries: Registries, story: dict[str, str],
                                       tmp_path: Path, unique: str) -> None:
    other = f"{registries.one.host}/{unique}/elsewhere:1"
    publish_run_image(tmp_path, [other], "elsewhere")
    result = rebase(tmp_path, "-run-image", other, story["two"])
    assert result.code == 0, result.output
    copied = tmp_path / "copy"
    subprocess.run(["skopeo", "copy", "--quiet", "--src-tls-verify=false",
                    f"docker://{story['two']}", f"oci:{copied}:x"], check=True,
                   capture_output=True, timeout=120)
    assert skopeo_inspect(story["two"], config=True)["rootfs"]["diff_ids"][:2] == \
        skopeo_inspect(other, config=True)["rootfs"]["diff_ids"]


def test_unreadable_mirror_is_skipped(registries: Registries, story: dict[str, str],
                                      tmp_path: Path) -> None:
    subprocess.run(["skopeo", "delete", "--tls-verify=false", f"docker://{story['mirror']}"],
                   check=True, capture_output=True, timeout=60)
    result = rebase(tmp_path, story["two"])
    assert result.code == 0, result.output
    assert "(on target registry): not found (HTTP 404)" in result.stdout
    assert f"Selected run image '{story['canonical']}'" in result.stdout


def test_stack_mismatch_needs_force_and_keeps_the_old_tag(
        registries: Registries, story: dict[str, str], tmp_path: Path, unique: str) -> None:
    other = f"{registries.one.host}/{unique}/otherstack:1"
    publish_run_image(tmp_path, [other], "x", stack_id="other.stack")
    digest = skopeo_inspect(story["one"])["Digest"]
    refused = rebase(tmp_path, "-run-image", other, story["one"])
    assert refused.code == 72
    assert "incompatible stack: 'other.stack' is not compatible with 'io.example.stack'; " \
        "platform API 0.12 and later can override this with -force" in refused.stderr
    assert skopeo_inspect(story["one"])["Digest"] == digest
    assert not (tmp_path / "rebase-report.toml").exists()
    forced = rebase(tmp_path, "-force", "-run-image", other, story["one"], api="0.12")
    assert forced.code == 0, forced.output
    assert "continuing because of -force" in forced.stderr


def test_image_without_label_and_missing_image(registries: Registries, tmp_path: Path,
                                               unique: str) -> None:
    plain = f"{registries.one.host}/{unique}/plain:1"
    publish_run_image(tmp_path, [plain], "plain")
    result = rebase(tmp_path, plain)
    assert result.code == 72
    assert "image has no label 'io.buildpacks.lifecycle.metadata'" in result.stderr
    missing = rebase(tmp_path, f"{registries.one.host}/{unique}/nothing")
    assert missing.code == 72 and "not found" in missing.stderr


def test_previous_image_and_additional_tags(registries: Registries, story: dict[str, str],
                                            tmp_path: Path, unique: str) -> None:
    target = f"{registries.one.host}/{unique}/rebased:1"
    extra = f"{registries.one.host}/{unique}/rebased:2"
    result = run_phase("rebaser", "-previous-image", story["one"], "-report",
                       str(tmp_path / "r.toml"), target, extra, env={"CNB_PLATFORM_API": "0.11"})
    assert result.code == 0, result.output
    assert skopeo_inspect(target)["Digest"] == skopeo_inspect(extra)["Digest"]
    assert "tags = [" in (tmp_path / "r.toml").read_text()
