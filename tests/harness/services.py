"""Installing and running the real services the tests use, without pytest.

Used by the pytest plugins in this package and by the benchmarks under bench/. Every process
gets its own port, data directory and log file, is waited for with a bound, and is stopped
by PID. Every slow step (an ``apt-get``, a download, a build) has its own bound too and says
what it was doing when it runs out: pytest's per-test timeout does not cover set-up done in
session fixtures (``timeout_func_only``).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import threading
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests
import urllib3

_apt_updated = False
_apt_lock = threading.Lock()
_cache_locks: dict[str, threading.Lock] = {}
_cache_locks_guard = threading.Lock()

CACHE = (Path(os.environ["CNB_TEST_CACHE"]) if os.environ.get("CNB_TEST_CACHE") else
         Path(os.environ.get("XDG_CACHE_HOME") or "~/.cache").expanduser()
         / "cnb-lifecycle-tests")
"""What the harness makes once per machine (debootstrap tarballs, Debian 13's engine);
``CNB_TEST_CACHE`` points it elsewhere, e.g. at an empty directory to measure a cold run."""

APT_LOCK_WAIT_SECONDS = 300  # other test runs on the machine may be installing too


class ServiceError(RuntimeError):
    pass


def cache_lock(entry: str) -> threading.Lock:
    """The lock of one cache entry: whoever makes it holds it, so a fixture that needs an
    entry a warm-up thread is making waits for it instead of making it again."""
    with _cache_locks_guard:
        return _cache_locks.setdefault(entry, threading.Lock())


def run_bounded(command: Sequence[str], what: str, seconds: float,
                **options: Any) -> subprocess.CompletedProcess[bytes]:
    """Run ``command`` to its end within ``seconds``; on time-out its whole process group is
    killed. Raises :class:`ServiceError` saying ``what`` failed, with the end of its output."""
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               start_new_session=True, **options)
    try:
        output, _ = process.communicate(timeout=seconds)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        output, _ = process.communicate()
        raise ServiceError(f"{what} did not finish in {seconds:.0f} s; the end of its "
                           f"output:\n{_tail(output)}") from None
    if process.returncode != 0:
        raise ServiceError(f"{what} failed with exit code {process.returncode}; the end of "
                           f"its output:\n{_tail(output)}")
    return subprocess.CompletedProcess(list(command), process.returncode, output)


def _tail(output: bytes) -> str:
    return "\n".join(output.decode(errors="replace").strip().splitlines()[-12:])


def download(url: str, path: Path, seconds: float) -> Path:
    """Stream ``url`` to ``path`` within ``seconds``."""
    deadline = time.monotonic() + seconds
    with requests.get(url, stream=True, timeout=(30, 60)) as response:
        response.raise_for_status()
        with path.open("wb") as file:
            for chunk in response.iter_content(1 << 20):
                if time.monotonic() > deadline:
                    raise ServiceError(f"downloading {url} did not finish in {seconds:.0f} s")
                file.write(chunk)
    return path


def ensure_commands(commands: Sequence[str], packages: Sequence[str]) -> None:
    """Install Debian ``packages`` when any of ``commands`` is missing (root on Debian only);
    one install at a time in this process (warm-up threads install too)."""
    if all(shutil.which(c) for c in commands):
        return
    with _apt_lock:
        _install(commands, packages)


def _install(commands: Sequence[str], packages: Sequence[str]) -> None:
    global _apt_updated
    if all(shutil.which(c) for c in commands):
        return
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        raise ServiceError(f"the tests need {', '.join(commands)}: install the Debian "
                           f"packages {' '.join(packages)} (apt-get install -y ...) and retry")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    lock = f"DPkg::Lock::Timeout={APT_LOCK_WAIT_SECONDS}"
    if not _apt_updated:
        run_bounded(["apt-get", "-o", lock, "update", "-qq"], "apt-get update", 600, env=env)
        _apt_updated = True
    run_bounded(["apt-get", "-o", lock, "install", "-y", "-qq", "--no-install-recommends",
                 *packages], f"installing the Debian packages {' '.join(packages)}", 900,
                env=env)
    missing = [c for c in commands if not shutil.which(c)]
    if missing:
        raise ServiceError(f"installing {' '.join(packages)} did not provide {missing}")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until(ready: Callable[[], bool], what: str, timeout: float,
               process: subprocess.Popen[bytes] | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise ServiceError(f"{what} exited with {process.returncode} while starting")
        try:
            if ready():
                return
        except (OSError, requests.RequestException):
            pass
        time.sleep(0.1)
    raise ServiceError(f"{what} was not ready after {timeout:.0f} s")


def stop_process(process: subprocess.Popen[bytes], grace: float = 10) -> None:
    """SIGTERM by PID, wait, then SIGKILL."""
    if process.poll() is not None:
        return
    os.kill(process.pid, signal.SIGTERM)
    try:
        process.wait(grace)
    except subprocess.TimeoutExpired:
        os.kill(process.pid, signal.SIGKILL)
        process.wait(grace)


@dataclass
class Registry:
    """A running distribution registry (Debian ``docker-registry``) on 127.0.0.1."""

    host: str                      # the registry string tests use, e.g. "localhost:41234"
    port: int
    directory: Path
    process: subprocess.Popen[bytes]
    credentials: tuple[str, str] | None = None

    @property
    def log_path(self) -> Path:
        return self.directory / "registry.log"

    def requests_seen(self) -> list[tuple[str, str]]:
        """(method, URI) of every request the registry has answered so far."""
        seen = []
        for line in self.log_path.read_text(errors="replace").splitlines():
            if "response completed" not in line:
                continue
            method = _log_field(line, "http.request.method")
            uri = _log_field(line, "http.request.uri")
            if method and uri:
                seen.append((method, uri))
        return seen

    def blob_requests(self, method: str) -> list[str]:
        return [uri for m, uri in self.requests_seen() if m == method and "/blobs/" in uri]

    def stop(self) -> None:
        stop_process(self.process)


def _log_field(line: str, name: str) -> str:
    marker = f"{name}="
    start = line.find(marker)
    if start < 0:
        return ""
    value = line[start + len(marker):]
    if value.startswith('"'):
        return value[1:value.index('"', 1)]
    return value.split(" ", 1)[0]


def start_registry(directory: Path, host_name: str = "127.0.0.1",
                   credentials: tuple[str, str] | None = None,
                   auth_config: str = "",
                   tls: tuple[Path, Path] | None = None) -> Registry:
    """Start ``docker-registry serve`` on a free loopback port.

    ``host_name`` is how clients address it (``127.0.0.1`` or ``localhost``), so two
    registries can have different registry strings. With ``credentials`` every request
    needs HTTP Basic auth (htpasswd, bcrypt). ``auth_config`` is another ``auth:`` section
    (the token issuer's). ``tls`` is a (certificate chain, key) pair to serve HTTPS with.
    """
    ensure_commands(["docker-registry"], ["docker-registry"])
    directory.mkdir(parents=True, exist_ok=True)
    port = free_port()
    auth = auth_config
    if credentials is not None:
        import bcrypt
        user, password = credentials
        hashed = bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=4)).decode()
        (directory / "htpasswd").write_text(f"{user}:{hashed}\n")
        auth = (f"auth:\n  htpasswd:\n    realm: test-realm\n"
                f"    path: {directory / 'htpasswd'}\n")
    config = directory / "config.yml"
    config.write_text(
        "version: 0.1\n"
        "log:\n  level: info\n  formatter: text\n  accesslog:\n    disabled: true\n"
        f"storage:\n  filesystem:\n    rootdirectory: {directory / 'data'}\n"
        "  delete:\n    enabled: true\n  maintenance:\n    uploadpurging:\n      enabled: false\n"
        f"http:\n  addr: 127.0.0.1:{port}\n"
        + (f"  tls:\n    certificate: {tls[0]}\n    key: {tls[1]}\n" if tls else "")
        + auth)
    log = (directory / "registry.log").open("wb")
    process = subprocess.Popen(["docker-registry", "serve", str(config)], stdout=log,
                               stderr=subprocess.STDOUT, start_new_session=True)
    registry = Registry(f"{host_name}:{port}", port, directory, process, credentials)
    try:
        scheme = "https" if tls else "http"
        with warnings.catch_warnings():  # the tests' own CA is not trusted here on purpose
            warnings.simplefilter("ignore", urllib3.exceptions.InsecureRequestWarning)
            wait_until(lambda: requests.get(f"{scheme}://127.0.0.1:{port}/v2/", timeout=1,
                                            verify=False).status_code in (200, 401),
                       f"registry on port {port}", 20, process)
    except ServiceError:
        registry.stop()
        raise ServiceError(f"registry did not start; its log: {registry.log_path}") from None
    return registry
