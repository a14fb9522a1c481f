"""stack.toml: both spellings, missing, malformed."""

from __future__ import annotations

from pathlib import Path

import pytest

from lifecycle.platform import files
from tests.unit.files import invalid, write


@pytest.mark.parametrize("text", [
    '[run-image]\nimage = "run/img"\nmirrors = ["a.io/run/img", "b.io/run/img"]\n',
    'image = "run/img"\nmirrors = ["a.io/run/img", "b.io/run/img"]\n',  # the flat mirrors form
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
    message = invalid(files.read_stack, path)
    assert str(path) in message and fragment in message
