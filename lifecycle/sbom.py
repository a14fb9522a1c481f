"""Software bills of materials (platform API 0.8 on): the SBOM layers and the lifecycle's own.

After the build, ``<layers>/sbom/`` holds what buildpacks declared, by kind:

* ``launch/`` becomes one layer of the app image (at the same path, layer id
  ``buildpacksio/lifecycle:launch.sbom``), recorded as ``sbom.sha`` in the lifecycle label and
  reused from the previous image when unchanged;
* ``cache/`` becomes one layer of the build cache, recorded as ``sbom.sha`` in its metadata;
* ``build/`` stays where it is, for the platform to read after the export.

From 0.11 the exporter first adds the lifecycle's own SBOM files: ``lifecycle.<ext>`` from the
default directory into ``build/buildpacksio_lifecycle/<ext>``, and the launcher's into
``launch/buildpacksio_lifecycle/launcher/`` (``launcher.<ext>`` from the default directory, or
every SBOM file of a ``-launcher-sbom`` directory under its own name).
"""

from __future__ import annotations

import shutil
from pathlib import Path

from lifecycle.log import get_logger

SBOM_HISTORY = "Software Bill-of-Materials"
LAUNCH_SBOM_ID = "buildpacksio/lifecycle:launch.sbom"
CACHE_SBOM_ID = "buildpacksio/lifecycle:cache.sbom"
EXTENSIONS = ("sbom.cdx.json", "sbom.spdx.json", "sbom.syft.json")  # CycloneDX, SPDX, Syft
LIFECYCLE_DIR = "buildpacksio_lifecycle"


def sbom_dir(layers_dir: Path, kind: str) -> Path | None:
    """``<layers>/sbom/<kind>`` if the build left it, else None."""
    path = layers_dir / "sbom" / kind
    return path if path.is_dir() else None


def copy_lifecycle_sboms(layers_dir: Path, launcher_sbom_dir: Path, default_dir: Path) -> None:
    """The lifecycle's and the launcher's SBOM files into ``<layers>/sbom`` (0.11 on).

    This lifecycle ships no SBOM files of its own yet, so one missing from the default
    directory is only a debug line; a ``-launcher-sbom`` directory that cannot be read is an
    OSError for the caller.
    """
    copy_named(default_dir, "lifecycle", layers_dir / "sbom" / "build" / LIFECYCLE_DIR)
    launcher_target = layers_dir / "sbom" / "launch" / LIFECYCLE_DIR / "launcher"
    if launcher_sbom_dir == default_dir:
        copy_named(default_dir, "launcher", launcher_target)
        return
    found = sorted(path for path in launcher_sbom_dir.iterdir()
                   if path.is_file() and path.name.endswith(EXTENSIONS))
    for source in found:
        launcher_target.mkdir(parents=True, exist_ok=True)
        get_logger().debug(f"Copying SBOM '{source}' to '{launcher_target / source.name}'")
        shutil.copyfile(source, launcher_target / source.name)


def copy_named(directory: Path, component: str, target: Path) -> None:
    """``<directory>/<component>.<ext>`` to ``<target>/<ext>``, for each SBOM format."""
    for extension in EXTENSIONS:
        source = directory / f"{component}.{extension}"
        if not source.is_file():
            get_logger().debug(f"No SBOM '{source.name}' in '{directory}'")
            continue
        target.mkdir(parents=True, exist_ok=True)
        get_logger().debug(f"Copying SBOM '{source}' to '{target / extension}'")
        shutil.copyfile(source, target / extension)
