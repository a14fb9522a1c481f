"""The Go ``flag``-compatible parser: syntax, precedence, typed values and their errors."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lifecycle.platform.exits import ExitCode, LifecycleError
from lifecycle.platform.flags import (
    FlagSet,
    Occurrence,
    ParsedFlags,
    UsageExit,
    bool_flag,
    int_flag,
    parse_go_bool,
    parse_go_int,
    string_flag,
    string_list_flag,
)

FLAGS = FlagSet("tool", "[flags] <image>", (
    string_flag(("run-image", "runImage", "image"), "run image", "CNB_RUN_IMAGE"),
    string_flag("layers", "layers directory", "CNB_LAYERS_DIR", default="/layers"),
    string_flag(("stack", "mirrors"), "stack file", ("CNB_MIRRORS_PATH", "CNB_STACK_PATH"),
                default_text="/cnb/stack.toml"),
    bool_flag("daemon", "use the daemon", "CNB_USE_DAEMON"),
    int_flag("uid", "user ID", "CNB_USER_ID"),
    string_list_flag("insecure-registry", "plain HTTP registry", "CNB_INSECURE_REGISTRIES"),
))

# Text that hypothesis may use as a flag value or variable: anything but NUL, which no argv
# or environment can carry.
VALUES = st.text(st.characters(blacklist_characters="\x00"), max_size=20)


def parse(*argv: str, env: dict[str, str] | None = None) -> ParsedFlags:
    return FLAGS.parse(argv, env or {})


def usage_exit(*argv: str) -> UsageExit:
    with pytest.raises(UsageExit) as caught:
        parse(*argv)
    return caught.value


def invalid(action: Callable[[], object]) -> str:
    """Run ``action`` expecting an invalid-argument error (exit 3); returns its message."""
    with pytest.raises(LifecycleError) as caught:
        action()
    assert caught.value.code == ExitCode.INVALID_ARGS
    return caught.value.message


def read_daemon(flags: ParsedFlags) -> object:
    return flags.boolean("daemon")


def read_uid(flags: ParsedFlags) -> object:
    return flags.integer("uid")


# -- syntax ------------------------------------------------------------------------------------

@pytest.mark.parametrize("argv", [
    ["-layers", "/x"], ["-layers=/x"], ["--layers", "/x"], ["--layers=/x"],
])
def test_every_value_syntax(argv: list[str]) -> None:
    flags = parse(*argv, "img")
    assert flags.string("layers") == "/x"
    assert flags.positionals == ("img",)


@pytest.mark.parametrize(("argv", "daemon", "positionals"), [
    (["-daemon"], True, ()),
    (["--daemon"], True, ()),
    (["-daemon", "img"], True, ("img",)),            # a bool never consumes the next arg
    (["-daemon", "false"], True, ("false",)),
    (["-daemon=false"], False, ()),
    (["-daemon=true", "img"], True, ("img",)),
    ([], False, ()),
])
def test_bool_syntax(argv: list[str], daemon: bool, positionals: tuple[str, ...]) -> None:
    flags = parse(*argv)
    assert flags.boolean("daemon") is daemon
    assert flags.positionals == positionals


@pytest.mark.parametrize("text", ["1", "t", "T", "TRUE", "true", "True"])
def test_go_true_spellings(text: str) -> None:
    assert parse(f"-daemon={text}").boolean("daemon") is True
    assert parse(env={"CNB_USE_DAEMON": text}).boolean("daemon") is True


@pytest.mark.parametrize("text", ["0", "f", "F", "FALSE", "false", "False"])
def test_go_false_spellings(text: str) -> None:
    assert parse("-daemon=" + text).boolean("daemon") is False
    assert parse(env={"CNB_USE_DAEMON": text}).boolean("daemon") is False


@pytest.mark.parametrize(("argv", "layers", "positionals"), [
    (["img", "-layers", "/x"], "/layers", ("img", "-layers", "/x")),  # stops at a positional
    (["--", "-layers", "/x"], "/layers", ("-layers", "/x")),          # "--" is consumed
    (["-layers", "/x", "--", "--"], "/x", ("--",)),
    (["-", "img"], "/layers", ("-", "img")),                          # "-" is a positional
    (["-layers", "-daemon"], "-daemon", ()),                          # values may start with -
    (["-layers="], "", ()),                                           # explicit empty value
    (["-layers=a=b"], "a=b", ()),
])
def test_where_parsing_stops(argv: list[str], layers: str,
                             positionals: tuple[str, ...]) -> None:
    flags = parse(*argv)
    assert flags.string("layers") == layers
    assert flags.positionals == positionals


def test_later_value_of_one_spelling_wins() -> None:
    assert parse("-layers", "/a", "-layers", "/b").string("layers") == "/b"


# -- syntax errors (exit 2) and help (exit 0) --------------------------------------------------

@pytest.mark.parametrize(("argv", "message"), [
    (["-nope"], "flag provided but not defined: -nope"),
    (["--nope=1"], "flag provided but not defined: -nope"),
    (["-layers"], "flag needs an argument: -layers"),
    (["--uid"], "flag needs an argument: -uid"),
    (["---layers"], "bad flag syntax: ---layers"),
    (["-=x"], "bad flag syntax: -=x"),
])
def test_syntax_errors_exit_2_with_usage(argv: list[str], message: str) -> None:
    exit_ = usage_exit(*argv)
    assert exit_.code == ExitCode.FLAG_PARSE
    first, usage = exit_.output.split("\n", 1)
    assert first == message
    assert usage == FLAGS.usage()


@pytest.mark.parametrize("argv", [["-h"], ["-help"], ["--help"], ["--h"], ["-layers", "/x", "-h"]])
def test_help_exits_0_with_usage(argv: list[str]) -> None:
    exit_ = usage_exit(*argv)
    assert (exit_.code, exit_.output) == (0, FLAGS.usage())


def test_unknown_flag_after_a_positional_is_not_an_error() -> None:
    assert parse("img", "-nope").positionals == ("img", "-nope")


# -- typed values (exit 3) --------------------------------------------------------------------

@pytest.mark.parametrize(("argv", "message"), [
    (["-uid", "abc"], 'failed to parse arguments: invalid value "abc" for flag -uid: parse error'),
    (["-uid="], 'failed to parse arguments: invalid value "" for flag -uid: parse error'),
    (["-uid", "99999999999999999999"],
     'failed to parse arguments: invalid value "99999999999999999999" for flag -uid: '
     "value out of range"),
    (["-daemon=yes"],
     'failed to parse arguments: invalid boolean value "yes" for -daemon: parse error'),
    (["--daemon="], 'failed to parse arguments: invalid boolean value "" for -daemon: parse error'),
])
def test_invalid_typed_flag_values(argv: list[str], message: str) -> None:
    assert invalid(lambda: parse(*argv)) == message


@pytest.mark.parametrize(("env", "read", "message"), [
    ({"CNB_USE_DAEMON": "yes"}, read_daemon,
     'failed to parse CNB_USE_DAEMON: invalid boolean value "yes"'),
    ({"CNB_USE_DAEMON": " true"}, read_daemon,
     'failed to parse CNB_USE_DAEMON: invalid boolean value " true"'),
    ({"CNB_USER_ID": "abc"}, read_uid, 'failed to parse CNB_USER_ID: invalid integer value "abc"'),
    ({"CNB_USER_ID": "1e3"}, read_uid, 'failed to parse CNB_USER_ID: invalid integer value "1e3"'),
    ({"CNB_USER_ID": str(2**63)}, read_uid,
     f'failed to parse CNB_USER_ID: invalid integer value "{2**63}"'),
])
def test_invalid_typed_variables_name_the_variable(
        env: dict[str, str], read: Callable[[ParsedFlags], object], message: str) -> None:
    flags = parse(env=env)  # variables are read, and checked, only when the value is wanted
    assert invalid(lambda: read(flags)) == message


def test_invalid_variable_does_not_matter_when_the_flag_is_given() -> None:
    flags = parse("-daemon=false", "-uid", "7", env={"CNB_USE_DAEMON": "yes",
                                                     "CNB_USER_ID": "abc"})
    assert (flags.boolean("daemon"), flags.integer("uid")) == (False, 7)


@pytest.mark.parametrize(("text", "value"), [
    ("0", 0), ("1000", 1000), ("+5", 5), ("-5", -5), ("1_000", 1000), ("0x3e8", 1000),
    ("0X3E8", 1000), ("0o17", 15), ("017", 15), ("0_17", 15), ("0b101", 5), ("00", 0),
    (str(2**63 - 1), 2**63 - 1), (str(-(2**63)), -(2**63)),
])
def test_go_integer_syntax(text: str, value: int) -> None:
    assert parse_go_int(text) == value
    assert parse("-uid", text).integer("uid") == value


@pytest.mark.parametrize("text", ["", " 5", "5 ", "08", "1__0", "_1", "1_", "0x", "1.0", "five",
                                  "--5", "0b2"])
def test_go_integer_syntax_errors(text: str) -> None:
    with pytest.raises(ValueError):
        parse_go_int(text)


@pytest.mark.parametrize("text", [str(2**63), str(-(2**63) - 1)])
def test_go_integer_range(text: str) -> None:
    with pytest.raises(OverflowError):
        parse_go_int(text)


@pytest.mark.parametrize("text", ["yes", "no", "on", "", "tRUE", "2"])
def test_go_bool_errors(text: str) -> None:
    with pytest.raises(ValueError):
        parse_go_bool(text)


# -- precedence, aliases, lists ---------------------------------------------------------------

@pytest.mark.parametrize(("argv", "env", "expected", "origin"), [
    ([], {}, "/layers", "default"),
    ([], {"CNB_LAYERS_DIR": ""}, "/layers", "default"),             # empty counts as unset
    ([], {"CNB_LAYERS_DIR": "/env"}, "/env", "CNB_LAYERS_DIR"),
    (["-layers", "/flag"], {"CNB_LAYERS_DIR": "/env"}, "/flag", "-layers"),
    (["--layers="], {"CNB_LAYERS_DIR": "/env"}, "", "-layers"),      # explicit empty wins
])
def test_flag_beats_variable_beats_default(argv: list[str], env: dict[str, str], expected: str,
                                           origin: str) -> None:
    flags = parse(*argv, env=env)
    assert flags.string("layers") == expected
    assert flags.origin("layers") == origin


@pytest.mark.parametrize(("env", "expected"), [
    ({"CNB_MIRRORS_PATH": "/m", "CNB_STACK_PATH": "/s"}, "/m"),
    ({"CNB_MIRRORS_PATH": "", "CNB_STACK_PATH": "/s"}, "/s"),
    ({"CNB_STACK_PATH": "/s"}, "/s"),
    ({}, ""),
])
def test_variables_are_consulted_in_order(env: dict[str, str], expected: str) -> None:
    assert parse(env=env).string("stack") == expected


def test_given_reports_each_spelling_in_order() -> None:
    flags = parse("-runImage", "a", "--image=b", "-run-image", "c", "-daemon")
    assert flags.given("run-image") == (Occurrence("runImage", "a"), Occurrence("image", "b"),
                                        Occurrence("run-image", "c"))
    assert flags.given("daemon") == (Occurrence("daemon", True),)
    assert flags.given("layers") == ()
    assert flags.string("run-image") == "c"
    assert flags.origin("run-image") == "-run-image"


@pytest.mark.parametrize(("argv", "env", "expected"), [
    ([], {}, ()),
    ([], {"CNB_INSECURE_REGISTRIES": "a.io, b.io,,"}, ("a.io", "b.io")),
    (["-insecure-registry", "c.io", "-insecure-registry=a.io"], {"CNB_INSECURE_REGISTRIES": "a.io"},
     ("a.io", "c.io")),
    (["--insecure-registry", "c.io"], {}, ("c.io",)),
])
def test_list_flags_join_variable_and_flags(argv: list[str], env: dict[str, str],
                                            expected: tuple[str, ...]) -> None:
    assert parse(*argv, env=env).strings("insecure-registry") == expected


def test_getter_of_the_wrong_type_is_a_programming_error() -> None:
    with pytest.raises(TypeError):
        parse().boolean("layers")


def test_a_spelling_may_name_only_one_flag() -> None:
    with pytest.raises(ValueError, match="flag redefined: a"):
        FlagSet("tool", "", (bool_flag("a", ""), string_flag(("b", "a"), "")))


def test_usage_is_go_style_with_aliases_variables_and_defaults() -> None:
    assert FLAGS.usage() == (
        "Usage: tool [flags] <image>\n"
        "  -daemon\n"
        "    \tuse the daemon (env: $CNB_USE_DAEMON)\n"
        "  -insecure-registry value\n"
        "    \tplain HTTP registry (env: $CNB_INSECURE_REGISTRIES; repeatable)\n"
        "  -layers string\n"
        '    \tlayers directory (env: $CNB_LAYERS_DIR) (default "/layers")\n'
        "  -run-image string\n"
        "    \trun image (aliases: -runImage, -image; env: $CNB_RUN_IMAGE)\n"
        "  -stack string\n"
        "    \tstack file (aliases: -mirrors; env: $CNB_MIRRORS_PATH, then $CNB_STACK_PATH)"
        " (default /cnb/stack.toml)\n"
        "  -uid int\n"
        "    \tuser ID (env: $CNB_USER_ID)\n")


# -- properties --------------------------------------------------------------------------------

@given(value=VALUES, spelling=st.sampled_from(["run-image", "runImage", "image"]),
       dashes=st.sampled_from(["-", "--"]))
def test_equals_form_is_the_separate_form(value: str, spelling: str, dashes: str) -> None:
    joined = parse(f"{dashes}{spelling}={value}", "img")
    separate = parse(f"{dashes}{spelling}", value, "img")
    assert joined.string("run-image") == separate.string("run-image") == value
    assert joined.given("run-image") == separate.given("run-image")
    assert joined.positionals == separate.positionals == ("img",)


@given(flag_value=VALUES, env_value=VALUES)
def test_explicit_flag_beats_variable(flag_value: str, env_value: str) -> None:
    flags = parse("-run-image", flag_value, env={"CNB_RUN_IMAGE": env_value})
    assert flags.string("run-image") == flag_value


@given(env_value=VALUES)
def test_variable_is_used_when_set_and_non_empty(env_value: str) -> None:
    flags = parse(env={"CNB_RUN_IMAGE": env_value})
    assert flags.string("run-image") == env_value


@given(flag_value=st.booleans(), env_value=st.sampled_from(["1", "0", "true", "false"]))
def test_explicit_bool_beats_variable(flag_value: bool, env_value: str) -> None:
    flags = parse(f"-daemon={str(flag_value).lower()}", env={"CNB_USE_DAEMON": env_value})
    assert flags.boolean("daemon") is flag_value


@given(number=st.integers(min_value=-(2**63), max_value=2**63 - 1),
       render=st.sampled_from([str, hex, oct, bin]))
def test_integers_round_trip_in_every_base(number: int, render: Callable[[int], str]) -> None:
    assert parse("-uid", render(number)).integer("uid") == number


@given(positionals=st.lists(VALUES.filter(lambda arg: not arg.startswith("-")), min_size=1))
def test_everything_from_the_first_positional_on_is_positional(positionals: list[str]) -> None:
    assert parse("-daemon", *positionals, "-daemon").positionals == (*positionals, "-daemon")
