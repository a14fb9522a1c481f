"""Layer tomls (flags top-level or in ``[types]``) and store.toml."""

from __future__ import annotations

from pathlib import Path

import pytest

from lifecycle.platform import files
from lifecycle.platform.exits import LifecycleError
from tests.unit.files import write


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
