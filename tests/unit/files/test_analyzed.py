"""analyzed.toml in every platform API's shape."""

from __future__ import annotations

from pathlib import Path

import pytest

from lifecycle.platform import files
from tests.unit.files import invalid, write


def test_up_to_0_6_image_and_metadata(tmp_path: Path) -> None:
    analyzed = files.read_analyzed(write(tmp_path / "analyzed.toml", """
[image]
reference = "reg.io/app@sha256:1"
[metadata]
[metadata.run-image]
top-layer = "sha256:top"
reference = "reg.io/run@sha256:2"
[[metadata.buildpacks]]
key = "bp"
version = "1"
[metadata.buildpacks.layers.l]
sha = "sha256:l"
"""))
    assert analyzed is not None
    assert analyzed.image_reference == "reg.io/app@sha256:1"
    assert analyzed.run_image is None
    assert analyzed.label is not None and analyzed.label.top_layer == "sha256:top"
    assert analyzed.label.layer_sha("bp", "l") == "sha256:l"


def test_0_7_run_image_reference(tmp_path: Path) -> None:
    analyzed = files.read_analyzed(write(tmp_path / "analyzed.toml",
                                         '[run-image]\nreference = "reg.io/run@sha256:3"\n'))
    assert analyzed == files.Analyzed(run_image=files.AnalyzedRunImage("reg.io/run@sha256:3"))


@pytest.mark.parametrize("variant_key", ["arch-variant", "variant"])
def test_0_12_run_image_with_target(tmp_path: Path, variant_key: str) -> None:
    analyzed = files.read_analyzed(write(tmp_path / "analyzed.toml", f"""
[previous-image]
reference = "reg.io/app@sha256:1"
[run-image]
reference = "reg.io/run@sha256:3"
image = "reg.io/run:jammy"
extend = true
[run-image.target]
os = "linux"
arch = "arm64"
{variant_key} = "v8"
[run-image.target.distro]
name = "ubuntu"
version = "22.04"
"""))
    assert analyzed == files.Analyzed("reg.io/app@sha256:1", None, files.AnalyzedRunImage(
        "reg.io/run@sha256:3", "reg.io/run:jammy", True,
        files.Target("linux", "arm64", "v8", "", "ubuntu", "22.04")))


def test_missing_is_none_and_malformed_names_the_key(tmp_path: Path) -> None:
    assert files.read_analyzed(tmp_path / "none.toml") is None
    path = write(tmp_path / "analyzed.toml", '[run-image]\nreference = "x"\nextend = "yes"\n')
    assert "'run-image.extend' must be a boolean" in invalid(files.read_analyzed, path)
