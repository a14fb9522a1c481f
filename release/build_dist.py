"""Build the release artifact: dist/cnb-lifecycle-<version>-linux-x86-64.tgz (``make dist``).

The archive is laid out as pack expects a lifecycle archive: ``lifecycle.toml`` and
``lifecycle/<phase>``. ``lifecycle/exporter`` and ``lifecycle/rebaser`` are self-contained
executables (PyInstaller one-file: the interpreter and every dependency inside, so they run in
a glibc-based builder or run image with no Python); ``lifecycle/launcher`` is the bundled
POSIX-sh launcher. A separate venv (.venv-dist) holds PyInstaller, so the project's own
environment never sees it. See docs/design.md, "Self-contained binaries".
"""

from __future__ import annotations

import argparse
import io
import shutil
import subprocess
import sys
import tarfile
import tomllib
import venv
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from lifecycle import __version__  # noqa: E402
from lifecycle.platform.inputs import SUPPORTED_PLATFORM_APIS  # noqa: E402

# The buildpack API versions whose layer metadata and group files platform/files.py reads:
# top-level launch/build/cache flags (0.2-0.5) and the [types] table (0.6+).
BUILDPACK_APIS = ("0.2", "0.3", "0.4", "0.5", "0.6", "0.7", "0.8", "0.9", "0.10")
PHASES = ("exporter", "rebaser")
PYINSTALLER = "pyinstaller==6.22.3"


def build_environment(directory: Path) -> Path:
    python = directory / "bin" / "python"
    if not python.exists():
        venv.create(directory, with_pip=True)
    subprocess.run([str(python), "-m", "pip", "install", "--quiet", PYINSTALLER, str(ROOT)],
                   check=True)
    return python


def main(dist: Path = ROOT / "dist", work: Path = ROOT / "build" / "dist") -> Path:
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    python = build_environment(ROOT / ".venv-dist")
    subprocess.run([str(python), "-m", "PyInstaller", "--onefile", "--noconfirm",
                    "--log-level", "WARN", "--name", "cnb-lifecycle",
                    "--distpath", str(work / "bin"), "--workpath", str(work / "pyinstaller"),
                    "--specpath", str(work), "--collect-submodules", "lifecycle",
                    "--collect-submodules", "isal", "--collect-submodules", "docker",
                    "--add-data", f"{ROOT / 'lifecycle' / 'launcher.sh'}:lifecycle",
                    str(ROOT / "release" / "cnb_lifecycle_main.py")], check=True)
    descriptor = lifecycle_toml(__version__, BUILDPACK_APIS, SUPPORTED_PLATFORM_APIS)
    binary = work / "bin" / "cnb-lifecycle"
    dist.mkdir(parents=True, exist_ok=True)
    archive = dist / f"cnb-lifecycle-{__version__}-linux-x86-64.tgz"
    partial = archive.with_suffix(".partial")
    with tarfile.open(partial, "w:gz") as tar:
        (work / "lifecycle.toml").write_text(descriptor)
        tar.add(work / "lifecycle.toml", "lifecycle.toml")
        tar.addfile(_directory("lifecycle"))
        for phase in PHASES:  # copies, not links: platforms rewrite paths, not link targets
            tar.add(binary, f"lifecycle/{phase}", filter=_executable)
        tar.add(ROOT / "lifecycle" / "launcher.sh", "lifecycle/launcher", filter=_executable)
    partial.replace(archive)
    print(archive)
    return archive


def overlay(ours: Path, lifecycle: Path) -> Path:
    """Our exporter and rebaser over another lifecycle archive (the Go lifecycle's, with the
    detector, analyzer, restorer and builder pack also requires): every other entry is kept,
    and ``lifecycle.toml`` lists only the platform APIs both implement."""
    with tarfile.open(ours) as tar:
        our_descriptor = tomllib.load(_read(tar, "lifecycle.toml"))
        phases = {phase: _read(tar, f"lifecycle/{phase}").read() for phase in PHASES}
    base_name = lifecycle.name.removesuffix(".tgz").removesuffix(".tar.gz")
    merged = ours.parent / f"{base_name}+cnb-lifecycle-{__version__}.tgz"
    partial = merged.with_suffix(".partial")
    with tarfile.open(lifecycle) as base, tarfile.open(partial, "w:gz") as out:
        for member in base:
            name = member.name.removeprefix("./")
            if name in {f"lifecycle/{phase}" for phase in PHASES}:
                continue
            if name == "lifecycle.toml":
                theirs = tomllib.load(_read(base, member.name))
                data = lifecycle_toml(
                    f"{theirs.get('lifecycle', {}).get('version', '')}+cnb-lifecycle."
                    f"{__version__}",
                    *(_both(theirs, our_descriptor, kind) for kind in ("buildpack", "platform"))
                ).encode()
                member.size = len(data)
                out.addfile(member, io.BytesIO(data))
                continue
            out.addfile(member, base.extractfile(member) if member.isfile() else None)
        for phase, data in phases.items():
            info = _executable(tarfile.TarInfo(f"lifecycle/{phase}"))
            info.size = len(data)
            out.addfile(info, io.BytesIO(data))
    partial.replace(merged)
    print(merged)
    return merged


def lifecycle_toml(version: str, buildpack_apis: Sequence[str],
                   platform_apis: Sequence[str]) -> str:
    def listed(apis: Sequence[str]) -> str:
        return ", ".join(f'"{api}"' for api in apis)

    return ((ROOT / "release" / "lifecycle.toml.in").read_text()
            .replace("@VERSION@", version)
            .replace("@BUILDPACK_APIS@", listed(buildpack_apis))
            .replace("@PLATFORM_APIS@", listed(platform_apis)))


def _both(theirs: dict[str, Any], ours: dict[str, Any], kind: str) -> list[str]:
    """The ``kind`` APIs both descriptors support (theirs in the ``[apis]`` form)."""
    our_apis = set(ours["apis"][kind]["supported"])
    return [api for api in theirs.get("apis", {}).get(kind, {}).get("supported", [])
            if api in our_apis]


def _read(tar: tarfile.TarFile, name: str) -> IO[bytes]:
    stream = tar.extractfile(name) or tar.extractfile(f"./{name}")
    if stream is None:
        raise SystemExit(f"{name} is not a file in the archive")
    return stream


def _directory(name: str) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.mode = tarfile.DIRTYPE, 0o755
    return info


def _executable(info: tarfile.TarInfo) -> tarfile.TarInfo:
    info.mode, info.uid, info.gid, info.uname, info.gname = 0o755, 0, 0, "", ""
    return info


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="build the lifecycle archive")
    parser.add_argument("--with-lifecycle", type=Path, metavar="ARCHIVE",
                        help="also write our phases over this lifecycle archive")
    parser.add_argument("--dist-dir", type=Path, default=ROOT / "dist", metavar="DIR",
                        help="where the archive goes (default: dist)")
    parser.add_argument("--work-dir", type=Path, default=ROOT / "build" / "dist",
                        metavar="DIR", help="PyInstaller's scratch space (default: build/dist)")
    options = parser.parse_args()
    built = main(options.dist_dir, options.work_dir)
    if options.with_lifecycle:
        overlay(built, options.with_lifecycle)
