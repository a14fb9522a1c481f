"""Start-up and size of the release binaries: ``make dist``'s archive, unpacked as pack puts it
into a builder, beside the bare interpreter of this venv.

    python bench/release.py [--archive TGZ] [--runs N] [--json]   (default 20 runs)

Without ``--archive`` it builds the archive first (``release/build_dist.py`` into a temporary
directory; PyInstaller, about a minute). It unpacks only the ``lifecycle/<name>`` entries, as
pack does, and runs ``exporter -version`` and ``rebaser -version`` from there, each as a new
process, interleaved with the reference ``python -c pass``; also ``rebaser -h``, which
imports the phase and its inputs as every real run does. Target: ``-version`` ≤ 0.1 s (best
of N). Sizes: the unpacked ``lifecycle/`` directory (the phases and the one-folder contents
they share) and the archive file.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import ROOT, print_table

from tests.dist.pack_descriptor import embed_as_pack

COMMANDS = (("exporter", "-version"), ("rebaser", "-version"), ("rebaser", "-h"))
TARGET_SECONDS = 0.1


def seconds(command: list[str], cwd: Path) -> float:
    start = time.perf_counter()
    subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=cwd,
                   check=False)
    return time.perf_counter() - start


def build_archive(scratch: Path) -> Path:
    subprocess.run([sys.executable, str(ROOT / "release" / "build_dist.py"), "--dist-dir",
                    str(scratch / "dist"), "--work-dir", str(scratch / "work")],
                   check=True, stdout=subprocess.DEVNULL)
    return next((scratch / "dist").glob("*.tgz"))


def mib(size: int) -> float:
    return round(size / (1 << 20), 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--archive", type=Path, help="measure this archive instead of building")
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--json", action="store_true", help="one JSON object instead of a table")
    options = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-release-") as temporary:
        scratch = Path(temporary)
        archive = options.archive or build_archive(scratch)
        lifecycle = scratch / "cnb" / "lifecycle"
        embed_as_pack(archive, lifecycle)
        reference = [str(Path(sys.executable).parent / "python"), "-c", "pass"]
        commands = [[str(lifecycle / name), flag] for name, flag in COMMANDS]
        for command in [reference, *commands]:
            seconds(command, scratch)  # warm the page cache, as a builder's second phase would
        times: dict[int, list[float]] = {index: [] for index in range(-1, len(commands))}
        for _ in range(options.runs):
            times[-1].append(seconds(reference, scratch))
            for index, command in enumerate(commands):
                times[index].append(seconds(command, scratch))
        unpacked = sum(path.stat().st_size for path in lifecycle.iterdir() if path.is_file())
        files = sum(1 for _ in lifecycle.iterdir())
        rows: list[dict[str, object]] = [
            {"what": "python -c pass (reference)",
             "median_s": round(statistics.median(times[-1]), 3),
             "best_s": round(min(times[-1]), 3), "target_s": "—", "size_mib": "—"}]
        for index, (name, flag) in enumerate(COMMANDS):
            rows.append({"what": f"lifecycle/{name} {flag}",
                         "median_s": round(statistics.median(times[index]), 3),
                         "best_s": round(min(times[index]), 3),
                         "target_s": TARGET_SECONDS if flag == "-version" else "—",
                         "size_mib": "—"})
        rows.append({"what": f"lifecycle/ as pack unpacks it ({files} files)", "median_s": "—",
                     "best_s": "—", "target_s": "—", "size_mib": mib(unpacked)})
        rows.append({"what": f"archive {archive.name}", "median_s": "—", "best_s": "—",
                     "target_s": "—", "size_mib": mib(archive.stat().st_size)})
    print_table(options.json, "release", rows)


if __name__ == "__main__":
    main()
