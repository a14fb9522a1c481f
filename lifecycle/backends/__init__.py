"""Image backends: a container registry (default), the Docker daemon, an OCI image layout.

Backends are imported lazily: the docker SDK alone costs more start-up time than the rest
of the program, and a registry export never needs it.
"""

from __future__ import annotations

import importlib
import os

from lifecycle.backends.base import DEFAULT_CONNECTIONS, ImageStore
from lifecycle.platform.inputs import Target


def open_store(target: Target, connections: int = DEFAULT_CONNECTIONS) -> ImageStore:
    """The store for ``target``; ``connections`` sizes the registry connection pool for
    callers that make that many requests at once."""
    if target.daemon:
        from lifecycle.backends.daemon import DaemonStore
        return DaemonStore(os.environ.get("DOCKER_HOST"))
    if target.layout_dir is not None:
        from lifecycle.backends.layout import LayoutStore
        return LayoutStore(target.layout_dir)
    from lifecycle.backends.auth import Keychain
    from lifecycle.backends.registry import RegistryStore
    from lifecycle.backends.retry import RetryPolicy
    from lifecycle.backends.tls import TrustConfig
    return RegistryStore(target.insecure_registries, Keychain.from_environment(os.environ),
                         connections, RetryPolicy.from_environment(os.environ),
                         TrustConfig.from_environment(os.environ))


IMPORTED_ON_FIRST_USE = ("concurrent.futures.thread", "random", "subprocess")
"""What the registry backend imports only when it first needs it: a thread pool for the
exporter's staged uploads, the retry policy's jitter, a credential helper's process. A
registry rebase needs none of them."""


CLIENT_IMPORTED_ON_FIRST_USE = ("ssl", "certifi", "ipaddress")
"""What the HTTP client imports on the first request that needs it: ssl and certifi for an
https registry, ipaddress for a network in ``NO_PROXY``."""


def import_ahead(first_request_as_user: bool = False) -> None:
    """Import :data:`IMPORTED_ON_FIRST_USE` now. For the exporter, before it first runs as the
    build's user (:mod:`lifecycle.privileges`): that user may not be allowed to read the
    installation, and ``-parallel`` sends registry requests (retries, credential helpers
    included) as that user.

    With ``first_request_as_user`` (a registry the exporter first reaches as the build's user:
    a ``-cache-image``), the HTTP client's :data:`CLIENT_IMPORTED_ON_FIRST_USE` too. The run
    image's and the app's registries are first reached as root, so a plain-HTTP export
    without a cache image never pays for importing ssl."""
    for module in (*IMPORTED_ON_FIRST_USE,
                   *(CLIENT_IMPORTED_ON_FIRST_USE if first_request_as_user else ())):
        importlib.import_module(module)
