"""Run-image mirror selection: registry match first, then any readable, else nothing."""

from __future__ import annotations

import pytest

from lifecycle.backends.base import Access
from lifecycle.reference import Reference
from lifecycle.runimage import select_run_image

ERA_A_TABLE = ["first.com/org/repo", "myorg/myrepo", "zonal.gcr.io/org/repo", "gcr.io/org/repo"]


def everything_readable(_: Reference) -> Access:
    return Access(True, "readable")


@pytest.mark.parametrize(("registry", "expected"), [
    ("index.docker.io", "myorg/myrepo"),
    ("gcr.io", "gcr.io/org/repo"),
    ("zonal.gcr.io", "zonal.gcr.io/org/repo"),
    ("missingzone.gcr.io", "first.com/org/repo"),
    ("first.com", "first.com/org/repo"),
])
def test_lifecycle_table(registry: str, expected: str) -> None:
    choice = select_run_image(ERA_A_TABLE, registry, everything_readable)
    assert choice.image == expected


def test_unparsable_candidate_is_skipped() -> None:
    choice = select_run_image(["as@ohd@as@op", "gcr.io/myorg/myrepo"], "gcr.io",
                              everything_readable)
    assert choice.image == "gcr.io/myorg/myrepo"
    assert choice.candidates[0].access == Access(False, "not a valid image reference")


def test_unreadable_mirror_on_target_falls_back_to_first_readable() -> None:
    def check(ref: Reference) -> Access:
        return Access(ref.registry != "gcr.io", "access denied" if ref.registry == "gcr.io"
                      else "readable")

    choice = select_run_image(["example.com/run", "gcr.io/run"], "gcr.io", check)
    assert choice.image == "example.com/run"
    assert "first readable candidate on any registry" in choice.reason
    assert [c.on_target for c in choice.candidates] == [False, True]


def test_second_mirror_on_target_wins_when_first_is_unreadable() -> None:
    def check(ref: Reference) -> Access:
        return Access(ref.repository != "bad", "readable" if ref.repository != "bad" else "404")

    choice = select_run_image(["other.io/run", "reg.io/bad", "reg.io/good"], "reg.io", check)
    assert choice.image == "reg.io/good"


def test_nothing_readable_lists_every_rejection() -> None:
    choice = select_run_image(["a.io/run", "b.io/run"], "a.io",
                              lambda ref: Access(False, f"denied by {ref.registry}"))
    assert choice.image is None
    assert choice.rejections() == "a.io/run: denied by a.io; b.io/run: denied by b.io"


def test_access_checked_once_per_candidate_and_only_as_needed() -> None:
    checked: list[str] = []

    def check(ref: Reference) -> Access:
        checked.append(ref.registry)
        return Access(True, "readable")

    choice = select_run_image(["a.io/run", "b.io/run", "c.io/run"], "b.io", check)
    assert choice.image == "b.io/run"
    assert checked == ["b.io"]
    assert "not checked" in "\n".join(choice.explanation())
