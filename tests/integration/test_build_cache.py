"""The build cache: ``cache = true`` layers in a cache directory or a cache image."""

from __future__ import annotations

import hashlib
import json
import tarfile
import tomllib
from pathlib import Path

import pytest

from lifecycle import archive
from lifecycle.backends.registry import RegistryStore
from lifecycle.buildcache import CACHE_LABEL, tar_digest
from lifecycle.image.model import Image
from lifecycle.record import replace
from lifecycle.reference import parse_reference
from lifecycle.samplebuild import SampleBuild
from tests.harness.images import make_run_image_layout, publish_run_image, skopeo_inspect
from tests.harness.registry import Registries
from tests.integration.conftest import Result, export_args, run_phase, write_stack

APP = "example.com/apps/cached:latest"
CACHED = "examples_cache:deps"


def export_to_layout(build: SampleBuild, root: Path, *flags: str) -> Result:
    if not (root / "oci" / "example.com/cnb/run/v1").exists():
        make_run_image_layout(root / "oci" / "example.com/cnb/run/v1", "v1")
    stack = write_stack(root / "stack.toml", "example.com/cnb/run:v1", [])
    result = run_phase("exporter", "-layout", "-layout-dir", str(root / "oci"), *flags,
                       *export_args(build, stack, "-report", str(root / "r.toml"), APP))
    assert result.code == 0, result.output
    return result


def cache_sha(metadata: dict[str, object]) -> str:
    buildpacks = metadata["buildpacks"]
    assert isinstance(buildpacks, list)
    entry = next(bp for bp in buildpacks if bp["key"] == "examples_cache")
    sha: str = entry["layers"]["deps"]["sha"]
    assert entry["layers"]["deps"]["cache"] is True
    return sha


def test_cache_directory_keeps_reuses_and_replaces_cache_layers(build: SampleBuild,
                                                                tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    first = export_to_layout(build, tmp_path, "-cache-dir", str(cache))
    assert f"Adding cache layer '{CACHED}'" in first.stdout
    assert "Will not cache data" not in first.output
    metadata = json.loads((cache / "committed" / CACHE_LABEL).read_text())
    sha = cache_sha(metadata)
    tar_path = cache / "committed" / f"{sha}.tar"
    with tarfile.open(tar_path) as tar:
        names = tar.getnames()
    assert any(name.endswith("examples_cache/deps/cached.txt") for name in names)
    assert sorted(p.name for p in cache.iterdir()) == ["committed"]

    second = export_to_layout(build, tmp_path, "-cache-dir", str(cache))
    assert f"Reusing cache layer '{CACHED}'" in second.stdout
    assert tar_path.is_file()

    (build.layers_dir / "examples_cache" / "deps" / "cached.txt").write_text("new contents\n")
    third = export_to_layout(build, tmp_path, "-cache-dir", str(cache))
    assert f"Adding cache layer '{CACHED}'" in third.stdout
    new_sha = cache_sha(json.loads((cache / "committed" / CACHE_LABEL).read_text()))
    assert new_sha != sha
    assert sorted(p.name for p in (cache / "committed").iterdir()) == \
        sorted([CACHE_LABEL, f"{new_sha}.tar"])


def file_sha(path: Path) -> str:
    return f"sha256:{hashlib.sha256(path.read_bytes()).hexdigest()}"


@pytest.mark.parametrize("damage", ["overwritten", "truncated"])
def test_a_damaged_cache_tar_is_rebuilt_and_rewritten_never_reused(
        build: SampleBuild, tmp_path: Path, damage: str) -> None:
    cache = tmp_path / "cache"
    export_to_layout(build, tmp_path, "-cache-dir", str(cache))
    sha = cache_sha(json.loads((cache / "committed" / CACHE_LABEL).read_text()))
    tar_path = cache / "committed" / f"{sha}.tar"
    good = tar_path.read_bytes()
    tar_path.write_bytes(b"\0" * len(good) if damage == "overwritten" else good[:700])

    second = export_to_layout(build, tmp_path, "-cache-dir", str(cache))
    assert f"Cached layer {sha} in '{cache}' is damaged" in second.stderr
    assert f"Adding cache layer '{CACHED}'" in second.stdout
    assert f"Reusing cache layer '{CACHED}'" not in second.stdout
    assert file_sha(tar_path) == sha and tar_path.read_bytes() == good
    assert cache_sha(json.loads((cache / "committed" / CACHE_LABEL).read_text())) == sha

    third = export_to_layout(build, tmp_path, "-cache-dir", str(cache))
    assert f"Reusing cache layer '{CACHED}'" in third.stdout
    assert "damaged" not in third.stderr


def test_a_cache_problem_is_only_a_warning(build: SampleBuild, tmp_path: Path) -> None:
    not_a_dir = tmp_path / "cache-file"
    not_a_dir.write_text("")
    result = export_to_layout(build, tmp_path, "-cache-dir", str(not_a_dir))
    assert "Warning: Failed to export cache:" in result.stderr
    assert (tmp_path / "r.toml").is_file()


def test_no_cache_flag_warns(build: SampleBuild, tmp_path: Path) -> None:
    result = export_to_layout(build, tmp_path)
    assert "Warning: Will not cache data, no cache flag specified." in result.stderr


@pytest.mark.registry
def test_cache_image_in_the_registry_wins_over_a_directory(
        registries: Registries, build: SampleBuild, tmp_path: Path, unique: str) -> None:
    run = f"{registries.one.host}/{unique}/run:v1"
    publish_run_image(tmp_path, [run])
    stack = write_stack(tmp_path / "stack.toml", run, [])
    app, cache_image = (f"{registries.one.host}/{unique}/app:latest",
                        f"{registries.one.host}/{unique}/cache:build")
    flags = ["-cache-image", cache_image, "-cache-dir", str(tmp_path / "unused")]
    first = run_phase("exporter", *flags, *export_args(build, stack, app))
    assert first.code == 0, first.output
    assert f"Adding cache layer '{CACHED}'" in first.stdout
    config = skopeo_inspect(cache_image, config=True)
    sha = cache_sha(json.loads(config["config"]["Labels"][CACHE_LABEL]))
    assert config["rootfs"]["diff_ids"] == [sha]
    assert not (tmp_path / "unused").exists()

    second = run_phase("exporter", *flags, *export_args(build, stack, app))
    assert second.code == 0, second.output
    assert f"Reusing cache layer '{CACHED}'" in second.stdout
    assert skopeo_inspect(cache_image, config=True)["rootfs"]["diff_ids"] == [sha]


@pytest.mark.registry
def test_a_cache_image_layer_that_is_not_its_diff_id_is_rebuilt(
        registries: Registries, build: SampleBuild, tmp_path: Path, unique: str) -> None:
    """A cache image whose config names the right diffID for a blob holding something else
    (written by another tool, or tampered with): the blob is read, found wrong, and the
    next cache image carries a freshly built layer."""
    run = f"{registries.one.host}/{unique}/run:v1"
    publish_run_image(tmp_path, [run])
    stack = write_stack(tmp_path / "stack.toml", run, [])
    app, cache_image = (f"{registries.one.host}/{unique}/app:latest",
                        f"{registries.one.host}/{unique}/cache:build")
    flags = ["-cache-image", cache_image]
    first = run_phase("exporter", *flags, *export_args(build, stack, app))
    assert first.code == 0, first.output
    store = RegistryStore()
    honest = store.read(parse_reference(cache_image)).image
    (sha,) = honest.diff_ids
    other = archive.write_layer([], tmp_path, compress=True)
    forged = Image(honest.mutable_config(), (replace(other, diff_id=sha),))
    assert store.write(forged, [parse_reference(cache_image)]).saved

    second = run_phase("exporter", *flags, *export_args(build, stack, app))
    assert second.code == 0, second.output
    assert f"Cached layer {sha} in '{cache_image}' is damaged" in second.stderr
    assert f"Adding cache layer '{CACHED}'" in second.stdout
    rewritten = store.read(parse_reference(cache_image)).image
    (layer,) = rewritten.layers
    assert rewritten.diff_ids == (sha,) and layer.digest != other.digest
    assert layer.source is not None
    with layer.source.open_blob(layer.digest) as stream:
        assert tar_digest(stream, layer.compressed) == sha
    store.close()


@pytest.mark.registry
def test_parallel_exports_the_image_and_the_cache_image_together(
        registries: Registries, build: SampleBuild, tmp_path: Path, unique: str) -> None:
    """-parallel at platform API 0.13: one store, two writers at once, both complete."""
    run = f"{registries.one.host}/{unique}/run:v1"
    publish_run_image(tmp_path, [run])
    run_toml = tmp_path / "run.toml"
    run_toml.write_text(f'[[images]]\nimage = "{run}"\nmirrors = []\n')
    app, cache_image = (f"{registries.one.host}/{unique}/app:latest",
                        f"{registries.one.host}/{unique}/cache:build")
    args = ["-parallel", "-cache-image", cache_image, "-run", str(run_toml), "-layers",
            str(build.layers_dir), "-app", str(build.app_dir), "-group", str(build.group_path),
            "-report", str(tmp_path / "report.toml"), app]
    result = run_phase("exporter", *args, env={"CNB_PLATFORM_API": "0.13"})
    assert result.code == 0, result.output
    assert f"Adding cache layer '{CACHED}'" in result.stdout
    report = tomllib.loads((tmp_path / "report.toml").read_text())
    assert report["image"]["tags"] == [app]
    config = skopeo_inspect(cache_image, config=True)
    assert config["rootfs"]["diff_ids"] == [
        cache_sha(json.loads(config["config"]["Labels"][CACHE_LABEL]))]
    assert skopeo_inspect(app, config=True)["config"]["Env"]

    too_old = run_phase("exporter", *args, env={"CNB_PLATFORM_API": "0.12"})
    assert too_old.code == 2 and "-parallel" in too_old.stderr
