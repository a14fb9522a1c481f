"""``layout-add`` puts a run image from a real registry or daemon into an OCI layout, where
``-layout`` exports and rebases find it (a registry with a port included, which skopeo's
``oci:`` paths cannot name)."""

from __future__ import annotations

from pathlib import Path

import pytest

from lifecycle.backends.layout import LayoutStore
from lifecycle.reference import parse_reference
from lifecycle.samplebuild import SampleBuild
from tests.harness.dockerd import Dockerd
from tests.harness.images import make_run_image_layout, publish_run_image, skopeo_inspect
from tests.harness.registry import Registries
from tests.integration.conftest import export_args, run_phase, write_stack


@pytest.mark.registry
def test_from_a_registry_then_export_to_the_layout(registries: Registries, build: SampleBuild,
                                                   tmp_path: Path, unique: str) -> None:
    run_image = f"{registries.two.host}/{unique}/run:v1"    # localhost:<port>: a colon
    publish_run_image(tmp_path, [run_image], "v1")
    root = tmp_path / "layouts"
    added = run_phase("layout-add", "-layout-dir", str(root), run_image)
    assert added.code == 0, added.output
    stored = LayoutStore(root).read(parse_reference(run_image))
    assert stored.image.diff_ids == tuple(skopeo_inspect(run_image, config=True)["rootfs"]
                                          ["diff_ids"])
    assert f"Added {run_image} (sha256:" in added.stdout
    assert (root / registries.two.host / unique / "run" / "v1" / "index.json").is_file()

    stack = write_stack(tmp_path / "stack.toml", run_image, [])
    app = f"{registries.two.host}/{unique}/app:v1"
    exported = run_phase("exporter", *export_args(build, stack, "-layout", "-layout-dir",
                                                  str(root), "-report",
                                                  str(tmp_path / "report.toml"), app))
    assert exported.code == 0, exported.output

    renamed = run_phase("layout-add", "-layout-dir", str(root), run_image,
                        f"example.com/{unique}/run:copy")
    assert renamed.code == 0, renamed.output
    assert LayoutStore(root).read(parse_reference(f"example.com/{unique}/run:copy")).image \
        .diff_ids == stored.image.diff_ids
    missing = run_phase("layout-add", "-layout-dir", str(root),
                        f"{registries.two.host}/{unique}/nothing:v1")
    assert missing.code == 1 and missing.stderr.startswith("ERROR: failed to add image")
    assert not (root / registries.two.host / unique / "nothing").exists()


@pytest.mark.daemon
def test_from_the_daemon(dockerd: Dockerd, tmp_path: Path, unique: str) -> None:
    name = f"localhost:5001/{unique}/run:v1"
    dockerd.load_layout(make_run_image_layout(tmp_path / "v1", "v1"), name)
    root = tmp_path / "layouts"
    added = run_phase("layout-add", "-daemon", "-layout-dir", str(root), name,
                      env={"DOCKER_HOST": dockerd.host})
    assert added.code == 0, added.output
    stored = LayoutStore(root).read(parse_reference(name))
    assert list(stored.image.diff_ids) == dockerd.client.images.get(name).attrs["RootFS"]["Layers"]
