"""``inspect-image`` as a process, on every target: the registry, the daemon, a layout.

It must show what the label records and what a rebase would choose for a registry (the
image's own, or ``-registry``), with every candidate checked against the real store, and it
must never write anything.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from lifecycle.samplebuild import SampleBuild
from tests.harness.dockerd import Dockerd
from tests.harness.images import make_run_image_layout, publish_run_image, skopeo_inspect
from tests.harness.registry import Registries
from tests.integration.conftest import export_args, run_phase, write_stack


def inspect_json(*args: str, env: dict[str, str] | None = None) -> dict[str, Any]:
    result = run_phase("inspect", "-json", *args, env=env)
    assert result.code == 0, result.output
    document: dict[str, Any] = json.loads(result.stdout)
    return document


def writes(registries: Registries) -> list[tuple[str, str]]:
    return [(method, uri) for registry in (registries.one, registries.two, registries.locked)
            for method, uri in registry.requests_seen() if method not in ("GET", "HEAD")]


@pytest.mark.registry
def test_registry_app_shows_recorded_run_image_and_each_registrys_choice(
        registries: Registries, build: SampleBuild, tmp_path: Path, unique: str) -> None:
    canonical = f"{registries.one.host}/{unique}/run:v1"
    mirror = f"{registries.two.host}/{unique}/run:v1"
    locked = f"{registries.locked.host}/{unique}/run:v1"   # needs credentials we do not give
    digest = publish_run_image(tmp_path, [canonical, mirror], "v1")
    stack = write_stack(tmp_path / "stack.toml", canonical, [locked, mirror])
    app = f"{registries.two.host}/{unique}/app:v1"
    exported = run_phase("exporter", *export_args(build, stack, "-report",
                                                  str(tmp_path / "report.toml"), app))
    assert exported.code == 0, exported.output
    writes_before = writes(registries)

    document = inspect_json(app)
    assert document["image"] == app
    assert document["reference"] == f"{registries.two.host}/{unique}/app@" \
        + skopeo_inspect(app)["Digest"]
    base = skopeo_inspect(mirror, config=True)["rootfs"]["diff_ids"]
    assert document["runImage"] == {"image": canonical, "mirrors": [locked, mirror],
                                    "reference": f"{registries.two.host}/{unique}/run@{digest}",
                                    "topLayer": base[-1]}
    selection = document["selection"]
    assert selection["registry"] == registries.two.host
    assert selection["chosen"] == mirror
    assert selection["reason"] == ("first readable candidate on the target registry "
                                   f"{registries.two.host}")
    assert [(c["name"], c["readable"]) for c in selection["candidates"]] == [
        (canonical, None), (locked, None), (mirror, True)]
    assert selection["candidates"][2]["why"] == "readable"
    assert document["rebasable"] is True
    assert document["platform"] == {"os": "linux", "architecture": "amd64"}
    assert document["baseAnnotations"] == {
        "org.opencontainers.image.base.name": mirror,
        "org.opencontainers.image.base.digest": digest}
    assert [bp["id"] for bp in document["buildpacks"]] == ["examples/hello", "examples_cache"]
    assert [p["type"] for p in document["processes"]] == ["web", "shell"]

    # Another registry: the locked one comes first there but cannot be read, so the
    # canonical image on registry one wins as the first readable one anywhere.
    other = inspect_json("-registry", registries.locked.host, app)["selection"]
    assert other["registry"] == registries.locked.host
    assert other["chosen"] == canonical
    assert other["reason"].startswith(f"no readable candidate on {registries.locked.host}")
    assert other["candidates"][1]["readable"] is False
    assert "denied" in other["candidates"][1]["why"]

    text = run_phase("inspect", app)
    assert text.code == 0, text.output
    assert f"  would choose: {mirror}" in text.stdout
    assert f"  recorded:  {canonical}" in text.stdout
    assert f"    {mirror} (on {registries.two.host}): readable" in text.stdout
    assert "Rebasable: yes" in text.stdout and "Platform: linux/amd64" in text.stdout
    assert "  web: hello  [via shell]\n  shell: /bin/sh\n" in text.stdout
    assert f"Base annotations:\n  org.opencontainers.image.base.name: {mirror}\n" in text.stdout
    assert writes(registries) == writes_before


@pytest.mark.registry
def test_errors_are_one_line(registries: Registries, tmp_path: Path, unique: str) -> None:
    missing = run_phase("inspect", f"{registries.one.host}/{unique}/nothing:v1")
    assert missing.code == 1 and missing.stderr.startswith("ERROR: failed to inspect image")
    assert len(missing.stderr.splitlines()) == 1
    run_only = f"{registries.one.host}/{unique}/run:v1"
    publish_run_image(tmp_path, [run_only], "v1")
    unlabelled = run_phase("inspect", run_only)
    assert unlabelled.code == 1 and "was not built by a buildpacks lifecycle" in unlabelled.stderr
    refused = run_phase("inspect", f"127.0.0.1:9/{unique}/app:v1")
    assert refused.code == 1
    assert "cannot reach registry 127.0.0.1:9: connection refused" in refused.stderr
    scheme = run_phase("inspect", f"http://{registries.one.host}/{unique}/app:v1")
    assert scheme.code == 3 and "drop the scheme" in scheme.stderr


def test_layout_app(build: SampleBuild, tmp_path: Path, unique: str) -> None:
    layout_root = tmp_path / "layouts"
    canonical = f"registry.example.com/{unique}/run:v1"
    mirror = f"mirror.example.com/{unique}/run:v1"
    run_dir = layout_root / "mirror.example.com" / unique / "run" / "v1"
    run_dir.parent.mkdir(parents=True)
    make_run_image_layout(run_dir, "v1")
    stack = write_stack(tmp_path / "stack.toml", canonical, [mirror])
    app = f"registry.example.com/{unique}/app:v1"
    exported = run_phase("exporter", *export_args(build, stack, "-layout", "-layout-dir",
                                                  str(layout_root), "-report",
                                                  str(tmp_path / "report.toml"), app),
                         env={"CNB_PLATFORM_API": "0.11"})  # commands are arrays from 0.10
    assert exported.code == 0, exported.output
    before = sorted(str(path) for path in layout_root.rglob("*"))

    document = inspect_json("-layout", "-layout-dir", str(layout_root), app)
    selection = document["selection"]
    assert selection["chosen"] == mirror and selection["registry"] == "registry.example.com"
    assert selection["candidates"][0]["readable"] is False
    assert selection["candidates"][0]["why"].startswith("not present in the layout")
    assert document["runImage"]["image"] == canonical
    assert document["runImage"]["reference"].startswith(
        f"{layout_root}/mirror.example.com/{unique}/run/")
    assert document["processes"][0]["command"] == ["hello"]
    text = run_phase("inspect", "-layout", "-layout-dir", str(layout_root), app)
    assert "  web: hello  [via shell]\n  shell: /bin/sh\n" in text.stdout
    assert sorted(str(path) for path in layout_root.rglob("*")) == before


@pytest.mark.daemon
def test_daemon_app(dockerd: Dockerd, build: SampleBuild, tmp_path: Path, unique: str) -> None:
    canonical = f"registry.example.com/{unique}/run:v1"
    mirror = f"localhost:5001/{unique}/run:v1"
    dockerd.load_layout(make_run_image_layout(tmp_path / "v1", "v1"), mirror)
    stack = write_stack(tmp_path / "stack.toml", canonical, [mirror])
    app = f"localhost:5001/{unique}/app:v1"
    env = {"DOCKER_HOST": dockerd.host}
    exported = run_phase("exporter", "-daemon", *export_args(
        build, stack, "-report", str(tmp_path / "report.toml"), app), env=env)
    assert exported.code == 0, exported.output

    document = inspect_json("-daemon", app, env=env)
    assert document["selection"]["chosen"] == mirror
    assert [c["why"] for c in document["selection"]["candidates"]] == [
        "not checked", "present in the daemon"]
    assert document["reference"] == dockerd.client.images.get(app).id.removeprefix("sha256:")
    assert document["runImage"]["topLayer"] == \
        dockerd.client.images.get(mirror).attrs["RootFS"]["Layers"][-1]

    gone = run_phase("inspect", "-daemon", app,
                     env={"DOCKER_HOST": f"unix://{tmp_path}/no-docker.sock"})
    assert gone.code == 1
    assert gone.stderr.strip() == (
        f"ERROR: failed to inspect image '{app}': cannot connect to the Docker daemon at "
        f"unix://{tmp_path}/no-docker.sock: no such file")
