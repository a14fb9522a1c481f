"""Docker daemon target: export cold/warm and rebase time against app size.

    python bench/daemon.py [SIZE_MIB ...] [--json]     (default: 1 1024)

Starts a private dockerd (vfs). For each size: a cold export, a warm export (nothing changed:
no layer is sent), a rebase onto the same base (no layer is sent) and a rebase onto a new
run image (the classic store needs the app layers again on the new base: one docker save).
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

from common import build_with_app, measure, print_table, stack_file

from tests.harness.dockerd import start_dockerd
from tests.harness.images import make_run_image_layout


def main() -> None:
    json_output = "--json" in sys.argv[1:]
    sizes = [int(arg) for arg in sys.argv[1:] if arg != "--json"] or [1, 1024]
    daemon, stop = start_dockerd()
    os.environ["DOCKER_HOST"] = daemon.host
    try:
        with tempfile.TemporaryDirectory(prefix="bench-daemon-") as scratch:
            root = Path(scratch)
            rows: list[dict[str, object]] = []
            for size in sizes:
                run = f"bench{size}/run:v1"
                daemon.load_layout(make_run_image_layout(root / f"v1-{size}", "v1"), run)
                stack = stack_file(root / f"stack-{size}.toml", run)
                build = build_with_app(root / f"build-{size}", size)
                app = f"bench{size}/app:latest"
                args = ["-daemon", "-stack", str(stack), "-layers", str(build.layers_dir),
                        "-app", str(build.app_dir), "-group", str(build.group_path),
                        "-report", str(root / "r.toml"), app]
                cold = measure("exporter", *args)
                warm = measure("exporter", *args)
                same = measure("rebaser", "-daemon", "-report", str(root / "r.toml"), app)
                daemon.load_layout(make_run_image_layout(root / f"v2-{size}", "v2"), run)
                new = measure("rebaser", "-daemon", "-report", str(root / "r.toml"), app)
                rows.append({
                    "app_mib": size, "cold_s": round(cold.seconds, 2),
                    "warm_s": round(warm.seconds, 2), "same_base_rebase_s": round(same.seconds, 2),
                    "new_base_rebase_s": round(new.seconds, 2),
                    "peak_rss_mib": round(max(r.peak_rss_mib for r in (cold, warm, same, new)), 1)})
            print_table(json_output, "daemon", rows)
    finally:
        stop()


if __name__ == "__main__":
    main()
