"""Docker daemon target: export cold/warm and rebase time against app size.

    python bench/daemon.py [SIZE_MIB ...]     (default: 1 1024)

Starts a private dockerd (vfs). For each size: a cold export, a warm export (nothing changed:
no layer is sent), a rebase onto the same base (no layer is sent) and a rebase onto a new
run image (the classic store needs the app layers again on the new base: one docker save).
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

from common import build_with_app, measure, stack_file

from tests.harness.dockerd import start_dockerd
from tests.harness.images import make_run_image_layout


def main() -> None:
    sizes = [int(arg) for arg in sys.argv[1:]] or [1, 1024]
    daemon, stop = start_dockerd()
    os.environ["DOCKER_HOST"] = daemon.host
    try:
        with tempfile.TemporaryDirectory(prefix="bench-daemon-") as scratch:
            root = Path(scratch)
            print(f"{'app MiB':>8}{'cold s':>9}{'warm s':>9}{'same-base rebase s':>20}"
                  f"{'new-base rebase s':>19}{'peak RSS MiB':>14}")
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
                rss = max(r.peak_rss_mib for r in (cold, warm, same, new))
                print(f"{size:>8}{cold.seconds:>9.2f}{warm.seconds:>9.2f}{same.seconds:>20.2f}"
                      f"{new.seconds:>19.2f}{rss:>14.1f}")
    finally:
        stop()


if __name__ == "__main__":
    main()
