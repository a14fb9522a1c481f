"""Batch rebase throughput: ``rebase-many`` over a fleet of small app images.

    python bench/rebase_many.py [COUNT] [--jobs N] [--json]     (default 500 images, 16 jobs)

One app image is exported, then COUNT distinct variants of it (each with its own label, so
each rebase writes its own config and manifest) are written to COUNT repositories of a real
local registry (not timed). A new run image is published, and ``rebase-many`` rebases the
whole fleet (timed, with its peak RSS). Scenario 1: every image selects its run image.

The bound (see ``floor.py``): one rebase of the first image onto yet another run image is
recorded, and its requests are sent again once for each of COUNT copies of that image (in
their own repositories, made before the recording, not timed) by a minimal ``http.client``
client with JOBS threads, one keep-alive connection each: what the registry can do for this
request mix with next to no client cost. Target: ``rebase-many`` ≥ 0.8× the bound's images/s.
"""

from __future__ import annotations

import argparse
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from common import build_with_app, measure, print_table, publish_run_image, registry, stack_file
from floor import record_rebase, replay

from lifecycle.backends.registry import RegistryStore
from lifecycle.image import mutate
from lifecycle.reference import parse_reference


def make_fleet(app: str, names: list[str], labelled: bool = True) -> None:
    """``app`` copied to every name: each with its own label, or (``labelled=False``) as it
    is."""
    store = RegistryStore(connections=16)
    image = store.read(parse_reference(app)).image

    def variant(index_and_name: tuple[int, str]) -> None:
        index, name = index_and_name
        member = mutate.set_labels(image, {"io.example.fleet.member": str(index)}) \
            if labelled else image
        store.write(member, [parse_reference(name)])

    with ThreadPoolExecutor(16) as pool:
        list(pool.map(variant, enumerate(names)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("count", type=int, nargs="?", default=500)
    parser.add_argument("--jobs", type=int, default=16)
    parser.add_argument("--json", action="store_true", help="one JSON object instead of a table")
    options = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-rebase-many-") as scratch:
        root = Path(scratch)
        server = registry(root)
        try:
            run = f"{server.host}/fleet/run:v1"
            publish_run_image(root / "v1", [run], "v1")
            build = build_with_app(root / "build", 0)
            stack = stack_file(root / "stack.toml", run)
            first = f"{server.host}/fleet/app-seed:latest"
            measure("exporter", "-stack", str(stack), "-layers", str(build.layers_dir), "-app",
                    str(build.app_dir), "-group", str(build.group_path), "-report",
                    str(root / "r.toml"), first)
            names = [f"{server.host}/fleet/app-{n}:latest" for n in range(options.count)]
            make_fleet(first, names)
            publish_run_image(root / "v2", [run], "v2")
            listing = root / "fleet.txt"
            listing.write_text("\n".join(names) + "\n")
            result = measure("rebase-many", "-jobs", str(options.jobs), str(listing))
            copies = [f"fleet/bound-{n}" for n in range(options.count)]
            make_fleet(names[0], [f"{server.host}/{copy}:latest" for copy in copies],
                       labelled=False)
            publish_run_image(root / "v3", [run], "v3")
            requests = record_rebase(root / "requests.jsonl", "-report", str(root / "r3.toml"),
                                     names[0])
            bound_s = replay(requests, workers=options.jobs,
                             repositories=[("fleet/app-0", copy) for copy in copies])
            rate, bound_rate = options.count / result.seconds, options.count / bound_s
            print_table(options.json, "rebase-many", [{
                "images": options.count, "jobs": options.jobs,
                "seconds": round(result.seconds, 2), "images_per_second": round(rate, 1),
                "requests_per_image": len(requests), "bound_s": round(bound_s, 2),
                "bound_images_per_second": round(bound_rate, 1),
                "ratio": round(rate / bound_rate, 2), "target_ratio": 0.8,
                "peak_rss_mib": round(result.peak_rss_mib, 1)}])
        finally:
            server.stop()


if __name__ == "__main__":
    main()
