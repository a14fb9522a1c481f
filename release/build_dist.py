"""Build the release artifact: dist/cnb-lifecycle-<version>-linux-x86-64.tgz (``make dist``).

The archive is laid out as pack expects a lifecycle archive: ``lifecycle.toml`` and
``lifecycle/<name>``. ``lifecycle/exporter`` and ``lifecycle/rebaser`` are self-contained
executables (a PyInstaller one-folder build, the interpreter and every dependency beside them
in ``lifecycle/``, so they run in a glibc-based builder or run image with no Python and unpack
nothing when they start); ``lifecycle/launcher`` is the bundled POSIX-sh launcher. A separate
venv (.venv-dist) holds PyInstaller, so the project's own environment never sees it. See
docs/design.md, "Self-contained binaries".
"""

from __future__ import annotations

import argparse
import io
import re
import shutil
import subprocess
import sys
import tarfile
import tomllib
import venv
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from importlib.machinery import EXTENSION_SUFFIXES
from pathlib import Path
from typing import IO, Any, overload

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from lifecycle import __version__  # noqa: E402
from lifecycle.platform.inputs import SUPPORTED_PLATFORM_APIS  # noqa: E402

# The buildpack API versions whose layer metadata and group files platform/files.py reads:
# top-level launch/build/cache flags (0.2-0.5) and the [types] table (0.6+).
BUILDPACK_APIS = ("0.2", "0.3", "0.4", "0.5", "0.6", "0.7", "0.8", "0.9", "0.10")
PHASES = ("exporter", "rebaser")
OUR_LAUNCHER = ("lifecycle/launcher", "lifecycle/launcher.toml")  # not over another lifecycle's
PYINSTALLER = "pyinstaller==6.22.3"
EXECUTABLE = "cnb-lifecycle"


def build_environment(directory: Path) -> Path:
    python = directory / "bin" / "python"
    if not python.exists():
        venv.create(directory, with_pip=True)
    subprocess.run([str(python), "-m", "pip", "install", "--quiet", PYINSTALLER, str(ROOT)],
                   check=True)
    return python


def build_folder(work: Path) -> Path:
    """The one-folder build in ``work``: one flat directory holding the executable that serves
    as every phase (``cnb-lifecycle``) and everything it loads, so nothing is unpacked per run."""
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    python = build_environment(ROOT / ".venv-dist")
    subprocess.run([str(python), "-m", "PyInstaller", "--onedir", "--contents-directory", ".",
                    "--noconfirm", "--log-level", "WARN", "--name", EXECUTABLE,
                    "--distpath", str(work / "bin"), "--workpath", str(work / "pyinstaller"),
                    "--specpath", str(work), "--collect-submodules", "lifecycle",
                    "--collect-submodules", "isal", "--collect-submodules", "docker",
                    "--add-data", f"{ROOT / 'lifecycle' / 'launcher.sh'}:lifecycle",
                    "--runtime-hook", str(ROOT / "release" / "flat_contents.py"),
                    str(ROOT / "release" / "cnb_lifecycle_main.py")], check=True)
    folder = work / "bin" / EXECUTABLE
    flatten(folder)
    return folder


def flatten(folder: Path) -> None:
    """Every file of the one-folder build moved to its top, since pack copies only a lifecycle
    archive's ``lifecycle/<name>`` entries and drops anything deeper: stdlib extension modules
    (``lib-dynload``) keep their names, a package's extension modules become
    ``<package>.<module><suffix>`` and its data files keep their names (both found by
    release/flat_contents.py); package metadata and type markers are left out."""
    for path in sorted(p for p in folder.rglob("*") if p.is_file() and p.parent != folder):
        relative = path.relative_to(folder)
        if relative.parts[0].endswith(".dist-info") or path.name == "py.typed":
            path.unlink()
            continue
        if relative.parent.name != "lib-dynload" and path.name.endswith(tuple(EXTENSION_SUFFIXES)):
            name = ".".join((*relative.parent.parts, path.name))
        else:
            name = path.name
        if (folder / name).exists():
            raise SystemExit(f"the one-folder build has two files named {name} "
                             f"(one is {relative}); they cannot both lie flat in lifecycle/")
        path.rename(folder / name)
    for directory in sorted((p for p in folder.rglob("*") if p.is_dir()), reverse=True):
        directory.rmdir()


def phase_files(folder: Path) -> dict[str, Path]:
    """What goes into ``lifecycle/``: each phase a copy of the executable (a few MB; a copy
    needs no platform to keep a link), and the rest of the folder."""
    return {**{phase: folder / EXECUTABLE for phase in PHASES},
            **{path.name: path for path in sorted(folder.iterdir()) if path.name != EXECUTABLE}}


def main(dist: Path = ROOT / "dist", work: Path = ROOT / "build" / "dist",
         phases_root: Path | None = None) -> Path:
    folder = build_folder(work)
    dist.mkdir(parents=True, exist_ok=True)
    archive = dist / f"cnb-lifecycle-{__version__}-linux-x86-64.tgz"
    partial = archive.with_suffix(".partial")
    with tarfile.open(partial, "w:gz") as tar:
        (work / "lifecycle.toml").write_text(lifecycle_toml(OURS))
        tar.add(work / "lifecycle.toml", "lifecycle.toml", filter=_readable)
        tar.addfile(_directory("lifecycle"))
        for name, path in phase_files(folder).items():
            tar.add(path, f"lifecycle/{name}", filter=_executable if name in PHASES else _readable)
        tar.add(ROOT / "lifecycle" / "launcher.sh", "lifecycle/launcher", filter=_executable)
        # the exporter knows its bundled launcher by comparing bytes with a file beside its
        # modules, which the flat folder does not have: this says the same in the build label
        _add(tar, _readable(tarfile.TarInfo("lifecycle/launcher.toml")),
             _describe_launcher(__version__, {"SCMRepository": "cnb-lifecycle"}).encode())
    partial.replace(archive)
    print(archive)
    if phases_root is not None:
        print(write_phases_root(phases_root, folder))
    return archive


# What the self-contained executables load from the system: PyInstaller leaves the C library
# out of its bundle on purpose, and its bootloader links zlib too. A lifecycle image is
# distroless "static", with no C library, so an image root over one carries these, from the
# machine that built the executables: whatever ``ldd`` says the folder's files link, and the
# rest of glibc's family that the bundled extension modules may load.
GLIBC_DIR = Path("/lib/x86_64-linux-gnu")
GLIBC_FAMILY = ("libc.so.6", "libm.so.6", "libdl.so.2", "libpthread.so.0", "librt.so.1",
                "libutil.so.1", "libresolv.so.2", "libnss_dns.so.2", "libnss_files.so.2",
                "libgcc_s.so.1")
ELF_INTERPRETER = Path("/lib64/ld-linux-x86-64.so.2")


def system_libraries(folder: Path) -> list[Path]:
    """The shared libraries the folder's executable needs from the system (its bootloader
    searches only the system's paths, so zlib is one, though a copy lies in the folder), those
    its libraries need that the folder lacks, and glibc's family (the ELF interpreter
    first)."""
    linked: list[Path] = []
    for path in sorted(folder.iterdir()):
        if path.read_bytes()[:4] != b"\x7fELF":
            continue
        listed = subprocess.run(["ldd", str(path)], capture_output=True, text=True).stdout
        linked += [Path(match) for name, match in re.findall(r"(\S+) => (/\S+)", listed)
                   if path.name == EXECUTABLE or not (folder / name).exists()]
    family = [GLIBC_DIR / name for name in GLIBC_FAMILY if (GLIBC_DIR / name).exists()]
    return [ELF_INTERPRETER, *dict.fromkeys([*linked, *family])]


def write_phases_root(out: Path, folder: Path) -> Path:
    """What goes over any lifecycle image, whatever its own lifecycle.toml says:
    ``cnb/lifecycle/`` as in the archive (without the launcher: the image keeps its own), and
    the C library the executables need (the Dockerfile's ``PREBUILT``)."""
    (out / "cnb" / "lifecycle").mkdir(parents=True, exist_ok=True)
    for name, path in phase_files(folder).items():
        shutil.copyfile(path, out / "cnb" / "lifecycle" / name)
        (out / "cnb" / "lifecycle" / name).chmod(0o755 if name in PHASES else 0o644)
    for library in system_libraries(folder):
        target = out / library.relative_to("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(library, target)  # the file a link points at: no links over an image
        target.chmod(0o755)
    return out


def image_root(out: Path, base: Path, phases_root: Path | None = None) -> Path:
    """What to lay over a lifecycle image whose ``/cnb`` is copied at ``base`` (the
    Dockerfile's ``LIFECYCLE_IMAGE``): that ``/cnb`` whole (kpack copies only the image's last
    layer, which is this ``cnb/``), the phases root over it (``phases_root`` as built before,
    else built now), ``cnb/lifecycle.toml`` with the APIs both implement and
    ``cnb/lifecycle/launcher.toml`` for the image's own launcher."""
    theirs = read_descriptor(tomllib.loads((base / "lifecycle.toml").read_text()))
    launcher = base / "lifecycle" / "launcher"
    files = overlay_files(theirs, OURS, launcher.read_bytes() if launcher.is_file() else None)
    # new mtimes: an image layer holds a file its builder finds changed, not a same-stat copy
    shutil.copytree(base, out / "cnb", symlinks=True, dirs_exist_ok=True,
                    copy_function=shutil.copy)
    if phases_root is None:
        write_phases_root(out, build_folder(ROOT / "build" / "image-root"))
    else:
        shutil.copytree(phases_root, out, dirs_exist_ok=True)
    for name, data in files.items():
        (out / "cnb" / name).write_bytes(data)
    return out


def overlay(ours: Path, lifecycle: Path) -> Path:
    """Our exporter and rebaser over another lifecycle archive (the Go lifecycle's, with the
    detector, analyzer, restorer and builder pack also requires): every other entry is kept,
    ``lifecycle.toml`` lists only the APIs both implement, and the kept launcher is described
    in ``lifecycle/launcher.toml`` so that the exporter names it in the build label."""
    with tarfile.open(ours) as tar:
        our_descriptor = read_descriptor(tomllib.load(_read(tar, "lifecycle.toml")))
        our_files = {member.name.removeprefix("./"): _read(tar, member.name).read()
                  for member in tar.getmembers() if member.isfile()
                  and member.name.removeprefix("./").startswith("lifecycle/")
                  and member.name.removeprefix("./") not in OUR_LAUNCHER}
    base_name = lifecycle.name.removesuffix(".tgz").removesuffix(".tar.gz")
    merged = ours.parent / f"{base_name}+cnb-lifecycle-{__version__}.tgz"
    partial = merged.with_suffix(".partial")
    replaced = {*our_files, "lifecycle/launcher.toml"}
    with tarfile.open(lifecycle) as base:
        theirs = read_descriptor(tomllib.load(_read(base, "lifecycle.toml")))
        launcher = _read(base, "lifecycle/launcher", missing_ok=True)
        files = {**overlay_files(theirs, our_descriptor, launcher.read() if launcher else None),
                 **our_files}
        with tarfile.open(partial, "w:gz") as out:
            _copy_over(base, out, {*replaced, "lifecycle.toml"}, files)
    partial.replace(merged)
    print(merged)
    return merged


def overlay_files(theirs: Descriptor, ours: Descriptor,
                  launcher: bytes | None) -> dict[str, bytes]:
    """``lifecycle.toml`` declaring the APIs both lifecycles implement, and, when the base's
    launcher is kept, ``lifecycle/launcher.toml`` describing it."""
    files = {"lifecycle.toml": lifecycle_toml(intersect(theirs, ours)).encode()}
    if launcher is not None:
        files["lifecycle/launcher.toml"] = launcher_toml(theirs.version, launcher).encode()
    return files


def _copy_over(base: tarfile.TarFile, out: tarfile.TarFile, replaced: set[str],
               files: dict[str, bytes]) -> None:
    """``base`` into ``out`` without the ``replaced`` entries, then ``files``."""
    for member in base:
        if member.name.removeprefix("./") not in replaced:
            out.addfile(member, base.extractfile(member) if member.isfile() else None)
    for name, data in files.items():
        info = _executable(tarfile.TarInfo(name))
        if name.removeprefix("lifecycle/") not in PHASES:
            info.mode = 0o644
        _add(out, info, data)


@dataclass(frozen=True)
class APIs:
    """One kind of API (buildpack or platform) as a lifecycle descriptor lists it."""

    supported: tuple[str, ...]
    deprecated: tuple[str, ...] = ()

    def usable(self) -> set[str]:
        return {*self.supported, *self.deprecated}


@dataclass(frozen=True)
class Descriptor:
    """What ``lifecycle.toml`` says: the lifecycle's version and the APIs it implements."""

    version: str
    buildpack: APIs
    platform: APIs


OURS = Descriptor(__version__, APIs(BUILDPACK_APIS), APIs(SUPPORTED_PLATFORM_APIS))


def read_descriptor(document: Mapping[str, Any]) -> Descriptor:
    """A lifecycle.toml in either form: ``[apis.<kind>] supported, deprecated`` (lifecycle
    0.9 and later) or only ``[api] <kind> = "<version>"`` (v0.7 and v0.8, RFC 0011). When
    the lists are there they win, as pack reads them."""
    def apis(kind: str) -> APIs:
        listed = document.get("apis", {}).get(kind, {})
        supported = tuple(listed.get("supported", ()))
        deprecated = tuple(listed.get("deprecated", ()))
        if supported or deprecated:
            return APIs(supported, deprecated)
        single = document.get("api", {}).get(kind)
        return APIs((single,) if isinstance(single, str) else ())

    return Descriptor(str(document.get("lifecycle", {}).get("version", "")),
                      apis("buildpack"), apis("platform"))


def intersect(theirs: Descriptor, ours: Descriptor) -> Descriptor:
    """The APIs both lifecycles implement; one that either deprecates stays deprecated."""
    def both(their: APIs, our: APIs) -> APIs:
        usable = their.usable() & our.usable()
        deprecated = usable & {*their.deprecated, *our.deprecated}
        return APIs(_ordered(usable - deprecated), _ordered(deprecated))

    return Descriptor(f"{theirs.version}+cnb-lifecycle.{ours.version}",
                      both(theirs.buildpack, ours.buildpack),
                      both(theirs.platform, ours.platform))


def lifecycle_toml(descriptor: Descriptor) -> str:
    """``descriptor`` in both of pack's forms; an empty API list is refused, since pack
    cannot build with it (pack 0.12 even crashes on the missing ``[api]`` value)."""
    text = (ROOT / "release" / "lifecycle.toml.in").read_text().replace(
        "@VERSION@", descriptor.version)
    for kind, apis in (("BUILDPACK", descriptor.buildpack), ("PLATFORM", descriptor.platform)):
        if not apis.usable():
            raise SystemExit(f"no {kind.lower()} API is implemented by both lifecycles "
                             f"({descriptor.version}); refusing to write an archive pack "
                             "cannot use")
        text = (text.replace(f"@{kind}_SUPPORTED@", _listed(apis.supported))
                .replace(f"@{kind}_DEPRECATED@", _listed(apis.deprecated))
                .replace(f"@{kind}_EARLIEST@", _ordered(apis.usable())[0]))
    return text


# The Go lifecycle's build stamps its repository and commit into every binary with -ldflags,
# which Go (1.18 and later) also records as a build setting; a Go build from a checkout also
# records vcs.revision.
_LDFLAG = {key: re.compile(rb"cmd\." + key.encode() + rb"=([\w./:-]+)")
           for key in ("SCMRepository", "SCMCommit")}
_VCS_REVISION = re.compile(rb"\tvcs\.revision=([0-9a-f]{40})")


def launcher_toml(version: str, launcher: bytes) -> str:
    """``lifecycle/launcher.toml`` for a kept Go launcher: its version (the base
    lifecycle's) and, when the binary says, the repository and commit it was built from."""
    found = {key: match.group(1).decode() for key, pattern in _LDFLAG.items()
             if (match := pattern.search(launcher))}
    if "SCMCommit" not in found and (revision := _VCS_REVISION.search(launcher)):
        found["SCMCommit"] = revision.group(1).decode()
    return _describe_launcher(version, found)


def _describe_launcher(version: str, found: Mapping[str, str]) -> str:
    lines = ["# The launcher in this directory, for the build label the exporter writes.",
             "[launcher]", f'  version = "{version}"']
    if found:
        lines.append("[launcher.source.git]")
        lines += [f'  {field} = "{found[key]}"' for field, key in
                  (("repository", "SCMRepository"), ("commit", "SCMCommit")) if key in found]
    return "\n".join(lines) + "\n"


def _ordered(versions: Iterable[str]) -> tuple[str, ...]:
    return tuple(sorted(versions, key=lambda v: tuple(int(part) for part in v.split("."))))


def _listed(apis: Iterable[str]) -> str:
    return ", ".join(f'"{api}"' for api in apis)


def _add(out: tarfile.TarFile, info: tarfile.TarInfo, data: bytes) -> None:
    info.size = len(data)
    out.addfile(info, io.BytesIO(data))


@overload
def _read(tar: tarfile.TarFile, name: str) -> IO[bytes]: ...
@overload
def _read(tar: tarfile.TarFile, name: str, missing_ok: bool) -> IO[bytes] | None: ...


def _read(tar: tarfile.TarFile, name: str, missing_ok: bool = False) -> IO[bytes] | None:
    """The file ``name`` in ``tar``, stored with or without a leading ``./``."""
    for stored in (name, f"./{name}"):
        try:
            stream = tar.extractfile(stored)
        except KeyError:
            continue
        if stream is not None:
            return stream
    if missing_ok:
        return None
    raise SystemExit(f"{name} is not a file in the archive {tar.name!s}")


def _directory(name: str) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.mode = tarfile.DIRTYPE, 0o755
    return info


def _executable(info: tarfile.TarInfo) -> tarfile.TarInfo:
    info.mode, info.uid, info.gid, info.uname, info.gname = 0o755, 0, 0, "", ""
    return info


def _readable(info: tarfile.TarInfo) -> tarfile.TarInfo:
    _executable(info).mode = 0o644
    return info


def arguments(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line (the Dockerfile runs one of its forms)."""
    parser = argparse.ArgumentParser(description="build the lifecycle archive")
    parser.add_argument("--with-lifecycle", type=Path, metavar="ARCHIVE",
                        help="also write our phases over this lifecycle archive")
    parser.add_argument("--image-root", type=Path, metavar="DIR",
                        help="instead, write in DIR what goes over the lifecycle image whose "
                             "/cnb is copied at --base-cnb (see the Dockerfile)")
    parser.add_argument("--base-cnb", type=Path, metavar="DIR")
    parser.add_argument("--phases-root", type=Path, metavar="DIR",
                        help="with the archive, also write in DIR what goes over any lifecycle "
                             "image (the Dockerfile's PREBUILT); with --image-root, take it from "
                             "DIR instead of running PyInstaller")
    parser.add_argument("--dist-dir", type=Path, default=ROOT / "dist", metavar="DIR",
                        help="where the archive goes (default: dist)")
    parser.add_argument("--work-dir", type=Path, default=ROOT / "build" / "dist",
                        metavar="DIR", help="PyInstaller's scratch space (default: build/dist)")
    options = parser.parse_args(argv)
    if options.image_root and not options.base_cnb:
        parser.error("--image-root needs --base-cnb")
    return options


if __name__ == "__main__":
    options = arguments()
    if options.image_root:
        print(image_root(options.image_root, options.base_cnb, options.phases_root))
    else:
        built = main(options.dist_dir, options.work_dir, options.phases_root)
        if options.with_lifecycle:
            overlay(built, options.with_lifecycle)
