"""group.toml: ``[[group]]`` and 2019's ``[[buildpacks]]``."""

from __future__ import annotations

from pathlib import Path

import pytest

from lifecycle.platform import files
from lifecycle.platform.exits import LifecycleError
from tests.unit.files import write


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
