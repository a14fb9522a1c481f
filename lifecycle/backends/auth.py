"""Registry credentials, looked up the way the lifecycle does.

``CNB_REGISTRY_AUTH`` (a JSON object mapping a registry to a full ``Authorization`` header
value) is checked first, then the ``auths`` entries of the Docker config file
(``$DOCKER_CONFIG/config.json`` or ``~/.docker/config.json``). Values never reach a log or
an error message.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from lifecycle.platform.exits import invalid_args


def _registry_key(key: str) -> str:
    """``https://index.docker.io/v1/`` and ``index.docker.io`` name the same registry."""
    host = urlsplit(key).netloc if "://" in key else key.split("/", 1)[0]
    return "index.docker.io" if host in ("docker.io", "registry-1.docker.io") else host


@dataclass(frozen=True)
class Keychain:
    headers: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def from_environment(cls, environ: Mapping[str, str]) -> Keychain:
        headers: dict[str, str] = {}
        config_dir = environ.get("DOCKER_CONFIG") or str(Path(environ.get("HOME", "~")) / ".docker")
        config_path = Path(config_dir).expanduser() / "config.json"
        try:
            config = json.loads(config_path.read_text())
        except (OSError, ValueError):
            config = {}
        auths = config.get("auths") if isinstance(config, dict) else None
        for key, entry in (auths or {}).items():
            if isinstance(entry, dict):
                encoded = entry.get("auth") or _encode(entry.get("username"), entry.get("password"))
                if encoded:
                    headers[_registry_key(key)] = f"Basic {encoded}"
        if environ.get("CNB_REGISTRY_AUTH"):
            try:
                from_env = json.loads(environ["CNB_REGISTRY_AUTH"])
            except ValueError:
                raise invalid_args("parse CNB_REGISTRY_AUTH", "not valid JSON") from None
            if not isinstance(from_env, dict) or not all(
                    isinstance(v, str) for v in from_env.values()):
                raise invalid_args("parse CNB_REGISTRY_AUTH",
                                   "must map registries to Authorization header values")
            headers.update({_registry_key(k): v for k, v in from_env.items()})
        return cls(headers)

    def authorization(self, registry: str) -> str | None:
        return self.headers.get(registry)


def _encode(username: object, password: object) -> str:
    if isinstance(username, str) and isinstance(password, str) and username:
        return base64.b64encode(f"{username}:{password}".encode()).decode()
    return ""
