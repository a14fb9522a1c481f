"""Image backends: a container registry (default), the Docker daemon, an OCI image layout.

Backends are imported lazily: the docker SDK alone costs more start-up time than the rest
of the program, and a registry export never needs it.
"""

from __future__ import annotations

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
