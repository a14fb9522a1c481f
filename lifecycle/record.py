"""Immutable value classes that cost a class statement, not a code generator.

``@record`` makes a class of annotated fields into a value type as ``@dataclass(frozen=True)``
would: an ``__init__`` taking the fields in order (positionally or by name, defaults and
``field(default_factory=...)`` for the rest), ``__eq__`` and ``__hash__`` over the compared
fields, ``__repr__``, attributes that cannot be set or deleted, and ``replace()``.
``@record(frozen=False)`` leaves the attributes settable (and the instances unhashable);
``eq=False`` keeps identity comparison; ``order=True`` adds ``<``, ``<=``, ``>``, ``>=``.
A class defining one of these methods itself keeps its own, and ``__post_init__`` runs after
``__init__`` as it does for a dataclass.

Why not ``dataclasses``: every phase starts in a new process, and a registry rebase is
mostly that start. ``dataclasses`` imports ``inspect`` (and ``ast``, ``dis``, ``tokenize``
with it), about 14 ms here, then writes and compiles the source of five or six methods for
each class, 0.4 to 1.9 ms a class; the classes a rebase imports took about 24 ms together.
Here each class gets the same few shared functions, which read the field names the class
keeps (``__record_fields__``), so making a class costs microseconds; an ``__init__`` call
costs a few tenths of a microsecond more than a dataclass's. mypy reads the decorator as a
dataclass transform and checks the constructors and the immutability as it does a
dataclass's.
"""

from __future__ import annotations

import operator
from collections.abc import Callable

from lifecycle.checking import TYPE_CHECKING, dataclass_transform, overload

if TYPE_CHECKING:
    from typing import Any, TypeVar

    _R = TypeVar("_R")

__all__ = ["Field", "FrozenError", "field", "fields", "record", "replace"]

_MISSING: Any = object()


class FrozenError(AttributeError):
    """An attribute of a frozen record was set or deleted."""


class Field:
    """One field of a record: its name, its default or default factory, and whether it
    takes part in comparisons and the repr."""

    __slots__ = ("compare", "default", "default_factory", "name", "repr")

    def __init__(self, default: Any = _MISSING, default_factory: Callable[[], Any] | None = None,
                 compare: bool = True, repr: bool = True) -> None:
        self.name = ""
        self.default = default
        self.default_factory = default_factory
        self.compare = compare
        self.repr = repr


def field(*, default: Any = _MISSING, default_factory: Callable[[], Any] | None = None,
          compare: bool = True, repr: bool = True) -> Any:
    """A field's options, written as the class attribute's value (as ``dataclasses.field``)."""
    return Field(default, default_factory, compare, repr)


def fields(record_or_class: Any) -> tuple[Field, ...]:
    """The fields of a record class (or of a record's class), in ``__init__`` order."""
    found: tuple[Field, ...] = record_or_class.__record_fields__
    return found


def replace(value: _R, /, **changes: Any) -> _R:
    """A copy of the record ``value`` with the named fields changed (through ``__init__``, so
    its checks run on the copy too)."""
    current = {item.name: getattr(value, item.name) for item in fields(value)}
    current.update(changes)
    return type(value)(**current)


@overload
def record(cls: type[_R], /) -> type[_R]: ...


@overload
def record(*, frozen: bool = True, eq: bool = True,
           order: bool = False) -> Callable[[type[_R]], type[_R]]: ...


@dataclass_transform(frozen_default=True, field_specifiers=(field, Field))
def record(cls: type[_R] | None = None, /, *, frozen: bool = True, eq: bool = True,
           order: bool = False) -> type[_R] | Callable[[type[_R]], type[_R]]:
    """Make ``cls`` a record (see the module docstring); ``@record`` or ``@record(...)``."""
    def make(cls: type[_R]) -> type[_R]:
        _make_record(cls, frozen, eq, order)
        return cls
    return make if cls is None else make(cls)


def _make_record(cls: type, frozen: bool, eq: bool, order: bool) -> None:
    inherited: dict[str, Field] = {}
    for base in reversed(cls.__mro__[1:]):
        for item in base.__dict__.get("__record_fields__", ()):
            inherited[item.name] = item
    # Every module of ours has ``from __future__ import annotations``, so a class body leaves
    # its annotations, as strings, in its own namespace (``inspect.get_annotations`` would
    # import inspect, the cost this module avoids).
    own = cls.__dict__.get("__annotations__", {})  # noqa: RUF063
    for name in own:
        value = cls.__dict__.get(name, _MISSING)
        item = value if isinstance(value, Field) else Field(default=value)
        item.name = name
        inherited[name] = item
        if isinstance(value, Field):
            if item.default is _MISSING:
                delattr(cls, name)
            else:
                setattr(cls, name, item.default)
    every = tuple(inherited.values())
    _check_default_order(cls, every)
    cls.__record_fields__ = every  # type: ignore[attr-defined]
    cls.__record_post_init__ = getattr(cls, "__post_init__", None)  # type: ignore[attr-defined]
    cls.__match_args__ = tuple(item.name for item in every)  # type: ignore[misc,attr-defined]
    compared = [item.name for item in every if item.compare]
    key: Callable[[Any], Any] = operator.attrgetter(*compared) if compared else _no_key
    methods: dict[str, Any] = {"__init__": _init, "__repr__": _repr}
    if eq:
        methods["__eq__"] = _comparison(key, operator.eq)
        if frozen:
            methods["__hash__"] = lambda self: hash(key(self))
    if order:
        for name, compare in (("__lt__", operator.lt), ("__le__", operator.le),
                              ("__gt__", operator.gt), ("__ge__", operator.ge)):
            methods[name] = _comparison(key, compare)
    if frozen:
        methods["__setattr__"] = _refuse_set
        methods["__delattr__"] = _refuse_delete
    defined = cls.__dict__
    # A class body that defines __eq__ gets __hash__ = None from Python itself; that is not
    # the class asking for unhashable instances.
    hash_is_own = "__hash__" in defined and not (defined["__hash__"] is None
                                                 and "__eq__" in defined)
    for name, method in methods.items():
        if (name == "__hash__" and hash_is_own) or (name != "__hash__" and name in defined):
            continue
        setattr(cls, name, method)
    if eq and not frozen and not hash_is_own:
        cls.__hash__ = None  # type: ignore[assignment]


def _check_default_order(cls: type, every: tuple[Field, ...]) -> None:
    seen_default = ""
    for item in every:
        if item.default is not _MISSING or item.default_factory is not None:
            seen_default = seen_default or item.name
        elif seen_default:
            raise TypeError(f"{cls.__name__}: field {item.name!r} without a default follows "
                            f"{seen_default!r}, which has one")


def _init(self: Any, *args: Any, **named: Any) -> None:
    every: tuple[Field, ...] = self.__record_fields__
    if not named and len(args) == len(every):  # every field given in order: the usual call
        # __match_args__ is the field names in order (set with __record_fields__)
        self.__dict__.update(zip(self.__match_args__, args, strict=True))
    else:
        _init_from(self, every, args, named)
    post_init = self.__record_post_init__
    if post_init is not None:
        post_init()


def _init_from(self: Any, every: tuple[Field, ...], args: tuple[Any, ...],
               named: dict[str, Any]) -> None:
    if len(args) > len(every):
        raise TypeError(f"{type(self).__name__}() takes {len(every)} positional arguments "
                        f"but {len(args)} were given")
    values = self.__dict__
    for item, value in zip(every, args, strict=False):
        if item.name in named:
            raise TypeError(f"{type(self).__name__}() got multiple values for argument "
                            f"{item.name!r}")
        values[item.name] = value
    for item in every[len(args):]:
        name = item.name
        if name in named:
            values[name] = named.pop(name)
        elif item.default is not _MISSING:
            values[name] = item.default
        elif item.default_factory is not None:
            values[name] = item.default_factory()
        else:
            raise TypeError(f"{type(self).__name__}() missing required argument {name!r}")
    if named:
        unknown = ", ".join(repr(name) for name in named)
        raise TypeError(f"{type(self).__name__}() got unexpected keyword arguments {unknown}")


def _repr(self: Any) -> str:
    shown = ", ".join(f"{item.name}={getattr(self, item.name)!r}"
                      for item in self.__record_fields__ if item.repr)
    return f"{type(self).__qualname__}({shown})"


def _no_key(_: Any) -> tuple[()]:
    return ()


def _comparison(key: Callable[[Any], Any],
                compare: Callable[[Any, Any], bool]) -> Callable[[Any, Any], Any]:
    def method(self: Any, other: Any) -> Any:
        if other.__class__ is not self.__class__:
            return NotImplemented
        return compare(key(self), key(other))
    return method


def _refuse_set(self: Any, name: str, value: Any) -> None:
    raise FrozenError(f"cannot assign to field {name!r} of {type(self).__name__}")


def _refuse_delete(self: Any, name: str) -> None:
    raise FrozenError(f"cannot delete field {name!r} of {type(self).__name__}")
