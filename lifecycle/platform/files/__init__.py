"""The platform's file formats, one module each, and the image labels.

Every reader takes each platform API's shape of its file; what a version writes is asked of
:class:`lifecycle.platform.api.Features`. Readers validate types and raise
:class:`~lifecycle.platform.exits.LifecycleError` naming the file and key (exit 3), so a
malformed input is never silently treated as absent. ``from lifecycle.platform import files``
then ``files.<name>`` reaches every public name of the package.

A name's module is imported when the name is first used (the module ``__getattr__`` below),
so a run pays only for the formats it reads or writes: a registry rebase reads no TOML file
and imports neither the readers nor the TOML parser. A phase that reads its files as another
user calls :func:`import_every_format` before it switches (:mod:`lifecycle.privileges`).
"""

from __future__ import annotations

import importlib

from lifecycle.checking import TYPE_CHECKING

# Where each name of ``__all__`` is defined (the imports below say the same to mypy).
_MODULES = {
    "lifecycle.jsonio": ("labels_json", "loads_json", "write_atomically"),
    "._toml": ("Fields", "read_toml"),
    ".analyzed": ("Analyzed", "AnalyzedRunImage", "Target", "read_analyzed"),
    ".build_metadata": ("BuildMetadata", "Process", "read_build_metadata"),
    ".group": ("GroupEntry", "read_group"),
    ".image_list": ("read_image_list",),
    ".labels": ("BUILD_LABEL", "DISTRO_NAME_LABEL", "DISTRO_VERSION_LABEL", "EXEC_ENV_LABEL",
                "LIFECYCLE_LABEL", "MIXINS_LABEL", "PROJECT_LABEL", "REBASABLE_LABEL",
                "RUN_IMAGE_LABEL_PREFIXES", "STACK_ID_LABEL", "LifecycleLabel",
                "RecordedRunImage", "RunImageMetadata", "build_label", "buildpack_entry",
                "lifecycle_label"),
    ".launcher": ("LauncherInfo", "read_launcher_info"),
    ".layer_metadata": ("NON_LAYER_TOMLS", "LayerMetadata", "read_build_bom",
                        "read_buildpack_layers", "read_store"),
    ".project_metadata": ("read_project_metadata",),
    ".report": ("write_rebase_summary", "write_report"),
    ".run": ("read_run",),
    ".stack": ("read_stack",),
}
_MODULE_OF = {name: module for module, names in _MODULES.items() for name in names}

__all__ = [
    "BUILD_LABEL",
    "DISTRO_NAME_LABEL",
    "DISTRO_VERSION_LABEL",
    "EXEC_ENV_LABEL",
    "LIFECYCLE_LABEL",
    "MIXINS_LABEL",
    "NON_LAYER_TOMLS",
    "PROJECT_LABEL",
    "REBASABLE_LABEL",
    "RUN_IMAGE_LABEL_PREFIXES",
    "STACK_ID_LABEL",
    "Analyzed",
    "AnalyzedRunImage",
    "BuildMetadata",
    "Fields",
    "GroupEntry",
    "LauncherInfo",
    "LayerMetadata",
    "LifecycleLabel",
    "Process",
    "RecordedRunImage",
    "RunImageMetadata",
    "Target",
    "build_label",
    "buildpack_entry",
    "labels_json",
    "lifecycle_label",
    "loads_json",
    "read_analyzed",
    "read_build_bom",
    "read_build_metadata",
    "read_buildpack_layers",
    "read_group",
    "read_image_list",
    "read_launcher_info",
    "read_project_metadata",
    "read_run",
    "read_stack",
    "read_store",
    "read_toml",
    "write_atomically",
    "write_rebase_summary",
    "write_report",
]

if TYPE_CHECKING:
    from typing import Any

    from lifecycle.jsonio import labels_json, loads_json, write_atomically
    from lifecycle.platform.files._toml import Fields, read_toml
    from lifecycle.platform.files.analyzed import (
        Analyzed,
        AnalyzedRunImage,
        Target,
        read_analyzed,
    )
    from lifecycle.platform.files.build_metadata import (
        BuildMetadata,
        Process,
        read_build_metadata,
    )
    from lifecycle.platform.files.group import GroupEntry, read_group
    from lifecycle.platform.files.image_list import read_image_list
    from lifecycle.platform.files.labels import (
        BUILD_LABEL,
        DISTRO_NAME_LABEL,
        DISTRO_VERSION_LABEL,
        EXEC_ENV_LABEL,
        LIFECYCLE_LABEL,
        MIXINS_LABEL,
        PROJECT_LABEL,
        REBASABLE_LABEL,
        RUN_IMAGE_LABEL_PREFIXES,
        STACK_ID_LABEL,
        LifecycleLabel,
        RecordedRunImage,
        RunImageMetadata,
        build_label,
        buildpack_entry,
        lifecycle_label,
    )
    from lifecycle.platform.files.launcher import LauncherInfo, read_launcher_info
    from lifecycle.platform.files.layer_metadata import (
        NON_LAYER_TOMLS,
        LayerMetadata,
        read_build_bom,
        read_buildpack_layers,
        read_store,
    )
    from lifecycle.platform.files.project_metadata import read_project_metadata
    from lifecycle.platform.files.report import write_rebase_summary, write_report
    from lifecycle.platform.files.run import read_run
    from lifecycle.platform.files.stack import read_stack


def import_every_format() -> None:
    """Import the module of every format now. The exporter reads and writes its files as the
    build's user, who may not be allowed to read where this installation is (root's home; the
    private directory a one-file binary unpacks its extension modules to), so nothing can be
    imported then."""
    for module in _MODULES:
        importlib.import_module(module, __name__)


if not TYPE_CHECKING:
    def __getattr__(name: str) -> Any:
        module = _MODULE_OF.get(name)
        if module is None:
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module, __name__), name)
        globals()[name] = value   # the next use is a plain module attribute
        return value
