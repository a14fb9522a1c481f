"""Rebase time against app size, and against the floor of the same HTTP requests.

    python bench/rebase.py [SIZE_MIB ...] [--runs N] [--json]     (default: 1 1024, 5 runs)

For each size: export an app image of that size (timed once, for reference), record the
requests one rebase makes, then N times: publish a new run image on the same tag, time the
bare interpreter, the recorded requests and the rebase, one right after the other (best of N
each; peak RSS of the rebaser process). A registry rebase moves no layer data, so it should
be flat in the size.

The floor (see ``floor.py``): the bare interpreter of this venv (``python -c pass``) plus the
same HTTP requests one rebase made, sent by a minimal ``http.client`` client in this process.
Target: rebase ≤ floor + 20 ms; ``ratio`` is rebase / floor. The three are measured side by
side in each round because this machine's speed drifts by a third from minute to minute;
measured in separate loops, the floor and the rebase would come from different minutes.
``round_gap_ms`` is the median over the rounds of each round's rebase minus its own
interpreter and requests: the best of a sum is never below the sum of the bests, so on a
noisy machine that median says more of the rebase's own cost than the best-of figures do.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
from pathlib import Path

from common import build_with_app, measure, print_table, publish_run_image, registry, stack_file
from floor import bare_interpreter_seconds, record_rebase, replay


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sizes", type=int, nargs="*", default=[1, 1024])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--json", action="store_true", help="one JSON object instead of a table")
    options = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-rebase-") as scratch:
        root = Path(scratch)
        server = registry(root)
        try:
            rows: list[dict[str, object]] = []
            for size in options.sizes:
                run = f"{server.host}/bench{size}/run:v1"
                publish_run_image(root / f"v0-{size}", [run], "v0")
                stack = stack_file(root / f"stack-{size}.toml", run)
                build = build_with_app(root / f"build-{size}", size)
                app = f"{server.host}/bench{size}/app:latest"
                exported = measure("exporter", "-stack", str(stack), "-layers",
                                   str(build.layers_dir), "-app", str(build.app_dir), "-group",
                                   str(build.group_path), "-report", str(root / "r.toml"), app)
                for path in build.app_dir.glob("data-*.bin"):
                    path.unlink()  # free the disk: the image is in the registry now
                publish_run_image(root / f"recorded-{size}", [run], "recorded")
                requests = record_rebase(root / "requests.jsonl", "-report",
                                         str(root / "r3.toml"), app)
                rebases, interpreter_s, http_s, gaps = [], float("inf"), float("inf"), []
                for attempt in range(1, options.runs + 1):
                    # The replay writes the recorded rebase's app image again; the rebase
                    # then moves it onto this round's run image.
                    publish_run_image(root / f"v{attempt}-{size}", [run], f"v{attempt}")
                    round_interpreter_s = bare_interpreter_seconds(1)
                    round_http_s = replay(requests)
                    rebases.append(measure("rebaser", "-report", str(root / "r2.toml"), app))
                    interpreter_s = min(interpreter_s, round_interpreter_s)
                    http_s = min(http_s, round_http_s)
                    gaps.append(rebases[-1].seconds - round_interpreter_s - round_http_s)
                floor_s = interpreter_s + http_s
                best = min(rebases, key=lambda m: m.seconds)
                rows.append({"app_mib": size, "export_s": round(exported.seconds, 2),
                             "rebase_s": round(best.seconds, 3),
                             "python_s": round(interpreter_s, 3),
                             "requests": len(requests), "http_s": round(http_s, 3),
                             "floor_s": round(floor_s, 3),
                             "ratio": round(best.seconds / floor_s, 2),
                             "target_s": round(floor_s + 0.020, 3),
                             "round_gap_ms": round(statistics.median(gaps) * 1000, 1),
                             "rebase_peak_rss_mib": round(best.peak_rss_mib, 1)})
            print_table(options.json, "rebase", rows)
        finally:
            server.stop()


if __name__ == "__main__":
    main()
