"""``-log-format json`` against the real registry and daemon: every event that concerns an
image, a run image, a layer or a transfer carries it as fields, and the messages are the
console lines word for word."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from lifecycle.samplebuild import SampleBuild
from tests.harness.dockerd import Dockerd
from tests.harness.images import make_run_image_layout, publish_run_image
from tests.harness.registry import Registries
from tests.integration.conftest import Result, export_args, run_phase, write_stack

LAYERS = ["examples/hello:hello", "slice-1", "slice-2", "buildpacksio/lifecycle:launcher",
          "buildpacksio/lifecycle:config", "buildpacksio/lifecycle:process-types"]


def events(result: Result) -> list[dict[str, Any]]:
    parsed = [json.loads(line) for line in result.stdout.splitlines()]
    for event in parsed:
        assert {"event", "message", "level", "timestamp"} <= event.keys(), event
    return parsed


def named(all_events: list[dict[str, Any]], name: str) -> list[dict[str, Any]]:
    return [event for event in all_events if event["event"] == name]


@pytest.mark.registry
def test_export_and_rebase_on_a_registry(registries: Registries, build: SampleBuild,
                                         tmp_path: Path, unique: str) -> None:
    canonical = f"{registries.one.host}/{unique}/run:v1"
    mirror = f"{registries.two.host}/{unique}/run:v1"
    publish_run_image(tmp_path, [canonical, mirror], "v1")
    stack = write_stack(tmp_path / "stack.toml", canonical, [mirror])
    report = ["-report", str(tmp_path / "report.toml")]
    app = f"{registries.two.host}/{unique}/app:v1"
    console_app = f"{registries.two.host}/{unique}/console:v1"

    exported = run_phase("exporter", "-log-format", "json", *export_args(build, stack, *report),
                         app)
    console = run_phase("exporter", *export_args(build, stack, *report), console_app)
    assert exported.code == 0 == console.code, exported.output
    logged = events(exported)
    # Same build, same run image: the same image, so the same lines but for the app's name.
    def messages(*levels: str) -> list[str]:
        return [event["message"].replace(app, console_app) for event in logged
                if event["level"] in levels]

    assert messages("info", "debug") == console.stdout.splitlines()
    assert ["Warning: " + line for line in messages("warning")] == console.stderr.splitlines()

    selected, = named(logged, "run-image.selected")
    assert selected["run_image"] == mirror and selected["reason"].startswith("first readable")
    candidates = named(logged, "run-image.candidate")
    assert [(c["run_image"], c["status"]) for c in candidates] == [
        (canonical, "not checked"), (mirror, "readable")]
    added = named(logged, "layer.added")
    assert [event["layer"] for event in added] == LAYERS
    assert all(event["digest"].startswith("sha256:") and event["bytes"] > 0 for event in added)
    written, = named(logged, "image.written")
    assert written["digest"].startswith("sha256:") and written["seconds"] >= 0
    # Every layer is new, so all were sent (most while being written), then the config.
    assert written["bytes"] > sum(event["bytes"] for event in added)
    tag, = named(logged, "image.named")
    assert (tag["image"], tag["status"], tag["digest"]) == (app, "saved", written["digest"])

    rebased = run_phase("rebaser", "-log-format", "json", *report, app)
    assert rebased.code == 0, rebased.output
    logged = events(rebased)
    selected, = named(logged, "run-image.selected")
    assert (selected["image"], selected["run_image"]) == (app, mirror)
    tag, = named(logged, "image.named")
    assert tag["status"] == "saved" and tag["digest"].startswith("sha256:")

    failed = run_phase("rebaser", "-log-format", "json", *report,
                       f"{registries.two.host}/{unique}/nothing:v1")
    last = events(failed)[-1]
    assert (failed.code, last["event"], last["status"], last["level"]) == (
        72, "phase.failed", "failed", "error")


@pytest.mark.daemon
def test_daemon_load_says_what_it_sent(dockerd: Dockerd, build: SampleBuild, tmp_path: Path,
                                       unique: str) -> None:
    run_image = f"localhost:5001/{unique}/run:v1"
    dockerd.load_layout(make_run_image_layout(tmp_path / "v1", "v1"), run_image)
    stack = write_stack(tmp_path / "stack.toml", run_image, [])
    exported = run_phase("exporter", "-daemon", "-log-format", "json",
                         *export_args(build, stack, "-report", str(tmp_path / "report.toml")),
                         f"localhost:5001/{unique}/app:v1", env={"DOCKER_HOST": dockerd.host})
    assert exported.code == 0, exported.output
    loaded, = named(events(exported), "daemon.loaded")
    assert loaded["bytes"] > 0 and loaded["message"].startswith("Loaded ")
