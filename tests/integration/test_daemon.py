"""Exporter and rebaser with ``-daemon`` against a real Docker Engine started by the tests."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pytest

from lifecycle.backends.daemon import DaemonStore
from lifecycle.samplebuild import SampleBuild
from tests.harness.dockerd import Dockerd
from tests.harness.images import make_run_image_layout
from tests.integration.conftest import Result, export_args, run_phase, write_stack

pytestmark = pytest.mark.daemon

CANONICAL = "registry.example.com/{u}/run:v1"
MIRROR = "localhost:5001/{u}/run:v1"
APP = "localhost:5001/{u}/app:latest"


def phase(dockerd: Dockerd, name: str, *args: str) -> Result:
    return run_phase(name, "-daemon", *args, env={"DOCKER_HOST": dockerd.host})


def label(dockerd: Dockerd, name: str) -> dict[str, object]:
    labels = dockerd.client.images.get(name).labels
    value: dict[str, object] = json.loads(labels["io.buildpacks.lifecycle.metadata"])
    return value


@pytest.fixture
def names(unique: str) -> dict[str, str]:
    return {key: value.format(u=unique) for key, value in
            (("canonical", CANONICAL), ("mirror", MIRROR), ("app", APP))}


@pytest.fixture
def exported(dockerd: Dockerd, build: SampleBuild, tmp_path: Path,
             names: dict[str, str]) -> Result:
    """Run image v1 present in the daemon only as the mirror; the app exported once."""
    dockerd.load_layout(make_run_image_layout(tmp_path / "v1", "v1"), names["mirror"])
    stack = write_stack(tmp_path / "stack.toml", names["canonical"], [names["mirror"]])
    result = phase(dockerd, "exporter", *export_args(build, stack, "-report",
                                                     str(tmp_path / "report.toml"),
                                                     names["app"]))
    assert result.code == 0, result.output
    return result


def test_export_into_the_daemon_runs(dockerd: Dockerd, exported: Result, tmp_path: Path,
                                     names: dict[str, str]) -> None:
    assert f"  {names['canonical']} (on registry.example.com): not present in the daemon" \
        not in exported.stdout  # the mirror on the app's registry wins without asking
    assert f"Selected run image '{names['mirror']}'" in exported.stdout
    image = dockerd.client.images.get(names["app"])
    run_id = dockerd.client.images.get(names["mirror"]).id
    value = label(dockerd, names["app"])
    assert value["runImage"]["reference"] == run_id.removeprefix("sha256:")  # type: ignore[index]
    assert value["stack"]["runImage"]["image"] == names["canonical"]  # type: ignore[index]
    report = tomllib.loads((tmp_path / "report.toml").read_text())
    assert report["image"]["image-id"] == image.id.removeprefix("sha256:")
    assert "digest" not in report["image"]
    assert DaemonStore(dockerd.host).image_store == "classic"  # Debian's Engine 20.10, vfs
    output = dockerd.run(names["app"])
    assert "hello from the hello layer; app says: hi there" in output
    assert "run image version: v1" in output


def test_warm_export_sends_only_changed_layers(dockerd: Dockerd, exported: Result,
                                               build: SampleBuild, tmp_path: Path,
                                               names: dict[str, str]) -> None:
    stack = tmp_path / "stack.toml"
    again = phase(dockerd, "exporter", *export_args(build, stack, names["app"]))
    assert again.code == 0, again.output
    assert "Loaded 0 of 8 layer(s) into the daemon" in again.stdout
    (build.app_dir / "message.txt").write_text("changed\n")
    changed = phase(dockerd, "exporter", *export_args(build, stack, names["app"]))
    assert "Adding layer 'slice-2'" in changed.stdout
    # slice-2 changed, so it and every layer above it form new chains the daemon lacks
    assert "Loaded 4 of 8 layer(s) into the daemon" in changed.stdout
    assert "app says: changed" in dockerd.run(names["app"])


def test_canonical_used_when_no_mirror_is_present(dockerd: Dockerd, build: SampleBuild,
                                                  tmp_path: Path, names: dict[str, str]) -> None:
    dockerd.load_layout(make_run_image_layout(tmp_path / "v1", "canonical"), names["canonical"])
    stack = write_stack(tmp_path / "stack.toml", names["canonical"], [names["mirror"]])
    result = phase(dockerd, "exporter", *export_args(build, stack, names["app"]))
    assert result.code == 0, result.output
    assert f"  {names['mirror']} (on target registry): not present in the daemon" in result.stdout
    assert "run image version: canonical" in dockerd.run(names["app"])


def test_rebase_scenarios_in_the_daemon(dockerd: Dockerd, exported: Result, tmp_path: Path,
                                        names: dict[str, str]) -> None:
    dockerd.load_layout(make_run_image_layout(tmp_path / "v2", "v2"), names["mirror"])
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    scenario_1 = run_phase("rebaser", "-daemon", "-report", str(tmp_path / "r1.toml"),
                           names["app"], env={"DOCKER_HOST": dockerd.host, "TMPDIR": str(scratch)})
    assert scenario_1.code == 0, scenario_1.output
    # The classic store keys layers by chain: on a new base the six app layers are new to it,
    # read back with exactly one docker save of the app image...
    assert "Loaded 6 of 8 layer(s) into the daemon" in scenario_1.stdout
    assert scenario_1.stdout.count("with docker save") == 1
    # ... which is removed before the process ends (it skips interpreter teardown).
    assert list(scratch.iterdir()) == []
    output = dockerd.run(names["app"])
    assert "run image version: v2" in output and "app says: hi there" in output

    custom = names["app"].replace("/app:latest", "/custom:1")
    dockerd.load_layout(make_run_image_layout(tmp_path / "custom", "custom"), custom)
    scenario_2 = phase(dockerd, "rebaser", "-run-image", custom, "-report",
                       str(tmp_path / "r2.toml"), names["app"])
    assert scenario_2.code == 0, scenario_2.output
    assert "run image version: custom" in dockerd.run(names["app"])
    same_base = phase(dockerd, "rebaser", "-run-image", custom, names["app"])
    assert "Loaded 0 of 8 layer(s) into the daemon" in same_base.stdout
    assert "docker save" not in same_base.stdout
    assert label(dockerd, names["app"])["stack"] == {"runImage": {"image": custom}}

    other = names["app"].replace("/app:latest", "/other:1")
    dockerd.load_layout(make_run_image_layout(tmp_path / "other", "x", stack_id="other"), other)
    refused = phase(dockerd, "rebaser", "-run-image", other, names["app"])
    assert refused.code == 72 and "incompatible stack" in refused.stderr
    missing = phase(dockerd, "rebaser", names["app"].replace("app:latest", "nothing:1"))
    assert missing.code == 72 and "not found in the daemon" in missing.stderr
