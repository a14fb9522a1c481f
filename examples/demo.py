"""The README demo: export an app image into an OCI layout, then rebase it twice.

No server is needed. The demo publishes a small run image (v1) under its canonical name and
one mirror, writes a buildpack build's output, runs the real ``exporter`` command, shows the
choice it made and the label it stamped, publishes run image v2 and rebases (Scenario 1),
then rebases onto a custom image (Scenario 2).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

from lifecycle import archive
from lifecycle.backends.layout import LayoutStore
from lifecycle.image import mutate
from lifecycle.image.model import OCI_MANIFEST, Image
from lifecycle.platform.files import LIFECYCLE_LABEL
from lifecycle.reference import parse_reference
from lifecycle.samplebuild import write_sample_build

OUT = Path("demo-out").resolve()
LAYOUT = OUT / "oci"
APP = "localhost:5001/apps/web:latest"
CANONICAL = "registry.example.com/cnb/run:bionic"
MIRRORS = ["gcr.io/cnb/run:bionic", "localhost:5001/cnb/run:bionic"]
CUSTOM = "localhost:5001/custom/image:latest"
BUSYBOX = Path("/bin/busybox")


def publish_run_image(version: str, names: list[str]) -> None:
    """Write a tiny run image (a version file, plus busybox when the host has it)."""
    with tempfile.TemporaryDirectory() as scratch:
        version_file = Path(scratch) / "run-image-version"
        version_file.write_text(version + "\n")
        entries = [archive.TarEntry("/etc", archive.EntryKind.DIRECTORY, 0o755),
                   archive.TarEntry("/etc/run-image-version", archive.EntryKind.FILE, 0o644,
                                    source=version_file, size=version_file.stat().st_size)]
        if BUSYBOX.is_file():
            entries[:0] = [archive.TarEntry("/bin", archive.EntryKind.DIRECTORY, 0o755),
                           archive.TarEntry("/bin/busybox", archive.EntryKind.FILE, 0o755,
                                            source=BUSYBOX, size=BUSYBOX.stat().st_size),
                           archive.TarEntry("/bin/sh", archive.EntryKind.SYMLINK, 0o777,
                                            link_target="busybox")]
        layer = archive.write_layer(entries, Path(scratch), compress=True)
        empty = Image({"architecture": "amd64", "os": "linux", "config": {
            "Env": ["PATH=/usr/local/bin:/usr/bin:/bin"],
            "Labels": {"io.buildpacks.stack.id": "io.example.demo"}}}, (), OCI_MANIFEST)
        image = mutate.append_layers(empty, [(layer, f"demo run image {version}")])
        LayoutStore(LAYOUT).write(image, [parse_reference(name) for name in names])
    print(f"published run image {version} as {', '.join(names)}")


def run(phase: str, *args: str) -> None:
    command = [sys.executable, "-m", f"lifecycle.{phase}", "-layout", "-layout-dir", str(LAYOUT),
               "-report", str(OUT / f"{phase}-report.toml"), *args]
    print(f"\n$ {phase} {' '.join(command[3:])}", flush=True)
    subprocess.run(command, check=True)


def show_result(phase: str) -> None:
    report = tomllib.loads((OUT / f"{phase}-report.toml").read_text())
    print(f"\nrun image chosen: {report['run-image']['image']} ({report['run-image']['reason']})")
    print(f"app image digest: {report['image']['digest']}")
    stored = LayoutStore(LAYOUT).read(parse_reference(APP))
    label = json.loads(stored.image.labels[LIFECYCLE_LABEL])
    print(f"{LIFECYCLE_LABEL}:")
    print(json.dumps({k: label[k] for k in ("runImage", "stack")}, indent=2))


def main() -> None:
    shutil.rmtree(OUT, ignore_errors=True)
    OUT.mkdir()
    stack = OUT / "stack.toml"
    stack.write_text(f'[run-image]\nimage = "{CANONICAL}"\nmirrors = {json.dumps(MIRRORS)}\n')
    print(f"stack file {stack}:\n{stack.read_text()}")
    publish_run_image("v1", [CANONICAL, MIRRORS[1]])
    build = write_sample_build(OUT / "build")

    run("exporter", "-mirrors", str(stack), "-layers", str(build.layers_dir),
        "-app", str(build.app_dir), "-group", str(build.group_path), APP)
    show_result("exporter")

    print("\n--- a new run image version is published on every mirror ---")
    publish_run_image("v2", [CANONICAL, MIRRORS[1]])
    run("rebaser", APP)
    show_result("rebaser")

    print("\n--- Scenario 2: rebase onto a custom image ---")
    publish_run_image("v3-custom", [CUSTOM])
    run("rebaser", "-run-image", CUSTOM, APP)
    show_result("rebaser")
    print(f"\nThe OCI layouts are under {LAYOUT} (e.g. skopeo inspect oci:{LAYOUT}/"
          "localhost:5001/apps/web/latest).")


if __name__ == "__main__":
    main()
