"""Broken and hostile inputs: each is one clear line, a documented exit code, no traceback, and
nothing written (no image, no report). The phases run in-process here, to keep ~200 cases fast;
the same entry points run as subprocesses in the other integration tests."""

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
import tarfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from lifecycle import exporter, rebaser
from lifecycle.backends.layout import LayoutStore
from lifecycle.image import mutate
from lifecycle.image.model import OCI_CONFIG, OCI_LAYER_GZIP, OCI_MANIFEST
from lifecycle.platform.files import LIFECYCLE_LABEL
from lifecycle.reference import parse_reference
from lifecycle.samplebuild import SampleBuild, write_sample_build
from tests.harness.images import make_run_image_layout
from tests.integration.conftest import export_args, run_phase

RUN = "example.com/cnb/run:v1"
APP = "example.com/apps/hostile:latest"


@dataclass(frozen=True)
class Outcome:
    code: int
    out: str
    err: str

    def error_line(self) -> str:
        assert "Traceback" not in self.out + self.err
        errors = [line for line in self.err.splitlines() if line.startswith("ERROR")]
        assert len(errors) == 1, self.err
        return errors[0]


BASE_APP = "example.com/apps/base:latest"


@pytest.fixture(scope="module")
def run_layout(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A layout with the run image and one exported app image (copied for each test)."""
    root = tmp_path_factory.mktemp("hostile-layout")
    make_run_image_layout(root / "example.com/cnb/run/v1", "v1")
    build = write_sample_build(root.parent / "hostile-build")
    stack = root.parent / "hostile-stack.toml"
    stack.write_text(f'[run-image]\nimage = "{RUN}"\n')
    exported = run_phase("exporter", "-layout", "-layout-dir", str(root), "-report",
                         str(root.parent / "r.toml"), *export_args(build, stack, BASE_APP))
    assert exported.code == 0, exported.output
    return root


@pytest.fixture
def world(tmp_path: Path, run_layout: Path, monkeypatch: pytest.MonkeyPatch,
          capsys: pytest.CaptureFixture[str]) -> World:
    for name in list(os.environ):
        if name.startswith(("CNB_", "DOCKER_")):
            monkeypatch.delenv(name)
    shutil.copytree(run_layout, tmp_path / "oci")
    build = write_sample_build(tmp_path / "build")
    stack = tmp_path / "stack.toml"
    stack.write_text(f'[run-image]\nimage = "{RUN}"\n')
    return World(tmp_path, build, stack, capsys, monkeypatch)


@dataclass
class World:
    root: Path
    build: SampleBuild
    stack: Path
    capsys: pytest.CaptureFixture[str]
    monkeypatch: pytest.MonkeyPatch

    @property
    def report(self) -> Path:
        return self.root / "report.toml"

    def export_args(self, *extra: str, image: str = APP) -> list[str]:
        return ["-layout", "-layout-dir", str(self.root / "oci"), "-stack", str(self.stack),
                "-layers", str(self.build.layers_dir), "-app", str(self.build.app_dir),
                "-report", str(self.report), *extra, image]

    def run(self, main: Callable[[list[str]], int], argv: list[str],
            env: dict[str, str] | None = None) -> Outcome:
        for name, value in (env or {}).items():
            self.monkeypatch.setenv(name, value)
        self.capsys.readouterr()
        code = main(argv)
        captured = self.capsys.readouterr()
        return Outcome(code, captured.out, captured.err)

    def export(self, *extra: str, env: dict[str, str] | None = None,
               image: str = APP) -> Outcome:
        return self.run(exporter.main, self.export_args(*extra, image=image), env)

    def nothing_written(self, image: str = APP) -> None:
        assert not self.report.exists()
        assert not (self.root / "oci" / "example.com/apps/hostile").exists()


# -- TOML files -------------------------------------------------------------------------------

TOML_FILES = {
    "stack": "stack.toml",
    "group": "build/layers/group.toml",
    "layer": "build/layers/examples_hello/hello.toml",
    "metadata": "build/layers/config/metadata.toml",
    "project": "build/layers/project-metadata.toml",
    "analyzed": "build/layers/analyzed.toml",
    "store": "build/layers/examples_hello/store.toml",
}
ANY_FILE = {
    "syntax error": "[[broken\n",
    "not UTF-8": b"key = \"\xff\xfe\"\n",
    "duplicate key": "a = 1\na = 2\n",
    "unterminated string": 'a = "no end\n',
    "huge and broken": "x = 1\n" * 2_000_000 + "[[",
    "NUL byte": "a = 1\n\0\n",
}
WRONG_SHAPES = {
    "stack": ['[run-image]\nimage = 1\n', '[run-image]\nmirrors = [1, 2]\n', 'run-image = "x"\n',
              '[run-image]\nimage = "example.com/cnb/run:v1"\nmirrors = {a = 1}\n'],
    "group": ['[[group]]\nid = 1\nversion = "1"\n', 'group = "x"\n',
              '[[group]]\nversion = "1"\n', '[[group]]\nid = "a"\nversion = 2\n',
              'group = [1, 2]\n', '[[buildpacks]]\nid = ["a"]\nversion = "1"\n'],
    "layer": ['[types]\nlaunch = "yes"\n', 'launch = "true"\n', 'types = 3\n',
              'metadata = 5\n', '[types]\ncache = 1\n'],
    "metadata": ['[[processes]]\ntype = 1\ncommand = ["x"]\n', 'processes = "x"\n',
                 '[[processes]]\ntype = "web"\ncommand = 5\n', '[[slices]]\npaths = [1]\n',
                 'buildpack-default-process-type = 1\n', 'slices = 3\n',
                 '[[processes]]\ntype = "web"\ncommand = ["x"]\ndirect = "yes"\n',
                 '[[labels]]\nkey = 1\nvalue = "v"\n'],
    "project": ['source = "x"\n', '[source]\ntype = 1\n'],
    "analyzed": ['[image]\nreference = 1\n', 'image = "x"\n', 'metadata = 3\n'],
    "store": ['metadata = 1\n'],
}
TOML_CASES = [pytest.param(kind, content, id=f"{kind}: {name}")
              for kind in TOML_FILES for name, content in ANY_FILE.items()]
TOML_CASES += [pytest.param(kind, content, id=f"{kind}: {content.strip()[:40]!r}")
               for kind, contents in WRONG_SHAPES.items() for content in contents]
TOML_CASES += [pytest.param(kind, None, id=f"{kind}: a directory") for kind in TOML_FILES]


@pytest.mark.parametrize(("kind", "content"), TOML_CASES)
def test_a_broken_toml_file_is_one_line_naming_it(world: World, kind: str,
                                                  content: str | bytes | None) -> None:
    path = world.root / TOML_FILES[kind]
    if content is None:
        path.unlink(missing_ok=True)
        path.mkdir()
    elif isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content)
    outcome = world.export()
    line = outcome.error_line()
    assert outcome.code == 3, line
    assert str(path) in line
    assert "Will not cache data" not in outcome.err   # an input error comes alone
    world.nothing_written()


# -- flags and environment --------------------------------------------------------------------

FLAG_CASES = [
    # (extra args, environment, exit code, fragment of the error line)
    (["-no-such-flag"], {}, 2, "flag provided but not defined: -no-such-flag"),
    (["-uid", "abc"], {}, 3, "invalid value \"abc\" for flag -uid"),
    (["-gid=-x"], {}, 3, "invalid value \"-x\" for flag -gid"),
    (["-daemon=maybe"], {}, 3, "invalid boolean value \"maybe\" for -daemon"),
    (["--uid=1.5"], {}, 3, "invalid value \"1.5\" for flag -uid"),
    (["-log-level", "loud"], {}, 3, "'loud' is not one of"),
    (["-log-format", "xml"], {}, 3, "'xml' is not one of"),
    (["-daemon"], {}, 3, "supply only one of -daemon or -layout"),
    ([], {"CNB_PLATFORM_API": "0.1"}, 11, "platform API version '0.1' is incompatible"),
    ([], {"CNB_PLATFORM_API": "banana"}, 11, "platform API version 'banana'"),
    ([], {"CNB_REGISTRY_AUTH": "{not json"}, 0, ""),  # not consulted for a layout target
    ([], {"CNB_LOG_LEVEL": "shout"}, 3, "'shout' is not one of"),
    (["-run-image", "BAD//ref"], {}, 3, "BAD//ref"),
    (["-run-image", "a", "-image", "b"], {}, 3, "supply only one of -run-image"),
    (["-process-type", "nope"], {}, 62, "tried to set nope to default but it doesn't exist"),
    (["-launcher", "/nonexistent/launcher"], {}, 3, "read launcher '/nonexistent/launcher'"),
    (["-layers", "/nonexistent/layers"], {}, 3, "read layers directory"),
    (["-app", "/nonexistent/app"], {}, 3, "read app directory"),
    (["-group", "/nonexistent/group.toml"], {}, 3, "/nonexistent/group.toml"),
    (["-stack", "/nonexistent/stack.toml"], {}, 3, "-run-image is required"),
    (["-report", "/dev/null/report.toml"], {}, 62, "/dev/null/report.toml"),
    (["-project-metadata", "/proc"], {}, 3, "/proc"),
]


@pytest.mark.parametrize(("extra", "env", "code", "fragment"), FLAG_CASES,
                         ids=[" ".join(c[0]) or str(c[1]) for c in FLAG_CASES])
def test_a_bad_flag_or_variable(world: World, extra: list[str], env: dict[str, str],
                                code: int, fragment: str) -> None:
    outcome = world.export(*extra, env=env)
    if code == 0:
        assert outcome.code == 0, outcome.err
        return
    assert outcome.code == code, outcome.err
    if code == 2:  # Go's flag package: the message, then the usage
        assert fragment in outcome.err and "Traceback" not in outcome.err
    else:
        assert fragment in outcome.error_line()
    if code == 3:
        assert "Will not cache data" not in outcome.err   # an input error comes alone
    if "-report" not in extra:  # the report comes after the image, as in the lifecycle
        assert not (world.root / "oci" / "example.com/apps/hostile").exists()


ENV_CASES = [
    ("CNB_REGISTRY_AUTH", "{not json", "parse CNB_REGISTRY_AUTH"),
    ("CNB_REGISTRY_AUTH", '["a"]', "must map registries"),
    ("CNB_REGISTRY_AUTH", '{"r": 1}', "must map registries"),
    ("CNB_REGISTRY_TIMEOUT", "soon", "parse CNB_REGISTRY_TIMEOUT"),
    ("CNB_REGISTRY_ATTEMPTS", "-1", "parse CNB_REGISTRY_ATTEMPTS"),
    ("CNB_REGISTRY_DEADLINE", "nan", "parse CNB_REGISTRY_DEADLINE"),
    ("CNB_REGISTRY_RETRY_DELAY", "0", "must be positive"),
]


@pytest.mark.parametrize(("name", "value", "fragment"), ENV_CASES,
                         ids=[f"{n}={v}" for n, v, _ in ENV_CASES])
def test_a_bad_registry_variable(world: World, name: str, value: str, fragment: str) -> None:
    argv = world.export_args(image="registry.invalid:5000/apps/x:1")[3:]  # registry target
    outcome = world.run(exporter.main, argv, {name: value})
    assert outcome.code == 3
    assert fragment in outcome.error_line()


# -- image references -------------------------------------------------------------------------

BAD_REFERENCES = [
    "UPPER/case", "example.com/UPPER:tag", "example.com/app@sha256:short",
    "example.com/app@md5:0123456789abcdef0123456789abcdef", "example.com/app:bad tag",
    "example.com:port/app", "a" * 300, "example.com/" + "b" * 300, "", ":tag",
    "@sha256:" + "0" * 64, "example.com/app:" + "t" * 200, "example.com/app@sha256:" + "g" * 64,
    "exa mple.com/app", "example.com/app:a:b", "example.com/app@",
    "example.com/app:tag@sha256:" + "0" * 63, "example.com/ap\tp", "example.com/app@sha256:",
]
# Valid reference syntax (go-containerregistry's weak validation), but as a layout path one
# of their components would leave the layout's root.
LAYOUT_ESCAPES = ["example.com//double", "example.com/../../../escaped",
                  "example.com/a/../../escaped", "example.com/./app", "example.com/app/",
                  "example.com/app:.."]


@pytest.mark.parametrize("reference", BAD_REFERENCES)
def test_a_bad_image_reference_is_exit_3(world: World, reference: str) -> None:
    outcome = world.export(image=reference)
    assert outcome.code == 3, outcome.err
    assert "image argument" in outcome.error_line() or "parse" in outcome.error_line()
    assert not world.report.exists()


@pytest.mark.parametrize("reference", BAD_REFERENCES[:10])
def test_a_bad_reference_to_rebase_is_exit_3(world: World, reference: str) -> None:
    outcome = world.run(rebaser.main, ["-layout", "-layout-dir", str(world.root / "oci"),
                                       "-report", str(world.report), reference])
    assert outcome.code == 3, outcome.err
    outcome.error_line()


@pytest.mark.parametrize("reference", LAYOUT_ESCAPES)
def test_a_reference_that_would_leave_the_layout_writes_nothing(world: World,
                                                                 reference: str) -> None:
    outcome = world.export(image=reference)
    assert outcome.code == 62, outcome.err
    assert "cannot be stored in an OCI layout" in outcome.error_line()
    assert sorted(p.name for p in world.root.iterdir()) == ["build", "oci", "stack.toml"]
    assert sorted(p.name for p in (world.root / "oci" / "example.com" / "apps").iterdir()) == \
        ["base"]


@pytest.mark.parametrize("mirror", ["UPPER/x", "example.com:abc/run", "", "@@"])
def test_an_unparsable_mirror_is_passed_over_with_its_reason(world: World,
                                                              mirror: str) -> None:
    world.stack.write_text(f'[run-image]\nimage = "{RUN}"\nmirrors = ["{mirror}"]\n')
    outcome = world.export()
    assert outcome.code == 0, outcome.err
    assert f"Selected run image '{RUN}'" in outcome.out


# -- labels on rebase -------------------------------------------------------------------------

def top_layer_of_run_image(world: World) -> str:
    return LayoutStore(world.root / "oci").read(parse_reference(RUN)).image.top_layer


LABELS: list[tuple[str, object]] = [
    ("invalid JSON", "{"), ("not JSON", "not json at all"), ("empty", ""),
    ("a JSON array", "[]"), ("a number", "1"), ("null", "null"), ("a string", '"x"'),
    ("runImage a string", {"runImage": "x"}),
    ("topLayer a number", {"runImage": {"topLayer": 5}}),
    ("no topLayer", {"runImage": {"reference": "x"}}),
    ("empty topLayer", {"runImage": {"topLayer": ""}}),
    ("topLayer not in the image", {"runImage": {"topLayer": "sha256:" + "0" * 64}}),
    ("no run image recorded", "TOP_ONLY"),
    ("deeply nested", "[" * 100_000 + "]" * 100_000),
]


def tampered(world: World, label: object) -> str:
    """The base app with its lifecycle label replaced; returns its name."""
    store = LayoutStore(world.root / "oci")
    image = store.read(parse_reference(BASE_APP)).image
    if label == "TOP_ONLY":
        label = {"runImage": {"topLayer": top_layer_of_run_image(world)}}
    text = label if isinstance(label, str) else json.dumps(label)
    name = "example.com/apps/tampered:latest"
    store.write(mutate.set_labels(image, {LIFECYCLE_LABEL: text}), [parse_reference(name)])
    return name


@pytest.mark.parametrize("label", [value for _, value in LABELS],
                         ids=[name for name, _ in LABELS])
def test_a_bad_label_is_exit_72_and_the_image_is_left_alone(world: World,
                                                            label: object) -> None:
    name = tampered(world, label)
    store = LayoutStore(world.root / "oci")
    before = store.read(parse_reference(name)).digest
    outcome = world.run(rebaser.main, ["-layout", "-layout-dir", str(world.root / "oci"),
                                       "-report", str(world.report), name])
    assert outcome.code == 72, outcome.out + outcome.err
    outcome.error_line()
    assert store.read(parse_reference(name)).digest == before
    assert not world.report.exists()


def test_an_image_without_the_label_is_exit_72(world: World) -> None:
    store = LayoutStore(world.root / "oci")
    image = store.read(parse_reference(BASE_APP)).image
    store.write(mutate.set_labels(image, {}, remove_prefixes=("io.buildpacks.lifecycle.",)),
                [parse_reference("example.com/apps/plain:latest")])
    outcome = world.run(rebaser.main, ["-layout", "-layout-dir", str(world.root / "oci"),
                                       "-report", str(world.report),
                                       "example.com/apps/plain:latest"])
    assert outcome.code == 72
    assert "it was not built by a buildpacks lifecycle" in outcome.error_line()


# -- manifests and configs --------------------------------------------------------------------

def blob(layout: Path, data: bytes) -> dict[str, object]:
    digest = hashlib.sha256(data).hexdigest()
    (layout / "blobs" / "sha256").mkdir(parents=True, exist_ok=True)
    (layout / "blobs" / "sha256" / digest).write_bytes(data)
    return {"digest": f"sha256:{digest}", "size": len(data)}


def crafted_run_image(world: World, mutate_parts: Callable[[dict[str, Any], dict[str, Any],
                                                           dict[str, Any]], bytes | None]) -> None:
    """Replace the run image by one built here, after ``mutate_parts(index entry, manifest,
    config)`` edits it; it may return raw manifest bytes to store instead."""
    layout = world.root / "oci" / "example.com/cnb/run/v1"
    shutil.rmtree(layout)
    layer_tar = io.BytesIO()
    with tarfile.open(fileobj=layer_tar, mode="w") as tar:
        info = tarfile.TarInfo("etc/run-image-version")
        info.size = 3
        tar.addfile(info, io.BytesIO(b"v1\n"))
    diff_id = "sha256:" + hashlib.sha256(layer_tar.getvalue()).hexdigest()
    layer = {"mediaType": OCI_LAYER_GZIP, **blob(layout, gzip.compress(layer_tar.getvalue()))}
    config: dict[str, Any] = {"architecture": "amd64", "os": "linux", "config": {},
                              "rootfs": {"type": "layers", "diff_ids": [diff_id]}}
    manifest: dict[str, Any] = {"schemaVersion": 2, "mediaType": OCI_MANIFEST, "layers": [layer]}
    entry: dict[str, Any] = {"mediaType": OCI_MANIFEST,
                             "annotations": {"org.opencontainers.image.ref.name": "latest"}}
    raw = mutate_parts(entry, manifest, config)
    if "config" not in manifest:
        manifest["config"] = {"mediaType": OCI_CONFIG,
                              **blob(layout, json.dumps(config).encode())}
    entry.update(blob(layout, raw if isinstance(raw, bytes) else json.dumps(manifest).encode()))
    (layout / "oci-layout").write_text('{"imageLayoutVersion":"1.0.0"}')
    (layout / "index.json").write_text(json.dumps({"schemaVersion": 2, "manifests": [entry]}))


RUN_IMAGE_DEFECTS: dict[str, Callable[[dict[str, Any], dict[str, Any], dict[str, Any]],
                                      bytes | None]] = {
    "unexpected manifest media type": lambda e, m, c: e.update(
        mediaType="application/vnd.example.unknown+json"),
    "manifest is not JSON": lambda e, m, c: b"\x00not json",
    "manifest is a JSON array": lambda e, m, c: b"[]",
    "schema version 1": lambda e, m, c: m.update(schemaVersion=1),
    "unexpected layer media type": lambda e, m, c: m["layers"][0].update(
        mediaType="application/vnd.example.layer"),
    "more layers than diffIDs": lambda e, m, c: m["layers"].append(m["layers"][0]),
    "more diffIDs than layers": lambda e, m, c: c["rootfs"]["diff_ids"].append("sha256:" + "1"),
    "config without rootfs": lambda e, m, c: c.pop("rootfs"),
    "diffIDs not a list": lambda e, m, c: c["rootfs"].update(diff_ids="x"),
    "only an arm64 image": lambda e, m, c: c.update(architecture="arm64"),
    "windows image": lambda e, m, c: c.update(os="windows"),
    "layers not a list": lambda e, m, c: m.update(layers={"a": 1}),
    "layer without a digest": lambda e, m, c: m["layers"][0].pop("digest"),
    "layer digest malformed": lambda e, m, c: m["layers"][0].update(digest="sha256:zz"),
    "config digest missing blob": lambda e, m, c: m.update(config={
        "mediaType": OCI_CONFIG, "digest": "sha256:" + "2" * 64, "size": 10}),
    "index entry digest mismatch": lambda e, m, c: e.update(size=1) or None,
    "zero layers": lambda e, m, c: (m.update(layers=[]), c["rootfs"].update(diff_ids=[]))
    and None,
    "empty config": lambda e, m, c: c.clear(),
}


@pytest.mark.parametrize("defect", list(RUN_IMAGE_DEFECTS))
def test_a_defective_run_image_is_refused_or_used_whole(world: World, defect: str) -> None:
    crafted_run_image(world, RUN_IMAGE_DEFECTS[defect])
    outcome = world.export()
    if outcome.code == 0:  # tolerated (e.g. another platform): then the image must be whole
        stored = LayoutStore(world.root / "oci").read(parse_reference(APP))
        assert len(stored.image.layers) == len(stored.image.diff_ids)
        return
    assert outcome.code in (3, 62), outcome.err
    outcome.error_line()
    world.nothing_written()


# -- layer trees ------------------------------------------------------------------------------

def app_entries(world: World) -> dict[str, tarfile.TarInfo]:
    """Every tar entry of the exported image's app layers, by name."""
    stored = LayoutStore(world.root / "oci").read(parse_reference(APP))
    label = json.loads(stored.image.labels[LIFECYCLE_LABEL])
    entries: dict[str, tarfile.TarInfo] = {}
    for sha in (entry["sha"] for entry in label["app"]):
        layer = stored.image.layer_by_diff_id(sha)
        assert layer is not None and layer.source is not None
        with layer.source.open_blob(layer.digest) as data, \
                tarfile.open(fileobj=gzip.open(data), mode="r|", encoding="utf-8",
                             errors="surrogateescape") as tar:
            entries.update((member.name, member) for member in tar)
    return entries


def in_app(world: World, name: str) -> str:
    return f"{world.build.app_dir}/{name}"


TREES: dict[str, Callable[[Path], None]] = {
    "symlink to an absolute path outside": lambda app: (app / "passwd").symlink_to("/etc/passwd"),
    "symlink climbing out": lambda app: (app / "up").symlink_to("../../../../../../etc"),
    "symlink loop": lambda app: ((app / "a").symlink_to("b"), (app / "b").symlink_to("a")),
    "symlink to itself": lambda app: (app / "self").symlink_to("self"),
    "dangling symlink": lambda app: (app / "gone").symlink_to("nowhere/at/all"),
    "hard links": lambda app: ((app / "one").write_text("x"), os.link(app / "one", app / "two")),
    "non-UTF-8 name": lambda app: (app / os.fsdecode(b"caf\xe9.txt")).write_text("x"),
    "very long name": lambda app: (app / ("n" * 250)).write_text("x"),
    "deep path": lambda app: (app.joinpath(*["d" * 50] * 30)).mkdir(parents=True),
    "names with dots": lambda app: ((app / "..hidden").write_text("x"),
                                    (app / "...").write_text("y")),
    "newline and backslash in names": lambda app: ((app / "a\nb").write_text("x"),
                                                   (app / "c\\d").write_text("y")),
    "setuid file": lambda app: ((app / "suid").write_text("x"),
                                (app / "suid").chmod(0o4755)),
    "empty directory": lambda app: (app / "empty").mkdir(),
}


@pytest.mark.parametrize("tree", list(TREES))
def test_odd_trees_are_stored_as_they_are_and_never_escape(world: World, tree: str) -> None:
    TREES[tree](world.build.app_dir)
    outcome = world.export()
    assert outcome.code == 0, outcome.err
    entries = app_entries(world)
    for name in entries:  # absolute, as the lifecycle writes them, and normalised
        assert name.startswith("/") and posixpath.normpath(name) == name, name
        assert ".." not in name.split("/"), name
    if "symlink" in tree:
        links = {n: m.linkname for n, m in entries.items() if m.issym()}
        for path in world.build.app_dir.iterdir():
            if path.is_symlink():
                assert links[in_app(world, path.name)] == os.readlink(path)  # never followed
        assert not any(name.endswith("/etc/passwd") and m.isfile() for name, m in entries.items())
    if tree == "hard links":
        linked = [m for m in entries.values() if m.islnk()]
        assert len(linked) == 1 and linked[0].linkname.endswith("/one")
    if tree == "setuid file":
        assert entries[in_app(world, "suid")].mode & 0o4000


SPECIAL_FILES: dict[str, Callable[[Path], None]] = {
    "FIFO": lambda path: os.mkfifo(path),
    "socket": lambda path: socket.socket(socket.AF_UNIX).bind(str(path)),
    "character device": lambda path: os.mknod(path, 0o600 | stat.S_IFCHR, os.makedev(1, 3)),
    "block device": lambda path: os.mknod(path, 0o600 | stat.S_IFBLK, os.makedev(7, 0)),
}


@pytest.mark.parametrize("kind", list(SPECIAL_FILES))
@pytest.mark.parametrize("where", ["app", "layer"])
def test_special_files_are_skipped_with_a_warning(world: World, kind: str, where: str) -> None:
    if "device" in kind and os.geteuid() != 0:
        pytest.skip("making a device node needs root")
    directory = world.build.app_dir if where == "app" else \
        world.build.layers_dir / "examples_hello" / "hello"
    special = directory / "special"
    SPECIAL_FILES[kind](special)
    outcome = world.export()
    assert outcome.code == 0, outcome.err
    assert f"Warning: Skipping '{special}': unsupported file type" in outcome.err
    assert in_app(world, "special") not in app_entries(world)
