"""SBOMs (platform API 0.8 on): the launch SBOM layer in the app image, the cache SBOM layer
in the build cache, the build SBOMs left in place, and (0.11 on) -launcher-sbom; built as
buildpacks and the builder leave them, exported to the real registry and to a layout."""

from __future__ import annotations

import json
import tarfile
from pathlib import Path

import pytest

from lifecycle.backends.layout import LayoutStore
from lifecycle.backends.registry import RegistryStore
from lifecycle.buildcache import CACHE_LABEL
from lifecycle.image.model import Image
from lifecycle.platform.api import PlatformAPI
from lifecycle.reference import parse_reference
from lifecycle.samplebuild import SampleBuild
from tests.harness.images import make_run_image_layout, publish_run_image
from tests.harness.registry import Registries
from tests.integration.conftest import run_phase

RUN_TOML = PlatformAPI(0, 12)
LAUNCH_SBOM = '{"bomFormat": "CycloneDX", "components": [{"name": "hello"}]}'


def leave_sboms(build: SampleBuild) -> None:
    """What the builder leaves in <layers>/sbom after buildpacks declared SBOMs."""
    sboms = build.layers_dir / "sbom"
    for path, text in {
        sboms / "launch" / "examples_hello" / "hello" / "sbom.cdx.json": LAUNCH_SBOM,
        sboms / "launch" / "examples_hello" / "sbom.spdx.json": '{"spdxVersion": "SPDX-2.2"}',
        sboms / "cache" / "examples_cache" / "deps" / "sbom.syft.json": '{"artifacts": []}',
        sboms / "build" / "examples_cache" / "sbom.cdx.json": '{"bomFormat": "CycloneDX"}',
    }.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def layer_names(image: Image, diff_id: str) -> list[str]:
    layer = image.layer_by_diff_id(diff_id)
    assert layer is not None and layer.source is not None
    with layer.source.open_blob(layer.digest) as blob, tarfile.open(fileobj=blob,
                                                                    mode="r|*") as tar:
        return [member.name for member in tar]


def export(build: SampleBuild, root: Path, api: str, target: list[str], run: str, app: str,
           *extra: str) -> str:
    (root / "run.toml").write_text(f'[[images]]\nimage = "{run}"\n')
    result = run_phase("exporter", *target, "-layers", str(build.layers_dir), "-app",
                       str(build.app_dir), "-group", str(build.group_path),
                       "-cache-dir", str(root / "cache"), "-report", str(root / "report.toml"),
                       *(["-run", str(root / "run.toml")] if PlatformAPI.parse(api) >= RUN_TOML
                         else ["-run-image", run]), *extra, app,
                       env={"CNB_PLATFORM_API": api})
    assert result.code == 0, result.output
    return result.stdout


@pytest.fixture(params=["registry", "layout"])
def target(request: pytest.FixtureRequest, tmp_path: Path, unique: str
           ) -> tuple[list[str], str, str, object]:
    """(flags, run image, app image, store to read the app image back)."""
    if request.param == "layout":
        make_run_image_layout(tmp_path / "oci" / "example.com/cnb/run/v1", "v1")
        return (["-layout", "-layout-dir", str(tmp_path / "oci")], "example.com/cnb/run:v1",
                "example.com/apps/sbom:latest", LayoutStore(tmp_path / "oci"))
    registries: Registries = request.getfixturevalue("registries")
    run = f"{registries.one.host}/{unique}/run:v1"
    publish_run_image(tmp_path, [run])
    return [], run, f"{registries.one.host}/{unique}/app:latest", RegistryStore()


def test_launch_and_cache_sbom_layers(build: SampleBuild, tmp_path: Path,
                                      target: tuple[list[str], str, str, object]) -> None:
    flags, run, app, store = target
    leave_sboms(build)
    stdout = export(build, tmp_path, "0.12", flags, run, app)
    assert "Adding layer 'buildpacksio/lifecycle:launch.sbom'" in stdout
    image = store.read(parse_reference(app)).image  # type: ignore[attr-defined]
    label = json.loads(image.labels["io.buildpacks.lifecycle.metadata"])
    sha = label["sbom"]["sha"]
    names = layer_names(image, sha)
    launch_dir = str(build.layers_dir / "sbom" / "launch")
    assert f"{launch_dir}/examples_hello/hello/sbom.cdx.json" in names
    assert f"{launch_dir}/examples_hello/sbom.spdx.json" in names
    assert not any("sbom/cache" in name or "sbom/build" in name for name in names)
    order = list(image.diff_ids)
    hello = label["buildpacks"][0]["layers"]["hello"]["sha"]
    assert order.index(hello) < order.index(sha) < order.index(label["app"][0]["sha"])
    assert any(entry.get("created_by") == "Software Bill-of-Materials"
               for entry in image.config["history"])

    cache = json.loads((tmp_path / "cache" / "committed" / CACHE_LABEL).read_text())
    cache_sha = cache["sbom"]["sha"]
    with tarfile.open(tmp_path / "cache" / "committed" / f"{cache_sha}.tar") as tar:
        assert any(n.endswith("sbom/cache/examples_cache/deps/sbom.syft.json")
                   for n in tar.getnames())
    assert (build.layers_dir / "sbom" / "build" / "examples_cache" / "sbom.cdx.json").is_file()

    again = export(build, tmp_path, "0.12", flags, run, app)
    assert "Reusing layer 'buildpacksio/lifecycle:launch.sbom'" in again
    assert "Reusing cache layer 'buildpacksio/lifecycle:cache.sbom'" in again
    store.close()  # type: ignore[attr-defined]


def test_no_sbom_layer_before_0_8(build: SampleBuild, tmp_path: Path,
                                  target: tuple[list[str], str, str, object]) -> None:
    flags, run, app, store = target
    leave_sboms(build)
    stdout = export(build, tmp_path, "0.7", flags, run, app)
    assert "launch.sbom" not in stdout
    image = store.read(parse_reference(app)).image  # type: ignore[attr-defined]
    assert "sbom" not in json.loads(image.labels["io.buildpacks.lifecycle.metadata"])
    assert "sbom" not in json.loads(
        (tmp_path / "cache" / "committed" / CACHE_LABEL).read_text())
    store.close()  # type: ignore[attr-defined]


def test_launcher_sbom_directory_is_copied_into_the_launch_sbom(
        build: SampleBuild, tmp_path: Path, target: tuple[list[str], str, str, object]) -> None:
    flags, run, app, store = target
    launcher_sboms = tmp_path / "launcher-sboms"
    launcher_sboms.mkdir()
    (launcher_sboms / "launcher.sbom.cdx.json").write_text('{"bomFormat": "CycloneDX"}')
    (launcher_sboms / "notes.txt").write_text("not an SBOM")
    export(build, tmp_path, "0.11", flags, run, app, "-launcher-sbom", str(launcher_sboms))
    copied = build.layers_dir / "sbom" / "launch" / "buildpacksio_lifecycle" / "launcher"
    assert sorted(p.name for p in copied.iterdir()) == ["launcher.sbom.cdx.json"]
    image = store.read(parse_reference(app)).image  # type: ignore[attr-defined]
    sha = json.loads(image.labels["io.buildpacks.lifecycle.metadata"])["sbom"]["sha"]
    assert any(name.endswith("buildpacksio_lifecycle/launcher/launcher.sbom.cdx.json")
               for name in layer_names(image, sha))
    store.close()  # type: ignore[attr-defined]
