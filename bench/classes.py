"""What creating value classes costs a registry rebase's start-up: records against dataclasses.

    python bench/classes.py [--runs N] [--json]      (default 5 runs; best of N)

``path`` rows: a new process imports what a registry rebase imports (``lifecycle.rebaser`` and
the registry backend) with the class processing of ``lifecycle.record`` and of
``dataclasses`` timed: how many classes each makes, their time together, and the whole
import's. ``option`` rows: one six-field class made with each decorator and set of options
(best of 1000 interleaved creations), beside the same fields as a ``typing.NamedTuple`` and
a plain class; ``instance`` rows: one instance of the frozen ones made from three arguments
(best of 1000). Nothing is asserted: the figures show where start-up goes
(docs/performance.md, "Start-up imports").
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

from lifecycle.record import record

_PATH = """
import json, sys, time
start = time.perf_counter()
from lifecycle import record
imported_s = time.perf_counter() - start
spent = []
make_record = record._make_record
def timed(*args, **kwargs):
    started = time.perf_counter()
    try:
        return make_record(*args, **kwargs)
    finally:
        spent.append(time.perf_counter() - started)
record._make_record = timed
start = time.perf_counter()
import lifecycle.rebaser
from lifecycle.backends import auth, registry, retry, tls
print(json.dumps({"records": len(spent), "records_s": sum(spent),
                  "import_s": imported_s + time.perf_counter() - start,
                  "dataclasses_loaded": "dataclasses" in sys.modules}))
"""

OPTIONS: dict[str, tuple[Callable[..., Any], dict[str, bool]]] = {
    "@record (what the code uses)": (record, {}),
    "@record(frozen=False)": (record, {"frozen": False}),
    "@dataclass(frozen=True) (what the code used)": (dataclass, {"frozen": True}),
    "@dataclass(frozen=True, slots=True)": (dataclass, {"frozen": True, "slots": True}),
    "@dataclass(frozen=True, repr=False)": (dataclass, {"frozen": True, "repr": False}),
    "@dataclass(frozen=True, eq=False)": (dataclass, {"frozen": True, "eq": False}),
    "@dataclass(frozen=True, eq=False, repr=False)":
        (dataclass, {"frozen": True, "eq": False, "repr": False}),
    "@dataclass (not frozen)": (dataclass, {}),
    "@dataclass(eq=False, repr=False)": (dataclass, {"eq": False, "repr": False}),
}


def with_options(decorator: Callable[..., Any], options: dict[str, Any]) -> Callable[[], type]:
    def create() -> type:
        @decorator(**options)
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
    path = min(runs, key=lambda run: float(run["import_s"]))
    if path["dataclasses_loaded"]:
        raise SystemExit("a registry rebase's import loaded dataclasses")
    rows.append({"row": "path: records made on a registry rebase's import",
                 "count": path["records"], "ms": round(path["records_s"] * 1000, 1),
                 "of_import_ms": round(path["import_s"] * 1000, 1)})
    creators = {name: with_options(decorator, chosen)
                for name, (decorator, chosen) in OPTIONS.items()}
    creators.update({"typing.NamedTuple": named_tuple, "plain class, __slots__": plain_class})
    best = dict.fromkeys(creators, float("inf"))
    for _ in range(1000):
        for name, create in creators.items():
            start = time.perf_counter()
            create()
            best[name] = min(best[name], time.perf_counter() - start)
    rows += [{"row": f"option: {name}", "count": 1, "ms": round(seconds * 1000, 3),
              "of_import_ms": ""} for name, seconds in best.items()]
    made = {name: creators[name]() for name in ("@record (what the code uses)",
                                                 "@dataclass(frozen=True) (what the code used)",
                                                 "plain class, __slots__")}
    fastest = dict.fromkeys(made, float("inf"))
    for _ in range(1000):
        for name, cls in made.items():
            start = time.perf_counter()
            cls("registry", "name", "https")
            fastest[name] = min(fastest[name], time.perf_counter() - start)
    rows += [{"row": f"instance: {name}", "count": 1, "ms": round(seconds * 1000, 4),
              "of_import_ms": ""} for name, seconds in fastest.items()]
    print_table(options.json, "classes", rows)


if __name__ == "__main__":
    main()
