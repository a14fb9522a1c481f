"""The platform API object: parsing, the supported versions, the default, and a literal
matrix of every feature at every version (read from platform.md at each spec tag)."""

from __future__ import annotations

from pathlib import Path

import pytest

from lifecycle.platform.api import (
    DEFAULT,
    SUPPORTED,
    Features,
    PlatformAPI,
    features_for,
    platform_api_from,
)
from lifecycle.platform.exits import ExitCode, LifecycleError
from lifecycle.platform.exporter_inputs import EXPORTER_FLAGS, resolve_exporter_inputs
from lifecycle.platform.inputs import EarlyExit
from lifecycle.platform.rebase_many_inputs import REBASE_MANY_FLAGS, resolve_rebase_many_inputs
from lifecycle.platform.rebaser_inputs import REBASER_FLAGS, resolve_rebaser_inputs
from lifecycle.record import fields

VERSIONS = "0.3 0.4 0.5 0.6 0.7 0.8 0.9 0.10 0.11 0.12 0.13 0.14 0.15".split()

# One column per version above, in order: x = the version has the feature.
#                                    3456789ABCDEF  (minor version, hex)
MATRIX = {
    "process_entrypoints":              ".xxxxxxxxxxxx",
    "buildpack_default_process":        "...xxxxxxxxxx",
    "working_dir_is_app":               "...xxxxxxxxxx",
    "exporter_run_image_from_analyzed": "....xxxxxxxxx",
    "run_toml":                         ".........xxxx",
    "extended_run_image":               ".........xxxx",
    "sbom_layers":                      ".....xxxxxxxx",
    "lifecycle_sboms":                  "........xxxxx",
    "source_date_epoch":                "......xxxxxxx",
    "parallel_export":                  "..........xxx",
    "exec_env":                         "............x",
    "insecure_registry_flag":           "..........xxx",
    "build_label_bom":                  "xxxxxx.......",
    "command_array":                    ".......xxxxxx",
    "label_run_image_names":            ".........xxxx",
    "history":                          ".........xxxx",
    "report_build_bom":                 "..xxxx.......",
    "report_manifest_size":             "...xxxxxxxxxx",
    "rebase_previous_image":            "........xxxxx",
    "rebase_force":                     ".........xxxx",
    "rebase_name_check":                ".........xxxx",
    "target_checks":                    ".........xxxx",
    "analyzed_run_image_target":        ".........xxxx",
}


def test_supported_is_0_3_to_0_15_in_order() -> None:
    assert [str(api) for api in SUPPORTED] == VERSIONS
    assert list(SUPPORTED) == sorted(SUPPORTED)
    assert PlatformAPI.parse("0.9") < PlatformAPI.parse("0.10") < PlatformAPI.parse("1.0")


def test_the_matrix_names_every_feature() -> None:
    assert set(MATRIX) == {field.name for field in fields(Features)} - {"api"}


@pytest.mark.parametrize("feature", MATRIX)
def test_feature_matrix(feature: str) -> None:
    row = "".join("x" if getattr(features_for(api), feature) else "." for api in SUPPORTED)
    assert row == MATRIX[feature]


def test_features_are_built_once_per_version() -> None:
    assert features_for(PlatformAPI(0, 12)) is features_for(PlatformAPI.parse("0.12"))
    assert features_for(PlatformAPI(0, 12)).api == PlatformAPI(0, 12)


@pytest.mark.parametrize(("environ", "expected"), [
    ({}, "0.3"), ({"CNB_PLATFORM_API": ""}, "0.3"), ({"CNB_PLATFORM_API": "0.15"}, "0.15"),
    ({"CNB_PLATFORM_API": "0.7"}, "0.7"),
])
def test_unset_means_0_3(environ: dict[str, str], expected: str) -> None:
    assert str(platform_api_from(environ)) == expected
    assert DEFAULT == PlatformAPI(0, 3)


@pytest.mark.parametrize("text", ["0.2", "0.16", "1.0", "0.12.0", " 0.12", "0.012", "v0.12"])
def test_undeclared_versions_are_exit_11(text: str) -> None:
    with pytest.raises(LifecycleError) as err:
        platform_api_from({"CNB_PLATFORM_API": text})
    assert err.value.code == ExitCode.INCOMPATIBLE_PLATFORM_API
    assert err.value.message == (f"failed to set platform API: platform API version '{text}' "
                                 "is incompatible with the lifecycle")


# Flags that exist only at some versions: [first, last] as in platform.md.
EXPORTER_BOUNDS = {"stack": ("0.3", "0.11"), "mirrors": ("0.3", "0.11"),
                   "run": ("0.12", "0.15"), "extended": ("0.12", "0.15"),
                   "launcher-sbom": ("0.11", "0.15"), "parallel": ("0.13", "0.15"),
                   "insecure-registry": ("0.13", "0.15")}
REBASER_BOUNDS = {"previous-image": ("0.11", "0.15"), "force": ("0.12", "0.15"),
                  "insecure-registry": ("0.13", "0.15")}


def spellings_at(flag_set_name: str, version: str) -> set[str]:
    flag_set = {"exporter": EXPORTER_FLAGS, "rebaser": REBASER_FLAGS,
                "rebase-many": REBASE_MANY_FLAGS}[flag_set_name]
    by_version = flag_set.for_api(PlatformAPI.parse(version))
    return {name for flag in by_version.flags.values() for name in flag.names}


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize(("phase", "bounds"), [("exporter", EXPORTER_BOUNDS),
                                               ("rebaser", REBASER_BOUNDS)])
def test_bounded_flags_exist_only_at_their_versions(phase: str, bounds: dict[str, tuple[str, str]],
                                                    version: str) -> None:
    defined = spellings_at(phase, version)
    index = VERSIONS.index(version)
    for name, (first, last) in bounds.items():
        expected = VERSIONS.index(first) <= index <= VERSIONS.index(last)
        assert (name in defined) == expected, (name, version)


@pytest.mark.parametrize("version", VERSIONS)
def test_flags_platforms_send_exist_at_every_version(version: str) -> None:
    for name in ("run-image", "runImage", "image", "daemon", "layers", "app", "group",
                 "analyzed", "cache-dir", "cache-image", "launch-cache", "launcher", "uid",
                 "gid", "process-type", "project-metadata", "report", "log-level", "layout",
                 "layout-dir", "previous-image"):
        assert name in spellings_at("exporter", version)


@pytest.mark.parametrize(("phase", "argv", "api", "flag"), [
    ("exporter", ["-run", "/r.toml"], "0.11", "-run"),
    ("exporter", ["-stack", "/s.toml"], "0.12", "-stack"),
    ("exporter", ["-mirrors", "/s.toml"], "0.15", "-mirrors"),
    ("exporter", ["-parallel"], "0.12", "-parallel"),
    ("exporter", ["-extended", "/e"], "0.11", "-extended"),
    ("exporter", ["-launcher-sbom", "/s"], "0.10", "-launcher-sbom"),
    ("exporter", ["-insecure-registry", "r.io"], "0.12", "-insecure-registry"),
    ("rebaser", ["-force"], "0.11", "-force"),
    ("rebaser", ["-previous-image", "r.io/a"], "0.10", "-previous-image"),
    ("rebaser", ["-insecure-registry", "r.io"], "0.3", "-insecure-registry"),
])
def test_a_flag_of_another_version_is_undefined_exit_2(tmp_path: Path, phase: str,
                                                      argv: list[str], api: str,
                                                      flag: str) -> None:
    resolve = resolve_exporter_inputs if phase == "exporter" else resolve_rebaser_inputs
    with pytest.raises(EarlyExit) as caught:
        resolve([*argv, "r.io/app"], {"CNB_PLATFORM_API": api}, tmp_path)
    assert caught.value.code == ExitCode.FLAG_PARSE
    assert caught.value.output.startswith(f"flag provided but not defined: {flag}\n")


def test_insecure_registries_variable_is_honoured_at_every_version(tmp_path: Path) -> None:
    for version in VERSIONS:
        resolved = resolve_rebaser_inputs(
            ["r.io/app"], {"CNB_PLATFORM_API": version, "CNB_INSECURE_REGISTRIES": "a.io"},
            tmp_path)
        assert resolved.target.insecure_registries == frozenset({"a.io"})


def test_variables_of_undefined_flags_are_not_read(tmp_path: Path) -> None:
    resolved = resolve_rebaser_inputs(["r.io/app"], {"CNB_FORCE_REBASE": "true"}, tmp_path)
    assert resolved.force is False


def test_every_inputs_class_carries_the_api_and_its_features(tmp_path: Path) -> None:
    env = {"CNB_PLATFORM_API": "0.13"}
    for resolved in (resolve_exporter_inputs(["r.io/app"], env, tmp_path),
                     resolve_rebaser_inputs(["r.io/app"], env, tmp_path),
                     resolve_rebase_many_inputs(["list.txt"], env, tmp_path)):
        assert resolved.api == PlatformAPI(0, 13)
        assert resolved.features is features_for(PlatformAPI(0, 13))
