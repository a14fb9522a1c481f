"""What creating dataclasses costs a registry rebase's start-up, and what their options change.

    python bench/classes.py [--runs N] [--json]      (default 5 runs; best of N)

``path`` rows: a new process imports what a registry rebase imports (``lifecycle.rebaser`` and
the registry backend) with ``dataclasses``' class processing timed: how many dataclasses are
created, their time together, and the whole import's. ``option`` rows: one six-field
dataclass created with each set of options (best of 1000 interleaved creations), beside the
same fields as a ``typing.NamedTuple`` and a plain class. Nothing is asserted: the figures
show where start-up goes (docs/performance.md, "Start-up imports").
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NamedTuple

from common import ROOT, print_table

_PATH = """
import json, sys, time
import dataclasses
process_class = dataclasses._process_class
spent = []
def timed(cls, *args, **kwargs):
    start = time.perf_counter()
    try:
        return process_class(cls, *args, **kwargs)
    finally:
        spent.append(time.perf_counter() - start)
dataclasses._process_class = timed
start = time.perf_counter()
import lifecycle.rebaser
from lifecycle.backends import auth, registry, retry, tls
print(json.dumps([len(spent), sum(spent), time.perf_counter() - start]))
"""

OPTIONS: dict[str, dict[str, bool]] = {
    "frozen=True (what the code uses)": {"frozen": True},
    "frozen=True, slots=True": {"frozen": True, "slots": True},
    "frozen=True, repr=False": {"frozen": True, "repr": False},
    "frozen=True, eq=False": {"frozen": True, "eq": False},
    "frozen=True, eq=False, repr=False": {"frozen": True, "eq": False, "repr": False},
    "not frozen": {},
    "not frozen, eq=False, repr=False": {"eq": False, "repr": False},
}


def with_options(options: dict[str, Any]) -> Callable[[], type]:
    def create() -> type:
        @dataclass(**options)
        class Example:
            """Six fields, as the larger classes of the rebase path have."""

            registry: str
            name: str
            scheme: str
            size: int = 0
            media_type: str = ""
            digest: str | None = None
        return Example
    return create


def named_tuple() -> type:
    class Example(NamedTuple):
        """The same fields."""

        registry: str
        name: str
        scheme: str
        size: int = 0
        media_type: str = ""
        digest: str | None = None
    return Example


def plain_class() -> type:
    class Example:
        """The same fields, set by a hand-written ``__init__``."""

        __slots__ = ("digest", "media_type", "name", "registry", "scheme", "size")

        def __init__(self, registry: str, name: str, scheme: str, size: int = 0,
                     media_type: str = "", digest: str | None = None) -> None:
            self.registry, self.name, self.scheme = registry, name, scheme
            self.size, self.media_type, self.digest = size, media_type, digest
    return Example


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--json", action="store_true", help="one JSON object instead of a table")
    options = parser.parse_args()
    rows: list[dict[str, object]] = []
    runs = [json.loads(subprocess.run([sys.executable, "-c", _PATH], cwd=ROOT, check=True,
                                      capture_output=True, text=True).stdout)
            for _ in range(options.runs)]
    count, classes_s, import_s = min(runs, key=lambda run: run[2])
    rows.append({"row": "path: dataclasses created on a registry rebase's import",
                 "count": count, "ms": round(classes_s * 1000, 1),
                 "of_import_ms": round(import_s * 1000, 1)})
    creators = {name: with_options(chosen) for name, chosen in OPTIONS.items()}
    creators.update({"typing.NamedTuple": named_tuple, "plain class, __slots__": plain_class})
    best = dict.fromkeys(creators, float("inf"))
    for _ in range(1000):
        for name, create in creators.items():
            start = time.perf_counter()
            create()
            best[name] = min(best[name], time.perf_counter() - start)
    rows += [{"row": f"option: {name}", "count": 1, "ms": round(seconds * 1000, 3),
              "of_import_ms": ""} for name, seconds in best.items()]
    print_table(options.json, "classes", rows)


if __name__ == "__main__":
    main()
