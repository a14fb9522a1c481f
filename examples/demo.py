"""The README demo: export an app image into an OCI layout, inspect it, then rebase it twice.

No server is needed. The demo publishes a small run image (v1) under its canonical name and
one mirror, writes a buildpack build's output, runs the real ``exporter`` command, shows the
choice it made and the label it stamped, and shows ``inspect-image``'s view of the app.
Scenario 1 publishes run image v2 and rebases with no flag (the recorded run image and
mirrors decide); Scenario 2 rebases onto a custom image (``-run-image``). Each step keeps its
own report in ``demo-out/``.
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
PUBLISHED_ON = [CANONICAL, MIRRORS[1]]   # the demo has no gcr.io copy
CUSTOM = "localhost:5001/custom/image:latest"
BUSYBOX = Path("/bin/busybox")
APP_LINK = OUT / "app-layout"
"""A path to the app's layout without the ``:`` of ``localhost:5001``, for skopeo."""

def publish_run_image(version: str, names: list[str]) -> str:
    """Write a tiny run image (a version file, plus busybox when the host has it) under every
    name; returns its manifest digest."""
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
        result = LayoutStore(LAYOUT).write(image, [parse_reference(name) for name in names])
    print(f"published run image {version} ({result.digest[:19]}…) as {', '.join(names)}")
    return result.digest


def heading(text: str) -> None:
    print(f"\n=== {text} ===", flush=True)


def run(command: str, *args: str, report: str | None = None) -> None:
    target = ["-layout", "-layout-dir", str(LAYOUT)]
    reporting = ["-report", str(OUT / report)] if report else []
    shown = " ".join([command, *target, *reporting, *args]).replace(str(OUT), "demo-out")
    print(f"\n$ {shown}", flush=True)
    subprocess.run([sys.executable, "-m", "lifecycle", command, *target, *reporting, *args],
                   check=True)


def base_of_app() -> str:
    """The run-image reference the app's label records (the base it is on now)."""
    stored = LayoutStore(LAYOUT).read(parse_reference(APP))
    reference: str = json.loads(stored.image.labels[LIFECYCLE_LABEL])["runImage"]["reference"]
    return reference


def show_result(report_name: str) -> None:
    report = tomllib.loads((OUT / report_name).read_text())
    print(f"\n{report_name}: run image chosen: {report['run-image']['image']} "
          f"({report['run-image']['reason']})")
    print(f"app image digest: {report['image']['digest']}")
    stored = LayoutStore(LAYOUT).read(parse_reference(APP))
    label = json.loads(stored.image.labels[LIFECYCLE_LABEL])
    print(f"{LIFECYCLE_LABEL}:")
    print(json.dumps({k: label[k] for k in ("runImage", "stack")}, indent=2))


def rebased_line(before: str, after: str, versions: dict[str, str]) -> None:
    def named(reference: str) -> str:
        version = versions.get(reference.rpartition("@")[2], "?")
        return f"{version} ({reference})"

    print(f"\nrebased from {named(before)} to {named(after)}")


def main() -> None:
    shutil.rmtree(OUT, ignore_errors=True)
    OUT.mkdir()
    stack = OUT / "stack.toml"
    stack.write_text(f'[run-image]\nimage = "{CANONICAL}"\nmirrors = {json.dumps(MIRRORS)}\n')
    print(f"stack file demo-out/stack.toml:\n{stack.read_text()}")
    versions = {publish_run_image("v1", PUBLISHED_ON): "v1"}
    build = write_sample_build(OUT / "build")

    heading("Export: the run image on the app's registry (localhost:5001) is chosen")
    run("exporter", "-mirrors", str(stack), "-layers", str(build.layers_dir),
        "-app", str(build.app_dir), "-group", str(build.group_path), APP,
        report="exporter-report.toml")
    show_result("exporter-report.toml")
    run("inspect-image", APP)

    heading("Scenario 1: run image v2 is published; rebase with no flag")
    versions[publish_run_image("v2", PUBLISHED_ON)] = "v2"
    print(f"(not on {MIRRORS[0]}: the demo has no copy there, so a rebase for gcr.io would "
          "take the first readable candidate on another registry)")
    before = base_of_app()
    run("rebaser", APP, report="rebase-scenario-1-report.toml")
    show_result("rebase-scenario-1-report.toml")
    rebased_line(before, base_of_app(), versions)

    heading("Scenario 2: rebase onto a custom image with -run-image")
    versions[publish_run_image("v3-custom", [CUSTOM])] = "v3-custom"
    before = base_of_app()
    run("rebaser", "-run-image", CUSTOM, APP, report="rebase-scenario-2-report.toml")
    show_result("rebase-scenario-2-report.toml")
    rebased_line(before, base_of_app(), versions)

    APP_LINK.symlink_to(LAYOUT.joinpath(*parse_reference(APP).context.split("/"), "latest"))
    print(f"\nThe OCI layouts are under demo-out/oci, one per image. Look at the app with\n"
          f"  inspect-image -layout -layout-dir demo-out/oci {APP}\n"
          "skopeo's oci: paths cannot contain ':' (localhost:5001), so the demo links the "
          "app's layout without it:\n"
          "  skopeo inspect oci:demo-out/app-layout")
    print("Each step's report: " + ", ".join(
        f"demo-out/{name}" for name in ("exporter-report.toml", "rebase-scenario-1-report.toml",
                                        "rebase-scenario-2-report.toml")))


if __name__ == "__main__":
    main()
