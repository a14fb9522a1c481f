"""run.toml: ``[[images]] image, mirrors``; missing, mis-keyed, malformed."""

from __future__ import annotations

from pathlib import Path

import pytest

from lifecycle.platform import files
from tests.unit.files import invalid, write


def test_run_images_in_order(tmp_path: Path) -> None:
    path = write(tmp_path / "run.toml", '[[images]]\nimage = "reg.io/run:1"\n'
                 'mirrors = ["m1.io/run:1", "m2.io/run:1"]\n[[images]]\nimage = "other/run"\n')
    assert files.read_run(path) == (
        files.RunImageMetadata("reg.io/run:1", ("m1.io/run:1", "m2.io/run:1")),
        files.RunImageMetadata("other/run"))


def test_run_missing_is_none(tmp_path: Path) -> None:
    assert files.read_run(tmp_path / "run.toml") is None


@pytest.mark.parametrize(("text", "fragment"), [
    ('[run-image]\nimage = "x"\n', "it has no '[[images]]' table (found 'run-image')"),
    ("", "it has no '[[images]]' table (found nothing)"),
    ('[[images]]\nmirrors = ["m/x"]\n', "'images[0].image' must be a non-empty string"),
    ('images = "x"\n', "'images' must be an array of tables"),
    ('[[images]]\nimage = "x"\nmirrors = "m"\n[[images]]\nimage = 1\n',
     "'images[1].image' must be a string"),
])
def test_run_mis_keyed_or_malformed_names_file_and_key(tmp_path: Path, text: str,
                                                       fragment: str) -> None:
    path = write(tmp_path / "run.toml", text)
    message = invalid(files.read_run, path)
    assert message.startswith(f"failed to read run file '{path}': ") and fragment in message
