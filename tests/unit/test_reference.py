"""Image references parse like go-containerregistry's weak validation (lifecycle-reference §1.1).

The registry string decides mirror selection, so these rules are tested case by case, including
the surprising ones (``localhost/x`` is Docker Hub; ports and host case are significant).
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lifecycle.reference import (
    DEFAULT_REGISTRY,
    ReferenceError,
    host_and_port,
    parse_reference,
    registry_host,
)

SHA = "sha256:" + "0123456789abcdef" * 4


@pytest.mark.parametrize(("text", "registry", "repository_str", "identifier"), [
    # Era A mirror table (lifecycle-reference §2.2)
    ("first.com/org/repo", "first.com", "org/repo", "latest"),
    ("myorg/myrepo", DEFAULT_REGISTRY, "myorg/myrepo", "latest"),
    ("zonal.gcr.io/org/repo", "zonal.gcr.io", "org/repo", "latest"),
    ("gcr.io/org/repo", "gcr.io", "org/repo", "latest"),
    ("missingzone.gcr.io/org/repo", "missingzone.gcr.io", "org/repo", "latest"),
    # a registry only when the first part has "." or ":"
    ("localhost/foo", DEFAULT_REGISTRY, "localhost/foo", "latest"),
    ("localhost:5000/foo", "localhost:5000", "foo", "latest"),
    ("localhost:5001/foo", "localhost:5001", "foo", "latest"),
    ("127.0.0.1:5000/org/foo:v1", "127.0.0.1:5000", "org/foo", "v1"),
    ("[::1]:5000/foo:t", "[::1]:5000", "foo", "t"),
    ("myhost:/foo", "myhost:", "foo", "latest"),     # an empty port is a valid authority
    # Docker Hub spellings
    ("busybox", DEFAULT_REGISTRY, "library/busybox", "latest"),
    ("docker.io/busybox", DEFAULT_REGISTRY, "library/busybox", "latest"),
    ("index.docker.io/busybox", DEFAULT_REGISTRY, "library/busybox", "latest"),
    ("docker.io/library/busybox", DEFAULT_REGISTRY, "library/busybox", "latest"),
    ("docker.io/org/repo:1.0", DEFAULT_REGISTRY, "org/repo", "1.0"),
    ("registry-1.docker.io/busybox", "registry-1.docker.io", "busybox", "latest"),
    # the host keeps its case
    ("GCR.io/org/repo", "GCR.io", "org/repo", "latest"),
    # tags and digests
    ("repo:tag", DEFAULT_REGISTRY, "library/repo", "tag"),
    ("repo:", DEFAULT_REGISTRY, "library/repo", "latest"),
    ("repo:" + "T" * 128, DEFAULT_REGISTRY, "library/repo", "T" * 128),
    ("localhost:5000", DEFAULT_REGISTRY, "library/localhost", "5000"),  # no "/": a tag
    (f"gcr.io/org/repo@{SHA}", "gcr.io", "org/repo", SHA),
    (f"repo:tag@{SHA}", DEFAULT_REGISTRY, "library/repo", SHA),        # the tag is dropped
    (f"localhost:5000/repo:tag@{SHA}", "localhost:5000", "repo", SHA),
])
def test_parse(text: str, registry: str, repository_str: str, identifier: str) -> None:
    ref = parse_reference(text)
    assert (ref.registry, ref.repository_str, ref.identifier) == (
        registry, repository_str, identifier)
    assert ref.context == f"{registry}/{repository_str}"


@pytest.mark.parametrize(("text", "name"), [
    ("busybox", "index.docker.io/library/busybox:latest"),
    ("docker.io/busybox:1", "index.docker.io/library/busybox:1"),
    ("localhost:5000/foo", "localhost:5000/foo:latest"),
    (f"repo:tag@{SHA}", f"index.docker.io/library/repo@{SHA}"),
])
def test_name_is_fully_qualified(text: str, name: str) -> None:
    assert parse_reference(text).name == str(parse_reference(text)) == name


@pytest.mark.parametrize("text", [
    "",
    "x",                          # repositories are 2 to 255 characters, as in ggcr
    "gcr.io/x",
    "docker.io/x",
    "myorg/MyRepo",               # uppercase repository
    "MyOrg/repo",                 # no "." or ":": all repository, so uppercase
    "gcr.io/Org/repo",
    "repo/" + "a" * 251,          # 256 characters
    "a b/c",
    "repo:bad tag",
    "repo:" + "t" * 129,
    "repo:tag:tag",
    "user@host.io/repo",          # not a plain host[:port] authority
    "host.io:port/repo",
    "repo@sha256:" + "A" * 64,    # digests are lowercase hex
    "repo@sha256:" + "a" * 63,
    "repo@md5:" + "a" * 32,
    "as@ohd@as@op",               # the unparsable mirror of the Era A test
])
def test_invalid_references(text: str) -> None:
    with pytest.raises(ReferenceError, match=r"^could not parse reference: "):
        parse_reference(text)


@pytest.mark.parametrize(("left", "right", "same"), [
    ("docker.io/org/repo", "index.docker.io/org/repo", True),
    ("docker.io/org/repo", "org/repo", True),
    ("localhost/foo", "org/foo", True),
    ("gcr.io/org/repo", "zonal.gcr.io/org/repo", False),
    ("localhost:5000/foo", "localhost:5001/foo", False),
    ("localhost:5000/foo", "localhost/foo", False),
    ("GCR.io/org/repo", "gcr.io/org/repo", False),
    ("registry-1.docker.io/org/repo", "docker.io/org/repo", False),
])
def test_registry_comparison_is_exact(left: str, right: str, same: bool) -> None:
    assert (parse_reference(left).registry == parse_reference(right).registry) is same


@pytest.mark.parametrize(("text", "insecure", "scheme"), [
    ("localhost:5000/foo", frozenset(), "http"),
    ("127.0.0.1:5000/foo", frozenset(), "http"),
    ("127.0.0.2/foo", frozenset(), "http"),
    ("[::1]:5000/foo", frozenset(), "http"),
    ("registry.localhost:5000/foo", frozenset(), "http"),
    ("gcr.io/org/repo", frozenset(), "https"),
    ("10.1.2.3:5000/foo", frozenset(), "https"),
    ("[fd00::1]:5000/foo", frozenset(), "https"),
    ("127.example:5000/foo", frozenset(), "https"),
    ("reg.example:5000/foo", frozenset({"reg.example:5000"}), "http"),
    ("reg.example:5000/foo", frozenset({"reg.example"}), "http"),
    ("reg.example:5000/foo", frozenset({"other.example"}), "https"),
])
def test_scheme(text: str, insecure: frozenset[str], scheme: str) -> None:
    assert parse_reference(text).scheme(insecure) == scheme


@pytest.mark.parametrize(("registry", "host"), [
    ("gcr.io", "gcr.io"), ("localhost:5000", "localhost"), ("[::1]:5000", "[::1]"),
    ("[::1]", "[::1]"),
])
def test_registry_host(registry: str, host: str) -> None:
    assert registry_host(registry) == host


COMPONENT = st.from_regex(r"[a-z0-9]{2,8}", fullmatch=True)
REFERENCES = st.builds(
    lambda registry, path, suffix: f"{registry}{'/'.join(path)}{suffix}",
    st.sampled_from(["", "docker.io/", "index.docker.io/", "gcr.io/", "localhost:5000/"]),
    st.lists(COMPONENT, min_size=1, max_size=3),
    st.one_of(st.just(""), st.from_regex(r":[A-Za-z0-9_.-]{1,20}", fullmatch=True),
              st.from_regex(r"@sha256:[0-9a-f]{64}", fullmatch=True)))


@given(REFERENCES)
def test_fully_qualified_name_parses_to_itself(text: str) -> None:
    ref = parse_reference(text)
    again = parse_reference(ref.name)
    assert (again.name, again.registry, again.context) == (ref.name, ref.registry, ref.context)


@pytest.mark.parametrize(("registry", "address"), [
    ("gcr.io", ("gcr.io", 443)), ("localhost:5000", ("localhost", 5000)),
    ("[::1]:5000", ("::1", 5000)), ("[::1]", ("::1", 443)),
])
def test_host_and_port(registry: str, address: tuple[str, int]) -> None:
    assert host_and_port(registry) == address
