"""Property-based invariants (hypothesis) of the parts that take untrusted input: references,
flags, the tar writer and the lifecycle label."""

from __future__ import annotations

import io
import json
import os
import posixpath
import tarfile
import tempfile
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lifecycle import archive
from lifecycle.platform.api import PlatformAPI, features_for
from lifecycle.platform.exits import LifecycleError
from lifecycle.platform.exporter_inputs import EXPORTER_FLAGS
from lifecycle.platform.files import LifecycleLabel, labels_json
from lifecycle.platform.flags import UsageExit
from lifecycle.reference import ReferenceError, parse_reference

# -- references -------------------------------------------------------------------------------

COMPONENT = st.from_regex(r"[a-z0-9]+([._-][a-z0-9]+)*", fullmatch=True).filter(
    lambda c: len(c) <= 30)
REGISTRY = st.one_of(
    st.just(""),
    st.builds(lambda host, port: host + (f":{port}" if port else ""),
              st.from_regex(r"[a-z0-9]+(\.[a-z0-9]+)+", fullmatch=True).filter(
                  lambda h: len(h) <= 40),
              st.one_of(st.none(), st.integers(1, 65535))),
    st.just("localhost:5000"))
TAG = st.from_regex(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,30}", fullmatch=True)
DIGEST = st.from_regex(r"sha256:[0-9a-f]{64}", fullmatch=True)


@st.composite
def references(draw: st.DrawFn) -> str:
    registry = draw(REGISTRY)
    path = "/".join(draw(st.lists(COMPONENT, min_size=1, max_size=3)))
    if len(path) < 2:
        path += "x"
    # Without a registry, a first component with a '.' would be read as one (as ggcr does),
    # leaving a repository that may be too short: that is not the valid name this draws.
    first, sep, rest = path.partition("/")
    if not registry and "." in first:
        path = first.replace(".", "-") + sep + rest
    text = f"{registry}/{path}" if registry else path
    suffix = draw(st.one_of(st.just(""), TAG.map(lambda t: f":{t}"),
                            DIGEST.map(lambda d: f"@{d}")))
    return text + suffix


@given(references())
def test_a_valid_reference_parses_and_its_name_is_a_fixed_point(text: str) -> None:
    ref = parse_reference(text)
    again = parse_reference(ref.name)
    assert again.name == ref.name
    assert (again.registry, again.repository_str, again.identifier) == \
        (ref.registry, ref.repository_str, ref.identifier)


@given(st.text(max_size=80))
def test_any_text_is_a_reference_or_a_reference_error(text: str) -> None:
    try:
        ref = parse_reference(text)
    except ReferenceError:
        return
    assert ref.registry and ref.repository and ref.identifier


# -- flags -------------------------------------------------------------------------------------

ARGS = st.lists(st.one_of(
    st.sampled_from(["-daemon", "-daemon=maybe", "-uid", "-uid=x", "--layers", "-layers=",
                     "-run-image", "-image", "-h", "--", "-", "-=x", "---x", "-log-level"]),
    st.text(st.characters(blacklist_characters="\x00"), max_size=12)), max_size=8)


@given(ARGS)
def test_any_argv_parses_or_fails_as_usage_or_invalid_argument(argv: list[str]) -> None:
    try:
        flags = EXPORTER_FLAGS.parse(argv, {})
        flags.boolean("daemon")
        flags.integer("uid")
        flags.string("layers")
    except (UsageExit, LifecycleError):
        pass


# -- the tar writer ----------------------------------------------------------------------------

NAME = st.one_of(st.text(st.characters(blacklist_characters="/\x00", codec="utf-8"),
                         min_size=1, max_size=12),
                 st.binary(min_size=1, max_size=12).map(os.fsdecode)).filter(
    lambda n: n not in (".", "..") and "/" not in n and "\x00" not in n)
TREE = st.recursive(
    st.one_of(st.binary(max_size=300), st.tuples(st.just("link"), st.text(max_size=30).filter(
        lambda t: "\x00" not in t and t))),
    lambda children: st.dictionaries(NAME, children, max_size=4), max_leaves=10)


def make_tree(path: Path, tree: Any) -> None:
    if isinstance(tree, dict):
        path.mkdir()
        for name, child in tree.items():
            make_tree(path / name, child)
    elif isinstance(tree, tuple):
        path.symlink_to(tree[1])
    else:
        path.write_bytes(tree)


def layer_bytes(layer: archive.Layer) -> bytes:
    assert layer.source is not None
    with layer.source.open_blob(layer.digest) as blob:
        return blob.read()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(NAME, TREE, max_size=4))
def test_the_same_tree_gives_the_same_bytes_and_no_entry_escapes(tree: dict[str, Any]) -> None:
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch) / "tree"
        make_tree(root, tree)
        skipped: list[Path] = []
        layers = [archive.write_layer(
            archive.dir_plan(root, 1000, 1000, lambda path, why: skipped.append(path)).entries,
            Path(scratch), compress)
            for compress in (False, False, True)]
        assert layers[0].diff_id == layers[1].diff_id == layers[2].diff_id
        assert layer_bytes(layers[0]) == layer_bytes(layers[1])
        with tarfile.open(fileobj=io.BytesIO(layer_bytes(layers[0])), encoding="utf-8",
                          errors="surrogateescape") as tar:
            for member in tar:
                assert member.name.startswith("/")
                assert posixpath.normpath(member.name) == member.name
                assert ".." not in member.name.split("/")
                assert member.mtime == archive.NORMALISED_MTIME
        assert not skipped


# -- the lifecycle label -----------------------------------------------------------------------

JSON_VALUES = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-2**53, 2**53), st.text(max_size=20)),
    lambda children: st.one_of(st.lists(children, max_size=3),
                               st.dictionaries(st.text(max_size=8), children, max_size=3)),
    max_leaves=12)
LABELS = st.fixed_dictionaries(
    {"runImage": st.fixed_dictionaries({"topLayer": DIGEST, "reference": st.text(max_size=30)}),
     "app": st.lists(st.fixed_dictionaries({"sha": DIGEST}), max_size=3),
     "buildpacks": st.lists(st.fixed_dictionaries({
         "key": st.text(max_size=10), "version": st.text(max_size=5),
         "layers": st.dictionaries(st.text(min_size=1, max_size=8),
                                   st.fixed_dictionaries({"sha": DIGEST, "data": JSON_VALUES}),
                                   max_size=2)}), max_size=2)},
    optional={"unknown-key": JSON_VALUES, "stack": JSON_VALUES})


@given(LABELS)
def test_the_label_round_trips_and_a_rebase_keeps_what_it_does_not_know(
        document: dict[str, Any]) -> None:
    label = LifecycleLabel.parse(labels_json(document), "app")
    assert label.document == document
    assert label.top_layer == document["runImage"]["topLayer"]
    assert label.app_shas() == frozenset(entry["sha"] for entry in document["app"])
    rebased = label.with_run_image("sha256:" + "f" * 64, "new@sha256:" + "e" * 64, None,
                                   features_for(PlatformAPI(0, 12)))
    assert json.loads(labels_json(rebased))["runImage"]["topLayer"] == "sha256:" + "f" * 64
    for key in document:
        if key != "runImage":
            assert rebased[key] == document[key]
