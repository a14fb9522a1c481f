"""Start-up time: how long a phase takes to answer ``-version`` or ``-h``, beside the bare
interpreter of the same venv.

    python bench/startup.py [--runs N] [--json]      (default 20 runs; median and best)

Runs the installed console scripts (the ``.venv/bin`` next to this Python) the way a
platform would, each as a new process, interleaved with the reference ``python -c pass`` so
that both see the same machine. Target: ``-version`` ≤ 2.5× the reference (best of N). The
``-h`` rows parse the phase's flags, so they import the phase and its inputs: they show what
every real run pays before it does any work.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

from common import print_table

COMMANDS = (("exporter", "-version"), ("rebaser", "-version"), ("rebase-many", "-version"),
            ("exporter", "-h"), ("rebaser", "-h"), ("rebase-many", "-h"))
TARGET_RATIO = 2.5


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
    reference = [str(scripts / "python"), "-c", "pass"]
    commands = [[str(scripts / name), flag] for name, flag in COMMANDS]
    for command in [reference, *commands]:
        seconds(command)  # warm the page cache, as a builder's second phase would find it
    times: dict[int, list[float]] = {index: [] for index in range(-1, len(commands))}
    for _ in range(options.runs):
        times[-1].append(seconds(reference))
        for index, command in enumerate(commands):
            times[index].append(seconds(command))
    floor = min(times[-1])
    rows: list[dict[str, object]] = [
        {"command": "python -c pass (reference)",
         "median_s": round(statistics.median(times[-1]), 3), "best_s": round(floor, 3),
         "ratio": 1.0, "target_ratio": "—"}]
    for index, (name, flag) in enumerate(COMMANDS):
        best = min(times[index])
        rows.append({"command": f"{name} {flag}",
                     "median_s": round(statistics.median(times[index]), 3),
                     "best_s": round(best, 3), "ratio": round(best / floor, 2),
                     "target_ratio": TARGET_RATIO if flag == "-version" else "—"})
    print_table(options.json, "startup", rows)


if __name__ == "__main__":
    main()
