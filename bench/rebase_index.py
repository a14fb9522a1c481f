"""An app index rebase against a single-image rebase, each against the floor of its requests.

    python bench/rebase_index.py [PLATFORMS] [--runs N] [--json]     (default: 4 platforms, 5 runs)

A run image index of PLATFORMS linux images (amd64, arm64, ppc64le, s390x, ...), each child
with its own top layer. The app is exported once per platform with ``-index`` into one app
index, and once without it (the linux/amd64 child) as a single image in another repository:
the reference. One rebase of each is recorded (see ``floor.py``). Then each round publishes a
new version of the run image index, as a patched run image would be, and for both cases (the
reference first on odd rounds, second on even ones) times the floor and then the rebase.

The floor is the bare interpreter plus the recorded requests sent again by a minimal client,
with the recorded concurrency (``replay_as_recorded``): what the registry and this machine
take for those requests with none of our code. Target: the index rebase costs at most 1.5
times the single one. ``floor_ratio`` is the same ratio of the floors: on a machine where
the registry shares the client's cores, the index's four times as many requests make the
floors' ratio a bound the rebases' ratio cannot beat by much. ``round_gap_ms`` is the median
over the rounds of each rebase minus its own round's floor. Best and median of the runs.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
from pathlib import Path

from common import measure, print_table, registry, stack_file
from floor import bare_interpreter_seconds, record_rebase, replay_as_recorded

from lifecycle.samplebuild import write_sample_build
from tests.harness.images import publish_run_index

ARCHITECTURES = ("amd64", "arm64", "ppc64le", "s390x", "riscv64", "386", "mips64le", "arm")


def arguments() -> tuple[int, int, bool]:
    """(platforms, runs, --json)"""
    args = sys.argv[1:]
    runs = 5
    if "--runs" in args:
        at = args.index("--runs")
        runs = int(args[at + 1])
        del args[at:at + 2]
    positional = [arg for arg in args if arg != "--json"]
    return int(positional[0]) if positional else 4, runs, "--json" in args


def main() -> None:
    count, runs, json_output = arguments()
    architectures = ARCHITECTURES[:count]
    with tempfile.TemporaryDirectory(prefix="bench-rebase-index-") as scratch:
        root = Path(scratch)
        server = registry(root)
        try:
            run = f"{server.host}/bench/run:latest"
            publish_run_index(root, [run], architectures, "v0")
            stack = stack_file(root / "stack.toml", run)
            build = write_sample_build(root / "build")
            apps = {"single": f"{server.host}/bench/app-single:latest",
                    "index": f"{server.host}/bench/app-index:latest"}
            common = ["-stack", str(stack), "-layers", str(build.layers_dir), "-app",
                      str(build.app_dir), "-group", str(build.group_path), "-report",
                      str(root / "export.toml")]
            for architecture in architectures:
                measure("exporter", *common, "-index", "-platform", f"linux/{architecture}",
                        apps["index"])
            measure("exporter", *common, apps["single"])
            publish_run_index(root, [run], architectures, "recorded")
            recorded = {case: record_rebase(root / f"{case}.jsonl", "-report",
                                            str(root / f"{case}-recorded.toml"), app)
                        for case, app in apps.items()}
            times: dict[str, list[float]] = {"single": [], "index": []}
            floors: dict[str, list[float]] = {"single": [], "index": []}
            for number in range(1, runs + 1):
                # The replay puts the recorded rebase's app image back on the tag; the rebase
                # then moves it onto this round's run image.
                publish_run_index(root, [run], architectures, f"v{number}")
                order = ("single", "index") if number % 2 else ("index", "single")
                for case in order:
                    floors[case].append(bare_interpreter_seconds(1)
                                        + replay_as_recorded(recorded[case]))
                    rebased = measure("rebaser", "-report", str(root / f"{case}.toml"),
                                      apps[case])
                    times[case].append(rebased.seconds)
            best = {case: min(values) for case, values in times.items()}
            floor = {case: min(values) for case, values in floors.items()}
            rows: list[dict[str, object]] = [
                {"case": "single-platform rebase (reference)" if case == "single"
                 else f"{count}-platform index rebase",
                 "requests": len(recorded[case]),
                 "floor_s": round(floor[case], 3),
                 "best_s": round(best[case], 3),
                 "median_s": round(statistics.median(values), 3),
                 "ratio": round(best[case] / best["single"], 2),
                 "floor_ratio": round(floor[case] / floor["single"], 2),
                 "round_gap_ms": round(statistics.median(
                     rebase - own_floor for rebase, own_floor in zip(values, floors[case],
                                                                     strict=True)) * 1000, 1)}
                for case, values in times.items()]
            print_table(json_output, "rebase_index", rows)
        finally:
            server.stop()


if __name__ == "__main__":
    main()
