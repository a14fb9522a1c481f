"""report.toml and the rebase-many summary, written atomically."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

from lifecycle.platform import files


def test_report_written_atomically(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "report.toml"
    files.write_report(path, {"tags": ["a"], "digest": "sha256:1"}, {"image": "run"})
    assert tomllib.loads(path.read_text()) == {"image": {"tags": ["a"], "digest": "sha256:1"},
                                               "run-image": {"image": "run"}}
    assert [p.name for p in path.parent.iterdir()] == ["report.toml"]
    assert json.loads(files.labels_json({"a": [1]})) == {"a": [1]}


def test_report_build_bom_comes_first_and_only_when_given(tmp_path: Path) -> None:
    path = tmp_path / "report.toml"
    bom = [{"name": "node", "metadata": {"version": "20"},
            "buildpack": {"id": "bp", "version": "1"}}]
    files.write_report(path, {"tags": ["a"]}, None, bom)
    text = path.read_text()
    assert text.index("[build]") < text.index("[image]")
    assert tomllib.loads(text)["build"] == {"bom": bom}
    files.write_report(path, {"tags": ["a"]}, None, [])
    assert "build" not in tomllib.loads(path.read_text())


def test_rebase_summary(tmp_path: Path) -> None:
    path = tmp_path / "summary.toml"
    files.write_rebase_summary(path, [{"name": "a", "status": "rebased"}])
    assert tomllib.loads(path.read_text()) == {"images": [{"name": "a", "status": "rebased"}]}
