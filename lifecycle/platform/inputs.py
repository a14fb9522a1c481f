"""Phase inputs: flags > environment > defaults, resolved once into immutable dataclasses.

This module owns every flag name, alias, environment variable and default of contract §1.
Phases receive the dataclasses below and never read ``os.environ`` or argv themselves.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from lifecycle.reference import Reference

SUPPORTED_PLATFORM_APIS = ("0.3", "0.4", "0.5", "0.6", "0.7", "0.8", "0.9", "0.10", "0.11",
                           "0.12", "0.13", "0.14", "0.15")
DEFAULT_PLATFORM_API = "0.12"
DEFAULT_STACK_PATHS = (Path("/buildpacks/stack.toml"), Path("/cnb/stack.toml"))


class EarlyExit(Exception):
    """Parsing ended the run before any phase work: ``-h``, ``-version`` or a flag error."""

    def __init__(self, code: int, output: str, to_stderr: bool) -> None:
        super().__init__(output)
        self.code = code
        self.output = output
        self.to_stderr = to_stderr


@dataclass(frozen=True)
class LogSettings:
    level: str = "info"           # debug | info | warn | error
    format: str = "console"       # console | json
    no_color: bool = False


@dataclass(frozen=True)
class Target:
    """Where images are read and written: exactly one of registry, daemon, layout."""

    daemon: bool = False
    layout_dir: Path | None = None          # set iff -layout
    insecure_registries: frozenset[str] = frozenset()

    @property
    def kind(self) -> str:
        return "daemon" if self.daemon else "layout" if self.layout_dir is not None else "registry"


@dataclass(frozen=True)
class ExporterInputs:
    images: tuple[Reference, ...]     # output image first, then additional tags (parsed)
    image_names: tuple[str, ...]      # the same names exactly as given (report tags, output)
    run_image: str | None             # explicit -runImage/-run-image/-image/CNB_RUN_IMAGE
    stack_path: Path                  # resolved stack/mirrors file (may not exist)
    layers_dir: Path                  # absolute
    app_dir: Path                     # absolute
    group_path: Path
    analyzed_path: Path
    previous_image: Reference | None  # -previous-image; None = the output image
    launcher_path: Path
    report_path: Path
    project_metadata_path: Path
    process_type: str | None
    cache_dir: Path | None
    cache_image: Reference | None
    launch_cache_dir: Path | None     # None unless -daemon
    uid: int
    gid: int
    platform_api: str
    target: Target
    log: LogSettings


@dataclass(frozen=True)
class RebaserInputs:
    images: tuple[Reference, ...]
    image_names: tuple[str, ...]
    run_image: str | None
    previous_image: Reference | None
    report_path: Path
    force: bool
    uid: int
    gid: int
    platform_api: str
    target: Target
    log: LogSettings
