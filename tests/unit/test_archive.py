"""Reproducible layer tarballs: normalisation, streaming, slices, launcher and process types."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import posixpath
import shutil
import socket
import stat
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lifecycle import archive
from lifecycle.archive import ArchiveError, EntryKind, LocalBlob, TarEntry
from lifecycle.image.model import OCI_LAYER_GZIP, OCI_LAYER_TAR, Layer

EMPTY_TAR_SHA = "sha256:" + hashlib.sha256(bytes(1024)).hexdigest()


# -- helpers ---------------------------------------------------------------------------------

def blob_bytes(layer: Layer) -> bytes:
    assert isinstance(layer.source, LocalBlob)
    with layer.source.open_blob(layer.digest) as blob:
        return blob.read()


def tar_bytes(layer: Layer) -> bytes:
    data = blob_bytes(layer)
    return gzip.decompress(data) if layer.compressed else data


def members(layer: Layer) -> list[tarfile.TarInfo]:
    with tarfile.open(fileobj=io.BytesIO(tar_bytes(layer)), encoding="utf-8",
                      errors="surrogateescape") as tar:
        return tar.getmembers()


def names(layer: Layer) -> list[str]:
    return [member.name for member in members(layer)]


def contents(layer: Layer, name: str) -> bytes:
    with tarfile.open(fileobj=io.BytesIO(tar_bytes(layer))) as tar:
        extracted = tar.extractfile(name)
        assert extracted is not None
        return extracted.read()


class Skips:
    """An ``on_skip`` callback that remembers what it was told."""

    def __init__(self) -> None:
        self.seen: list[tuple[Path, str]] = []

    def __call__(self, path: Path, why: str) -> None:
        self.seen.append((path, why))


def no_skips(path: Path, why: str) -> None:
    raise AssertionError(f"unexpected skip of {path}: {why}")


@pytest.fixture()
def workdir(tmp_path: Path) -> Path:
    path = tmp_path / "work"
    path.mkdir()
    return path


@pytest.fixture()
def layer_dir(tmp_path: Path) -> Path:
    """A buildpack layer dir with files, a subdir, an executable and a symlink."""
    root = tmp_path / "layers" / "bp_id" / "layer"
    (root / "bin").mkdir(parents=True)
    (root / "bin" / "tool").write_bytes(b"#!/bin/sh\necho hi\n")
    (root / "bin" / "tool").chmod(0o755)
    (root / "env").mkdir()
    (root / "env" / "PATH.append").write_text("/x")
    (root / "README").write_text("readme")
    os.symlink("bin/tool", root / "tool-link")
    return root



# The exporter plans a layer (stat only) and then writes it; these write what they plan.
def dir_layer(source: Path, uid: int, gid: int, workdir: Path, compress: bool,
              on_skip: archive.OnSkip) -> Layer:
    return archive.write_layer(archive.dir_plan(source, uid, gid, on_skip).entries, workdir,
                               compress)


def launcher_layer(launcher: Path, workdir: Path, compress: bool) -> Layer:
    return archive.write_layer(archive.launcher_plan(launcher).entries, workdir, compress)


def process_types_layer(types: list[str], workdir: Path, compress: bool) -> Layer:
    return archive.write_layer(archive.process_types_plan(types).entries, workdir, compress)


def app_slice_layers(app: Path, slices: list[list[str]], uid: int, gid: int, workdir: Path,
                     compress: bool, on_skip: archive.OnSkip) -> list[Layer]:
    return [archive.write_layer(plan.entries, workdir, compress)
            for plan in archive.app_slice_plans(app, slices, uid, gid, on_skip)]


def build(source: Path, workdir: Path, compress: bool = True) -> Layer:
    return dir_layer(source, 1000, 1001, workdir, compress, no_skips)


# -- determinism -----------------------------------------------------------------------------

def test_same_tree_gives_same_diff_id_and_digest(layer_dir: Path, tmp_path: Path) -> None:
    first_work, second_work = tmp_path / "w1", tmp_path / "w2"
    first_work.mkdir()
    second_work.mkdir()
    first, second = build(layer_dir, first_work), build(layer_dir, second_work)
    assert (first.diff_id, first.digest, first.size) == (second.diff_id, second.digest,
                                                         second.size)
    assert blob_bytes(first) == blob_bytes(second)


def test_times_on_disk_do_not_matter(layer_dir: Path, workdir: Path) -> None:
    before = build(layer_dir, workdir)
    tool = layer_dir / "bin" / "tool"
    os.utime(tool, (1_000_000, 2_000_000))   # atime and mtime
    tool.chmod(0o755)                        # same mode, new ctime
    os.utime(layer_dir, (5, 5))
    after = build(layer_dir, workdir)
    assert (after.diff_id, after.digest) == (before.diff_id, before.digest)


def test_contents_change_changes_diff_id(layer_dir: Path, workdir: Path) -> None:
    before = build(layer_dir, workdir)
    (layer_dir / "README").write_text("readme!")
    assert build(layer_dir, workdir).diff_id != before.diff_id


# -- archive framing -------------------------------------------------------------------------

def test_archive_ends_with_exactly_two_zero_blocks(layer_dir: Path, workdir: Path) -> None:
    data = tar_bytes(build(layer_dir, workdir, compress=False))
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        tar.getmembers()
        end_of_members = tar.offset
    assert len(data) == end_of_members + 1024
    assert data[end_of_members:] == bytes(1024)
    assert data[end_of_members - 512:end_of_members] != bytes(512)


@pytest.mark.parametrize("compress", [False, True])
def test_empty_layer_is_1024_zero_bytes(workdir: Path, compress: bool) -> None:
    layer = archive.write_layer([], workdir, compress)
    assert tar_bytes(layer) == bytes(1024)
    assert layer.diff_id == EMPTY_TAR_SHA
    assert layer.media_type == (OCI_LAYER_GZIP if compress else OCI_LAYER_TAR)


def test_uncompressed_blob_is_the_tar(layer_dir: Path, workdir: Path) -> None:
    layer = build(layer_dir, workdir, compress=False)
    data = blob_bytes(layer)
    assert layer.digest == layer.diff_id == "sha256:" + hashlib.sha256(data).hexdigest()
    assert layer.size == len(data)
    assert not layer.compressed


def test_gzip_blob_decompresses_to_the_exact_tar(layer_dir: Path, workdir: Path) -> None:
    plain = build(layer_dir, workdir, compress=False)
    packed = build(layer_dir, workdir, compress=True)
    blob = blob_bytes(packed)
    assert gzip.decompress(blob) == blob_bytes(plain)
    assert packed.diff_id == plain.diff_id
    assert packed.digest == "sha256:" + hashlib.sha256(blob).hexdigest()
    assert packed.size == len(blob)
    # Fixed header: deflate, no flags, mtime 0, OS "unknown"; nothing machine-dependent.
    assert blob[:10] == b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"


def test_blob_file_lives_in_workdir_without_leftovers(layer_dir: Path, workdir: Path) -> None:
    layer = build(layer_dir, workdir)
    assert isinstance(layer.source, LocalBlob)
    assert layer.source.path.parent == workdir
    assert layer.source.describe() == str(layer.source.path)
    assert list(workdir.iterdir()) == [layer.source.path]


def test_local_blob_refuses_another_digest(layer_dir: Path, workdir: Path) -> None:
    layer = build(layer_dir, workdir)
    assert isinstance(layer.source, LocalBlob)
    with pytest.raises(ValueError, match="sha256:other"):
        layer.source.open_blob("sha256:other")


# -- headers ---------------------------------------------------------------------------------

def test_headers_are_normalised(layer_dir: Path, workdir: Path) -> None:
    layer = build(layer_dir, workdir, compress=False)
    data = tar_bytes(layer)
    source = str(layer_dir)
    for member in members(layer):
        assert member.mtime == archive.NORMALISED_MTIME
        assert (member.uname, member.gname) == ("", "")
        assert member.name.startswith("/") and not member.name.endswith("/")
        assert not {"atime", "ctime", "mtime"} & member.pax_headers.keys()
        assert data[member.offset + 257:member.offset + 265] == b"ustar\x0000"  # not GNU
        if member.name == source or member.name.startswith(source + "/"):
            assert (member.uid, member.gid) == (1000, 1001)
        else:  # a parent directory of the layer dir
            assert member.isdir()
            assert (member.uid, member.gid, member.mode) == (0, 0, 0o755)


def test_parents_first_then_sorted_preorder_walk(layer_dir: Path, workdir: Path) -> None:
    (layer_dir / "bin-extra").write_text("sorts after bin/ in a walk, before it as a string")
    root = str(layer_dir)
    parents = [posixpath.join("/", *Path(root).parts[1:index])
               for index in range(2, len(Path(root).parts))]
    assert names(build(layer_dir, workdir)) == [
        *parents, root, f"{root}/README", f"{root}/bin", f"{root}/bin/tool",
        f"{root}/bin-extra", f"{root}/env", f"{root}/env/PATH.append", f"{root}/tool-link",
    ]


def test_modes_keep_permission_and_special_bits(layer_dir: Path, workdir: Path) -> None:
    (layer_dir / "bin" / "tool").chmod(0o4755)
    (layer_dir / "env").chmod(0o2750)
    shared = layer_dir / "shared"
    shared.mkdir()
    shared.chmod(0o1777)
    by_name = {member.name: member for member in members(build(layer_dir, workdir))}
    assert by_name[f"{layer_dir}/bin/tool"].mode == 0o4755
    assert by_name[f"{layer_dir}/env"].mode == 0o2750
    assert by_name[f"{shared}"].mode == 0o1777
    assert by_name[f"{layer_dir}/README"].mode == 0o644
    assert contents(build(layer_dir, workdir), f"{layer_dir}/bin/tool") == (
        b"#!/bin/sh\necho hi\n")


# -- symlinks, special files, hard links -----------------------------------------------------

def test_symlinks_are_stored_not_followed(layer_dir: Path, workdir: Path) -> None:
    os.symlink("/etc", layer_dir / "outside")
    os.symlink("loop-b", layer_dir / "loop-a")
    os.symlink("loop-a", layer_dir / "loop-b")
    os.symlink("self", layer_dir / "self")
    os.symlink("../../../nowhere", layer_dir / "dangling")
    os.symlink("bin", layer_dir / "bin-link")
    by_name = {member.name: member for member in members(build(layer_dir, workdir))}
    expected = {"outside": "/etc", "loop-a": "loop-b", "loop-b": "loop-a", "self": "self",
                "dangling": "../../../nowhere", "bin-link": "bin", "tool-link": "bin/tool"}
    for link, target in expected.items():
        member = by_name[f"{layer_dir}/{link}"]
        assert member.issym() and member.linkname == target
    assert not any(name.startswith(f"{layer_dir}/bin-link/") for name in by_name)


def test_fifo_and_socket_are_skipped_with_a_warning(layer_dir: Path, workdir: Path) -> None:
    os.mkfifo(layer_dir / "pipe")
    with socket.socket(socket.AF_UNIX) as server:
        server.bind(str(layer_dir / "sock"))
        skips = Skips()
        layer = dir_layer(layer_dir, 1000, 1001, workdir, True, skips)
    assert skips.seen == [(layer_dir / "pipe", "unsupported file type: named pipe (FIFO)"),
                          (layer_dir / "sock", "unsupported file type: socket")]
    assert not {f"{layer_dir}/pipe", f"{layer_dir}/sock"} & set(names(layer))


def test_hard_links_are_stored_once(layer_dir: Path, workdir: Path, tmp_path: Path) -> None:
    os.link(layer_dir / "README", layer_dir / "zz-readme-again")
    os.link(layer_dir / "README", layer_dir / "env" / "readme-too")
    outside = tmp_path / "outside"
    outside.write_text("shared with a file outside the layer")
    os.link(outside, layer_dir / "from-outside")
    by_name = {member.name: member for member in members(build(layer_dir, workdir))}
    first = by_name[f"{layer_dir}/README"]
    assert first.isfile() and first.size == len("readme")
    for again in (f"{layer_dir}/env/readme-too", f"{layer_dir}/zz-readme-again"):
        assert by_name[again].islnk()
        assert by_name[again].linkname == first.name and by_name[again].size == 0
    alone = by_name[f"{layer_dir}/from-outside"]
    assert alone.isfile() and alone.size == len("shared with a file outside the layer")


# -- names -----------------------------------------------------------------------------------

def test_non_utf8_and_long_names_round_trip(layer_dir: Path, workdir: Path) -> None:
    raw_dir = os.fsencode(layer_dir)
    odd = raw_dir + b"/latin1-\xe9\xff"
    long_dir = raw_dir + b"/" + b"d" * 120
    long_file = long_dir + b"/" + "ü".encode() * 60
    open(odd, "wb").close()
    os.mkdir(long_dir)
    with open(long_file, "wb") as file:
        file.write(b"long")
    os.symlink(b"t" * 200, long_dir + b"/long-target")
    layer = build(layer_dir, workdir, compress=False)
    stored = {os.fsencode(member.name): member for member in members(layer)}
    assert {odd, long_dir, long_file} <= stored.keys()
    assert stored[long_dir + b"/long-target"].linkname == "t" * 200
    assert contents(layer, os.fsdecode(long_file)) == b"long"
    assert b"hdrcharset=BINARY" in tar_bytes(layer)   # raw bytes in the PAX path record


@pytest.mark.parametrize("name", ["relative", "/a/../b", "/a/", "//a", "/", "/a\0b"])
def test_tar_entry_names_must_be_normalised_and_absolute(name: str) -> None:
    with pytest.raises(ValueError, match="normalised absolute path"):
        TarEntry(name, EntryKind.DIRECTORY, 0o755)


# -- errors ----------------------------------------------------------------------------------

def test_missing_source_names_the_path(tmp_path: Path, workdir: Path) -> None:
    with pytest.raises(ArchiveError, match=f"cannot read '{tmp_path}/nope'"):
        dir_layer(tmp_path / "nope", 0, 0, workdir, True, no_skips)


def test_vanished_file_names_the_path_and_leaves_nothing(tmp_path: Path, workdir: Path) -> None:
    gone = tmp_path / "gone"
    entries = [TarEntry("/x", EntryKind.FILE, 0o644, source=gone, size=3)]
    with pytest.raises(ArchiveError, match=f"cannot read '{gone}': No such file"):
        archive.write_layer(entries, workdir, True)
    assert list(workdir.iterdir()) == []


def test_unwritable_workdir_is_an_archive_error(tmp_path: Path) -> None:
    with pytest.raises(ArchiveError, match=f"cannot write a layer in '{tmp_path}/missing'"):
        archive.write_layer([], tmp_path / "missing", True)


@pytest.mark.parametrize(("real_size", "word"), [(2, "shrank"), (4, "grew")])
def test_file_changing_size_is_an_error(tmp_path: Path, workdir: Path, real_size: int,
                                        word: str) -> None:
    changing = tmp_path / "changing"
    changing.write_bytes(b"x" * real_size)
    entries = [TarEntry("/x", EntryKind.FILE, 0o644, source=changing, size=3)]
    with pytest.raises(ArchiveError, match=f"'{changing}': it {word}"):
        archive.write_layer(entries, workdir, False)


@pytest.mark.skipif(os.geteuid() == 0, reason="root can read a mode-000 file")
def test_unreadable_file_names_the_path(layer_dir: Path, workdir: Path) -> None:
    secret = layer_dir / "secret"
    secret.write_text("x")
    secret.chmod(0)
    with pytest.raises(ArchiveError, match=f"cannot read '{secret}': Permission denied"):
        build(layer_dir, workdir)


# -- memory ----------------------------------------------------------------------------------

# In a process of its own: tracemalloc counts every thread's allocations, and the suite's
# warm-up threads (tests/harness/warmup.py) may be reading a download beside this test.
_LAYER_MEMORY = """
import json, sys, tracemalloc
from pathlib import Path
from lifecycle import archive

def no_skips(path, why):
    raise AssertionError(f"unexpected skip of {path}: {why}")

source, workdir, compress = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3] == "gzip"
tracemalloc.start()
layer = archive.write_layer(archive.dir_plan(source, 0, 0, no_skips).entries, workdir, compress)
_, peak = tracemalloc.get_traced_memory()
print(json.dumps({"size": layer.size, "peak": peak}))
"""


@pytest.mark.parametrize("compress", [False, True])
def test_memory_does_not_grow_with_layer_size(tmp_path: Path, workdir: Path,
                                              compress: bool) -> None:
    source = tmp_path / "big"
    source.mkdir()
    with open(source / "zeros", "wb") as big:
        big.truncate(64 << 20)   # sparse: cheap to make, 64 MiB to read
    measured = json.loads(subprocess.run(
        [sys.executable, "-c", _LAYER_MEMORY, str(source), str(workdir),
         "gzip" if compress else "tar"], check=True, capture_output=True, text=True).stdout)
    assert measured["size"] > (64 << 20 if not compress else 0)
    assert measured["peak"] < 8 << 20


# -- launcher and process types --------------------------------------------------------------

def test_launcher_layer_holds_the_launcher(tmp_path: Path, workdir: Path) -> None:
    launcher = tmp_path / "my-launcher"
    launcher.write_bytes(b"\x7fELF launcher")
    launcher.chmod(0o600)
    layer = launcher_layer(launcher, workdir, True)
    listed = [(member.name, member.type, member.mode, member.uid, member.gid)
              for member in members(layer)]
    assert listed == [("/cnb", tarfile.DIRTYPE, 0o755, 0, 0),
                      ("/cnb/lifecycle", tarfile.DIRTYPE, 0o755, 0, 0),
                      ("/cnb/lifecycle/launcher", tarfile.REGTYPE, 0o755, 0, 0)]
    assert contents(layer, "/cnb/lifecycle/launcher") == b"\x7fELF launcher"


def test_launcher_must_be_a_file(tmp_path: Path, workdir: Path) -> None:
    with pytest.raises(ArchiveError, match="not a file"):
        launcher_layer(tmp_path, workdir, True)


def test_process_types_layer_links_each_type(workdir: Path) -> None:
    layer = process_types_layer(["web", "worker", "Ünïcode type"], workdir, False)
    listed = [(member.name, member.type, member.mode, member.uid, member.linkname)
              for member in members(layer)]
    assert listed == [
        ("/cnb", tarfile.DIRTYPE, 0o755, 0, ""),
        ("/cnb/process", tarfile.DIRTYPE, 0o755, 0, ""),
        ("/cnb/process/web", tarfile.SYMTYPE, 0o755, 0, "/cnb/lifecycle/launcher"),
        ("/cnb/process/worker", tarfile.SYMTYPE, 0o755, 0, "/cnb/lifecycle/launcher"),
        ("/cnb/process/Ünïcode type", tarfile.SYMTYPE, 0o755, 0, "/cnb/lifecycle/launcher"),
    ]


@pytest.mark.parametrize(("process_type", "message"), [
    ("", "type is required for all processes"),
    ("a/b", "invalid process type 'a/b': type may not contain characters '/><:|&\\\\'"),
    ("a>b", "invalid process type 'a>b'"), ("a<b", "invalid process type 'a<b'"),
    ("a:b", "invalid process type 'a:b'"), ("a|b", "invalid process type 'a|b'"),
    ("a&b", "invalid process type 'a&b'"), ("a\\b", "invalid process type 'a\\\\b'"),
    ("..", "invalid process type '..': not a file name"),
])
def test_invalid_process_type(workdir: Path, process_type: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        process_types_layer(["web", process_type], workdir, True)
    assert list(workdir.iterdir()) == []


# -- app slices ------------------------------------------------------------------------------

@pytest.fixture()
def app_dir(tmp_path: Path) -> Path:
    app = tmp_path / "workspace"
    for relative in ("a.txt", "b.txt", "static/site.css", "static/app.js", "src/main.py",
                     "src/lib/util.py"):
        (app / relative).parent.mkdir(parents=True, exist_ok=True)
        (app / relative).write_text(relative)
    (app / "empty").mkdir()
    return app


def relative_names(layer: Layer, app: Path) -> list[str]:
    """Names inside the app dir ("." for the app dir), after checking the parents."""
    listed = names(layer)
    parents = [name for name in listed if not (name + "/").startswith(f"{app}/")]
    assert parents == [str(parent) for parent in reversed(app.parents) if str(parent) != "/"]
    return [os.path.relpath(name, app) for name in listed[len(parents):]]


def slice_layers(app: Path, slices: list[list[str]], workdir: Path) -> list[Layer]:
    return app_slice_layers(app, slices, 1000, 1001, workdir, False, no_skips)


def test_no_slices_gives_one_layer_with_everything(app_dir: Path, workdir: Path) -> None:
    (layer,) = slice_layers(app_dir, [], workdir)
    assert relative_names(layer, app_dir) == [
        ".", "a.txt", "b.txt", "empty", "src", "src/lib", "src/lib/util.py", "src/main.py",
        "static", "static/app.js", "static/site.css"]


def test_slices_take_matches_subtrees_and_parents(app_dir: Path, workdir: Path) -> None:
    static, python, rest = slice_layers(app_dir, [["static"], ["src/*.py", "*.md"]], workdir)
    assert relative_names(static, app_dir) == [".", "static", "static/app.js",
                                               "static/site.css"]
    assert relative_names(python, app_dir) == [".", "src", "src/main.py"]
    # src still has lib/, so neither src nor the app dir is consumed.
    assert relative_names(rest, app_dir) == [".", "a.txt", "b.txt", "empty", "src", "src/lib",
                                             "src/lib/util.py"]
    assert (app_dir / "static" / "app.js").exists()   # slicing deletes nothing


def test_entries_are_sorted_by_full_name(app_dir: Path, workdir: Path) -> None:
    (app_dir / "src-extra").write_text("sorts before src/ as a string")
    (layer,) = slice_layers(app_dir, [], workdir)
    listed = relative_names(layer, app_dir)
    assert listed.index("src-extra") < listed.index("src/lib")


def test_later_slices_do_not_retake(app_dir: Path, workdir: Path) -> None:
    first, second, rest = slice_layers(app_dir, [["a.txt"], ["*.txt"]], workdir)
    assert relative_names(first, app_dir) == [".", "a.txt"]
    assert relative_names(second, app_dir) == [".", "b.txt"]
    assert "a.txt" not in relative_names(rest, app_dir)


def test_everything_sliced_leaves_an_empty_final_layer(app_dir: Path, workdir: Path) -> None:
    everything, rest = slice_layers(app_dir, [["*"]], workdir)
    assert relative_names(everything, app_dir)[0] == "."
    assert rest.diff_id == EMPTY_TAR_SHA and tar_bytes(rest) == bytes(1024)


def test_slice_matching_nothing_is_an_empty_tar(app_dir: Path, workdir: Path) -> None:
    nothing, _ = slice_layers(app_dir, [["*.nope", "../*", "/etc/passwd"]], workdir)
    assert nothing.diff_id == EMPTY_TAR_SHA


def test_slice_globs_follow_go_match(app_dir: Path, workdir: Path) -> None:
    def matched(pattern: str) -> list[str]:
        sliced, _ = slice_layers(app_dir, [[pattern]], workdir)
        return relative_names(sliced, app_dir)[1:] if sliced.diff_id != EMPTY_TAR_SHA else []

    assert matched("*.py") == []                    # "*" does not cross "/"
    assert matched("*/*.py") == ["src", "src/main.py"]
    assert matched("[ab].txt") == ["a.txt", "b.txt"]
    assert matched("[^a].txt") == ["b.txt"]          # Go negates with "^"
    assert matched("[!a].txt") == ["a.txt"]          # ... so "!" is just a character
    assert matched("?.txt") == ["a.txt", "b.txt"]
    assert matched("\\a.txt") == ["a.txt"]
    assert matched("./static/../a.txt") == ["a.txt"]  # joined patterns are cleaned
    assert matched("[b-a].txt") == []                # a reversed range matches nothing


@pytest.mark.parametrize("pattern", ["[", "[]", "a[b", "x\\", "[a-]", "[-a]"])
def test_bad_slice_pattern(app_dir: Path, workdir: Path, pattern: str) -> None:
    with pytest.raises(ArchiveError, match="bad pattern for glob path"):
        slice_layers(app_dir, [[pattern]], workdir)


def test_slice_owners(app_dir: Path, workdir: Path) -> None:
    for layer in slice_layers(app_dir, [["static"]], workdir):
        for member in members(layer):
            inside = (member.name + "/").startswith(f"{app_dir}/")
            assert (member.uid, member.gid) == ((1000, 1001) if inside else (0, 0))


def test_slice_skips_special_files_with_a_warning(app_dir: Path, workdir: Path) -> None:
    os.mkfifo(app_dir / "pipe")
    skips = Skips()
    app_slice_layers(app_dir, [], 0, 0, workdir, True, skips)
    assert skips.seen == [(app_dir / "pipe", "unsupported file type: named pipe (FIFO)")]


# -- properties ------------------------------------------------------------------------------

@dataclass(frozen=True)
class Link:
    target: bytes


file_names = st.binary(min_size=1, max_size=12).filter(
    lambda name: b"/" not in name and b"\0" not in name and name not in (b".", b".."))
leaves = st.binary(max_size=64) | st.builds(Link, st.binary(min_size=1, max_size=16).filter(
    lambda target: b"\0" not in target))
trees = st.dictionaries(file_names, st.recursive(
    leaves, lambda children: st.dictionaries(file_names, children, max_size=4), max_leaves=12),
    max_size=5)
patterns = st.lists(st.lists(st.sampled_from(
    ["*", "*/*", "?", "[a-m]*", "[^a-m]*", "../*", "..", ".", "*/../*", "\xff*"]),
    max_size=3), max_size=3)


def create(root: bytes, tree: dict[bytes, Any], reverse: bool) -> None:
    """Creates ``tree`` under ``root``, in reversed name order if asked."""
    os.mkdir(root)
    for name in sorted(tree, reverse=reverse):
        child, path = tree[name], root + b"/" + name
        if isinstance(child, dict):
            create(path, child, reverse)
        elif isinstance(child, Link):
            os.symlink(child.target, path)
        else:
            with open(path, "wb") as file:
                file.write(child)


def walked(root: bytes) -> set[bytes]:
    found = {root}
    for directory, dirs, files in os.walk(root):
        found.update(os.path.join(directory, name) for name in [*dirs, *files])
    return found


@contextmanager
def scratch() -> Iterator[tuple[bytes, Path]]:
    """A fresh source path (as bytes, to create odd names) and work dir."""
    with tempfile.TemporaryDirectory() as base:
        work = Path(base) / "work"
        work.mkdir()
        yield os.fsencode(base) + b"/src", work


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tree=trees)
def test_property_layer_does_not_depend_on_creation_order(tree: dict[bytes, Any]) -> None:
    with scratch() as (source, work):
        layers = []
        for reverse in (False, True):
            create(source, tree, reverse)
            layers.append(dir_layer(Path(os.fsdecode(source)), 7, 8, work, True,
                                            no_skips))
            shutil.rmtree(source)
        assert layers[0].diff_id == layers[1].diff_id
        assert layers[0].digest == layers[1].digest


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tree=trees, slices=patterns)
def test_property_no_entry_escapes_and_slices_partition(tree: dict[bytes, Any],
                                                        slices: list[list[str]]) -> None:
    with scratch() as (source, work):
        create(source, tree, reverse=False)
        on_disk = walked(source)
        parents = {os.fsencode(parent) for parent in Path(os.fsdecode(source)).parents} - {b"/"}

        def stored(layer: Layer) -> list[bytes]:
            listed = [os.fsencode(name) for name in names(layer)]
            for name in listed:
                assert posixpath.normpath(name) == name and name.startswith(b"/")
                assert name in on_disk or name in parents
            return listed

        layer = dir_layer(Path(os.fsdecode(source)), 0, 0, work, False, no_skips)
        assert set(stored(layer)) == on_disk | parents

        sliced = app_slice_layers(Path(os.fsdecode(source)), slices, 0, 0, work, False,
                                          no_skips)
        assert len(sliced) == len(slices) + 1
        everywhere = [name for layer in sliced for name in stored(layer)]
        assert set(everywhere) == on_disk | parents
        non_dirs = [name for name in everywhere
                    if not stat.S_ISDIR(os.lstat(name).st_mode)]
        assert len(non_dirs) == len(set(non_dirs))   # every file in exactly one slice
