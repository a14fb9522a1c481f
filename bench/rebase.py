"""Rebase time against app size: a registry rebase moves no layer data, so it should be flat.

    python bench/rebase.py [SIZE_MIB ...] [--json]     (default: 1 1024)

For each size: export an app image of that size (not timed), publish a new run image on the
same tag, then time the rebase and report the rebaser process's peak RSS.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from common import build_with_app, measure, print_table, publish_run_image, registry, stack_file


def main() -> None:
    json_output = "--json" in sys.argv[1:]
    sizes = [int(arg) for arg in sys.argv[1:] if arg != "--json"] or [1, 1024]
    with tempfile.TemporaryDirectory(prefix="bench-rebase-") as scratch:
        root = Path(scratch)
        server = registry(root)
        try:
            rows: list[dict[str, object]] = []
            for size in sizes:
                run = f"{server.host}/bench{size}/run:v1"
                publish_run_image(root / f"v1-{size}", [run], "v1")
                stack = stack_file(root / f"stack-{size}.toml", run)
                build = build_with_app(root / f"build-{size}", size)
                app = f"{server.host}/bench{size}/app:latest"
                exported = measure("exporter", "-stack", str(stack), "-layers",
                                   str(build.layers_dir), "-app", str(build.app_dir), "-group",
                                   str(build.group_path), "-report", str(root / "r.toml"), app)
                for path in build.app_dir.glob("data-*.bin"):
                    path.unlink()  # free the disk: the image is in the registry now
                publish_run_image(root / f"v2-{size}", [run], "v2")
                rebased = measure("rebaser", "-report", str(root / "r2.toml"), app)
                rows.append({"app_mib": size, "export_s": round(exported.seconds, 2),
                             "rebase_s": round(rebased.seconds, 2),
                             "rebase_peak_rss_mib": round(rebased.peak_rss_mib, 1)})
            print_table(json_output, "rebase", rows)
        finally:
            server.stop()


if __name__ == "__main__":
    main()
