"""A warm export reuses unchanged layers without tarring them, and never misses a change."""

from __future__ import annotations

import gzip
import json
import os
import tarfile
import time
from pathlib import Path

from lifecycle.archive import RACY_WINDOW_NS
from lifecycle.backends.layout import LayoutStore
from lifecycle.fingerprints import FILE_NAME
from lifecycle.platform.files import LIFECYCLE_LABEL
from lifecycle.reference import parse_reference
from lifecycle.samplebuild import SampleBuild
from tests.harness.images import make_run_image_layout
from tests.integration.conftest import export_args, run_phase, write_stack

APP = "example.com/apps/warm:latest"
RUN = "example.com/cnb/run:v1"


def export(build: SampleBuild, root: Path) -> str:
    stack = write_stack(root / "stack.toml", RUN, [])
    result = run_phase("exporter", "-layout", "-layout-dir", str(root / "oci"), "-log-level",
                       "debug", *export_args(build, stack, "-report", str(root / "r.toml"), APP))
    assert result.code == 0, result.output
    return result.output


def app_file(root: Path, name: str) -> bytes:
    """``name`` from the app layers of the exported image, as a container would see it."""
    stored = LayoutStore(root / "oci").read(parse_reference(APP))
    label = json.loads(stored.image.labels[LIFECYCLE_LABEL])
    found = b""
    for entry in label["app"]:
        layer = stored.image.layer_by_diff_id(entry["sha"])
        assert layer is not None and layer.source is not None
        with layer.source.open_blob(layer.digest) as blob, \
                tarfile.open(fileobj=gzip.open(blob), mode="r|") as tar:
            for member in tar:
                if member.name.endswith(f"/workspace/{name}"):
                    extracted = tar.extractfile(member)
                    assert extracted is not None
                    found = extracted.read()
    return found


def app_shas(root: Path) -> list[str]:
    stored = LayoutStore(root / "oci").read(parse_reference(APP))
    return [entry["sha"] for entry in json.loads(stored.image.labels[LIFECYCLE_LABEL])["app"]]


def settle() -> None:
    """Wait until what the test just wrote is outside the racy window."""
    time.sleep(RACY_WINDOW_NS / 1e9 + 0.1)


def test_warm_export_skips_tarring_and_notices_a_one_byte_change(build: SampleBuild,
                                                                  tmp_path: Path) -> None:
    make_run_image_layout(tmp_path / "oci" / "example.com/cnb/run/v1", "v1")
    message = build.app_dir / "message.txt"
    settle()

    first = export(build, tmp_path)
    assert "not tarring it" not in first
    assert (build.layers_dir / FILE_NAME).is_file()
    shas = app_shas(tmp_path)

    warm = export(build, tmp_path)
    assert "Layer 'slice-2' is unchanged since the last export" in warm
    assert "Layer 'examples/hello:hello' is unchanged since the last export" in warm
    assert "Reusing layer 'slice-2'" in warm
    assert app_shas(tmp_path) == shas

    # One byte, same size, mtime put back: only the ctime tells, and it is enough.
    status = os.stat(message)
    with message.open("r+b") as contents:
        contents.write(b"H")
    os.utime(message, ns=(status.st_atime_ns, status.st_mtime_ns))
    changed = export(build, tmp_path)
    assert "Layer 'slice-2' is unchanged" not in changed
    assert "Adding layer 'slice-2'" in changed
    assert app_file(tmp_path, "message.txt") == b"Hi there\n"
    assert app_shas(tmp_path)[1] != shas[1]
    assert app_shas(tmp_path)[0] == shas[0]


def test_files_changed_just_before_an_export_are_not_fingerprinted(build: SampleBuild,
                                                                   tmp_path: Path) -> None:
    make_run_image_layout(tmp_path / "oci" / "example.com/cnb/run/v1", "v1")
    export(build, tmp_path)
    recorded = json.loads((build.layers_dir / FILE_NAME).read_text())["layers"]
    assert "slice-2" not in recorded          # message.txt was written a moment ago
    assert "buildpacksio/lifecycle:process-types" in recorded   # reads no files
    again = export(build, tmp_path)
    assert "Layer 'slice-2' is unchanged" not in again


def test_a_different_target_tag_tars_again(build: SampleBuild, tmp_path: Path) -> None:
    make_run_image_layout(tmp_path / "oci" / "example.com/cnb/run/v1", "v1")
    settle()
    export(build, tmp_path)
    stack = write_stack(tmp_path / "stack.toml", RUN, [])
    other = run_phase("exporter", "-layout", "-layout-dir", str(tmp_path / "oci"), "-log-level",
                      "debug", *export_args(build, stack, "example.com/apps/other:latest"))
    assert other.code == 0, other.output
    assert "unchanged since the last export" not in other.output  # no previous image to reuse
