"""Export speed and memory: cold and warm, to a real local registry and to an OCI layout.

    python bench/export.py [SIZE_MIB]     (default 200 MiB of incompressible app data)

Prints seconds and the exporter process's peak RSS for each case.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from common import build_with_app, measure, publish_run_image, registry, stack_file

from lifecycle.backends.layout import LayoutStore
from lifecycle.backends.registry import RegistryStore
from lifecycle.reference import parse_reference


def copy_to_layout(name: str, layout: Path) -> None:
    ref = parse_reference(name)
    LayoutStore(layout).write(RegistryStore().read(ref).image, [ref])


def main() -> None:
    size = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    with tempfile.TemporaryDirectory(prefix="bench-export-") as scratch:
        root = Path(scratch)
        server = registry(root)
        try:
            run = f"{server.host}/bench/run:v1"
            publish_run_image(root, [run])
            copy_to_layout(run, root / "oci")
            stack = stack_file(root / "stack.toml", run)
            build = build_with_app(root / "build", size)
            base = ["-stack", str(stack), "-layers", str(build.layers_dir),
                    "-app", str(build.app_dir), "-group", str(build.group_path),
                    "-report", str(root / "report.toml")]
            layout = ["-layout", "-layout-dir", str(root / "oci")]
            print(f"app size: {size} MiB (incompressible)")
            print(f"{'case':<22}{'seconds':>10}{'peak RSS MiB':>15}")
            for case, args in (("registry cold", base), ("registry warm", base),
                               ("layout cold", layout + base), ("layout warm", layout + base)):
                result = measure("exporter", *args, f"{server.host}/bench/app:latest")
                print(f"{case:<22}{result.seconds:>10.2f}{result.peak_rss_mib:>15.1f}")
        finally:
            server.stop()


if __name__ == "__main__":
    main()
