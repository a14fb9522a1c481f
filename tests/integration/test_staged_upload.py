"""New layers reach the registry while they are written, and a broken one leaves nothing."""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path

import pytest

from lifecycle.backends.registry import RegistryStore
from lifecycle.image.growing import GrowingBlob
from lifecycle.reference import parse_reference
from lifecycle.samplebuild import SampleBuild
from tests.harness.images import publish_run_image, pull_to_layout
from tests.harness.registry import Registries
from tests.integration.conftest import export_args, run_phase, write_stack

pytestmark = pytest.mark.registry


def test_a_cold_export_uploads_while_writing_and_each_blob_once(
        registries: Registries, build: SampleBuild, tmp_path: Path, unique: str) -> None:
    (build.app_dir / "big.bin").write_bytes(os.urandom(3 << 20))
    run = f"{registries.one.host}/{unique}/run:v1"
    publish_run_image(tmp_path, [run])
    stack = write_stack(tmp_path / "stack.toml", run, [])
    app = f"{registries.one.host}/{unique}/app:latest"
    start = len(registries.one.requests_seen())
    result = run_phase("exporter", "-log-level", "debug", *export_args(build, stack, app))
    assert result.code == 0, result.output
    assert result.stdout.count("while it was written") >= 5  # every layer the app adds
    assert "Early upload" not in result.stdout

    committed = Counter(uri.split("digest=")[1] for method, uri in
                        registries.one.requests_seen()[start:]
                        if method == "PUT" and "digest=" in uri)
    assert committed and set(committed.values()) == {1}
    pull_to_layout(app, tmp_path / "pulled")  # skopeo checks every digest


def test_a_blob_whose_writer_fails_is_cancelled(registries: Registries, tmp_path: Path,
                                                unique: str) -> None:
    store = RegistryStore()
    stager = store.blob_stager([parse_reference(f"{registries.one.host}/{unique}/app:1")])
    path = tmp_path / "partial"
    path.write_bytes(b"\x1f\x8b" + os.urandom(4096))
    blob = GrowingBlob(str(path))
    start = len(registries.one.requests_seen())
    stager.stage(blob)
    blob.grew(2048)
    blob.broke()
    stager.finish()  # only logged: write() would upload the finished file
    methods = [method for method, uri in registries.one.requests_seen()[start:]
               if "/blobs/uploads/" in uri]
    assert methods[0] == "POST" and methods[-1] == "DELETE"
    assert "PUT" not in methods
