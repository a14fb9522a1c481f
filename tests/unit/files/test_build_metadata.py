"""config/metadata.toml, and its processes in each platform API's build-label shape."""

from __future__ import annotations

from pathlib import Path

import pytest

from lifecycle.platform import files
from lifecycle.platform.api import PlatformAPI, features_for
from tests.unit.files import write

METADATA = """
buildpack-default-process-type = "web"
[[processes]]
type = "web"
command = ["node", "server.js"]
args = ["--port", "8080"]
direct = true
buildpack-id = "node"
exec-env = ["production"]
[[slices]]
paths = ["static/*"]
[[labels]]
key = "org.example"
value = "yes"
"""


def test_build_metadata(tmp_path: Path) -> None:
    meta = files.read_build_metadata(write(tmp_path / "metadata.toml", METADATA))
    assert meta.processes[0] == files.Process(
        "web", ("node", "server.js"), ("--port", "8080"), direct=True, buildpack_id="node",
        exec_env=("production",))
    assert meta.slices == (("static/*",),)
    assert meta.labels == (("org.example", "yes"),)
    assert meta.default_process_type == "web"
    assert files.read_build_metadata(tmp_path / "missing.toml") == files.BuildMetadata()


@pytest.mark.parametrize(("api", "expected"), [
    ("0.3", {"type": "web", "command": "node", "args": ["server.js", "--port", "8080"],
             "direct": True, "buildpackID": "node"}),
    ("0.9", {"type": "web", "command": "node", "args": ["server.js", "--port", "8080"],
             "direct": True, "buildpackID": "node"}),
    ("0.10", {"type": "web", "command": ["node", "server.js"], "args": ["--port", "8080"],
              "direct": True, "buildpackID": "node"}),
    ("0.15", {"type": "web", "command": ["node", "server.js"], "args": ["--port", "8080"],
              "direct": True, "buildpackID": "node", "exec-env": ["production"]}),
])
def test_process_shape_per_platform_api(tmp_path: Path, api: str,
                                        expected: dict[str, object]) -> None:
    meta = files.read_build_metadata(write(tmp_path / "metadata.toml", METADATA))
    assert meta.processes[0].to_json(features_for(PlatformAPI.parse(api))) == expected


def test_a_string_command_stays_one_string_below_0_10(tmp_path: Path) -> None:
    path = write(tmp_path / "metadata.toml",
                 '[[processes]]\ntype = "web"\ncommand = "node server.js"\n')
    process = files.read_build_metadata(path).processes[0]
    assert process.to_json(features_for(PlatformAPI(0, 9)))["command"] == "node server.js"
    assert process.to_json(features_for(PlatformAPI(0, 10)))["command"] == ["node server.js"]
