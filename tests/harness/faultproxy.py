"""A fault-injecting HTTP proxy in front of a real registry, for the retry and safety tests.

Every request is classified by what it does (``manifest-get``, ``blob-head``,
``upload-patch``, ...). A :class:`Fault` makes the next ``times`` requests of one kind (and,
if given, whose path contains ``path_contains``) fail in one way, then lets them through:

* ``500``, ``502``, ``503``: that status (503 with ``Retry-After``); ``429``: with
  ``Retry-After`` (:attr:`FaultProxy.retry_after` seconds);
* ``reset``: the connection is closed with a TCP reset before any response;
* ``reset-mid-body``: the real response's headers and half its body, then a reset;
* ``truncate``: the real response's headers (its full ``Content-Length``) and half its body,
  then an orderly close;
* ``stall``: nothing is answered for :attr:`FaultProxy.stall_seconds`, then a reset.

A response without a body is cut in the middle of its headers by ``reset-mid-body`` and
``truncate``. With :attr:`FaultProxy.ranges` off, ``Range`` headers are dropped, as by a
registry that always answers with the whole blob. Everything else is forwarded unchanged
to the registry, with the client's ``Host`` header; ``Location`` headers naming the registry
itself are rewritten to the proxy, so upload sessions go on through it.
"""

from __future__ import annotations

import http.client
import re
import socket
import struct
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

EFFECTS = ("500", "502", "503", "429", "reset", "reset-mid-body", "truncate", "stall")
_HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade",
               "proxy-authorization", "proxy-authenticate", "content-length"}


@dataclass
class Fault:
    kind: str
    effect: str
    times: int = 1
    path_contains: str = ""


def request_kind(method: str, path: str) -> str:
    verb = method.lower()
    if path.startswith("/token"):  # the tests' token issuer (tests/harness/tokens.py)
        return f"token-{verb}"
    if re.match(r"^/v2/.+/manifests/", path):
        return f"manifest-{verb}"
    if re.match(r"^/v2/.+/blobs/uploads/", path):
        return f"upload-{verb}"
    if re.match(r"^/v2/.+/blobs/", path):
        return f"blob-{verb}"
    return f"other-{verb}"


class FaultProxy:
    def __init__(self, upstream_port: int, stall_seconds: float = 3.0,
                 retry_after: int = 1) -> None:
        self.upstream_port = upstream_port
        self.stall_seconds = stall_seconds
        self.retry_after = retry_after
        self.ranges = True
        self.faults: list[Fault] = []
        self.injected: list[tuple[str, str, str]] = []   # (kind, path, effect)
        self.lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self.server.daemon_threads = True
        self.host = f"127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def inject(self, *faults: Fault) -> None:
        with self.lock:
            self.faults = list(faults)
            self.injected = []

    def clear(self) -> None:
        self.inject()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def _take(self, kind: str, path: str) -> str | None:
        with self.lock:
            for fault in self.faults:
                if fault.kind == kind and fault.path_contains in path and fault.times > 0:
                    fault.times -= 1
                    self.injected.append((kind, path, fault.effect))
                    return fault.effect
        return None

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:  # quiet tests
                pass

            def _body(self) -> bytes:
                if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                    chunks = []
                    while size := int(self.rfile.readline().split(b";")[0].strip(), 16):
                        chunks.append(self.rfile.read(size))
                        self.rfile.readline()
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    return b"".join(chunks)
                return self.rfile.read(int(self.headers.get("Content-Length") or 0))

            def _reset(self) -> None:
                # SO_LINGER 0: close with RST, as a crashed peer or a middlebox would.
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                           struct.pack("ii", 1, 0))
                self.close_connection = True
                self.connection.close()

            def _close(self) -> None:
                """An orderly close (FIN), as a server that gave up would."""
                self.wfile.flush()
                self.connection.shutdown(socket.SHUT_WR)
                self.close_connection = True

            def _status(self, code: int) -> None:
                self.send_response(code)
                if code in (429, 503):
                    self.send_header("Retry-After", str(proxy.retry_after))
                self.send_header("Content-Length", "0")
                self.end_headers()

            def _forward(self, body: bytes) -> tuple[http.client.HTTPResponse, bytes]:
                upstream = http.client.HTTPConnection("127.0.0.1", proxy.upstream_port,
                                                      timeout=60)
                headers = {k: v for k, v in self.headers.items()
                           if k.lower() not in _HOP_BY_HOP
                           and (proxy.ranges or k.lower() != "range")}
                headers["Content-Length"] = str(len(body))
                upstream.request(self.command, self.path, body=body, headers=headers)
                response = upstream.getresponse()
                data = response.read() if self.command != "HEAD" else b""
                upstream.close()
                return response, data

            def _head(self, response: http.client.HTTPResponse, length: int) -> bytes:
                lines = [f"HTTP/1.1 {response.status} {response.reason}"]
                for key, value in response.getheaders():
                    if key.lower() == "location":
                        value = value.replace(f"//127.0.0.1:{proxy.upstream_port}/",
                                              f"//{proxy.host}/")
                    if key.lower() not in _HOP_BY_HOP:
                        lines.append(f"{key}: {value}")
                lines.append(f"Content-Length: {length}")
                return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")

            def _handle(self) -> None:
                body = self._body()
                effect = proxy._take(request_kind(self.command, self.path), self.path)
                if effect == "reset":
                    return self._reset()
                if effect == "stall":
                    time.sleep(proxy.stall_seconds)
                    return self._reset()
                if effect is not None and effect.isdigit():
                    return self._status(int(effect))
                response, data = self._forward(body)
                declared = int(response.getheader("Content-Length") or 0) \
                    if self.command == "HEAD" else len(data)
                answer = self._head(response, declared) + data
                if effect in ("truncate", "reset-mid-body"):
                    head = len(answer) - len(data)
                    cut = head + len(data) // 2 if data else head // 2
                    self.wfile.write(answer[:cut])
                    return self._close() if effect == "truncate" else self._reset()
                self.wfile.write(answer)

            do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = _handle

        return Handler
