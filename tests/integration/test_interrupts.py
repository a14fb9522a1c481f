"""Ctrl-C and SIGTERM sent to a real export part-way: exit 130 / 143, nothing tagged, the
report untouched, no temp files, no blobs of the unfinished image left in a layout.

The app has one large incompressible file, so that building its layer and writing the image
each take long enough to be interrupted in (about a second each here); the signal is sent
when the log shows the export has reached the step.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from lifecycle.samplebuild import SampleBuild, write_sample_build
from tests.harness.dockerd import Dockerd
from tests.harness.images import make_run_image_layout, publish_run_image, skopeo_inspect
from tests.harness.registry import Registries
from tests.integration.conftest import CLEAN_ENV, export_args, run_phase, write_stack

BIG_FILE_BYTES = 256 << 20
REPORT_BEFORE = b"# the report of an earlier export\n"
SELECTED = "Selected run image"
SAVING = "Saving "


@pytest.fixture(scope="module")
def big_build(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SampleBuild]:
    root = tmp_path_factory.mktemp("big")
    build = write_sample_build(root / "build")
    with (build.app_dir / "big.bin").open("wb") as out:
        for _ in range(BIG_FILE_BYTES >> 24):
            out.write(os.urandom(1 << 24))
    yield build
    shutil.rmtree(root)  # 256 MiB that pytest would otherwise keep until the session ends


def interrupt(args: list[str], tmp_path: Path, when: str, signum: int,
              env: dict[str, str] | None = None) -> tuple[int, str]:
    """Start the exporter, send ``signum`` once a line containing ``when`` is printed;
    returns the exit code and the whole output."""
    temp = tmp_path / "tmp"
    temp.mkdir()
    command = Path(sys.executable).with_name("exporter")
    process = subprocess.Popen([str(command), *args], stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True,
                               env={**CLEAN_ENV, "TMPDIR": str(temp), **(env or {})})
    assert process.stdout is not None
    seen = []
    for line in process.stdout:
        seen.append(line)
        if when in line:
            time.sleep(0.05)
            process.send_signal(signum)
            break
    signalled = time.monotonic()
    seen += process.stdout.readlines()
    code = process.wait(timeout=120)
    # Measured here: 0.02-0.3 s (worker threads stop at their next chunk); a bound, not a
    # benchmark, on a shared machine.
    assert time.monotonic() - signalled < 15
    assert list(temp.iterdir()) == [], "temp files left behind"
    assert "*** Images" not in "".join(seen), "the signal came after the write"
    return code, "".join(seen)


EXPECTED = {signal.SIGINT: (130, "ERROR: interrupted (Ctrl-C)"),
            signal.SIGTERM: (143, "ERROR: terminated (SIGTERM)")}


@pytest.mark.parametrize(("when", "signum"), [(SELECTED, signal.SIGINT),
                                              (SAVING, signal.SIGTERM),
                                              (SAVING, signal.SIGINT)])
def test_layout_export(big_build: SampleBuild, tmp_path: Path, unique: str, when: str,
                       signum: int) -> None:
    root = tmp_path / "layouts"
    run_dir = root / "registry.example.com" / unique / "run" / "v1"
    run_dir.parent.mkdir(parents=True)
    make_run_image_layout(run_dir, "v1")
    run_files = sorted(root.rglob("*"))
    stack = write_stack(tmp_path / "stack.toml", f"registry.example.com/{unique}/run:v1", [])
    report = tmp_path / "report.toml"
    report.write_bytes(REPORT_BEFORE)
    code, output = interrupt(
        export_args(big_build, stack, "-layout", "-layout-dir", str(root), "-report",
                    str(report), f"registry.example.com/{unique}/app:v1"),
        tmp_path, when, signum)
    assert code == EXPECTED[signum][0], output
    assert output.splitlines()[-1] == f"{EXPECTED[signum][1]}: stopped and cleaned up"
    assert "Traceback" not in output
    assert report.read_bytes() == REPORT_BEFORE
    assert sorted(root.rglob("*")) == run_files   # the app's directory and blobs are gone


@pytest.mark.registry
@pytest.mark.parametrize(("when", "signum"), [(SELECTED, signal.SIGTERM),
                                              (SAVING, signal.SIGINT)])
def test_registry_export(registries: Registries, big_build: SampleBuild, tmp_path: Path,
                         unique: str, when: str, signum: int) -> None:
    run_image = f"{registries.one.host}/{unique}/run:v1"
    publish_run_image(tmp_path, [run_image], "v1")
    stack = write_stack(tmp_path / "stack.toml", run_image, [])
    report = tmp_path / "report.toml"
    app = f"{registries.one.host}/{unique}/app:v1"
    args = export_args(big_build, stack, "-report", str(report), app)
    tagged_before = None
    if when == SAVING:
        # A layer new to the registry is uploaded while it is built, before "Saving"; one that
        # changed since the previous image is uploaded by the write itself. So: an image
        # first, then the big file changed, so that the signal comes mid-upload.
        first = run_phase("exporter", *args)
        assert first.code == 0, first.output
        tagged_before = skopeo_inspect(app)["Digest"]
        with (big_build.app_dir / "big.bin").open("r+b") as big:
            big.write(os.urandom(1 << 20))
    report.write_bytes(REPORT_BEFORE)
    puts_before = manifest_puts(registries, unique)
    code, output = interrupt(args, tmp_path, when, signum)
    assert code == EXPECTED[signum][0], output
    assert output.splitlines()[-1] == f"{EXPECTED[signum][1]}: stopped and cleaned up"
    assert "Traceback" not in output
    assert report.read_bytes() == REPORT_BEFORE
    assert manifest_puts(registries, unique) == puts_before
    if tagged_before is None:
        tagged = subprocess.run(["skopeo", "inspect", "--tls-verify=false", f"docker://{app}"],
                                capture_output=True, text=True, timeout=60)
        assert tagged.returncode != 0 and "manifest unknown" in tagged.stderr
    else:
        assert skopeo_inspect(app)["Digest"] == tagged_before


def manifest_puts(registries: Registries, unique: str) -> list[str]:
    return [uri for method, uri in registries.one.requests_seen()
            if method == "PUT" and f"/{unique}/app/manifests/" in uri]


@pytest.mark.daemon
@pytest.mark.parametrize("engine", ["dockerd", "containerd_dockerd"])
def test_daemon_export(request: pytest.FixtureRequest, engine: str, big_build: SampleBuild,
                       tmp_path: Path, unique: str) -> None:
    daemon: Dockerd = request.getfixturevalue(engine)
    run_image = f"localhost:5001/{unique}/run:v1"
    daemon.load_layout(make_run_image_layout(tmp_path / "v1", "v1"), run_image)
    stack = write_stack(tmp_path / "stack.toml", run_image, [])
    report = tmp_path / "report.toml"
    report.write_bytes(REPORT_BEFORE)
    app = f"localhost:5001/{unique}/app:v1"
    code, output = interrupt(["-daemon", *export_args(big_build, stack, "-report", str(report),
                                                      app)],
                             tmp_path, SAVING, signal.SIGINT, env={"DOCKER_HOST": daemon.host})
    assert code == 130, output
    assert report.read_bytes() == REPORT_BEFORE
    tags = [tag for image in daemon.client.images.list() for tag in image.tags]
    assert app not in tags
    assert not [tag for tag in tags if tag.startswith("cnb-lifecycle-load/")]
