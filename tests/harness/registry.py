"""pytest plugin: real registries for the integration tests (started once per session).

``registries.one`` is addressed as ``127.0.0.1:<port>`` and ``registries.two`` as
``localhost:<port>``: two different registry strings, so mirror selection is tested for
real. ``registries.locked`` answers 401 to anyone without its credentials (htpasswd; the
bcrypt hash is made with the ``bcrypt`` package from the ``test`` extra, so no apache2-utils).
``token_registry`` asks for Bearer tokens from the tests' own issuer (tests/harness/tokens.py).

What the backends sent is counted from each registry's own log:
:meth:`~tests.harness.services.Registry.requests_seen` and ``blob_requests(method)``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.harness.services import Registry, ensure_commands, start_registry
from tests.harness.tokens import TokenIssuer


@dataclass(frozen=True)
class Registries:
    one: Registry
    two: Registry
    locked: Registry


@dataclass(frozen=True)
class TokenRegistry:
    registry: Registry
    issuer: TokenIssuer


@pytest.fixture(scope="session")
def token_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TokenRegistry]:
    """A real registry with token auth, backed by the tests' token issuer."""
    ensure_commands(["docker-registry", "skopeo"], ["docker-registry", "skopeo"])
    root: Path = tmp_path_factory.mktemp("token-registry")
    issuer = TokenIssuer(("token-user", "token-pass"), root).start()
    try:
        registry = start_registry(root / "registry", "127.0.0.1",
                                  auth_config=issuer.registry_config())
        try:
            yield TokenRegistry(registry, issuer)
        finally:
            registry.stop()
    finally:
        issuer.stop()


@pytest.fixture(scope="session")
def registries(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registries]:
    ensure_commands(["docker-registry", "skopeo"], ["docker-registry", "skopeo"])
    root: Path = tmp_path_factory.mktemp("registries")
    started: list[Registry] = []
    try:
        for name, host, credentials in (("one", "127.0.0.1", None), ("two", "localhost", None),
                                        ("locked", "127.0.0.1", ("tester", "s3cret-pass"))):
            started.append(start_registry(root / name, host, credentials))
        yield Registries(*started)
    finally:
        for registry in started:
            registry.stop()
