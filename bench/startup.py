"""Start-up time: how long a phase takes to answer ``-version`` or ``-h``.

    python bench/startup.py [--runs N] [--json]      (default 20 runs; median and best)

Runs the installed console scripts (the ``.venv/bin`` next to this Python) the way a
platform would, each as a new process. Target: 0.15 s.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

from common import print_table

COMMANDS = (("exporter", "-version"), ("rebaser", "-h"), ("rebase-many", "-h"))


def seconds(command: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--json", action="store_true", help="one JSON object instead of a table")
    options = parser.parse_args()
    scripts = Path(sys.executable).parent
    rows: list[dict[str, object]] = []
    for name, flag in COMMANDS:
        command = [str(scripts / name), flag]
        seconds(command)  # warm the page cache, as a builder's second phase would find it
        runs = [seconds(command) for _ in range(options.runs)]
        rows.append({"command": f"{name} {flag}", "median_s": round(statistics.median(runs), 3),
                     "best_s": round(min(runs), 3), "target_s": 0.15})
    print_table(options.json, "startup", rows)


if __name__ == "__main__":
    main()
