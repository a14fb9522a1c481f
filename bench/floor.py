"""The floor a registry rebase is measured against: the same HTTP requests, made by a minimal
client (``http.client``, one keep-alive connection per worker), with none of our code.

:func:`record_rebase` runs one real rebase (``lifecycle.console.rebaser``, in its own process)
with the registry HTTP client's exchange wrapped so that every request it sends is written down:
method, path, headers, body. :func:`replay` sends that list again and times only the
requests: the bare TLS hello probe the registry client makes to see whether the registry
speaks TLS, then each request in order, with an upload's new ``Location`` put in place of the
recorded one. Replaying after the rebase reads the same manifests and configs and writes the
same config and manifest again (the registry accepts them as it did the first time).

A rebase of an app index sends requests from several threads at once. :func:`replay_as_recorded`
keeps that shape: each request waits only for the requests that had ended before it began in
the recording, so the replay has the recorded rebase's concurrency and no more.
"""

from __future__ import annotations

import base64
import http.client
import json
import queue
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit

from lifecycle.backends.httpclient import speaks_tls

_RECORDER = r"""
import base64, json, sys, threading, time

from lifecycle.backends.httpclient import HTTPClient
out = open(sys.argv[1], "a")
written = threading.Lock()
exchange = HTTPClient._exchange
def recording_exchange(self, method, url, headers, body, *args):
    if body is not None and not isinstance(body, bytes):
        body = b"".join(iter(lambda: body.read(1 << 20), b"")) if hasattr(body, "read") \
            else b"".join(body)
    started = time.perf_counter()
    response = exchange(self, method, url, headers, body, *args)
    ended = time.perf_counter()
    with written:
        out.write(json.dumps({"method": method, "url": url, "headers": dict(headers),
                              "body": base64.b64encode(body or b"").decode(),
                              "status": response.status_code,
                              "location": response.headers.get("Location"),
                              "started": started, "ended": ended}) + "\n")
        out.flush()
    return response
HTTPClient._exchange = recording_exchange
sys.argv = ["rebaser", *sys.argv[2:]]
from lifecycle import console
console.rebaser()
"""


@dataclass(frozen=True)
class Recorded:
    method: str
    url: str
    headers: dict[str, str]
    body: bytes
    location: str | None
    # When the recorded rebase sent it and when its answer had come (its perf_counter).
    started: float
    ended: float


def record_rebase(records: Path, *rebaser_args: str) -> list[Recorded]:
    """The requests one ``rebaser`` run makes (the run itself is not timed)."""
    records.unlink(missing_ok=True)
    subprocess.run([sys.executable, "-c", _RECORDER, str(records), *rebaser_args], check=True,
                   stdout=subprocess.DEVNULL)
    recorded = [Recorded(item["method"], item["url"], item["headers"],
                         base64.b64decode(item["body"]), item["location"], item["started"],
                         item["ended"])
                for item in map(json.loads, records.read_text().splitlines())]
    return sorted(recorded, key=lambda request: request.started)


def _send_all(connection: http.client.HTTPConnection, requests: list[Recorded]) -> None:
    uploads: dict[str, str] = {}
    for recorded in requests:
        _send(connection, recorded, uploads)


def _send(connection: http.client.HTTPConnection, recorded: Recorded,
          uploads: dict[str, str]) -> None:
    """Send one recorded request; ``uploads`` maps a recorded upload's path to this replay's
    ``Location`` for it."""
    parts = urlsplit(recorded.url)
    if parts.path in uploads:
        # The recorded upload's own state is replaced by the new one's; what the client
        # added (``digest=``) is kept.
        location = urlsplit(uploads[parts.path])
        recorded_state = {key for key, _ in parse_qsl(urlsplit(recorded.location or "").query)}
        added = [(k, v) for k, v in parse_qsl(parts.query) if k not in recorded_state]
        query = urlencode([*parse_qsl(location.query), *added])
        parts = location._replace(query=query)
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    connection.request(recorded.method, path, body=recorded.body or None,
                       headers=recorded.headers)
    response = connection.getresponse()
    answer = response.read()
    if response.status >= 400 and recorded.method != "HEAD":
        raise SystemExit(f"replay: {recorded.method} {path}: HTTP {response.status} "
                         f"{answer[:300]!r}")
    new_location = response.getheader("Location")
    if recorded.location and new_location:
        uploads[urlsplit(recorded.location).path] = new_location


def replay_as_recorded(requests: list[Recorded]) -> float:
    """Seconds to send ``requests`` again with the recording's concurrency: each waits for
    the requests that had ended before it began, as many at once as the recording had, each
    on a keep-alive connection of its own."""
    host, port = urlsplit(requests[0].url).hostname or "", urlsplit(requests[0].url).port or 80
    workers = max(sum(1 for other in requests if other.started <= request.started < other.ended)
                  for request in requests)
    connections: queue.SimpleQueue[http.client.HTTPConnection] = queue.SimpleQueue()
    for _ in range(workers):
        connections.put(http.client.HTTPConnection(host, port, timeout=60))
    answered = [threading.Event() for _ in requests]
    uploads: dict[str, str] = {}

    def send(number: int) -> None:
        request = requests[number]
        for earlier, other in enumerate(requests[:number]):
            if other.ended < request.started:
                answered[earlier].wait()
        connection = connections.get()
        try:
            _send(connection, request, uploads)
        finally:
            connections.put(connection)
        answered[number].set()

    start = time.perf_counter()
    speaks_tls(host, port)
    with ThreadPoolExecutor(workers) as pool:
        # Submitted in the order they began, so no request waits for one not yet running.
        for future in [pool.submit(send, number) for number in range(len(requests))]:
            future.result()
    seconds = time.perf_counter() - start
    while not connections.empty():
        connections.get().close()
    return seconds


def replay(requests: list[Recorded], workers: int = 1,
           repositories: list[tuple[str, str]] | None = None) -> float:
    """Seconds to send ``requests`` again: once, or once per ``(recorded, other)`` pair of
    ``repositories`` with the recorded repository's path in each URL replaced by the other
    one's; each copy in order, ``workers`` copies at once, each worker on its own keep-alive
    connection."""
    host, port = urlsplit(requests[0].url).hostname or "", urlsplit(requests[0].url).port or 80
    batches = [[_moved(r, f"/v2/{old}/", f"/v2/{new}/") for r in requests]
               for old, new in repositories] if repositories else [requests]
    connections = [http.client.HTTPConnection(host, port, timeout=60) for _ in range(workers)]
    start = time.perf_counter()
    speaks_tls(host, port)  # the registry client's probe: does it speak TLS?
    with ThreadPoolExecutor(workers) as pool:
        futures = [pool.submit(_send_batches, connection, batches[index::workers])
                   for index, connection in enumerate(connections)]
        for future in futures:
            future.result()
    seconds = time.perf_counter() - start
    for connection in connections:
        connection.close()
    return seconds


def _moved(recorded: Recorded, old: str, new: str) -> Recorded:
    location = recorded.location.replace(old, new) if recorded.location else None
    return replace(recorded, url=recorded.url.replace(old, new), location=location)


def _send_batches(connection: http.client.HTTPConnection, batches: list[list[Recorded]]) -> None:
    for batch in batches:
        _send_all(connection, batch)


def bare_interpreter_seconds(runs: int) -> float:
    """Best of ``runs`` of ``python -c pass`` with this venv's interpreter."""
    best = float("inf")
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run([str(Path(sys.executable).parent / "python"), "-c", "pass"], check=True)
        best = min(best, time.perf_counter() - start)
    return best
