"""project-metadata.toml."""

from __future__ import annotations

from pathlib import Path

from lifecycle.platform import files
from tests.unit.files import write


def test_project_metadata(tmp_path: Path) -> None:
    path = write(tmp_path / "p.toml",
                 '[source]\ntype = "git"\n[source.version]\ncommit = "abc"\n')
    assert files.read_project_metadata(path) == {
        "source": {"type": "git", "version": {"commit": "abc"}}}
    assert files.read_project_metadata(tmp_path / "none.toml") == {}
