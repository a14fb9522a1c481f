"""What the benchmarks share: a real registry, a generated app, measured subprocess runs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import compileall  # noqa: E402

# Measure the program as installed: pip writes the package's bytecode at install time, an
# editable install (and PYTHONDONTWRITEBYTECODE) would compile every module on every run.
compileall.compile_dir(ROOT / "lifecycle", quiet=1)

from lifecycle.samplebuild import SampleBuild, write_sample_build  # noqa: E402
from tests.harness.images import publish_run_image  # noqa: E402
from tests.harness.services import Registry, ensure_commands, start_registry  # noqa: E402

__all__ = ["Measured", "Registry", "SampleBuild", "build_with_app", "measure",
           "print_table", "publish_run_image", "registry", "stack_file"]


@dataclass(frozen=True)
class Measured:
    seconds: float
    peak_rss_mib: float
    code: int


def measure(command: str, *args: str) -> Measured:
    """Run an installed console command (``exporter``, ``rebaser``, ``rebase-many``) as its
    own process, as a platform would; wall time and that process's peak RSS."""
    start = time.perf_counter()
    process = subprocess.Popen([str(Path(sys.executable).parent / command), *args],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - start
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        errors = process.stderr.read().decode() if process.stderr else ""
        raise SystemExit(f"{command} failed ({code}): {errors}")
    return Measured(seconds, usage.ru_maxrss / 1024, code)


def build_with_app(root: Path, size_mib: int) -> SampleBuild:
    """The sample build plus ``size_mib`` MiB of incompressible app data (64 MiB files).

    Written 1 MiB at a time: Linux counts a forked child's pre-exec pages in its peak RSS,
    so a large benchmark process would inflate every figure it measures.
    """
    build = write_sample_build(root)
    for index in range(0, size_mib, 64):
        with (build.app_dir / f"data-{index // 64}.bin").open("wb") as data:
            for _ in range(min(64, size_mib - index)):
                data.write(os.urandom(1 << 20))
    return build


def registry(root: Path) -> Registry:
    ensure_commands(["docker-registry", "skopeo"], ["docker-registry", "skopeo"])
    return start_registry(root / "registry", "localhost")


def stack_file(path: Path, image: str) -> Path:
    path.write_text(f'[run-image]\nimage = "{image}"\n')
    return path


def print_table(as_json: bool, benchmark: str, rows: list[dict[str, object]]) -> None:
    """Rows of figures as an aligned table, or (``--json``) one JSON object for CI trends."""
    if as_json:
        print(json.dumps({"benchmark": benchmark, "rows": rows}))
        return
    columns = list(rows[0])
    widths = {c: max(len(c), *(len(str(row[c])) for row in rows)) + 2 for c in columns}
    print("".join(f"{c:>{widths[c]}}" for c in columns))
    for row in rows:
        print("".join(f"{row[c]!s:>{widths[c]}}" for c in columns))
