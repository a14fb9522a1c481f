"""Platform file formats: both stack.toml spellings, group forms, layer tomls, labels."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pytest

from lifecycle.platform import files
from lifecycle.platform.exits import ExitCode, LifecycleError


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


@pytest.mark.parametrize("text", [
    '[run-image]\nimage = "run/img"\nmirrors = ["a.io/run/img", "b.io/run/img"]\n',
    'image = "run/img"\nmirrors = ["a.io/run/img", "b.io/run/img"]\n',  # seed's mirrors.toml
])
def test_stack_both_forms(tmp_path: Path, text: str) -> None:
    stack = files.read_stack(write(tmp_path / "stack.toml", text))
    assert stack == files.RunImageMetadata("run/img", ("a.io/run/img", "b.io/run/img"))
    assert stack.candidates == ("run/img", "a.io/run/img", "b.io/run/img")


def test_stack_missing_is_none(tmp_path: Path) -> None:
    assert files.read_stack(tmp_path / "nope.toml") is None


@pytest.mark.parametrize(("text", "fragment"), [
    ("[run-image\nimage=1", "stack.toml"),
    ('[run-image]\nimage = 3\n', "'run-image.image' must be a string"),
    ('[run-image]\nimage = "x"\nmirrors = [1]\n', "'run-image.mirrors' must be an array"),
    ('run-image = "x"\n', "'run-image' must be a table"),
])
def test_stack_malformed_is_exit_3_naming_file(tmp_path: Path, text: str, fragment: str) -> None:
    path = write(tmp_path / "stack.toml", text)
    with pytest.raises(LifecycleError) as err:
        files.read_stack(path)
    assert err.value.code == ExitCode.INVALID_ARGS
    assert str(path) in err.value.message and fragment in err.value.message
    assert "\n" not in err.value.message


@pytest.mark.parametrize("key", ["group", "buildpacks"])
def test_group_modern_and_2019(tmp_path: Path, key: str) -> None:
    path = write(tmp_path / "group.toml",
                 f'[[{key}]]\nid = "org/node"\nversion = "1.0"\n'
                 f'[[{key}]]\nid = "b"\nversion = "2"\n')
    group = files.read_group(path)
    assert [(g.id, g.version, g.escaped_id) for g in group] == [
        ("org/node", "1.0", "org_node"), ("b", "2", "b")]


def test_group_missing_and_bad(tmp_path: Path) -> None:
    with pytest.raises(LifecycleError, match=r"group file .* does not exist"):
        files.read_group(tmp_path / "group.toml")
    with pytest.raises(LifecycleError, match=r"'group\[0\]\.id' must be a non-empty string"):
        files.read_group(write(tmp_path / "g.toml", '[[group]]\nversion = "1"\n'))


def test_layer_tomls_types_table_and_top_level(tmp_path: Path) -> None:
    bp = tmp_path / "bp"
    write(bp / "modern.toml", '[types]\nlaunch = true\ncache = true\n[metadata]\nv = "1"\n')
    write(bp / "legacy.toml", 'launch = true\nbuild = true\n')
    write(bp / "store.toml", '[metadata]\nx = 1\n')
    write(bp / "launch.toml", '[[processes]]\ntype = "web"\n')
    (bp / "modern").mkdir()
    layers = files.read_buildpack_layers(bp, "bp")
    assert [(m.name, m.launch, m.build, m.cache, m.has_contents) for m in layers] == [
        ("legacy", True, True, False, False), ("modern", True, False, True, True)]
    assert layers[1].data == {"v": "1"}
    assert files.read_store(bp) == {"metadata": {"x": 1}}


def test_malformed_layer_tomls_reported_together(tmp_path: Path) -> None:
    bp = tmp_path / "bp"
    write(bp / "a.toml", "launch = 'yes'\n")
    write(bp / "b.toml", "[types\n")
    with pytest.raises(LifecycleError) as err:
        files.read_buildpack_layers(bp, "my/bp")
    assert err.value.message.startswith(
        "failed to parse metadata for layers: '[my/bp:a my/bp:b]' (read layer metadata "
        f"'{bp / 'a.toml'}': ")


def test_build_metadata(tmp_path: Path) -> None:
    path = write(tmp_path / "metadata.toml", """
buildpack-default-process-type = "web"
[[processes]]
type = "web"
command = ["node", "server.js"]
args = ["--port", "8080"]
direct = true
buildpack-id = "node"
[[slices]]
paths = ["static/*"]
[[labels]]
key = "org.example"
value = "yes"
""")
    meta = files.read_build_metadata(path)
    assert meta.processes[0].to_json() == {
        "type": "web", "command": ["node", "server.js"], "args": ["--port", "8080"],
        "direct": True, "buildpackID": "node"}
    assert meta.slices == (("static/*",),)
    assert meta.labels == (("org.example", "yes"),)
    assert meta.default_process_type == "web"
    assert files.read_build_metadata(tmp_path / "missing.toml") == files.BuildMetadata()


def test_project_metadata(tmp_path: Path) -> None:
    path = write(tmp_path / "p.toml",
                 '[source]\ntype = "git"\n[source.version]\ncommit = "abc"\n')
    assert files.read_project_metadata(path) == {
        "source": {"type": "git", "version": {"commit": "abc"}}}
    assert files.read_project_metadata(tmp_path / "none.toml") == {}


def test_label_run_image_prefers_run_image_then_stack() -> None:
    both = files.LifecycleLabel({"runImage": {"topLayer": "sha256:a", "image": "new/run",
                                              "mirrors": ["m.io/new/run"]},
                                 "stack": {"runImage": {"image": "old/run"}}})
    assert both.run_image() == files.RunImageMetadata("new/run", ("m.io/new/run",))
    stack_only = files.LifecycleLabel({"runImage": {"topLayer": "sha256:a"},
                                       "stack": {"runImage": {"image": "old/run",
                                                              "mirrors": ["x.io/old/run"]}}})
    assert stack_only.run_image() == files.RunImageMetadata("old/run", ("x.io/old/run",))
    assert files.LifecycleLabel({}).run_image() == files.RunImageMetadata()


def test_label_rebase_update_keeps_other_keys() -> None:
    label = files.LifecycleLabel({"app": {"sha": "sha256:old-form"}, "buildpacks": [],
                                  "runImage": {"topLayer": "a", "reference": "r", "image": "x"},
                                  "stack": {"runImage": {"image": "x"}}})
    same = label.with_run_image("b", "reg/run@sha256:1")
    assert same["runImage"] == {"topLayer": "b", "reference": "reg/run@sha256:1", "image": "x"}
    assert same["app"] == {"sha": "sha256:old-form"}
    moved = label.with_run_image("b", "r2", files.RunImageMetadata("custom/image"))
    assert moved["runImage"]["image"] == "custom/image" and "mirrors" not in moved["runImage"]
    assert moved["stack"] == {"runImage": {"image": "custom/image"}}


def test_label_parse_errors_are_rebase_failures() -> None:
    for text in ("{not json", "[1, 2]"):
        with pytest.raises(LifecycleError) as err:
            files.LifecycleLabel.parse(text, "reg.io/app")
        assert err.value.code == ExitCode.REBASE_FAILED
        assert "reg.io/app" in err.value.message


def test_report_written_atomically(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "report.toml"
    files.write_report(path, {"tags": ["a"], "digest": "sha256:1"}, {"image": "run"})
    assert tomllib.loads(path.read_text()) == {"image": {"tags": ["a"], "digest": "sha256:1"},
                                               "run-image": {"image": "run"}}
    assert [p.name for p in path.parent.iterdir()] == ["report.toml"]
    assert json.loads(files.labels_json({"a": [1]})) == {"a": [1]}
