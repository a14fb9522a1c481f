"""Registry credentials, looked up the way the lifecycle does.

For a registry, the first of these that has credentials wins:

1. ``CNB_REGISTRY_AUTH``: a JSON object mapping a registry to a full ``Authorization`` header
   value (what pack and kpack pass);
2. the Docker config (``$DOCKER_CONFIG/config.json`` or ``~/.docker/config.json``):
   ``credHelpers[registry]``, else ``credsStore``: the program
   ``docker-credential-<name> get`` is run with the server URL on stdin and answers
   ``{"Username", "Secret"}`` (a helper that knows nothing of the registry says so and is
   skipped); then ``auths[registry]`` (``auth``, or ``username``/``password``).

Helpers run only for registries actually used, at most once each. Credentials never reach
a log line or an error message: a helper's failure is reported by its exit status and
program name, not its output.
"""

from __future__ import annotations

import binascii
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import urlsplit

from lifecycle.backends.base import BackendError
from lifecycle.jsonio import loads_json
from lifecycle.log import get_logger
from lifecycle.platform.exits import invalid_args
from lifecycle.record import field, record

HELPER_TIMEOUT_SECONDS = 30
DOCKER_HUB = "index.docker.io"
DOCKER_HUB_SERVER_URL = "https://index.docker.io/v1/"  # the key Docker tools store Hub under


def _registry_key(key: str) -> str:
    """``https://index.docker.io/v1/`` and ``index.docker.io`` name the same registry."""
    host = urlsplit(key).netloc if "://" in key else key.split("/", 1)[0]
    return DOCKER_HUB if host in ("docker.io", "registry-1.docker.io") else host


@record(frozen=False)
class Keychain:
    headers: Mapping[str, str] = field(default_factory=dict)        # CNB_REGISTRY_AUTH
    config_auths: Mapping[str, str] = field(default_factory=dict)   # Docker config auths
    helpers: Mapping[str, str] = field(default_factory=dict)        # credHelpers
    default_helper: str | None = None                               # credsStore
    _found: dict[str, str | None] = field(default_factory=dict, repr=False)

    @classmethod
    def from_environment(cls, environ: Mapping[str, str]) -> Keychain:
        config_dir = environ.get("DOCKER_CONFIG") or str(Path(environ.get("HOME", "~")) / ".docker")
        config_path = Path(config_dir).expanduser() / "config.json"
        try:
            config = loads_json(config_path.read_text())
        except (OSError, ValueError):
            config = {}
        if not isinstance(config, dict):
            config = {}
        auths: dict[str, str] = {}
        for key, entry in (config.get("auths") or {}).items():
            if isinstance(entry, dict):
                encoded = entry.get("auth") or _encode(entry.get("username"), entry.get("password"))
                if encoded:
                    auths[_registry_key(key)] = f"Basic {encoded}"
        helpers = {_registry_key(k): v for k, v in (config.get("credHelpers") or {}).items()
                   if isinstance(v, str) and v}
        store = config.get("credsStore")
        headers: dict[str, str] = {}
        if environ.get("CNB_REGISTRY_AUTH"):
            try:
                from_env = loads_json(environ["CNB_REGISTRY_AUTH"])
            except ValueError:
                raise invalid_args("parse CNB_REGISTRY_AUTH", "not valid JSON") from None
            if not isinstance(from_env, dict) or not all(
                    isinstance(v, str) for v in from_env.values()):
                raise invalid_args("parse CNB_REGISTRY_AUTH",
                                   "must map registries to Authorization header values")
            headers = {_registry_key(k): v for k, v in from_env.items()}
        return cls(headers, auths, helpers, store if isinstance(store, str) and store else None)

    def authorization(self, registry: str) -> str | None:
        if registry in self.headers:
            return self.headers[registry]
        if registry not in self._found:
            helper = self.helpers.get(registry) or self.default_helper
            found = _from_helper(helper, registry) if helper else None
            self._found[registry] = found or self.config_auths.get(registry)
        return self._found[registry]


def _encode(username: object, password: object) -> str:
    if isinstance(username, str) and isinstance(password, str) and username:
        return binascii.b2a_base64(f"{username}:{password}".encode(), newline=False).decode()
    return ""


def _from_helper(helper: str, registry: str) -> str | None:
    """``Basic`` credentials from ``docker-credential-<helper>``, or None if it has none."""
    import subprocess  # only a configured helper needs it (imported ahead: backends.import_ahead)

    program = f"docker-credential-{helper}"
    server_url = DOCKER_HUB_SERVER_URL if registry == DOCKER_HUB else registry
    try:
        completed = subprocess.run([program, "get"], input=server_url, capture_output=True,
                                   text=True, timeout=HELPER_TIMEOUT_SECONDS, check=False)
    except FileNotFoundError:
        raise BackendError(f"credential helper '{program}' for {registry} is not "
                           "installed") from None
    except subprocess.TimeoutExpired:
        raise BackendError(f"credential helper '{program}' for {registry} did not answer "
                           f"within {HELPER_TIMEOUT_SECONDS} s") from None
    if completed.returncode != 0:
        if "credentials not found" in (completed.stdout + completed.stderr).lower():
            return None
        raise BackendError(f"credential helper '{program}' for {registry} failed "
                           f"(exit status {completed.returncode})")
    try:
        answer = loads_json(completed.stdout)
        username, secret = answer["Username"], answer["Secret"]
    except (ValueError, KeyError, TypeError):
        raise BackendError(f"credential helper '{program}' for {registry} gave no "
                           "Username and Secret") from None
    if username == "<token>":
        get_logger().warning(f"credential helper '{program}' gave an identity token for "
                             f"{registry}; identity tokens are not supported")
        return None
    encoded = _encode(username, secret)
    return f"Basic {encoded}" if encoded else None
