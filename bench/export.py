"""Export speed and memory: cold and warm, to a real local registry and to an OCI layout.

    python bench/export.py [SIZE_MIB] [--json]     (default 200 MiB of incompressible app data)

Prints, for each case, the wall time and the exporter process's peak RSS, next to:

* the reference: the time a Python process needs to sha256 and gzip (isal, the level the
  exporter ships) the same number of bytes already in memory; the cold-export target is
  2x that;
* the warm-export target: 0.5 s plus 5% of the cold time.

The app files are left to settle past the fingerprints' racy window before the cold export,
as a real build's files would have by the time it is exported again.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urljoin

import requests
from common import (
    Measured,
    Registry,
    build_with_app,
    measure,
    print_table,
    publish_run_image,
    registry,
    stack_file,
)

from lifecycle.archive import RACY_WINDOW_NS
from lifecycle.backends.layout import LayoutStore
from lifecycle.backends.registry import RegistryStore
from lifecycle.reference import parse_reference

REFERENCE = """
import hashlib, os, sys, time
from isal import isal_zlib
from lifecycle.archive import GZIP_LEVEL
data = os.urandom(int(sys.argv[1]) << 20)
start = time.perf_counter()
tar_hash, blob_hash = hashlib.sha256(), hashlib.sha256()
compressor = isal_zlib.compressobj(GZIP_LEVEL, isal_zlib.DEFLATED, -isal_zlib.MAX_WBITS)
view = memoryview(data)
for offset in range(0, len(data), 1 << 20):
    chunk = view[offset:offset + (1 << 20)]
    tar_hash.update(chunk)
    blob_hash.update(compressor.compress(chunk))
blob_hash.update(compressor.flush())
print(time.perf_counter() - start)
"""


def reference_seconds(size_mib: int) -> float:
    """sha256 + gzip of ``size_mib`` MiB in memory, in its own process (best of three)."""
    runs = [float(subprocess.run([sys.executable, "-c", REFERENCE, str(size_mib)], check=True,
                                 capture_output=True, text=True).stdout) for _ in range(3)]
    return min(runs)


def ingest_floor_seconds(server: Registry, blob: Path) -> float | None:
    """How long the registry itself takes to take ``blob`` in (curl streaming one PATCH)."""
    if shutil.which("curl") is None:
        return None
    started = requests.post(f"http://{server.host}/v2/bench/floor/blobs/uploads/", timeout=10)
    location = urljoin(f"http://{server.host}/", started.headers["Location"])
    start = time.perf_counter()
    subprocess.run(["curl", "-sf", "-o", "/dev/null", "-X", "PATCH", "-H",
                    "Content-Type: application/octet-stream", "-T", str(blob), location],
                   check=True)
    return time.perf_counter() - start


def copy_to_layout(name: str, layout: Path) -> None:
    ref = parse_reference(name)
    LayoutStore(layout).write(RegistryStore().read(ref).image, [ref])


def _before_run_toml(api: str) -> bool:
    major, minor = (int(part) for part in api.split("."))
    return (major, minor) < (0, 12)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("size_mib", type=int, nargs="?", default=200)
    parser.add_argument("--json", action="store_true", help="one JSON object instead of a table")
    parser.add_argument("--runs", type=int, default=3,
                        help="cold and warm runs of each case; the best is the figure")
    parser.add_argument("--platform-apis", default="0.3",
                        help="comma-separated CNB_PLATFORM_API versions to export at, each "
                        "its own cases (stack.toml before 0.12, run.toml from then on)")
    parser.add_argument("--on-disk", action="store_true",
                        help="keep the registry, app and layout on disk, not in /dev/shm")
    options = parser.parse_args()
    size = options.size_mib
    reference = reference_seconds(size)
    in_memory = not options.on_disk and os.access("/dev/shm", os.W_OK)
    with tempfile.TemporaryDirectory(prefix="bench-export-",
                                     dir="/dev/shm" if in_memory else None) as scratch:
        root = Path(scratch)
        server = registry(root)
        try:
            run = f"{server.host}/bench/run:v1"
            publish_run_image(root, [run])
            copy_to_layout(run, root / "oci")
            stack = stack_file(root / "stack.toml", run)
            (root / "run.toml").write_text(f'[[images]]\nimage = "{run}"\n')
            build = build_with_app(root / "build", size)
            time.sleep(RACY_WINDOW_NS / 1e9 + 0.1)
            base = ["-layers", str(build.layers_dir), "-app", str(build.app_dir),
                    "-group", str(build.group_path), "-report", str(root / "report.toml")]
            layout = ["-layout", "-layout-dir", str(root / "oci")]
            apis = options.platform_apis.split(",")
            timings: dict[str, list[Measured]] = {}
            for run in range(options.runs):
                for api in apis:
                    os.environ["CNB_PLATFORM_API"] = api
                    run_images = ["-stack", str(stack)] if _before_run_toml(api) \
                        else ["-run", str(root / "run.toml")]
                    at = f" @{api}" if len(apis) > 1 else ""
                    # Each run is cold on a new name (no previous image, no fingerprint
                    # record) and then warm on the same name.
                    app = f"{server.host}/bench/app{run}-{api}:latest"
                    common = run_images + base
                    for case, args in (("registry cold", common), ("registry warm", common),
                                       ("layout cold", layout + common),
                                       ("layout warm", layout + common)):
                        if case.endswith("cold"):
                            fingerprints = build.layers_dir / ".cnb-layer-fingerprints.json"
                            fingerprints.unlink(missing_ok=True)
                        timings.setdefault(case + at, []).append(
                            measure("exporter", *args, app))
            rows: list[dict[str, object]] = []
            for case, results in timings.items():
                best = min(result.seconds for result in results)
                cold = min(result.seconds for result in timings[case.replace("warm", "cold")])
                rows.append({"case": case, "seconds": round(best, 2),
                             "median_s": round(statistics.median(r.seconds for r in results), 2),
                             "target_s": round(2 * reference if " cold" in case
                                               else 0.5 + 0.05 * cold, 2),
                             "peak_rss_mib": round(max(r.peak_rss_mib for r in results), 1)})
            with tempfile.NamedTemporaryFile(dir=root) as blob:
                for data in sorted(build.app_dir.glob("data-*.bin")):
                    with data.open("rb") as part:
                        shutil.copyfileobj(part, blob, 1 << 20)
                blob.flush()
                floor = ingest_floor_seconds(server, Path(blob.name))
            blank = {"median_s": "", "target_s": "", "peak_rss_mib": ""}
            references = [{"case": f"reference: sha256+gzip {size} MiB in memory",
                           "seconds": round(reference, 2), **blank}]
            if floor is not None:
                references.append({"case": f"registry ingest of {size} MiB (curl)",
                                   "seconds": round(floor, 2), **blank})
            print_table(options.json, f"export ({'tmpfs' if in_memory else 'disk'})",
                        [*references, *rows])
        finally:
            server.stop()


if __name__ == "__main__":
    main()
