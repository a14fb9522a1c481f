"""Exporter and rebaser with ``-daemon`` against real Docker Engines started by the tests.

Every story runs on both image stores: Debian 12's Engine 20.10 keeps images in the classic
store (layers keyed by chain), Debian 13's Engine 26 in containerd (content keyed by digest,
so a rebase onto a new base sends and reads no app layer). Only how many layers go to the
engine, and whether the rebaser must read some back with ``docker save``, differ.
"""

from __future__ import annotations

import json
import tomllib
from dataclasses import dataclass
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


@dataclass(frozen=True)
class Store:
    """One image store and what it is sent for each step of the story (8 layers: 2 base)."""

    kind: str                  # as DaemonStore.image_store detects it
    fixture: str               # the engine's fixture
    loaded_after_change: int   # warm export with slice-2 changed
    loaded_on_new_base: int    # rebase onto a new run image
    reads_back: bool           # whether that rebase needs a docker save


CLASSIC = Store("classic", "dockerd", loaded_after_change=4, loaded_on_new_base=6,
                reads_back=True)
CONTAINERD = Store("containerd", "containerd_dockerd", loaded_after_change=1,
                   loaded_on_new_base=0, reads_back=False)


@dataclass(frozen=True)
class Engine:
    daemon: Dockerd
    store: Store

    def phase(self, name: str, *args: str, **env: str) -> Result:
        result = run_phase(name, "-daemon", *args, env={"DOCKER_HOST": self.daemon.host, **env})
        if not self.store.reads_back:
            assert "docker save" not in result.output
        return result

    def label(self, name: str) -> dict[str, object]:
        labels = self.daemon.client.images.get(name).labels
        value: dict[str, object] = json.loads(labels["io.buildpacks.lifecycle.metadata"])
        return value


@pytest.fixture(params=[CLASSIC, CONTAINERD], ids=lambda store: store.kind)
def engine(request: pytest.FixtureRequest) -> Engine:
    return Engine(request.getfixturevalue(request.param.fixture), request.param)


@pytest.fixture
def names(unique: str) -> dict[str, str]:
    return {key: value.format(u=unique) for key, value in
            (("canonical", CANONICAL), ("mirror", MIRROR), ("app", APP))}


@pytest.fixture
def exported(engine: Engine, build: SampleBuild, tmp_path: Path,
             names: dict[str, str]) -> Result:
    """Run image v1 present in the daemon only as the mirror; the app exported once."""
    engine.daemon.load_layout(make_run_image_layout(tmp_path / "v1", "v1"), names["mirror"])
    stack = write_stack(tmp_path / "stack.toml", names["canonical"], [names["mirror"]])
    result = engine.phase("exporter", *export_args(build, stack, "-report",
                                                   str(tmp_path / "report.toml"),
                                                   names["app"]))
    assert result.code == 0, result.output
    return result


def test_export_into_the_daemon_runs(engine: Engine, exported: Result, tmp_path: Path,
                                     names: dict[str, str]) -> None:
    daemon = engine.daemon
    assert DaemonStore(daemon.host).image_store == engine.store.kind
    assert f"  {names['canonical']} (on registry.example.com): not present in the daemon" \
        not in exported.stdout  # the mirror on the app's registry wins without asking
    assert f"Selected run image '{names['mirror']}'" in exported.stdout
    assert "Loaded 6 of 8 layer(s) into the daemon" in exported.stdout  # not the 2 base ones
    image = daemon.client.images.get(names["app"])
    run_id = daemon.client.images.get(names["mirror"]).id
    value = engine.label(names["app"])
    assert value["runImage"]["reference"] == run_id.removeprefix("sha256:")  # type: ignore[index]
    assert value["stack"]["runImage"]["image"] == names["canonical"]  # type: ignore[index]
    report = tomllib.loads((tmp_path / "report.toml").read_text())
    assert report["image"]["image-id"] == image.id.removeprefix("sha256:")
    assert "digest" not in report["image"]
    output = daemon.run(names["app"])
    assert "hello from the hello layer; app says: hi there" in output
    assert "run image version: v1" in output
    assert not [tag for i in daemon.client.images.list() for tag in i.tags
                if tag.startswith("cnb-lifecycle-load/")]


def test_warm_export_sends_only_changed_layers(engine: Engine, exported: Result,
                                               build: SampleBuild, tmp_path: Path,
                                               names: dict[str, str]) -> None:
    stack = tmp_path / "stack.toml"
    again = engine.phase("exporter", *export_args(build, stack, names["app"]))
    assert again.code == 0, again.output
    assert "Loaded 0 of 8 layer(s) into the daemon" in again.stdout
    (build.app_dir / "message.txt").write_text("changed\n")
    changed = engine.phase("exporter", *export_args(build, stack, names["app"]))
    assert "Adding layer 'slice-2'" in changed.stdout
    # Classic: slice-2 and every layer above it form new chains. Containerd: just slice-2.
    loaded = engine.store.loaded_after_change
    assert f"Loaded {loaded} of 8 layer(s) into the daemon" in changed.stdout
    assert "app says: changed" in engine.daemon.run(names["app"])


def test_canonical_used_when_no_mirror_is_present(engine: Engine, build: SampleBuild,
                                                  tmp_path: Path, names: dict[str, str]) -> None:
    engine.daemon.load_layout(make_run_image_layout(tmp_path / "v1", "canonical"),
                              names["canonical"])
    stack = write_stack(tmp_path / "stack.toml", names["canonical"], [names["mirror"]])
    result = engine.phase("exporter", *export_args(build, stack, names["app"]))
    assert result.code == 0, result.output
    assert f"  {names['mirror']} (on target registry): not present in the daemon" in result.stdout
    assert "run image version: canonical" in engine.daemon.run(names["app"])


def test_rebase_scenarios_in_the_daemon(engine: Engine, exported: Result, tmp_path: Path,
                                        names: dict[str, str]) -> None:
    daemon, store = engine.daemon, engine.store
    daemon.load_layout(make_run_image_layout(tmp_path / "v2", "v2"), names["mirror"])
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    scenario_1 = engine.phase("rebaser", "-report", str(tmp_path / "r1.toml"), names["app"],
                              TMPDIR=str(scratch))
    assert scenario_1.code == 0, scenario_1.output
    # The classic store keys layers by chain: on a new base the six app layers are new to it,
    # read back with exactly one docker save of the app image. Containerd has them all.
    loaded = store.loaded_on_new_base
    assert f"Loaded {loaded} of 8 layer(s) into the daemon" in scenario_1.stdout
    assert scenario_1.stdout.count("with docker save") == int(store.reads_back)
    # A saved archive is removed before the process ends (it skips interpreter teardown).
    assert list(scratch.iterdir()) == []
    output = daemon.run(names["app"])
    assert "run image version: v2" in output and "app says: hi there" in output

    custom = names["app"].replace("/app:latest", "/custom:1")
    daemon.load_layout(make_run_image_layout(tmp_path / "custom", "custom"), custom)
    scenario_2 = engine.phase("rebaser", "-run-image", custom, "-report",
                              str(tmp_path / "r2.toml"), names["app"])
    assert scenario_2.code == 0, scenario_2.output
    assert f"Loaded {loaded} of 8 layer(s) into the daemon" in scenario_2.stdout
    assert "run image version: custom" in daemon.run(names["app"])
    same_base = engine.phase("rebaser", "-run-image", custom, "-report",
                             str(tmp_path / "r3.toml"), names["app"])
    assert "Loaded 0 of 8 layer(s) into the daemon" in same_base.stdout
    assert "docker save" not in same_base.stdout
    assert engine.label(names["app"])["stack"] == {"runImage": {"image": custom}}

    other = names["app"].replace("/app:latest", "/other:1")
    daemon.load_layout(make_run_image_layout(tmp_path / "other", "x", stack_id="other"), other)
    refused = engine.phase("rebaser", "-run-image", other, "-report",
                           str(tmp_path / "r4.toml"), names["app"])
    assert refused.code == 72 and "incompatible stack" in refused.stderr
    missing = engine.phase("rebaser", "-report", str(tmp_path / "r5.toml"),
                           names["app"].replace("app:latest", "nothing:1"))
    assert missing.code == 72 and "not found in the daemon" in missing.stderr


def test_a_containerd_store_lacking_layers_gets_them_all(containerd_dockerd: Dockerd,
                                                        build: SampleBuild, tmp_path: Path,
                                                        unique: str) -> None:
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
                        "-report", str(tmp_path / "report.toml"), app,
                        env={"DOCKER_HOST": daemon.host})
    assert rebased.code == 0, rebased.output
    assert "The daemon lacks layers of the image" in rebased.stdout
    output = daemon.run(app)
    assert "run image version: v2" in output and "app says: hi there" in output
    assert not [tag for i in daemon.client.images.list() for tag in i.tags
                if tag.startswith("cnb-lifecycle-load/")]
