"""An app index rebase against a single-image rebase: the children run at the same time.

    python bench/rebase_index.py [PLATFORMS] [--runs N] [--json]     (default: 4 platforms, 5 runs)

A run image index with PLATFORMS linux images (amd64, arm64, ppc64le, s390x, ...), v1 and v2,
each child with its own top layer. The app is exported once per platform with ``-index`` into
one app index, and once without it (the linux/amd64 child) as a single image in another
repository: the reference. Each run puts v2 (then v1, alternately) on the run image's tag and
times both rebases, the reference first on odd runs and second on even ones. Target: the
index rebase costs at most 1.5 times the single one. Best and median of the runs; the
machine is shared, so single runs vary.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
from pathlib import Path

from common import measure, print_table, registry, stack_file

from lifecycle.samplebuild import write_sample_build
from tests.harness.images import make_index_layout, push_layout

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
            layouts = {}
            for version in ("v1", "v2"):
                layouts[version] = root / f"run-{version}"
                make_index_layout(layouts[version], architectures, version, distinct=True)
            push_layout(layouts["v1"], run, all_images=True)
            stack = stack_file(root / "stack.toml", run)
            build = write_sample_build(root / "build")
            index_app = f"{server.host}/bench/app-index:latest"
            single_app = f"{server.host}/bench/app-single:latest"
            common = ["-stack", str(stack), "-layers", str(build.layers_dir), "-app",
                      str(build.app_dir), "-group", str(build.group_path), "-report",
                      str(root / "export.toml")]
            for architecture in architectures:
                measure("exporter", *common, "-index", "-platform", f"linux/{architecture}",
                        index_app)
            measure("exporter", *common, single_app)
            times: dict[str, list[float]] = {"single": [], "index": []}
            for number in range(runs):
                push_layout(layouts["v2" if number % 2 == 0 else "v1"], run, all_images=True)
                order = ("single", "index") if number % 2 == 0 else ("index", "single")
                for case in order:
                    app = single_app if case == "single" else index_app
                    rebased = measure("rebaser", "-report", str(root / f"{case}.toml"), app)
                    times[case].append(rebased.seconds)
            best = {case: min(values) for case, values in times.items()}
            rows: list[dict[str, object]] = [
                {"case": "single-platform rebase (reference)" if case == "single"
                 else f"{count}-platform index rebase",
                 "best_s": round(best[case], 3),
                 "median_s": round(statistics.median(values), 3),
                 "ratio": round(best[case] / best["single"], 2)}
                for case, values in times.items()]
            print_table(json_output, "rebase_index", rows)
        finally:
            server.stop()


if __name__ == "__main__":
    main()
