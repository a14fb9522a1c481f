"""Reading TOML with errors that name the file and the key (exit 3), never a silent default."""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from lifecycle.platform.exits import LifecycleError, invalid_args


def read_toml(path: Path, what: str) -> dict[str, Any] | None:
    """Parse a TOML file; ``None`` if it does not exist, exit 3 if it is malformed."""
    try:
        with path.open("rb") as stream:
            return tomllib.load(stream)
    except FileNotFoundError:
        return None
    except IsADirectoryError:
        raise invalid_args(f"read {what} '{path}'", "is a directory") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
        raise invalid_args(f"read {what} '{path}'", err) from None
    except OSError as err:
        raise invalid_args(f"read {what} '{path}'", err.strerror) from None


class Fields:
    """Typed access to one TOML table, with errors that name the file and key."""

    def __init__(self, table: Mapping[str, Any], path: Path, what: str, prefix: str = "") -> None:
        self.table, self.path, self.what, self.prefix = table, path, what, prefix

    def fail(self, key: str, expected: str) -> LifecycleError:
        return invalid_args(f"read {self.what} '{self.path}'",
                            f"'{self.prefix}{key}' must be {expected}")

    def string(self, key: str, default: str = "") -> str:
        value = self.table.get(key, default)
        if not isinstance(value, str):
            raise self.fail(key, "a string")
        return value

    def boolean(self, key: str) -> bool:
        value = self.table.get(key, False)
        if not isinstance(value, bool):
            raise self.fail(key, "a boolean")
        return value

    def strings(self, key: str) -> tuple[str, ...]:
        value = self.table.get(key, [])
        if isinstance(value, str):
            return (value,)
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise self.fail(key, "an array of strings")
        return tuple(value)

    def table_of(self, key: str) -> dict[str, Any] | None:
        value = self.table.get(key)
        if value is not None and not isinstance(value, dict):
            raise self.fail(key, "a table")
        return value

    def sub(self, key: str) -> Fields | None:
        """The table ``key`` as fields of its own (errors name ``key.<name>``), if present."""
        table = self.table_of(key)
        return None if table is None else Fields(table, self.path, self.what,
                                                 f"{self.prefix}{key}.")

    def tables(self, key: str) -> list[Fields]:
        value = self.table.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
            raise self.fail(key, "an array of tables")
        return [Fields(v, self.path, self.what, f"{self.prefix}{key}[{i}].")
                for i, v in enumerate(value)]
