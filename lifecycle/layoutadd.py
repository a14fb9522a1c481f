"""``layout-add``: copy an image from a registry or the Docker daemon into an OCI layout.

    layout-add -layout-dir DIR [-daemon] [-insecure-registry R] <image> [<name-in-layout>]

The ``-layout`` target keeps ``reg.io/repo:tag`` at ``DIR/reg.io/repo/tag``; a run image must
be there before an export or a rebase can use it. skopeo cannot address such a path when the
registry has a port (its ``oci:`` transport splits the path at ``:``), so this command
writes it with the layout backend itself: the manifest, config and every layer, each verified
against its digest, ``index.json`` last. An image index is reduced to its linux/amd64 image.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from contextlib import closing

from lifecycle.backends.base import BackendError
from lifecycle.backends.layout import LayoutStore
from lifecycle.cli import open_target, run_phase
from lifecycle.log import get_logger
from lifecycle.platform.exits import ExitCode, LifecycleError
from lifecycle.platform.tool_inputs import LayoutAddInputs, resolve_layout_add_inputs


def main(argv: Sequence[str] | None = None) -> int:
    return run_phase(argv, resolve_layout_add_inputs, lambda inputs: inputs.log, layout_add)


def layout_add(inputs: LayoutAddInputs) -> None:
    action = f"add image '{inputs.source}' to the layout {inputs.layout_dir}"
    layout = LayoutStore(inputs.layout_dir)
    with closing(open_target(inputs.source_target, action, ExitCode.FAILED)) as source:
        try:
            stored = source.read(inputs.source)
            result = layout.write(stored.image, [inputs.name])
        except BackendError as err:
            raise LifecycleError(action, err) from None
    if result.failed:
        raise LifecycleError(action, "; ".join(result.failed.values()))
    get_logger().info(f"Added {inputs.name} ({result.digest}) at {layout.path_for(inputs.name)}",
                      kind="layout.added", image=str(inputs.name), digest=result.digest)


if __name__ == "__main__":
    sys.exit(main())
