"""A command-line parser that accepts exactly what Go's ``flag`` package accepts.

Platforms (pack, kpack, Tekton) invoke the lifecycle with Go flag syntax, which argparse cannot
express: single-dash long names (``-daemon``), ``-name value`` and ``-name=value`` alike,
booleans that never consume the next argument, and parsing that stops at the first positional
argument. On top of Go's syntax each flag may have aliases and environment variables, resolved
with the lifecycle's precedence: explicit flag > environment variable (set and non-empty) >
built-in default, as the Go lifecycle resolves them. A flag may be bounded to the platform
API versions that define it; :meth:`FlagSet.for_api` gives one version's flags.

Syntax errors and ``-h`` end the run the way Go's ``ExitOnError`` does (:class:`UsageExit`,
exit 2 or 0, usage on stderr). A value that is well-formed syntax but not a valid ``int`` or
``bool`` is an invalid argument (:class:`LifecycleError`, exit 3), for flags and variables alike.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from enum import Enum

from lifecycle.platform.api import PlatformAPI, in_range
from lifecycle.platform.exits import ExitCode, invalid_args
from lifecycle.record import record, replace

FlagValue = str | bool | int

_HELP_NAMES = ("h", "help")
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1
# strconv.ParseInt(s, 0, 64): Go integer literal syntax, optional sign, "_" between digits.
# Compiled (and cached by re) when the first integer is parsed, not at every start.
_GO_INT = r"""
    (?P<sign>[+-]?)
    (?: 0[xX](?P<hex>_?[0-9a-fA-F](?:_?[0-9a-fA-F])*)
      | 0[bB](?P<bin>_?[01](?:_?[01])*)
      | 0[oO]?(?P<oct>_?[0-7](?:_?[0-7])*)
      | (?P<dec>[1-9](?:_?[0-9])*|0) )
    """
_GO_BOOLS = {"1": True, "t": True, "T": True, "TRUE": True, "true": True, "True": True,
             "0": False, "f": False, "F": False, "FALSE": False, "false": False, "False": False}


class FlagKind(Enum):
    """The Go flag type; the value is the type name Go's usage text shows."""

    STRING = "string"
    BOOL = ""
    INT = "int"
    STRING_LIST = "value"  # repeatable; Go shows custom flag.Value types as "value"


@record
class Flag:
    """One flag: every spelling, its type, where its default comes from, and its usage text."""

    names: tuple[str, ...]         # canonical name first, then aliases (without dashes)
    kind: FlagKind
    usage: str
    env: tuple[str, ...] = ()      # consulted in order; the first set and non-empty one wins
    default: str = ""              # STRING only; BOOL is False, INT 0, STRING_LIST empty
    default_text: str = ""         # shown instead of ``default`` when the caller computes it
    since: PlatformAPI | None = None   # the first platform API that defines the flag
    until: PlatformAPI | None = None   # the first platform API that no longer defines it
    env_everywhere: tuple[str, ...] = ()  # variables honoured even where the flag is undefined

    @property
    def name(self) -> str:
        return self.names[0]

    def defined_at(self, api: PlatformAPI) -> bool:
        return in_range(api, self.since, self.until)

    def bounded(self, since: PlatformAPI | None = None, until: PlatformAPI | None = None,
                env_everywhere: bool = False) -> Flag:
        """This flag, defined only from platform API ``since`` and before ``until``; with
        ``env_everywhere`` its variables are honoured at every version all the same."""
        return replace(self, since=since, until=until,
                       env_everywhere=self.env if env_everywhere else ())


def string_flag(names: str | tuple[str, ...], usage: str, env: str | tuple[str, ...] = (),
                default: str = "", default_text: str = "") -> Flag:
    return Flag(_as_tuple(names), FlagKind.STRING, usage, _as_tuple(env), default, default_text)


def bool_flag(names: str | tuple[str, ...], usage: str, env: str | tuple[str, ...] = ()) -> Flag:
    return Flag(_as_tuple(names), FlagKind.BOOL, usage, _as_tuple(env))


def int_flag(names: str | tuple[str, ...], usage: str, env: str | tuple[str, ...] = ()) -> Flag:
    return Flag(_as_tuple(names), FlagKind.INT, usage, _as_tuple(env))


def string_list_flag(names: str | tuple[str, ...], usage: str,
                     env: str | tuple[str, ...] = ()) -> Flag:
    """A repeatable flag; its variable is a comma-separated list, joined with the flags given."""
    return Flag(_as_tuple(names), FlagKind.STRING_LIST, usage, _as_tuple(env))


def _as_tuple(names: str | tuple[str, ...]) -> tuple[str, ...]:
    return (names,) if isinstance(names, str) else names


class UsageExit(Exception):
    """Go's ``flag.ExitOnError`` would print ``output`` to stderr and exit with ``code``.

    Code 0 for ``-h``/``-help``, 2 for a syntax error (unknown flag, missing value).
    """

    def __init__(self, code: int, output: str) -> None:
        super().__init__(output)
        self.code = code
        self.output = output


@record
class Occurrence:
    """A flag given explicitly on the command line, with the spelling that was used."""

    spelling: str      # as typed, without dashes: "runImage", "run-image" or "image"
    value: FlagValue


class FlagSet:
    """The flags of one command, and its usage text."""

    def __init__(self, program: str, synopsis: str, flags: Iterable[Flag],
                 undefined: Iterable[Flag] = ()) -> None:
        self.program = program
        self.synopsis = synopsis
        self.flags: dict[str, Flag] = {}
        self.undefined = {flag.name: flag for flag in undefined}  # at this platform API
        self._by_spelling: dict[str, Flag] = {}
        for flag in flags:
            self.flags[flag.name] = flag
            for spelling in flag.names:
                if spelling in self._by_spelling:
                    raise ValueError(f"flag redefined: {spelling}")
                self._by_spelling[spelling] = flag

    def for_api(self, api: PlatformAPI) -> FlagSet:
        """The flags a platform speaking ``api`` may give: any other one is undefined (exit 2),
        as the Go lifecycle defines its flags per platform API."""
        every = [*self.flags.values(), *self.undefined.values()]
        return FlagSet(self.program, self.synopsis,
                       (flag for flag in every if flag.defined_at(api)),
                       (flag for flag in every if not flag.defined_at(api)))

    def parse(self, argv: Sequence[str], environ: Mapping[str, str]) -> ParsedFlags:
        """Parse ``argv`` like Go's ``FlagSet.Parse``; variables are read only when asked for."""
        occurrences: dict[str, list[Occurrence]] = {}
        index = 0
        while index < len(argv):
            arg = argv[index]
            if len(arg) < 2 or arg[0] != "-":
                break                      # the first positional argument ends the flags
            index += 1
            if arg == "--":
                break                      # "--" ends the flags and is consumed
            name = arg[2:] if arg.startswith("--") else arg[1:]
            if not name or name[0] in "-=":
                raise self._syntax_error(f"bad flag syntax: {arg}")
            equals_at = name.find("=", 1)
            value: str | None = None
            if equals_at > 0:
                name, value = name[:equals_at], name[equals_at + 1:]
            flag = self._by_spelling.get(name)
            if flag is None:
                if name in _HELP_NAMES:
                    raise UsageExit(ExitCode.SUCCESS, self.usage())
                raise self._unknown_flag(name)
            if value is None and flag.kind is FlagKind.BOOL:
                value = "true"             # a bool never consumes the next argument
            elif value is None:
                if index == len(argv):
                    raise self._syntax_error(f"flag needs an argument: -{name}")
                value = argv[index]        # taken even if it starts with "-", as Go does
                index += 1
            occurrences.setdefault(flag.name, []).append(
                Occurrence(name, _flag_value(flag, name, value)))
        return ParsedFlags(self, occurrences, tuple(argv[index:]), environ)

    def usage(self) -> str:
        """Go's ``PrintDefaults`` layout, with each flag's aliases and variables added."""
        lines = [f"Usage: {self.program} {self.synopsis}".rstrip()]
        for name in sorted(self.flags):  # Go lists flags sorted by name
            flag = self.flags[name]
            lines.append(f"  -{name} {flag.kind.value}".rstrip())
            notes = []
            if len(flag.names) > 1:
                notes.append("aliases: " + ", ".join(f"-{alias}" for alias in flag.names[1:]))
            if flag.env:
                notes.append("env: " + ", then ".join(f"${var}" for var in flag.env))
            if flag.kind is FlagKind.STRING_LIST:
                notes.append("repeatable")
            text = flag.usage + (f" ({'; '.join(notes)})" if notes else "")
            if flag.default_text:
                text += f" (default {flag.default_text})"
            elif flag.default:
                text += f" (default {_go_quote(flag.default)})"
            lines.append(f"    \t{text}")
        return "\n".join(lines) + "\n"

    def _syntax_error(self, message: str) -> UsageExit:
        return UsageExit(ExitCode.FLAG_PARSE, f"{message}\n{self.usage()}")

    def _unknown_flag(self, name: str) -> UsageExit:
        """Go's error and usage; with a close defined spelling, the suggestion right after the
        error and once more below the usage, where a terminal leaves the eye."""
        import difflib  # only a mistyped flag needs it

        message = f"flag provided but not defined: -{name}"
        close = difflib.get_close_matches(name, self._by_spelling, n=1, cutoff=0.75)
        if not close:
            return self._syntax_error(message)
        hint = f"did you mean -{close[0]}?"
        return UsageExit(ExitCode.FLAG_PARSE,
                         f"{message}\n{hint}\n{self.usage()}{message} ({hint})\n")


class ParsedFlags:
    """Explicit flags and positional arguments; typed getters apply flag > env > default."""

    def __init__(self, flag_set: FlagSet, occurrences: Mapping[str, Sequence[Occurrence]],
                 positionals: tuple[str, ...], environ: Mapping[str, str]) -> None:
        self._flag_set = flag_set
        self._occurrences = occurrences
        self._environ = environ
        self.positionals = positionals

    def given(self, name: str) -> tuple[Occurrence, ...]:
        """Every explicit occurrence of the flag ``name`` (any spelling), in argv order."""
        self._flag(name, None)
        return tuple(self._occurrences.get(name, ()))

    def origin(self, name: str) -> str:
        """Where the value of ``name`` comes from, for messages: ``-spelling``, a variable, or
        ``default``."""
        flag = self._flag(name, None)
        occurrences = self._occurrences.get(name)
        if occurrences:
            return f"-{occurrences[-1].spelling}"
        env = self._env(flag)
        return env[0] if env else "default"

    def string(self, name: str) -> str:
        flag = self._flag(name, FlagKind.STRING)
        explicit = self._last(name)
        if explicit is not None:
            return str(explicit)
        env = self._env(flag)
        return env[1] if env else flag.default

    def boolean(self, name: str) -> bool:
        flag = self._flag(name, FlagKind.BOOL)
        explicit = self._last(name)
        if explicit is not None:
            return bool(explicit)
        env = self._env(flag)
        if env is None:
            return False
        variable, text = env
        try:
            return parse_go_bool(text)
        except ValueError as err:
            raise invalid_args(f"parse {variable}", err) from None

    def integer(self, name: str) -> int:
        flag = self._flag(name, FlagKind.INT)
        explicit = self._last(name)
        if explicit is not None:
            return int(explicit)
        env = self._env(flag)
        if env is None:
            return 0
        variable, text = env
        try:
            return parse_go_int(text)
        except (ValueError, OverflowError):
            raise invalid_args(f"parse {variable}",
                               f"invalid integer value {_go_quote(text)}") from None

    def strings(self, name: str) -> tuple[str, ...]:
        """A list flag: the variable's comma-separated items, then each explicit value."""
        flag = self._flag(name, FlagKind.STRING_LIST)
        env = self._env(flag)
        items = [item.strip() for item in env[1].split(",")] if env else []
        items += [str(occurrence.value) for occurrence in self._occurrences.get(name, ())]
        return tuple(dict.fromkeys(item for item in items if item))

    def _flag(self, name: str, kind: FlagKind | None) -> Flag:
        flag = self._flag_set.flags.get(name)
        if flag is None:
            # Not defined at this platform API: no flag can have been given, and its
            # variables are read only if they are honoured at every version.
            undefined = self._flag_set.undefined[name]
            flag = replace(undefined, env=undefined.env_everywhere, default="")
        if kind is not None and flag.kind is not kind:
            raise TypeError(f"flag -{name} is {flag.kind.name}, not {kind.name}")
        return flag

    def _last(self, name: str) -> FlagValue | None:
        occurrences = self._occurrences.get(name)
        return occurrences[-1].value if occurrences else None

    def _env(self, flag: Flag) -> tuple[str, str] | None:
        """The first of the flag's variables that is set and non-empty, with its value."""
        for variable in flag.env:
            value = self._environ.get(variable, "")
            if value:
                return variable, value
        return None


def parse_go_bool(text: str) -> bool:
    """Go's ``strconv.ParseBool``."""
    if text not in _GO_BOOLS:
        raise ValueError(f"invalid boolean value {_go_quote(text)}")
    return _GO_BOOLS[text]


def parse_go_int(text: str) -> int:
    """Go's ``strconv.ParseInt(text, 0, 64)``: decimal, 0x, 0o, 0b or legacy 0-prefixed octal."""
    match = re.fullmatch(_GO_INT, text, re.VERBOSE)
    if match is None:
        raise ValueError(f"invalid syntax: {text!r}")
    for group, base in (("hex", 16), ("bin", 2), ("oct", 8), ("dec", 10)):
        digits = match[group]
        if digits is not None:
            value = int(digits.replace("_", ""), base)
            break
    value = -value if match["sign"] == "-" else value
    if not _INT64_MIN <= value <= _INT64_MAX:
        raise OverflowError(f"value out of range: {text!r}")
    return value


def _flag_value(flag: Flag, spelling: str, text: str) -> FlagValue:
    """Convert an explicit value; the error texts are Go's ``flag`` package's."""
    if flag.kind is FlagKind.BOOL:
        try:
            return parse_go_bool(text)
        except ValueError:
            raise invalid_args("parse arguments", f"invalid boolean value {_go_quote(text)} "
                               f"for -{spelling}: parse error") from None
    if flag.kind is FlagKind.INT:
        try:
            return parse_go_int(text)
        except OverflowError:
            cause = "value out of range"
        except ValueError:
            cause = "parse error"
        raise invalid_args("parse arguments",
                           f"invalid value {_go_quote(text)} for flag -{spelling}: {cause}")
    return text


def _go_quote(text: str) -> str:
    """Close to Go's ``%q`` (a double-quoted, escaped string) for the texts flags carry."""
    return json.dumps(text, ensure_ascii=False)
