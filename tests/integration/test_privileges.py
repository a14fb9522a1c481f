"""Started as root with CNB_USER_ID/CNB_GROUP_ID, the exporter reads and writes as that user."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from lifecycle.fingerprints import FILE_NAME
from lifecycle.samplebuild import SampleBuild
from tests.harness.images import make_run_image_layout
from tests.integration.conftest import (
    BUILD_USER,
    BUILD_USER_ENV,
    Result,
    build_of_user,
    export_args,
    run_phase,
    write_stack,
)

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root, as pack runs it")

def export(build: SampleBuild, root: Path, *flags: str) -> Result:
    make_run_image_layout(root / "oci" / "example.com/cnb/run/v1", "v1")
    stack = write_stack(root / "stack.toml", "example.com/cnb/run:v1", [])
    return run_phase("exporter", "-layout", "-layout-dir", str(root / "oci"), *flags,
                     *export_args(build, stack, "example.com/apps/priv:latest"), env=BUILD_USER_ENV)


def test_files_written_belong_to_the_user(reachable_dir: Path) -> None:
    build = build_of_user(reachable_dir)
    cache = reachable_dir / "cache"            # does not exist yet: created for the user
    result = export(build, reachable_dir, "-cache-dir", str(cache))
    assert result.code == 0, result.output
    written = [build.layers_dir / "report.toml", build.layers_dir / FILE_NAME, cache,
               *(cache / "committed").iterdir()]
    assert {(p.stat().st_uid, p.stat().st_gid) for p in written} == {(BUILD_USER, BUILD_USER)}
    index = json.loads((reachable_dir / "oci/example.com/apps/priv/latest/index.json").read_text())
    assert index["manifests"]


def test_what_the_user_cannot_read_is_not_exported(reachable_dir: Path) -> None:
    build = build_of_user(reachable_dir)
    secret = build.app_dir / "root-only.txt"
    secret.write_text("root's secret\n")
    secret.chmod(0o600)                      # owned by root: the build's user cannot read it
    result = export(build, reachable_dir)
    assert result.code == 62, result.output
    assert f"cannot read '{secret}': Permission denied" in result.stderr
    assert [line for line in result.stderr.splitlines() if line.startswith("ERROR")] == \
        [f"ERROR: failed to export: cannot read '{secret}': Permission denied"]
    assert not (reachable_dir / "oci/example.com/apps/priv").exists()
