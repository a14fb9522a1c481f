"""The registry's HTTP client against small real servers on loopback (stdlib ``http.server``
in a thread): redirects, proxies, the connection pool, bodies in every framing, faults."""

from __future__ import annotations

import json
import socket
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from lifecycle.backends.httpclient import (
    ConnectFailed,
    Headers,
    HTTPClient,
    Proxies,
    TLSFailed,
    TransportError,
    speaks_tls,
)
from lifecycle.causes import describe
from tests.harness.tlsregistry import make_certificates

NO_PROXIES = Proxies({})
TIMEOUTS = (5.0, 5.0)


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    client_port: int   # tells connections apart


Handler = Callable[[BaseHTTPRequestHandler, Seen], None]


class QuietServer(ThreadingHTTPServer):
    def handle_error(self, *_: object) -> None:
        pass  # a client the test made go away mid-answer is no failure of the server


@dataclass
class Server:
    """A loopback HTTP/1.1 server; ``routes`` maps a path to what answers it."""

    routes: dict[str, Handler] = field(default_factory=dict)
    seen: list[Seen] = field(default_factory=list)
    tls: ssl.SSLContext | None = None

    def __post_init__(self) -> None:
        owner = self

        class Handle(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *_: object) -> None:
                pass

            def handle_one(self) -> None:
                seen = Seen(self.command, self.path, dict(self.headers.items()), self._body(),
                            self.client_address[1])
                owner.seen.append(seen)
                owner.routes.get(self.path.split("?")[0], answer(200, b"ok"))(self, seen)

            def _body(self) -> bytes:
                if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                    data = b""
                    while size := int(self.rfile.readline().split(b";")[0], 16):
                        data += self.rfile.read(size)
                        self.rfile.readline()
                    self.rfile.readline()
                    return data
                return self.rfile.read(int(self.headers.get("Content-Length") or 0))

            do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = do_CONNECT = handle_one

        self.server = QuietServer(("127.0.0.1", 0), Handle)
        if self.tls is not None:
            self.server.socket = self.tls.wrap_socket(self.server.socket, server_side=True)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()

    def url(self, path: str, host: str = "127.0.0.1") -> str:
        return f"{'https' if self.tls else 'http'}://{host}:{self.port}{path}"

    def connections(self) -> set[int]:
        return {seen.client_port for seen in self.seen}

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def answer(status: int, body: bytes = b"", headers: dict[str, str] | None = None,
           close: bool = False) -> Handler:
    def handle(request: BaseHTTPRequestHandler, seen: Seen) -> None:
        request.send_response(status)
        for name, value in (headers or {}).items():
            request.send_header(name, value)
        request.send_header("Content-Length", str(len(body)))
        if close:
            request.send_header("Connection", "close")
        request.end_headers()
        if seen.method != "HEAD":
            request.wfile.write(body)
        request.close_connection = close
    return handle


@pytest.fixture
def server() -> Iterator[Server]:
    running = Server()
    yield running
    running.stop()


@pytest.fixture
def other() -> Iterator[Server]:
    running = Server()
    yield running
    running.stop()


@pytest.fixture
def client() -> Iterator[HTTPClient]:
    made = HTTPClient(max_idle=4, proxies=NO_PROXIES, headers={"User-Agent": "test"})
    yield made
    made.close()


# -- redirects -----------------------------------------------------------------------------

def test_a_redirect_to_another_host_drops_the_authorization(server: Server, other: Server,
                                                            client: HTTPClient) -> None:
    # localhost and 127.0.0.1 are the same machine but not the same host name.
    server.routes["/blob"] = answer(307, headers={"Location": other.url("/storage", "localhost")})
    other.routes["/storage"] = answer(200, b"the bytes")
    response = client.request("GET", server.url("/blob"), {"Authorization": "Bearer x"},
                              timeout=TIMEOUTS)
    assert (response.status_code, response.content) == (200, b"the bytes")
    assert server.seen[0].headers["Authorization"] == "Bearer x"
    assert "Authorization" not in other.seen[0].headers
    assert other.seen[0].headers["User-Agent"] == "test"


def test_a_redirect_to_another_port_drops_the_authorization(server: Server, other: Server,
                                                            client: HTTPClient) -> None:
    server.routes["/blob"] = answer(302, headers={"Location": other.url("/storage")})
    client.request("GET", server.url("/blob"), {"Authorization": "Bearer x"}, timeout=TIMEOUTS)
    assert "Authorization" not in other.seen[0].headers


def test_a_redirect_on_the_same_host_keeps_it_and_a_303_turns_a_post_into_a_get(
        server: Server, client: HTTPClient) -> None:
    server.routes["/start"] = answer(303, headers={"Location": "/next"})
    response = client.request("POST", server.url("/start"), {"Authorization": "Basic y"},
                              body=b"payload", timeout=TIMEOUTS)
    assert response.status_code == 200
    second = server.seen[1]
    assert (second.method, second.path, second.body) == ("GET", "/next", b"")
    assert second.headers["Authorization"] == "Basic y"


def test_a_307_sends_the_same_method_and_body_again(server: Server, client: HTTPClient) -> None:
    server.routes["/put"] = answer(307, headers={"Location": "/elsewhere"})
    client.request("PUT", server.url("/put"), body=b"manifest", timeout=TIMEOUTS)
    assert [(s.method, s.path, s.body) for s in server.seen] == [
        ("PUT", "/put", b"manifest"), ("PUT", "/elsewhere", b"manifest")]


def test_a_streamed_body_is_not_sent_twice_so_its_redirect_is_the_answer(
        server: Server, client: HTTPClient) -> None:
    server.routes["/patch"] = answer(307, headers={"Location": "/elsewhere"})
    response = client.request("PATCH", server.url("/patch"), body=iter([b"a", b"b"]),
                              timeout=TIMEOUTS)
    assert response.status_code == 307 and len(server.seen) == 1


def test_endless_redirects_end(server: Server, client: HTTPClient) -> None:
    server.routes["/loop"] = answer(302, headers={"Location": "/loop"})
    with pytest.raises(TransportError, match="redirects"):
        client.request("GET", server.url("/loop"), timeout=TIMEOUTS)


# -- proxies -------------------------------------------------------------------------------

@pytest.mark.parametrize(("environ", "url", "proxy"), [
    ({"HTTPS_PROXY": "http://upper:1"}, "https://r.example/v2/", "http://upper:1"),
    ({"HTTPS_PROXY": "http://upper:1", "https_proxy": "http://lower:2"}, "https://r.example/",
     "http://lower:2"),
    ({"http_proxy": "proxy.local:3128"}, "http://r.example/", "http://proxy.local:3128"),
    ({"http_proxy": "http://p:1"}, "https://r.example/", None),
    ({"ALL_PROXY": "http://all:9"}, "https://r.example/", "http://all:9"),
    ({"ALL_PROXY": "http://all:9", "HTTPS_PROXY": "http://s:1"}, "https://r.example/",
     "http://s:1"),
    ({"HTTPS_PROXY": "http://up:1", "https_proxy": ""}, "https://r.example/", None),
    ({"HTTP_PROXY": "http://p:1", "REQUEST_METHOD": "GET"}, "http://r.example/", None),
])
def test_the_proxy_for_a_url_comes_from_the_environment(environ: dict[str, str], url: str,
                                                        proxy: str | None) -> None:
    assert Proxies.from_environment(environ).for_url(url) == proxy


@pytest.mark.parametrize(("no_proxy", "url", "bypassed"), [
    ("example.com", "https://registry.example.com/", True),
    (".example.com", "https://registry.example.com/", True),
    ("example.com", "https://example.com:5000/", True),
    ("registry.example.com:5000", "https://registry.example.com:5000/", True),
    ("registry.example.com:5000", "https://registry.example.com:443/", False),
    ("other.com, example.com", "https://example.com/", True),
    ("example.com", "https://example.org/", False),
    ("*", "https://anything.example/", True),
    ("10.0.0.0/8", "http://10.1.2.3:5000/", True),
    ("10.0.0.0/8", "http://192.168.1.1/", False),
    ("127.0.0.1", "http://127.0.0.1:5000/", True),
])
def test_no_proxy_bypasses_hosts_domains_ports_and_networks(no_proxy: str, url: str,
                                                            bypassed: bool) -> None:
    for variable in ("NO_PROXY", "no_proxy"):
        proxies = Proxies.from_environment({"HTTPS_PROXY": "http://p:1",
                                            "HTTP_PROXY": "http://p:1", variable: no_proxy})
        assert (proxies.for_url(url) is None) == bypassed, variable


def test_an_http_request_through_a_proxy_names_the_whole_url_and_its_credentials(
        server: Server) -> None:
    proxied = HTTPClient(proxies=Proxies({"http": f"http://user:p%40ss@127.0.0.1:{server.port}"}))
    try:
        response = proxied.request("GET", "http://registry.example:5000/v2/", timeout=TIMEOUTS)
        assert response.status_code == 200
    finally:
        proxied.close()
    seen = server.seen[0]
    assert seen.path == "http://registry.example:5000/v2/"
    assert seen.headers["Host"] == "registry.example:5000"
    assert seen.headers["Proxy-Authorization"] == "Basic dXNlcjpwQHNz"   # user:p@ss


def test_https_through_a_proxy_asks_for_a_tunnel(server: Server) -> None:
    server.routes["registry.example:443"] = answer(403)
    proxied = HTTPClient(proxies=Proxies({"https": server.url("")}))
    try:
        with pytest.raises(TransportError, match="HTTP 403"):
            proxied.request("GET", "https://registry.example/v2/", timeout=TIMEOUTS)
    finally:
        proxied.close()
    assert (server.seen[0].method, server.seen[0].path) == ("CONNECT", "registry.example:443")


# -- the connection pool -------------------------------------------------------------------

def test_a_connection_is_reused_once_its_answer_was_read(server: Server,
                                                         client: HTTPClient) -> None:
    for _ in range(3):
        assert client.request("GET", server.url("/v2/"), timeout=TIMEOUTS).content == b"ok"
    streamed = client.request("GET", server.url("/v2/"), stream=True, timeout=TIMEOUTS)
    assert streamed.read(1) + streamed.read(10) + streamed.read(10) == b"ok"
    client.request("HEAD", server.url("/v2/"), timeout=TIMEOUTS)
    assert len(server.connections()) == 1


def test_a_connection_whose_answer_was_not_read_is_closed_not_reused(
        server: Server, client: HTTPClient) -> None:
    server.routes["/big"] = answer(200, b"x" * 100_000)
    unread = client.request("GET", server.url("/big"), stream=True, timeout=TIMEOUTS)
    unread.read(10)
    unread.close()
    client.request("GET", server.url("/v2/"), timeout=TIMEOUTS)
    assert len(server.connections()) == 2


def test_a_connection_the_server_closed_is_not_reused(server: Server,
                                                      client: HTTPClient) -> None:
    server.routes["/close"] = answer(200, b"bye", close=True)
    assert client.request("GET", server.url("/close"), timeout=TIMEOUTS).content == b"bye"
    client.request("GET", server.url("/v2/"), timeout=TIMEOUTS)
    assert len(server.connections()) == 2


def test_a_connection_that_dropped_while_idle_is_replaced(server: Server,
                                                          client: HTTPClient) -> None:
    def keep_alive_then_hang_up(request: BaseHTTPRequestHandler, seen: Seen) -> None:
        answer(200, b"ok")(request, seen)
        request.close_connection = True   # without saying so in the answer
    server.routes["/drop"] = keep_alive_then_hang_up
    client.request("GET", server.url("/drop"), timeout=TIMEOUTS)
    time.sleep(0.2)
    assert client.request("GET", server.url("/v2/"), timeout=TIMEOUTS).status_code == 200
    assert len(server.connections()) == 2


def test_many_threads_share_the_pool_and_keep_at_most_max_idle(server: Server) -> None:
    def slow(request: BaseHTTPRequestHandler, seen: Seen) -> None:
        time.sleep(0.05)
        answer(200, b"ok")(request, seen)
    server.routes["/slow"] = slow
    shared = HTTPClient(max_idle=3, proxies=NO_PROXIES)
    failures: list[BaseException] = []

    def work() -> None:
        try:
            for _ in range(5):
                assert shared.request("GET", server.url("/slow"), timeout=TIMEOUTS).content
        except BaseException as err:  # noqa: BLE001 (reported by the test thread)
            failures.append(err)
    threads = [threading.Thread(target=work) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not failures and len(server.seen) == 30
    assert len(server.connections()) <= 6
    before = len(server.connections())
    for _ in range(3):
        shared.request("GET", server.url("/v2/"), timeout=TIMEOUTS)
    assert len(server.connections()) == before   # kept connections were used again
    shared.close()


# -- bodies --------------------------------------------------------------------------------

class Sized:
    def __init__(self, data: bytes) -> None:
        self.data, self.offset = data, 0

    def __len__(self) -> int:
        return len(self.data)

    def read(self, size: int = -1) -> bytes:
        chunk = self.data[self.offset:self.offset + size]
        self.offset += len(chunk)
        return chunk


def test_request_bodies_from_bytes_a_sized_stream_and_an_iterator(server: Server,
                                                                  client: HTTPClient) -> None:
    big = bytes(range(256)) * 4096   # 1 MiB: more than one block
    client.request("PUT", server.url("/a"), body=b"small", timeout=TIMEOUTS)
    client.request("PUT", server.url("/b"), body=Sized(big), timeout=TIMEOUTS)
    client.request("PATCH", server.url("/c"), body=iter([b"one", b"", b"two"]), timeout=TIMEOUTS)
    client.request("POST", server.url("/d"), timeout=TIMEOUTS)
    a, b, c, d = server.seen
    assert (a.body, a.headers["Content-Length"]) == (b"small", "5")
    assert (b.body == big, b.headers["Content-Length"]) == (True, str(len(big)))
    assert (c.body, c.headers["Transfer-Encoding"]) == (b"onetwo", "chunked")
    assert d.headers["Content-Length"] == "0"
    assert len(server.connections()) == 1


def test_a_body_that_fails_to_read_raises_its_own_error(server: Server,
                                                        client: HTTPClient) -> None:
    def failing() -> Iterator[bytes]:
        yield b"start"
        raise OSError("the disk failed")
    with pytest.raises(OSError, match="the disk failed") as raised:
        client.request("PATCH", server.url("/c"), body=failing(), timeout=TIMEOUTS)
    assert not isinstance(raised.value, TransportError)


def chunked(parts: list[bytes], trailer: bytes = b"") -> Handler:
    def handle(request: BaseHTTPRequestHandler, seen: Seen) -> None:
        request.send_response(200)
        request.send_header("Transfer-Encoding", "chunked")
        request.end_headers()
        for part in parts:
            request.wfile.write(b"%x;ext=1\r\n%b\r\n" % (len(part), part))
        request.wfile.write(b"0\r\n" + trailer + b"\r\n")
    return handle


def test_a_chunked_answer_read_whole_or_in_pieces(server: Server, client: HTTPClient) -> None:
    server.routes["/chunked"] = chunked([b"hello ", b"chunked ", b"world"], b"X-Sum: 1\r\n")
    assert client.request("GET", server.url("/chunked"), timeout=TIMEOUTS).content == \
        b"hello chunked world"
    streamed = client.request("GET", server.url("/chunked"), stream=True, timeout=TIMEOUTS)
    pieces = list(iter(lambda: streamed.read(4), b""))
    assert b"".join(pieces) == b"hello chunked world" and max(map(len, pieces)) == 4
    client.request("GET", server.url("/v2/"), timeout=TIMEOUTS)
    assert len(server.connections()) == 1


def test_an_answer_that_ends_with_its_connection(server: Server, client: HTTPClient) -> None:
    def until_close(request: BaseHTTPRequestHandler, seen: Seen) -> None:
        request.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nall of it")
        request.close_connection = True
    server.routes["/old"] = until_close
    response = client.request("GET", server.url("/old"), timeout=TIMEOUTS)
    assert response.content == b"all of it"
    assert response.headers["content-type"] == "text/plain"
    client.request("GET", server.url("/v2/"), timeout=TIMEOUTS)
    assert len(server.connections()) == 2


def test_headers_are_looked_up_in_any_case() -> None:
    headers = Headers([("Docker-Content-Digest", "sha256:1"), ("Link", "a"), ("link", "b")])
    assert headers.get("docker-content-digest") == headers["DOCKER-CONTENT-DIGEST"] == "sha256:1"
    assert headers.get("Link") == "a, b" and "LINK" in headers
    assert headers.get("Location") is None and headers.get("Location", "") == ""


# -- faults --------------------------------------------------------------------------------

def test_an_answer_cut_short_is_a_broken_connection(server: Server,
                                                    client: HTTPClient) -> None:
    def truncated(request: BaseHTTPRequestHandler, seen: Seen) -> None:
        request.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly this")
        request.close_connection = True
    server.routes["/cut"] = truncated
    with pytest.raises(TransportError) as raised:
        client.request("GET", server.url("/cut"), timeout=TIMEOUTS)
    assert describe(raised.value) == "connection broken mid-answer"


def test_a_connection_closed_before_the_answer(server: Server, client: HTTPClient) -> None:
    def hang_up(request: BaseHTTPRequestHandler, seen: Seen) -> None:
        request.close_connection = True
    server.routes["/nothing"] = hang_up
    with pytest.raises(TransportError) as raised:
        client.request("GET", server.url("/nothing"), timeout=TIMEOUTS)
    assert not isinstance(raised.value, ConnectFailed)
    assert describe(raised.value) == "connection closed without an answer"


def test_a_server_slower_than_the_read_timeout(server: Server, client: HTTPClient) -> None:
    def stall(request: BaseHTTPRequestHandler, seen: Seen) -> None:
        time.sleep(1.0)
        answer(200)(request, seen)
    server.routes["/stall"] = stall
    started = time.monotonic()
    with pytest.raises(TransportError) as raised:
        client.request("GET", server.url("/stall"), timeout=(5.0, 0.2))
    assert time.monotonic() - started < 0.9
    assert not isinstance(raised.value, ConnectFailed)
    assert describe(raised.value) == "timed out"


def test_nothing_listening_is_a_failure_to_connect(client: HTTPClient) -> None:
    with socket.socket() as bound:
        bound.bind(("127.0.0.1", 0))   # bound, not listening
        port = bound.getsockname()[1]
        with pytest.raises(ConnectFailed) as raised:
            client.request("GET", f"http://127.0.0.1:{port}/v2/", timeout=TIMEOUTS)
    assert describe(raised.value) == "connection refused"


def test_plain_http_loads_neither_ssl_nor_requests(server: Server) -> None:
    script = (
        "import json, sys\n"
        "from lifecycle.backends.httpclient import HTTPClient, Proxies, speaks_tls\n"
        "import lifecycle.backends.registry\n"
        f"response = HTTPClient(proxies=Proxies({{}})).request('GET', {server.url('/v2/')!r})\n"
        f"assert not speaks_tls('127.0.0.1', {server.port})\n"
        "print(json.dumps([response.status_code] + [m for m in ('ssl', 'requests', 'urllib3',"
        " 'http.client', 'certifi') if m in sys.modules]))\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          check=True, timeout=60)
    assert json.loads(done.stdout) == [200]


# -- TLS -----------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    return make_certificates(tmp_path_factory.mktemp("certs"))


@pytest.fixture
def tls_server(certificates: tuple[Path, Path, Path]) -> Iterator[Server]:
    _, certificate, key = certificates
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(certificate, key)
    running = Server(tls=context)
    yield running
    running.stop()


def test_tls_is_verified_against_the_ca_given_once_per_setting(
        tls_server: Server, certificates: tuple[Path, Path, Path], client: HTTPClient) -> None:
    ca = str(certificates[0])
    for _ in range(2):
        assert client.request("GET", tls_server.url("/v2/"), verify=ca,
                              timeout=TIMEOUTS).status_code == 200
    assert client.request("GET", tls_server.url("/v2/", "localhost"), verify=ca,
                          timeout=TIMEOUTS).status_code == 200
    with pytest.raises(TLSFailed, match="CERTIFICATE_VERIFY_FAILED") as raised:
        client.request("GET", tls_server.url("/v2/"), timeout=TIMEOUTS)   # certifi's roots
    assert "unable to get local issuer certificate" in str(raised.value)
    assert client.request("GET", tls_server.url("/v2/"), verify=False,
                          timeout=TIMEOUTS).status_code == 200
    # One connection per route (the first reused), none for the failed handshake.
    assert len(tls_server.connections()) == 3 and len(tls_server.seen) == 4
    assert sorted(map(str, client._contexts._contexts)) == sorted([ca, "True", "False"])


def test_the_tls_probe_tells_tls_from_plain_http_and_nothing(tls_server: Server,
                                                             server: Server) -> None:
    assert speaks_tls("127.0.0.1", tls_server.port)
    assert speaks_tls("localhost", tls_server.port)
    assert not speaks_tls("127.0.0.1", server.port)
    with socket.socket() as bound:
        bound.bind(("127.0.0.1", 0))
        assert not speaks_tls("127.0.0.1", bound.getsockname()[1])


class TunnelProxy:
    """A CONNECT proxy: bytes both ways between the client and the host it names."""

    def __init__(self) -> None:
        self.tunnels: list[str] = []
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._tunnel, args=(client,), daemon=True).start()

    def _tunnel(self, client: socket.socket) -> None:
        head = b""
        while not head.endswith(b"\r\n\r\n"):
            head += client.recv(1)
        target = head.split(b" ")[1].decode()
        self.tunnels.append(target)
        host, port = target.rsplit(":", 1)
        upstream = socket.create_connection((host, int(port)))
        client.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")

        def pipe(source: socket.socket, sink: socket.socket) -> None:
            try:
                while data := source.recv(65536):
                    sink.sendall(data)
            except OSError:
                pass
            finally:
                sink.close()
        threading.Thread(target=pipe, args=(upstream, client), daemon=True).start()
        pipe(client, upstream)

    def stop(self) -> None:
        self.listener.close()


def test_https_goes_through_a_proxy_in_a_tunnel(tls_server: Server,
                                                certificates: tuple[Path, Path, Path]) -> None:
    proxy = TunnelProxy()
    proxied = HTTPClient(proxies=Proxies({"https": f"http://127.0.0.1:{proxy.port}"}))
    try:
        for _ in range(2):
            response = proxied.request("GET", tls_server.url("/v2/", "localhost"),
                                       verify=str(certificates[0]), timeout=TIMEOUTS)
            assert response.content == b"ok"
    finally:
        proxied.close()
        proxy.stop()
    assert proxy.tunnels == [f"localhost:{tls_server.port}"]   # one tunnel, used twice
    assert tls_server.seen[0].headers["Host"] == f"localhost:{tls_server.port}"
