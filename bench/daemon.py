"""Docker daemon target: export cold/warm and rebase time against app size.

    python bench/daemon.py [SIZE_MIB ...] [--containerd [--tmpfs]] [--json]   (default: 1 1024)

Starts a private dockerd: Debian 12's Engine 20.10 with the classic image store (vfs), or with
``--containerd`` Debian 13's Engine 26 and containerd 1.7 with the containerd image store (overlayfs
snapshotter), unpacked into the test cache; ``--tmpfs`` puts that engine's data root in
/dev/shm. For each size: a cold export, a warm export (nothing changed: no layer is sent), a
rebase onto the same base and a rebase onto a new run image. On the classic store the last one
needs the app layers again (one docker save, then a load); on the containerd store no layer is
sent or read, and the time left is the engine stacking the layers it has on the new base.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

from common import build_with_app, measure, print_table, stack_file

from lifecycle.archive import RACY_WINDOW_NS
from tests.harness.dockerd import CLASSIC, containerd_store_engine, start_dockerd
from tests.harness.images import make_run_image_layout


def main() -> None:
    options = [arg for arg in sys.argv[1:] if arg.startswith("--")]
    sizes = [int(arg) for arg in sys.argv[1:] if not arg.startswith("--")] or [1, 1024]
    containerd = "--containerd" in options
    data_parent = Path("/dev/shm") if "--tmpfs" in options else None
    daemon, stop = start_dockerd(containerd_store_engine(data_parent) if containerd else CLASSIC)
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
                time.sleep(RACY_WINDOW_NS / 1e9 + 0.1)  # as a real build's files would be
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
            print_table("--json" in options,
                        f"daemon ({'containerd' if containerd else 'classic'} image store"
                        f"{', data root in /dev/shm' if data_parent else ''})", rows)
    finally:
        stop()


if __name__ == "__main__":
    main()
