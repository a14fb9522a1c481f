"""Records behave as the frozen dataclasses they replace: construction, defaults, equality,
hashing, immutability, ordering, repr and ``replace``."""

from __future__ import annotations

import pytest

from lifecycle.record import FrozenError, field, fields, record, replace


@record
class Point:
    """A frozen record with a default and a field left out of comparisons."""

    x: int
    y: int = 0
    tags: dict[str, str] = field(default_factory=dict, compare=False, repr=False)


@record(frozen=False)
class Counter:
    """A mutable record."""

    count: int = 0


@record(order=True)
class Version:
    """An ordered record."""

    major: int
    minor: int


@record(eq=False)
class Handle:
    """A record compared by identity."""

    name: str


@record
class Checked:
    """A record whose ``__post_init__`` refuses bad values."""

    size: int

    def __post_init__(self) -> None:
        if self.size < 0:
            raise ValueError("negative size")


@record
class Described:
    """A record that keeps its own ``__repr__`` and ``__eq__``."""

    name: str

    def __repr__(self) -> str:
        return f"<{self.name}>"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Described) and other.name.lower() == self.name.lower()

    def __hash__(self) -> int:
        return hash(self.name.lower())


def test_fields_are_taken_by_position_or_name_with_defaults_and_factories() -> None:
    assert (Point(1).x, Point(1).y, Point(1).tags) == (1, 0, {})
    assert Point(1, 2) == Point(y=2, x=1)
    assert Point(1).tags is not Point(1).tags  # a new dict each time


@pytest.mark.parametrize("make, words", [
    (lambda: Point(), "missing required argument 'x'"),  # type: ignore[call-arg]
    (lambda: Point(1, 2, {}, 4), "takes 3 positional arguments but 4 were given"),  # type: ignore[call-arg]
    (lambda: Point(1, x=2), "multiple values for argument 'x'"),  # type: ignore[misc]
    (lambda: Point(1, z=2), "unexpected keyword arguments 'z'"),  # type: ignore[call-arg]
])
def test_a_wrong_call_is_a_type_error_that_names_the_argument(make: object, words: str) -> None:
    with pytest.raises(TypeError, match=words):
        make()  # type: ignore[operator]


def test_equality_and_hash_use_the_compared_fields_of_the_same_class() -> None:
    assert Point(1, 2, {"a": "b"}) == Point(1, 2)
    assert hash(Point(1, 2, {"a": "b"})) == hash(Point(1, 2))
    assert Point(1, 2) != Point(2, 1)
    assert Point(1) != Version(1, 0)  # type: ignore[comparison-overlap]
    assert {Point(1): "one"}[Point(1)] == "one"


def test_a_frozen_record_refuses_to_change() -> None:
    point = Point(1)
    with pytest.raises(FrozenError, match="cannot assign to field 'x' of Point"):
        point.x = 2  # type: ignore[misc]
    with pytest.raises(AttributeError, match="cannot delete field 'x'"):
        del point.x


def test_a_mutable_record_changes_and_is_not_hashable() -> None:
    counter = Counter()
    counter.count += 1
    assert counter == Counter(1)
    with pytest.raises(TypeError, match="unhashable"):
        hash(counter)


def test_an_ordered_record_compares_field_by_field() -> None:
    assert sorted([Version(0, 15), Version(0, 3), Version(1, 0)]) == [
        Version(0, 3), Version(0, 15), Version(1, 0)]
    assert Version(0, 3) <= Version(0, 3) < Version(0, 4)
    assert max(Version(0, 12), Version(0, 9)) == Version(0, 12)


def test_eq_false_keeps_identity() -> None:
    handle = Handle("a")
    assert handle == handle
    assert handle != Handle("a")
    assert len({handle, Handle("a")}) == 2


def test_repr_shows_the_repr_fields() -> None:
    assert repr(Point(1, 2, {"a": "b"})) == "Point(x=1, y=2)"
    assert repr(Described("x")) == "<x>"


def test_methods_a_class_defines_itself_are_kept() -> None:
    assert Described("Web") == Described("web")
    assert hash(Described("Web")) == hash(Described("web"))


def test_post_init_runs_on_construction_and_on_replace() -> None:
    assert Checked(1).size == 1
    with pytest.raises(ValueError, match="negative"):
        Checked(-1)
    with pytest.raises(ValueError, match="negative"):
        replace(Checked(1), size=-1)


def test_replace_copies_with_changes() -> None:
    point = Point(1, 2, {"a": "b"})
    moved = replace(point, y=5)
    assert (moved.x, moved.y, moved.tags) == (1, 5, {"a": "b"})
    assert point.y == 2
    with pytest.raises(TypeError, match="unexpected keyword arguments 'z'"):
        replace(point, z=1)


def test_fields_and_match_args_are_in_declaration_order() -> None:
    assert [item.name for item in fields(Point)] == ["x", "y", "tags"]
    assert [item.name for item in fields(Point(1))] == ["x", "y", "tags"]
    match Version(0, 12):
        case Version(0, minor):
            assert minor == 12
        case _:
            pytest.fail("no match")


def test_a_field_without_a_default_may_not_follow_one_with_a_default() -> None:
    with pytest.raises(TypeError, match="field 'b' without a default follows 'a'"):
        @record
        class Wrong:
            """Not a valid record."""

            a: int = 0
            b: int  # type: ignore[misc]


def test_a_subclass_record_adds_fields_after_its_base() -> None:
    @record
    class Located(Point):
        """A point with a name."""

        name: str = ""

    located = Located(1, 2, name="here")
    assert [item.name for item in fields(Located)] == ["x", "y", "tags", "name"]
    assert (located.x, located.y, located.name) == (1, 2, "here")
    assert located != Point(1, 2)
