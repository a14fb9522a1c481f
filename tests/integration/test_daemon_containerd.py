"""``-daemon`` against an engine with the containerd image store (Debian 13's Engine 26, run by
the tests, never installed): layers are named by digest there, so a rebase onto a new base
sends and reads no app layer at all, and an export sends only the layers it made."""

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


def phase(daemon: Dockerd, name: str, *args: str) -> Result:
    result = run_phase(name, "-daemon", *args, env={"DOCKER_HOST": daemon.host})
    assert "docker save" not in result.output  # never, on this store
    return result


@pytest.fixture
def names(unique: str) -> dict[str, str]:
    return {"canonical": f"registry.example.com/{unique}/run:v1",
            "mirror": f"localhost:5001/{unique}/run:v1",
            "app": f"localhost:5001/{unique}/app:latest"}


@pytest.fixture
def exported(containerd_dockerd: Dockerd, build: SampleBuild, tmp_path: Path,
             names: dict[str, str]) -> Result:
    containerd_dockerd.load_layout(make_run_image_layout(tmp_path / "v1", "v1"), names["mirror"])
    stack = write_stack(tmp_path / "stack.toml", names["canonical"], [names["mirror"]])
    result = phase(containerd_dockerd, "exporter",
                   *export_args(build, stack, "-report", str(tmp_path / "report.toml"),
                                names["app"]))
    assert result.code == 0, result.output
    return result


def test_export_sends_only_new_layers_and_runs(containerd_dockerd: Dockerd, exported: Result,
                                               tmp_path: Path, names: dict[str, str]) -> None:
    assert DaemonStore(containerd_dockerd.host).image_store == "containerd"
    assert f"Selected run image '{names['mirror']}'" in exported.stdout
    assert "Loaded 6 of 8 layer(s) into the daemon" in exported.stdout  # not the 2 base ones
    report = tomllib.loads((tmp_path / "report.toml").read_text())
    image = containerd_dockerd.client.images.get(names["app"])
    assert report["image"]["image-id"] == image.id.removeprefix("sha256:")
    output = containerd_dockerd.run(names["app"])
    assert "hello from the hello layer; app says: hi there" in output
    assert "run image version: v1" in output
    assert not [tag for i in containerd_dockerd.client.images.list() for tag in i.tags
                if tag.startswith("cnb-lifecycle-load/")]


def test_warm_export_sends_only_what_changed(containerd_dockerd: Dockerd, exported: Result,
                                             build: SampleBuild, tmp_path: Path,
                                             names: dict[str, str]) -> None:
    stack = tmp_path / "stack.toml"
    again = phase(containerd_dockerd, "exporter", *export_args(build, stack, names["app"]))
    assert "Loaded 0 of 8 layer(s) into the daemon" in again.stdout
    (build.app_dir / "message.txt").write_text("changed\n")
    changed = phase(containerd_dockerd, "exporter", *export_args(build, stack, names["app"]))
    assert "Loaded 1 of 8 layer(s) into the daemon" in changed.stdout  # just slice-2
    assert "app says: changed" in containerd_dockerd.run(names["app"])


def test_canonical_used_when_no_mirror_is_present(containerd_dockerd: Dockerd,
                                                  build: SampleBuild, tmp_path: Path,
                                                  names: dict[str, str]) -> None:
    containerd_dockerd.load_layout(make_run_image_layout(tmp_path / "c", "canonical"),
                                   names["canonical"])
    stack = write_stack(tmp_path / "stack.toml", names["canonical"], [names["mirror"]])
    result = phase(containerd_dockerd, "exporter", *export_args(build, stack, names["app"]))
    assert result.code == 0, result.output
    assert f"  {names['mirror']} (on target registry): not present in the daemon" in result.stdout
    assert "run image version: canonical" in containerd_dockerd.run(names["app"])


def test_rebase_onto_a_new_base_sends_no_layer(containerd_dockerd: Dockerd, exported: Result,
                                               tmp_path: Path, names: dict[str, str]) -> None:
    daemon = containerd_dockerd
    daemon.load_layout(make_run_image_layout(tmp_path / "v2", "v2"), names["mirror"])
    scenario_1 = phase(daemon, "rebaser", "-report", str(tmp_path / "r1.toml"), names["app"])
    assert scenario_1.code == 0, scenario_1.output
    assert "Loaded 0 of 8 layer(s) into the daemon" in scenario_1.stdout
    output = daemon.run(names["app"])
    assert "run image version: v2" in output and "app says: hi there" in output

    custom = names["app"].replace("/app:latest", "/custom:1")
    daemon.load_layout(make_run_image_layout(tmp_path / "custom", "custom"), custom)
    scenario_2 = phase(daemon, "rebaser", "-run-image", custom, "-report",
                       str(tmp_path / "r2.toml"), names["app"])
    assert scenario_2.code == 0, scenario_2.output
    assert "Loaded 0 of 8 layer(s) into the daemon" in scenario_2.stdout
    assert "run image version: custom" in daemon.run(names["app"])
    labels = daemon.client.images.get(names["app"]).labels
    assert json.loads(labels["io.buildpacks.lifecycle.metadata"])["stack"] == \
        {"runImage": {"image": custom}}

    other = names["app"].replace("/app:latest", "/other:1")
    daemon.load_layout(make_run_image_layout(tmp_path / "other", "x", stack_id="other"), other)
    refused = phase(daemon, "rebaser", "-run-image", other, names["app"])
    assert refused.code == 72 and "incompatible stack" in refused.stderr
    missing = phase(daemon, "rebaser", names["app"].replace("app:latest", "nothing:1"))
    assert missing.code == 72 and "not found in the daemon" in missing.stderr


def test_a_daemon_lacking_layers_gets_them_all(containerd_dockerd: Dockerd, build: SampleBuild,
                                              tmp_path: Path, unique: str) -> None:
    """An app the daemon got compressed (as from a pull) has no uncompressed content for its
    layers: on a new base they must be sent, after the cheap attempt fails cleanly."""
    daemon, app = containerd_dockerd, f"{unique}/pulled:latest"
    make_run_image_layout(tmp_path / "oci" / "example.com/run/v1", "v1")
    stack = write_stack(tmp_path / "stack.toml", "example.com/run:v1", [])
    assert run_phase("exporter", "-layout", "-layout-dir", str(tmp_path / "oci"),
                     *export_args(build, stack, "example.com/app:latest")).code == 0
    daemon.load_layout(tmp_path / "oci" / "example.com/app/latest", app)  # gzip, as pulled
    new_base = f"{unique}/run:v2"
    daemon.load_layout(make_run_image_layout(tmp_path / "v2", "v2"), new_base)
    rebased = run_phase("rebaser", "-daemon", "-log-level", "debug", "-run-image", new_base,
                        app, env={"DOCKER_HOST": daemon.host})
    assert rebased.code == 0, rebased.output
    assert "The daemon lacks layers of the image" in rebased.stdout
    output = daemon.run(app)
    assert "run image version: v2" in output and "app says: hi there" in output
