"""Rebase time against app size: a registry rebase moves no layer data, so it should be flat.

    python bench/rebase.py [SIZE_MIB ...]     (default: 1 1024)

For each size: export an app image of that size (not timed), publish a new run image on the
same tag, then time the rebase and report the rebaser process's peak RSS.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from common import build_with_app, measure, publish_run_image, registry, stack_file


def main() -> None:
    sizes = [int(arg) for arg in sys.argv[1:]] or [1, 1024]
    with tempfile.TemporaryDirectory(prefix="bench-rebase-") as scratch:
        root = Path(scratch)
        server = registry(root)
        try:
            print(f"{'app MiB':>8}{'export s':>10}{'rebase s':>10}{'rebase RSS MiB':>16}")
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
                print(f"{size:>8}{exported.seconds:>10.2f}{rebased.seconds:>10.2f}"
                      f"{rebased.peak_rss_mib:>16.1f}")
        finally:
            server.stop()


if __name__ == "__main__":
    main()
