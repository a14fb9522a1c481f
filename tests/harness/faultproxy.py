"""A fault-injecting HTTP proxy in front of a real registry, for the retry and safety tests.

Every request is classified by what it does (``manifest-get``, ``blob-head``,
``upload-patch``, ...). A :class:`Fault` makes the next ``times`` requests of one kind fail in
one way, then lets them through:

* ``500``, ``502``, ``503``: that status (503 with ``Retry-After: 1``); ``429``: with
  ``Retry-After: 1``;
* ``reset``: the connection is closed with a TCP reset before any response;
* ``truncate``: the real response's headers and half its body, then a reset (a response with
  no body is reset instead);
* ``stall``: nothing is answered for :attr:`FaultProxy.stall_seconds`, then a reset.

Everything else is forwarded unchanged to the registry, with the client's ``Host`` header, so
the URLs the registry hands out (upload locations) point back through the proxy.
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

EFFECTS = ("500", "502", "503", "429", "reset", "truncate", "stall")
_HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade",
               "proxy-authorization", "proxy-authenticate", "content-length"}


@dataclass
class Fault:
    kind: str
    effect: str
    times: int = 1


def request_kind(method: str, path: str) -> str:
    verb = method.lower()
    if re.match(r"^/v2/.+/manifests/", path):
        return f"manifest-{verb}"
    if re.match(r"^/v2/.+/blobs/uploads/", path):
        return f"upload-{verb}"
    if re.match(r"^/v2/.+/blobs/", path):
        return f"blob-{verb}"
    return f"other-{verb}"


class FaultProxy:
    def __init__(self, upstream_port: int, stall_seconds: float = 3.0) -> None:
        self.upstream_port = upstream_port
        self.stall_seconds = stall_seconds
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
                if fault.kind == kind and fault.times > 0:
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

            def _status(self, code: int) -> None:
                self.send_response(code)
                if code in (429, 503):
                    self.send_header("Retry-After", "1")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def _forward(self, body: bytes) -> tuple[http.client.HTTPResponse, bytes]:
                upstream = http.client.HTTPConnection("127.0.0.1", proxy.upstream_port,
                                                      timeout=60)
                headers = {k: v for k, v in self.headers.items()
                           if k.lower() not in _HOP_BY_HOP}
                headers["Content-Length"] = str(len(body))
                upstream.request(self.command, self.path, body=body, headers=headers)
                response = upstream.getresponse()
                data = response.read() if self.command != "HEAD" else b""
                upstream.close()
                return response, data

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
                self.send_response(response.status)
                for key, value in response.getheaders():
                    if key.lower() not in _HOP_BY_HOP:
                        self.send_header(key, value)
                length = response.getheader("Content-Length") if self.command == "HEAD" \
                    else str(len(data))
                self.send_header("Content-Length", length or "0")
                self.end_headers()
                if effect == "truncate":
                    if data:
                        self.wfile.write(data[:len(data) // 2])
                        self.wfile.flush()
                    return self._reset()
                if self.command != "HEAD":
                    self.wfile.write(data)

            do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = _handle

        return Handler
