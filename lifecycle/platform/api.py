"""The platform API: which version a platform speaks, and what that version changes.

A platform names its version in ``CNB_PLATFORM_API``. Everything that differs between the
versions we support is one named field of :class:`Features`, built once per version from the
table below; phases, file readers and label writers ask those fields and never compare
version strings. Each bound was read from ``platform.md`` in buildpacks/spec at the tags
``platform/v0.3`` … ``platform/v0.14`` and ``platform/0.15``.

``CNB_PLATFORM_API`` unset means 0.3: platforms that never set it (pack 0.12 among them) were
written against the lifecycles of that time, and the Go lifecycles 0.7 to 0.17 assumed 0.3
when it was unset (0.18 and later refuse to run without it). Assuming a newer version would
give such a platform labels it cannot decode (a ``command`` array where it expects a string).
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache

from lifecycle.platform.exits import ExitCode, LifecycleError
from lifecycle.record import record


@record(order=True)
class PlatformAPI:
    """A platform API version, ordered by (major, minor)."""

    major: int
    minor: int

    @classmethod
    def parse(cls, text: str) -> PlatformAPI:
        """``<major>.<minor>``, as the spec writes them; raises ValueError otherwise."""
        numbers = text.split(".")
        if len(numbers) != 2 or not all(_is_version_number(number) for number in numbers):
            raise ValueError(f"'{text}' is not a platform API version")
        return cls(int(numbers[0]), int(numbers[1]))

    def __str__(self) -> str:
        return f"{self.major}.{self.minor}"


def _is_version_number(text: str) -> bool:
    """``0``, or ASCII digits without a leading zero (not a regular expression: compiling one
    would cost every run a few tenths of a millisecond)."""
    return text == "0" or (text.isascii() and text.isdigit() and text[0] != "0")


SUPPORTED = tuple(PlatformAPI(0, minor) for minor in range(3, 16))
"""Every version we speak; each one is exercised by the tests."""

DEFAULT = PlatformAPI(0, 3)
"""The version when ``CNB_PLATFORM_API`` is unset (see the module docstring)."""


@record
class Features:
    """What a platform API version asks of the phases: one field per difference."""

    api: PlatformAPI
    # Exporter: entry point and environment
    process_entrypoints: bool          # ENTRYPOINT /cnb/process/<type>, PATH has /cnb/process;
                                       # before: the launcher, with CNB_PROCESS_TYPE in the env
    buildpack_default_process: bool    # metadata.toml's default process type; an unknown
                                       # -process-type fails (before: the only process is the
                                       # default, and an unknown type is ignored)
    working_dir_is_app: bool           # WorkingDir = <app>
    # Exporter: inputs
    exporter_run_image_from_analyzed: bool  # analyzed.toml [run-image] names the run image
    run_toml: bool                     # -run/run.toml replaces -stack/stack.toml
    extended_run_image: bool           # -extended: the base may be the extended run image
    sbom_layers: bool                  # <layers>/sbom/launch → an SBOM layer, label "sbom"
    lifecycle_sboms: bool              # -launcher-sbom; the lifecycle's own SBOMs are copied
    source_date_epoch: bool            # SOURCE_DATE_EPOCH sets the image's created time
    parallel_export: bool              # -parallel: image and cache exported at once
    exec_env: bool                     # CNB_EXEC_ENV and the io.buildpacks.exec-env label
    insecure_registry_flag: bool       # -insecure-registry (the variable works at every version)
    # Exporter: outputs
    build_label_bom: bool              # io.buildpacks.build.metadata has "bom"
    command_array: bool                # processes[].command is an array (before: a string)
    label_run_image_names: bool        # lifecycle label runImage.image/mirrors
    history: bool                      # history keeps created_by (before: only created)
    report_build_bom: bool             # report.toml [build] bom
    report_manifest_size: bool         # report.toml [image] manifest-size
    # Rebaser
    rebase_previous_image: bool        # -previous-image
    rebase_force: bool                 # -force
    rebase_name_check: bool            # a new run image must match the recorded names
    target_checks: bool                # asked of the API that built the app: check targets
                                       # (os, arch, variant, distro); before: stack id, mixins
    # Multi-platform images
    analyzed_run_image_target: bool    # analyzed.toml's [run-image.target] is the platform
                                       # the exporter builds for (before: linux/amd64)


# field: (first version with it, first version without it)
_BOUNDS: dict[str, tuple[PlatformAPI | None, PlatformAPI | None]] = {
    "process_entrypoints": (PlatformAPI(0, 4), None),
    "buildpack_default_process": (PlatformAPI(0, 6), None),
    "working_dir_is_app": (PlatformAPI(0, 6), None),
    "exporter_run_image_from_analyzed": (PlatformAPI(0, 7), None),
    "run_toml": (PlatformAPI(0, 12), None),
    "extended_run_image": (PlatformAPI(0, 12), None),
    "sbom_layers": (PlatformAPI(0, 8), None),
    "lifecycle_sboms": (PlatformAPI(0, 11), None),
    "source_date_epoch": (PlatformAPI(0, 9), None),
    "parallel_export": (PlatformAPI(0, 13), None),
    "exec_env": (PlatformAPI(0, 15), None),
    "insecure_registry_flag": (PlatformAPI(0, 13), None),
    "build_label_bom": (None, PlatformAPI(0, 9)),
    "command_array": (PlatformAPI(0, 10), None),
    "label_run_image_names": (PlatformAPI(0, 12), None),
    "history": (PlatformAPI(0, 12), None),
    "report_build_bom": (PlatformAPI(0, 5), PlatformAPI(0, 9)),
    "report_manifest_size": (PlatformAPI(0, 6), None),
    "rebase_previous_image": (PlatformAPI(0, 11), None),
    "rebase_force": (PlatformAPI(0, 12), None),
    "rebase_name_check": (PlatformAPI(0, 12), None),
    "target_checks": (PlatformAPI(0, 12), None),
    "analyzed_run_image_target": (PlatformAPI(0, 12), None),
}


def since(feature: str) -> PlatformAPI | None:
    """The first version with ``feature``, for flags that exist only from then on."""
    return _BOUNDS[feature][0]


def until(feature: str) -> PlatformAPI | None:
    """The first version without ``feature``, for flags that stopped at that version."""
    return _BOUNDS[feature][1]


@cache
def features_for(api: PlatformAPI) -> Features:
    """The features of ``api``, built once per version."""
    return Features(api=api, **{name: in_range(api, first, last)
                                for name, (first, last) in _BOUNDS.items()})


def in_range(api: PlatformAPI, first: PlatformAPI | None, last: PlatformAPI | None) -> bool:
    """Whether ``api`` is in ``[first, last)``; ``None`` leaves that side open."""
    return (first is None or api >= first) and (last is None or api < last)


def platform_api_from(environ: Mapping[str, str]) -> PlatformAPI:
    """``CNB_PLATFORM_API``, or the default when unset or empty; exit 11 if undeclared."""
    requested = environ.get("CNB_PLATFORM_API", "")
    if not requested:
        return DEFAULT
    try:
        api = PlatformAPI.parse(requested)
    except ValueError:
        api = None
    if api not in SUPPORTED:
        raise LifecycleError(
            "set platform API",
            f"platform API version '{requested}' is incompatible with the lifecycle",
            ExitCode.INCOMPATIBLE_PLATFORM_API)
    assert api is not None
    return api

