"""Input resolution for both phases: every flag spelling and variable of contract §1, defaults,
placeholders, and the exit code and message of every invalid input."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from operator import attrgetter
from pathlib import Path

import pytest

from lifecycle import __version__
from lifecycle.image.index import Platform
from lifecycle.image.mutate import NORMALIZED_TIME
from lifecycle.platform import exporter_inputs
from lifecycle.platform.api import PlatformAPI, features_for
from lifecycle.platform.exits import ExitCode, LifecycleError
from lifecycle.platform.exporter_inputs import (
    EXPORTER_FLAGS,
    LAUNCH_CACHE_WARNING,
    ExporterInputs,
    resolve_exporter_inputs,
)
from lifecycle.platform.flags import FlagSet
from lifecycle.platform.inputs import (
    DEFAULT_PLATFORM_API,
    SUPPORTED_PLATFORM_APIS,
    EarlyExit,
    LogSettings,
    SharedInputs,
    Target,
)
from lifecycle.platform.rebaser_inputs import REBASER_FLAGS, RebaserInputs, resolve_rebaser_inputs
from lifecycle.record import replace
from lifecycle.reference import parse_reference

IMAGE = "reg.example/app"
Inputs = ExporterInputs | RebaserInputs
Resolve = Callable[[Sequence[str], dict[str, str], Path], Inputs]
PHASES: dict[str, Resolve] = {"exporter": resolve_exporter_inputs,
                              "rebaser": resolve_rebaser_inputs}


@pytest.fixture(autouse=True)
def no_stack_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep the host's /buildpacks and /cnb out of the stack-file default."""
    monkeypatch.setattr(exporter_inputs, "DEFAULT_STACK_PATHS",
                        (tmp_path / "buildpacks" / "stack.toml", tmp_path / "cnb" / "stack.toml"))


def export(cwd: Path, *argv: str, env: dict[str, str] | None = None) -> ExporterInputs:
    return resolve_exporter_inputs([*argv, IMAGE], env or {}, cwd)


def rebase(cwd: Path, *argv: str, env: dict[str, str] | None = None) -> RebaserInputs:
    return resolve_rebaser_inputs([*argv, IMAGE], env or {}, cwd)


def failure(resolve: Resolve, argv: Sequence[str], env: dict[str, str], cwd: Path,
            code: ExitCode = ExitCode.INVALID_ARGS) -> str:
    with pytest.raises(LifecycleError) as caught:
        resolve(argv, env, cwd)
    assert caught.value.code == code
    return caught.value.message


def early_exit(resolve: Resolve, argv: Sequence[str]) -> EarlyExit:
    with pytest.raises(EarlyExit) as caught:
        resolve(argv, {}, Path("/"))
    return caught.value


# -- every flag spelling and variable (contract §1) -------------------------------------------

@dataclass(frozen=True)
class Case:
    """Flags as (spelling, value) pairs (value None: a bool given bare), the field they set."""

    flags: tuple[tuple[str, str | None], ...]
    field: str
    expected: object
    api: str = ""      # the platform API the flags are given at ("" = the default)

    @property
    def env(self) -> dict[str, str]:
        return {"CNB_PLATFORM_API": self.api} if self.api else {}

    def argv(self, style: str) -> list[str]:
        """``-name value`` / ``-name``, or ``--name=value`` / ``--name=true``."""
        if style == "separate":
            return [arg for name, value in self.flags
                    for arg in ([f"-{name}"] if value is None else [f"-{name}", value])]
        return [f"--{name}={'true' if value is None else value}" for name, value in self.flags]


def case(*flags: tuple[str, str | None], field: str, expected: object, api: str = "") -> Case:
    return Case(flags, field, expected, api)


SHARED_SPELLINGS = [
    case(("runImage", "run.example/run:1"), field="run_image", expected="run.example/run:1"),
    case(("run-image", "run.example/run:1"), field="run_image", expected="run.example/run:1"),
    case(("image", "run.example/run:1"), field="run_image", expected="run.example/run:1"),
    case(("previous-image", "reg.example/prev:1"), field="previous_image",
         expected=parse_reference("reg.example/prev:1"), api="0.11"),
    case(("daemon", None), field="target.daemon", expected=True),
    case(("layout", None), ("layout-dir", "/oci"), field="target.layout_dir",
         expected=Path("/oci")),
    case(("uid", "1000"), field="uid", expected=1000),
    case(("gid", "1001"), field="gid", expected=1001),
    case(("insecure-registry", "a.example"), ("insecure-registry", "b.example"),
         field="target.insecure_registries", expected=frozenset({"a.example", "b.example"}),
         api="0.13"),
    case(("log-level", "debug"), field="log.level", expected="debug"),
    case(("log-format", "json"), field="log.format", expected="json"),
    case(("no-color", None), field="log.no_color", expected=True),
    case(("report", "/out/report.toml"), field="report_path", expected=Path("/out/report.toml")),
]
EXPORTER_SPELLINGS = [
    *SHARED_SPELLINGS,
    case(("mirrors", "/m.toml"), field="stack_path", expected=Path("/m.toml")),
    case(("stack", "/s.toml"), field="stack_path", expected=Path("/s.toml")),
    case(("layers", "/l"), field="layers_dir", expected=Path("/l")),
    case(("app", "/a"), field="app_dir", expected=Path("/a")),
    case(("group", "/g.toml"), field="group_path", expected=Path("/g.toml")),
    case(("analyzed", "/an.toml"), field="analyzed_path", expected=Path("/an.toml")),
    case(("launcher", "/bin/launcher"), field="launcher_path", expected=Path("/bin/launcher")),
    case(("process-type", "web"), field="process_type", expected="web"),
    case(("cache-dir", "/cache"), field="cache_dir", expected=Path("/cache")),
    case(("cache-image", "reg.example/cache"), field="cache_image",
         expected=parse_reference("reg.example/cache")),
    case(("daemon", None), ("launch-cache", "/lc"), field="launch_cache_dir",
         expected=Path("/lc")),
    case(("project-metadata", "/pm.toml"), field="project_metadata_path",
         expected=Path("/pm.toml")),
    case(("run", "/r.toml"), field="run_path", expected=Path("/r.toml"), api="0.12"),
    case(("extended", "/ext"), field="extended_dir", expected=Path("/ext"), api="0.12"),
    case(("launcher-sbom", "/sbom"), field="launcher_sbom_dir", expected=Path("/sbom"),
         api="0.11"),
    case(("parallel", None), field="parallel", expected=True, api="0.13"),
    case(("platform", "linux/arm64/v8"), field="platform",
         expected=Platform("linux", "arm64", "v8")),
    case(("index", None), field="index", expected=True),
]
REBASER_SPELLINGS = [
    *SHARED_SPELLINGS,
    case(("force", None), field="force", expected=True, api="0.12"),
]
# Flags 2019's lifecycles defined and platforms may send: accepted, without any effect.
IGNORED_EXPORTER_FLAGS = [("helpers", None)]


@pytest.mark.parametrize("style", ["separate", "equals"])
@pytest.mark.parametrize("spelling", EXPORTER_SPELLINGS, ids=lambda c: c.flags[-1][0])
def test_exporter_flag_spellings(tmp_path: Path, spelling: Case, style: str) -> None:
    resolved = export(tmp_path, *spelling.argv(style), env=spelling.env)
    assert attrgetter(spelling.field)(resolved) == spelling.expected


@pytest.mark.parametrize("style", ["separate", "equals"])
@pytest.mark.parametrize("spelling", REBASER_SPELLINGS, ids=lambda c: c.flags[-1][0])
def test_rebaser_flag_spellings(tmp_path: Path, spelling: Case, style: str) -> None:
    resolved = rebase(tmp_path, *spelling.argv(style), env=spelling.env)
    assert attrgetter(spelling.field)(resolved) == spelling.expected


@pytest.mark.parametrize("style", ["separate", "equals"])
@pytest.mark.parametrize("flag", IGNORED_EXPORTER_FLAGS, ids=lambda f: f[0])
def test_exporter_ignores_flags_of_other_lifecycles(tmp_path: Path, flag: tuple[str, str | None],
                                                    style: str) -> None:
    env = {"CNB_USE_CRED_HELPERS": "yes"}  # never even read
    assert export(tmp_path, *Case((flag,), "", None).argv(style), env=env) == export(tmp_path)


@pytest.mark.parametrize(("flag_set", "spellings", "others"), [
    (EXPORTER_FLAGS, EXPORTER_SPELLINGS, [name for name, _ in IGNORED_EXPORTER_FLAGS]),
    (REBASER_FLAGS, REBASER_SPELLINGS, []),
], ids=["exporter", "rebaser"])
def test_every_spelling_is_covered(flag_set: FlagSet, spellings: list[Case],
                                   others: list[str]) -> None:
    defined = {name for flag in flag_set.flags.values() for name in flag.names}
    tested = {name for spelling in spellings for name, _ in spelling.flags}
    assert defined == tested | set(others) | {"version"}


SHARED_VARIABLES = [
    ({"CNB_RUN_IMAGE": "run.example/run"}, "run_image", "run.example/run"),
    ({"CNB_PREVIOUS_IMAGE": "reg.example/prev", "CNB_PLATFORM_API": "0.11"}, "previous_image",
     parse_reference("reg.example/prev")),
    ({"CNB_USE_DAEMON": "true"}, "target.daemon", True),
    ({"CNB_USE_LAYOUT": "1", "CNB_LAYOUT_DIR": "/oci"}, "target.layout_dir", Path("/oci")),
    ({"CNB_USER_ID": "1000"}, "uid", 1000),
    ({"CNB_GROUP_ID": "1001"}, "gid", 1001),
    ({"CNB_INSECURE_REGISTRIES": "a.example,b.example"}, "target.insecure_registries",
     frozenset({"a.example", "b.example"})),
    ({"CNB_LOG_LEVEL": "debug"}, "log.level", "debug"),
    ({"CNB_LOG_FORMAT": "json"}, "log.format", "json"),
    ({"CNB_NO_COLOR": "T"}, "log.no_color", True),
    ({"CNB_REPORT_PATH": "/out/report.toml"}, "report_path", Path("/out/report.toml")),
    ({"CNB_PLATFORM_API": "0.9"}, "platform_api", "0.9"),
]
EXPORTER_VARIABLES = [
    *SHARED_VARIABLES,
    ({"CNB_MIRRORS_PATH": "/m.toml"}, "stack_path", Path("/m.toml")),
    ({"CNB_STACK_PATH": "/s.toml"}, "stack_path", Path("/s.toml")),
    ({"CNB_MIRRORS_PATH": "/m.toml", "CNB_STACK_PATH": "/s.toml"}, "stack_path", Path("/m.toml")),
    ({"CNB_LAYERS_DIR": "/l"}, "layers_dir", Path("/l")),
    ({"CNB_APP_DIR": "/a"}, "app_dir", Path("/a")),
    ({"CNB_GROUP_PATH": "/g.toml"}, "group_path", Path("/g.toml")),
    ({"CNB_ANALYZED_PATH": "/an.toml"}, "analyzed_path", Path("/an.toml")),
    ({"CNB_LAUNCHER_PATH": "/bin/launcher"}, "launcher_path", Path("/bin/launcher")),
    ({"CNB_PROCESS_TYPE": "web"}, "process_type", "web"),
    ({"CNB_CACHE_DIR": "/cache"}, "cache_dir", Path("/cache")),
    ({"CNB_CACHE_IMAGE": "reg.example/cache"}, "cache_image",
     parse_reference("reg.example/cache")),
    ({"CNB_USE_DAEMON": "t", "CNB_LAUNCH_CACHE_DIR": "/lc"}, "launch_cache_dir", Path("/lc")),
    ({"CNB_PROJECT_METADATA_PATH": "/pm.toml"}, "project_metadata_path", Path("/pm.toml")),
    ({"SOURCE_DATE_EPOCH": "1700000000", "CNB_PLATFORM_API": "0.9"}, "created",
     "2023-11-14T22:13:20Z"),
    ({"CNB_RUN_PATH": "/r.toml", "CNB_PLATFORM_API": "0.12"}, "run_path", Path("/r.toml")),
    ({"CNB_EXTENDED_DIR": "/e", "CNB_PLATFORM_API": "0.12"}, "extended_dir", Path("/e")),
    ({"CNB_PARALLEL_EXPORT": "1", "CNB_PLATFORM_API": "0.13"}, "parallel", True),
    ({"CNB_EXEC_ENV": "test", "CNB_PLATFORM_API": "0.15"}, "exec_env", "test"),
]
REBASER_VARIABLES = [*SHARED_VARIABLES,
                     ({"CNB_FORCE_REBASE": "TRUE", "CNB_PLATFORM_API": "0.12"}, "force", True)]


def variables_id(value: object) -> str | None:
    """Name a case by its variables; pytest's own ids for the rest."""
    return "+".join(value) if isinstance(value, dict) else None


@pytest.mark.parametrize(("env", "field", "expected"), EXPORTER_VARIABLES,
                         ids=variables_id)
def test_exporter_variables(tmp_path: Path, env: dict[str, str], field: str,
                            expected: object) -> None:
    assert attrgetter(field)(export(tmp_path, env=env)) == expected


@pytest.mark.parametrize(("env", "field", "expected"), REBASER_VARIABLES,
                         ids=variables_id)
def test_rebaser_variables(tmp_path: Path, env: dict[str, str], field: str,
                           expected: object) -> None:
    assert attrgetter(field)(rebase(tmp_path, env=env)) == expected


@pytest.mark.parametrize("phase", PHASES)
def test_flag_beats_variable(tmp_path: Path, phase: str) -> None:
    env = {"CNB_RUN_IMAGE": "env.example/run", "CNB_USE_DAEMON": "true", "CNB_USER_ID": "5"}
    resolved = PHASES[phase](["-run-image", "flag.example/run", "-daemon=false", "-uid=6", IMAGE],
                             env, tmp_path)
    assert (resolved.run_image, resolved.target.daemon, resolved.uid) == (
        "flag.example/run", False, 6)


# -- defaults and placeholders ----------------------------------------------------------------

DEFAULT_SHARED = SharedInputs(api=PlatformAPI(0, 3), target=Target(), log=LogSettings(),
                              images=(parse_reference(IMAGE),), image_names=(IMAGE,))


def test_exporter_defaults(tmp_path: Path) -> None:
    resolved = export(tmp_path)
    assert resolved == ExporterInputs(
        shared=DEFAULT_SHARED,
        stack_path=tmp_path / "buildpacks" / "stack.toml", run_path=Path("/cnb/run.toml"),
        layers_dir=Path("/layers"),
        app_dir=Path("/workspace"), group_path=Path("/layers/group.toml"),
        analyzed_path=Path("/layers/analyzed.toml"),
        launcher_path=Path("/cnb/lifecycle/launcher"), report_path=Path("/layers/report.toml"),
        project_metadata_path=Path("/layers/project-metadata.toml"), process_type=None,
        cache_dir=None, cache_image=None, launch_cache_dir=None,
        extended_dir=Path("/layers/extended"), launcher_sbom_dir=Path("/cnb/lifecycle"),
        parallel=False, exec_env="", created=NORMALIZED_TIME)
    assert resolved.platform_api == DEFAULT_PLATFORM_API == "0.3"
    assert resolved.features == features_for(PlatformAPI(0, 3))


def test_exporter_exec_env_defaults_to_production_at_0_15(tmp_path: Path) -> None:
    assert export(tmp_path, env={"CNB_PLATFORM_API": "0.15"}).exec_env == "production"
    assert export(tmp_path, env={"CNB_PLATFORM_API": "0.14",
                                 "CNB_EXEC_ENV": "test"}).exec_env == ""


def test_rebaser_defaults(tmp_path: Path) -> None:
    assert rebase(tmp_path) == RebaserInputs(
        shared=DEFAULT_SHARED, report_path=Path("/layers/report.toml"), force=False)


@pytest.mark.parametrize(("existing", "expected"), [
    ((), 0), ((1,), 1), ((0, 1), 0), ((0,), 0),
])
def test_stack_default_is_the_first_existing_file(tmp_path: Path, existing: tuple[int, ...],
                                                  expected: int) -> None:
    for index in existing:
        exporter_inputs.DEFAULT_STACK_PATHS[index].parent.mkdir()
        exporter_inputs.DEFAULT_STACK_PATHS[index].touch()
    assert export(tmp_path).stack_path == exporter_inputs.DEFAULT_STACK_PATHS[expected]


@pytest.mark.parametrize(("in_layers", "in_cwd", "expected"), [
    (False, False, "layers/group.toml"),
    (False, True, "group.toml"),
    (True, True, "layers/group.toml"),
    (True, False, "layers/group.toml"),
])
def test_group_default(tmp_path: Path, in_layers: bool, in_cwd: bool, expected: str) -> None:
    (tmp_path / "layers").mkdir()
    for exists, path in ((in_layers, tmp_path / "layers" / "group.toml"),
                         (in_cwd, tmp_path / "group.toml")):
        if exists:
            path.touch()
    assert export(tmp_path, "-layers", "layers").group_path == tmp_path / expected


@pytest.mark.parametrize("how", ["flag", "variable"])
def test_layers_placeholder_resolves_after_parsing(tmp_path: Path, how: str) -> None:
    resolved = (export(tmp_path, "-layers", "/x") if how == "flag"
                else export(tmp_path, env={"CNB_LAYERS_DIR": "/x"}))
    assert (resolved.group_path, resolved.analyzed_path, resolved.report_path,
            resolved.project_metadata_path) == (
        Path("/x/group.toml"), Path("/x/analyzed.toml"), Path("/x/report.toml"),
        Path("/x/project-metadata.toml"))


def test_explicit_paths_are_not_moved_by_layers(tmp_path: Path) -> None:
    resolved = export(tmp_path, "-report", "/r.toml", "-layers", "/x")
    assert resolved.report_path == Path("/r.toml")


@pytest.mark.parametrize(("env", "expected"), [
    ({}, "/layers/report.toml"),
    ({"CNB_LAYERS_DIR": "/l"}, "/l/report.toml"),
    ({"CNB_LAYERS_DIR": "rel"}, "{cwd}/rel/report.toml"),
])
def test_rebaser_report_follows_layers_variable(tmp_path: Path, env: dict[str, str],
                                                expected: str) -> None:
    assert rebase(tmp_path, env=env).report_path == Path(expected.format(cwd=tmp_path))


def test_relative_paths_are_made_absolute_against_cwd(tmp_path: Path) -> None:
    resolved = export(tmp_path, "-layers", "l", "-app", "./a/../b", "-cache-dir", "c",
                      "-daemon", "-launch-cache", "lc", "-launcher", "bin/launcher",
                      "-stack", "s.toml")
    assert (resolved.layers_dir, resolved.app_dir, resolved.cache_dir,
            resolved.launch_cache_dir, resolved.launcher_path, resolved.stack_path,
            resolved.report_path) == (
        tmp_path / "l", tmp_path / "b", tmp_path / "c", tmp_path / "lc",
        tmp_path / "bin" / "launcher", tmp_path / "s.toml", tmp_path / "l" / "report.toml")
    layout = rebase(tmp_path, "-layout", "-layout-dir", "oci")
    assert layout.target.layout_dir == tmp_path / "oci"


def test_images_keep_their_names_and_order(tmp_path: Path) -> None:
    names = ["reg.example/app:1", "reg.example/app:latest", "reg.example/other@sha256:" + "a" * 64]
    for resolve in PHASES.values():
        resolved = resolve(names, {}, tmp_path)
        assert resolved.image_names == tuple(names)
        assert resolved.images == tuple(parse_reference(name) for name in names)


@pytest.mark.parametrize(("level", "stored"), [
    ("debug", "debug"), ("info", "info"), ("warn", "warn"), ("warning", "warn"),
    ("error", "error"), ("DEBUG", "debug"),
])
def test_log_levels(tmp_path: Path, level: str, stored: str) -> None:
    assert export(tmp_path, "-log-level", level).log.level == stored


@pytest.mark.parametrize("api", SUPPORTED_PLATFORM_APIS)
def test_supported_platform_apis(tmp_path: Path, api: str) -> None:
    assert export(tmp_path, env={"CNB_PLATFORM_API": api}).platform_api == api


# -- warnings ----------------------------------------------------------------------------------

@pytest.mark.parametrize(("argv", "env", "warnings"), [
    ([], {}, ()),   # no cache flag: the exporter warns once the inputs proved valid
    (["-cache-dir", "/c"], {}, ()),
    (["-layout-dir", "/l", "-cache-dir", "/c"], {},
     ("Ignoring -layout-dir: it is used only with -layout; images are read from and written "
      "to the registry",)),
    (["-daemon", "-cache-dir", "/c"], {"CNB_LAYOUT_DIR": "/l"},
     ("Ignoring CNB_LAYOUT_DIR: it is used only with -layout; images are read from and "
      "written to the Docker daemon",)),
    (["-layout", "-layout-dir", "/l", "-cache-dir", "/c"], {}, ()),
    (["-cache-image", "reg.example/cache"], {}, ()),
    ([], {"CNB_CACHE_DIR": "/c"}, ()),
    (["-launch-cache", "/lc", "-cache-dir", "/c"], {}, (LAUNCH_CACHE_WARNING,)),
    (["-cache-dir", "/c"], {"CNB_LAUNCH_CACHE_DIR": "/lc"}, (LAUNCH_CACHE_WARNING,)),
    (["-daemon", "-launch-cache", "/lc", "-cache-dir", "/c"], {}, ()),
    (["-cache-dir", "/c"], {"SOURCE_DATE_EPOCH": "soon", "CNB_PLATFORM_API": "0.9"},
     ("Ignoring invalid SOURCE_DATE_EPOCH",)),
    (["-cache-dir", "/c"], {"SOURCE_DATE_EPOCH": "1700000000", "CNB_PLATFORM_API": "0.8"},
     ("Ignoring SOURCE_DATE_EPOCH: platform API 0.8 does not define it (0.9 and later do)",)),
])
def test_exporter_warnings(tmp_path: Path, argv: list[str], env: dict[str, str],
                           warnings: tuple[str, ...]) -> None:
    assert export(tmp_path, *argv, env=env).warnings == warnings


def test_launch_cache_without_daemon_is_ignored(tmp_path: Path) -> None:
    assert export(tmp_path, "-launch-cache", "/lc").launch_cache_dir is None


@pytest.mark.parametrize("phase", PHASES)
def test_flag_like_positionals_are_warned_about(tmp_path: Path, phase: str) -> None:
    # On Docker Hub, as "-daemon" is, so that the registry check does not fail first.
    resolved = PHASES[phase](["myorg/app", "-daemon"], {"CNB_CACHE_DIR": "/c"}, tmp_path)
    assert resolved.target.daemon is False
    assert resolved.warnings == (
        "unconsumed flag-like positional arg: -daemon (flags must come before the first image "
        "argument; it is treated as an image name)",)


@pytest.mark.parametrize(("epoch", "created"), [
    ("0", "1970-01-01T00:00:00Z"),
    ("+1700000000", "2023-11-14T22:13:20Z"),
    ("-1", "1969-12-31T23:59:59Z"),
    ("", NORMALIZED_TIME),
    ("1.5", NORMALIZED_TIME),
    (" 1", NORMALIZED_TIME),
    ("99999999999999999999", NORMALIZED_TIME),
])
def test_source_date_epoch(tmp_path: Path, epoch: str, created: str) -> None:
    env = {"SOURCE_DATE_EPOCH": epoch, "CNB_PLATFORM_API": "0.9"}
    assert export(tmp_path, env=env).created == created


# -- invalid inputs ----------------------------------------------------------------------------

InvalidCase = tuple[list[str], dict[str, str], str]
SHARED_ERRORS: list[InvalidCase] = [
    ([], {}, "failed to parse arguments: at least one image argument is required"),
    (["-uid", "abc", IMAGE], {},
     'failed to parse arguments: invalid value "abc" for flag -uid: parse error'),
    (["-daemon=maybe", IMAGE], {},
     'failed to parse arguments: invalid boolean value "maybe" for -daemon: parse error'),
    ([IMAGE], {"CNB_USE_DAEMON": "yes"},
     'failed to parse CNB_USE_DAEMON: invalid boolean value "yes"'),
    ([IMAGE], {"CNB_USE_LAYOUT": "on"},
     'failed to parse CNB_USE_LAYOUT: invalid boolean value "on"'),
    ([IMAGE], {"CNB_NO_COLOR": "no"}, 'failed to parse CNB_NO_COLOR: invalid boolean value "no"'),
    ([IMAGE], {"CNB_GROUP_ID": "staff"},
     'failed to parse CNB_GROUP_ID: invalid integer value "staff"'),
    (["-uid", "-1", IMAGE], {}, "failed to parse -uid: -1 is negative"),
    ([IMAGE], {"CNB_GROUP_ID": "-2"}, "failed to parse CNB_GROUP_ID: -2 is negative"),
    (["Reg.example/App"], {},
     "failed to parse image argument: could not parse reference: Reg.example/App"),
    ([IMAGE, "reg.example/ok", "bad name"], {},
     "failed to parse image argument: could not parse reference: bad name"),
    (["-run-image", "Bad", IMAGE], {},
     "failed to parse -run-image: could not parse reference: Bad"),
    ([IMAGE], {"CNB_RUN_IMAGE": "Bad"},
     "failed to parse CNB_RUN_IMAGE: could not parse reference: Bad"),
    (["-previous-image", "a@b", IMAGE], {"CNB_PLATFORM_API": "0.11"},
     "failed to parse -previous-image: could not parse reference: a@b"),
    ([IMAGE, "other.example/app"], {},
     "failed to parse arguments: exporting to multiple registries is unsupported: "
     "'reg.example/app' on reg.example, 'other.example/app' on other.example"),
    (["reg.example/app", "docker.io/library/app"], {},
     "failed to parse arguments: exporting to multiple registries is unsupported: "
     "'reg.example/app' on reg.example, 'docker.io/library/app' on index.docker.io"),
    (["-run-image", "a.example/run", "-image", "b.example/run", IMAGE], {},
     "failed to parse arguments: supply only one of -run-image or (deprecated) -image"),
    (["-runImage", "a.example/run", "-run-image", "b.example/run", IMAGE], {},
     "failed to parse arguments: supply only one of -run-image or (deprecated) -image"),
    (["-daemon", "-layout", "-layout-dir", "/oci", IMAGE], {},
     "failed to parse arguments: supply only one of -daemon or -layout"),
    (["-layout", IMAGE], {},
     "failed to parse arguments: -layout-dir is required when -layout is set"),
    (["-layout", IMAGE], {"CNB_LAYOUT_DIR": ""},
     "failed to parse arguments: -layout-dir is required when -layout is set"),
    (["-log-level", "verbose", IMAGE], {},
     "failed to parse log level: 'verbose' is not one of debug, info, warn, warning, error"),
    ([IMAGE], {"CNB_LOG_LEVEL": "trace"},
     "failed to parse log level: 'trace' is not one of debug, info, warn, warning, error"),
    (["-log-format", "xml", IMAGE], {},
     "failed to parse log format: 'xml' is not one of console, json"),
]
EXPORTER_ERRORS: list[InvalidCase] = [
    (["-mirrors", "/a.toml", "-stack", "/b.toml", IMAGE], {},
     "failed to parse arguments: supply only one of -mirrors or -stack"),
    (["-cache-image", "Bad", IMAGE], {},
     "failed to parse -cache-image: could not parse reference: Bad"),
]


@pytest.mark.parametrize(("argv", "env", "message"), SHARED_ERRORS + EXPORTER_ERRORS)
def test_exporter_invalid_inputs(tmp_path: Path, argv: list[str], env: dict[str, str],
                                 message: str) -> None:
    assert failure(resolve_exporter_inputs, argv, env, tmp_path) == message


@pytest.mark.parametrize(("argv", "env", "message"), SHARED_ERRORS)
def test_rebaser_invalid_inputs(tmp_path: Path, argv: list[str], env: dict[str, str],
                                message: str) -> None:
    assert failure(resolve_rebaser_inputs, argv, env, tmp_path) == message


@pytest.mark.parametrize("phase", PHASES)
@pytest.mark.parametrize("argv", [
    ["-run-image", "a.example/run", "-image", "a.example/run"],
    ["-runImage", "a.example/run", "-run-image", "a.example/run", "-image", "a.example/run"],
    ["-run-image", "b.example/run", "-run-image", "a.example/run"],  # one spelling: last wins
])
def test_run_image_spellings_may_agree(tmp_path: Path, phase: str, argv: list[str]) -> None:
    assert PHASES[phase]([*argv, IMAGE], {}, tmp_path).run_image == "a.example/run"


@pytest.mark.parametrize("phase", PHASES)
def test_deprecated_image_flag_beats_variable(tmp_path: Path, phase: str) -> None:
    resolved = PHASES[phase](["-image", "flag.example/run", IMAGE],
                             {"CNB_RUN_IMAGE": "env.example/run"}, tmp_path)
    assert resolved.run_image == "flag.example/run"


@pytest.mark.parametrize("phase", PHASES)
@pytest.mark.parametrize("target", [["-daemon"], ["-layout", "-layout-dir", "/oci"]])
def test_multiple_registries_are_fine_without_a_registry(tmp_path: Path, phase: str,
                                                         target: list[str]) -> None:
    resolved = PHASES[phase]([*target, IMAGE, "other.example/app"], {}, tmp_path)
    assert len(resolved.images) == 2


@pytest.mark.parametrize("phase", PHASES)
@pytest.mark.parametrize("api", ["0.2", "0.16", "1.0", "0.12.0", " 0.12"])
def test_unsupported_platform_api_exits_11(tmp_path: Path, phase: str, api: str) -> None:
    # Checked before the arguments: no image given, yet the platform API is what is reported.
    message = failure(PHASES[phase], [], {"CNB_PLATFORM_API": api}, tmp_path,
                      ExitCode.INCOMPATIBLE_PLATFORM_API)
    assert message == (f"failed to set platform API: platform API version '{api}' is "
                       "incompatible with the lifecycle")


@pytest.mark.parametrize("phase", PHASES)
def test_empty_platform_api_means_the_default(tmp_path: Path, phase: str) -> None:
    resolved = PHASES[phase]([IMAGE], {"CNB_PLATFORM_API": ""}, tmp_path)
    assert resolved.platform_api == DEFAULT_PLATFORM_API


# -- early exits -------------------------------------------------------------------------------

@pytest.mark.parametrize("phase", PHASES)
@pytest.mark.parametrize("argv", [["-version"], ["--version"], ["-version=true", IMAGE],
                                  ["-daemon", "-version"]])
def test_version(phase: str, argv: list[str]) -> None:
    exit_ = early_exit(PHASES[phase], argv)
    assert (exit_.code, exit_.output, exit_.to_stderr) == (0, f"{__version__}\n", False)


@pytest.mark.parametrize("phase", PHASES)
def test_version_comes_before_input_checks(tmp_path: Path, phase: str) -> None:
    with pytest.raises(EarlyExit):
        PHASES[phase](["-version"], {"CNB_PLATFORM_API": "9.9"}, tmp_path)


@pytest.mark.parametrize("phase", PHASES)
@pytest.mark.parametrize("argv", [["-h"], ["-help"], ["--help"]])
def test_help(phase: str, argv: list[str]) -> None:
    exit_ = early_exit(PHASES[phase], argv)
    assert (exit_.code, exit_.to_stderr) == (0, True)
    assert exit_.output.startswith(f"Usage: {phase} [flags] <image> [<additional-tag>...]\n")


@pytest.mark.parametrize(("phase", "argv", "first_line"), [
    ("exporter", ["-force", IMAGE], "flag provided but not defined: -force"),
    ("rebaser", ["-layers", "/l", IMAGE], "flag provided but not defined: -layers"),
    ("rebaser", ["-helpers", IMAGE], "flag provided but not defined: -helpers"),
    ("exporter", ["-report"], "flag needs an argument: -report"),
])
def test_flag_syntax_errors_exit_2(phase: str, argv: list[str], first_line: str) -> None:
    exit_ = early_exit(PHASES[phase], argv)
    assert (exit_.code, exit_.to_stderr) == (ExitCode.FLAG_PARSE, True)
    assert exit_.output.split("\n", 1)[0] == first_line
    assert "Usage: " in exit_.output


@pytest.mark.parametrize("flag_set", [EXPORTER_FLAGS, REBASER_FLAGS], ids=["exporter", "rebaser"])
def test_usage_names_every_spelling_and_variable(flag_set: FlagSet) -> None:
    usage = flag_set.usage()
    for flag in flag_set.flags.values():
        assert all(f"-{name}" in usage for name in flag.names)
        assert all(f"${variable}" in usage for variable in flag.env)


def test_pack_0_12_daemon_invocation(tmp_path: Path) -> None:
    """The exact command pack 0.12 runs (contract §1), with the variables it sets."""
    argv = ["-daemon", "-launch-cache", "/launch-cache", "-run-image", "cnbs/run:bionic",
            "-cache-dir", "/cache", "-layers", "/layers", "-stack", "/layers/stack.toml",
            "-app", "/workspace", "-log-level", "debug", "-process-type", "web", "my-app"]
    resolved = resolve_exporter_inputs(argv, {"CNB_USER_ID": "1000", "CNB_GROUP_ID": "1000"},
                                       tmp_path)
    default = export(tmp_path)
    expected = replace(
        default,
        shared=replace(default.shared, images=(parse_reference("my-app"),),
                       image_names=("my-app",), run_image="cnbs/run:bionic",
                       run_image_origin="-run-image", uid=1000,
                       gid=1000, target=Target(daemon=True), log=LogSettings(level="debug"),
                       warnings=()),
        stack_path=Path("/layers/stack.toml"),
        process_type="web", cache_dir=Path("/cache"), launch_cache_dir=Path("/launch-cache"))
    assert resolved == expected


def test_platform_must_be_os_arch_variant(tmp_path: Path) -> None:
    with pytest.raises(LifecycleError) as error:
        export(tmp_path, "-platform", "linux")
    assert error.value.code == ExitCode.INVALID_ARGS
    assert "parse -platform" in str(error.value.message)
    assert "'linux' is not a platform of the form os/arch[/variant]" in error.value.message


def test_index_is_refused_with_the_daemon(tmp_path: Path) -> None:
    with pytest.raises(LifecycleError) as error:
        export(tmp_path, "-daemon", "-index")
    assert error.value.code == ExitCode.INVALID_ARGS
    assert "-index cannot be used with -daemon" in error.value.message
