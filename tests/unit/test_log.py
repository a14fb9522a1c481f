"""The logger's lines: console text and streams, JSON fields in their order, thresholds."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

import pytest

from lifecycle import log


class Streams:
    def __init__(self, capsys: pytest.CaptureFixture[str]) -> None:
        self.capsys = capsys

    def read(self) -> tuple[str, str]:
        captured = self.capsys.readouterr()
        return captured.out, captured.err


@pytest.fixture
def streams(capsys: pytest.CaptureFixture[str]) -> Iterator[Streams]:
    yield Streams(capsys)
    log.configure()


def test_console_lines_go_to_their_streams(streams: Streams) -> None:
    log.configure("info", "console", color=False)
    logger = log.get_logger()
    logger.debug("hidden")
    logger.info("Saving app", kind="image.saving", image="r/app")
    logger.warning("no cache", kind="cache.none")
    logger.error("failed to export", status="failed")
    assert streams.read() == ("Saving app\n", "Warning: no cache\nERROR: failed to export\n")


def test_colour_only_marks_the_prefix(streams: Streams) -> None:
    log.configure("info", "console", color=True)
    log.get_logger().warning("w")
    log.get_logger().error("e")
    assert streams.read()[1] == "\x1b[33mWarning:\x1b[0m w\n\x1b[31mERROR:\x1b[0m e\n"


def test_json_fields_in_order_on_stdout(streams: Streams) -> None:
    log.configure("debug", "json")
    bound = log.get_logger().bind(image="r/app")
    bound.warning("slow", kind="upload.slow", seconds=1.5, layer=object.__new__(Named))
    bound.debug("detail")
    out, err = streams.read()
    lines = out.splitlines()
    assert err == ""
    first = json.loads(lines[0])
    assert list(first) == ["event", "message", "image", "seconds", "layer", "level", "timestamp"]
    assert first["event"] == "upload.slow" and first["layer"] == "Named()"
    assert first["level"] == "warning"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", first["timestamp"])
    assert json.loads(lines[1])["event"] == "log"


def test_a_batch_item_names_its_lines_and_shows_detail_only_at_debug(
        streams: Streams) -> None:
    log.configure("info", "console")
    item = log.item_logger("r/app-1")
    item.info("reading")
    item.bind(item="r/app-1 linux/arm64").error("bad")
    assert streams.read() == ("", "ERROR: r/app-1 linux/arm64: bad\n")
    log.configure("debug", "json")
    log.item_logger("r/app-2").info("reading", kind="rebase.reading")
    line = json.loads(streams.read()[0])
    assert (line["event"], line["message"], line["image"]) == ("rebase.reading", "reading",
                                                               "r/app-2")


class Named:
    def __repr__(self) -> str:
        return "Named()"
