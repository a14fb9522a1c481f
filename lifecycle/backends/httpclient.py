"""A small HTTP/1.1 client on sockets: what the registry backend needs, and nothing more.

Why not ``requests`` or ``http.client``: importing requests costs about 85 ms (urllib3,
charset_normalizer, idna, http.cookiejar, importlib.metadata, ssl), and even the standard
library's ``http.client`` imports ssl and the email parser (about 25 ms), while one registry
rebase is meant to take the interpreter's start-up plus its requests plus 20 ms. This module
imports only ``_socket`` and ``select``; ``ssl`` (and certifi) when an https URL is used.
``_socket`` is the C module the ``socket`` module wraps: its sockets are the same objects
without the Python layer (``makefile``, enums for the constants), and ``socket`` itself
takes about 4 ms to import here, mostly making those enums. What this module used of the
layer is ``_SocketReader``, below.

What it does, as requests does it for our requests:

* keep-alive connections, pooled per (scheme, host, port, proxy), safe to share between
  threads; at most ``max_idle`` idle connections are kept per pool (more may be open at once);
  a connection is reused only when its response was read to the end, and one the server
  closed while idle is noticed before it is used;
* a connect timeout and a read timeout (each socket operation after connecting);
* request bodies from bytes, from a file-like object with ``__len__`` (sent with its
  Content-Length), or from an iterator of bytes (chunked); a body's own read errors are
  raised as they are, never mistaken for network faults;
* responses with a Content-Length, chunked, or ending with the connection; read whole
  (``content``) or in pieces (``read``);
* redirects (301, 302, 303, 307, 308, up to 30) for requests whose body can be sent again,
  with ``Authorization`` dropped when the host changes;
* proxies from the environment (``HTTP_PROXY``, ``HTTPS_PROXY``, ``ALL_PROXY``, ``NO_PROXY``
  in either case, lowercase first), with credentials in the proxy URL; https is tunnelled
  with ``CONNECT``;
* TLS verified against certifi's bundle or a given CA file or directory, or not verified,
  one SSL context per setting.

What it does not do: cookies, content decoding (it asks for none), HTTP/2, client
certificates, HTTPS or SOCKS proxies, ``Expect: 100-continue``.

Errors are :class:`TransportError`: :class:`ConnectFailed` when nothing could be connected to
(nothing listens, the name does not resolve, the host is unreachable: asking again will not
help), :class:`TLSFailed` for a TLS handshake or certificate failure, and the base class for
everything transient (timeouts, resets, a connection closed mid-answer). Each is raised from
the socket's own error, so :func:`lifecycle.causes.describe` finds the words for it.
"""

from __future__ import annotations

import _socket
import binascii
import io
import os
import select
import sys
import threading
from collections.abc import Iterable, Iterator, Mapping
from urllib.parse import unquote, urljoin, urlsplit

from lifecycle.checking import TYPE_CHECKING, Protocol, cast, overload
from lifecycle.record import record

if TYPE_CHECKING:
    import ssl
    from typing import BinaryIO

    from _typeshed import WriteableBuffer

MAX_REDIRECTS = 30
BLOCK = 256 << 10
"""Bytes read at a time from a streamed request body, or from an answer read whole."""
_MAX_LINE = 65536
_MAX_HEADERS = 200
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_DEFAULT_PORTS = {"http": 80, "https": 443}


class TransportError(Exception):
    """A request could not be completed; asking again may help."""


class ConnectFailed(TransportError):
    """Nothing could be connected to: nothing listens, the name does not resolve, or the host
    is unreachable."""


class TLSFailed(TransportError):
    """The TLS handshake failed, a certificate that is not trusted included."""


class SizedBody(Protocol):
    def __len__(self) -> int: ...

    def read(self, size: int = -1) -> bytes: ...


Body = bytes | SizedBody | Iterable[bytes] | None


class Headers:
    """Response headers, looked up case-insensitively; a repeated header's values are joined
    with commas."""

    def __init__(self, items: Iterable[tuple[str, str]] = ()) -> None:
        self._values: dict[str, tuple[str, str]] = {}
        for name, value in items:
            key = name.lower()
            if key in self._values:
                value = f"{self._values[key][1]}, {value}"
            self._values[key] = (name, value)

    @overload
    def get(self, name: str) -> str | None: ...

    @overload
    def get(self, name: str, default: str) -> str: ...

    def get(self, name: str, default: str | None = None) -> str | None:
        found = self._values.get(name.lower())
        return found[1] if found else default

    def __getitem__(self, name: str) -> str:
        return self._values[name.lower()][1]

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._values

    def items(self) -> list[tuple[str, str]]:
        return list(self._values.values())


# -- proxies -------------------------------------------------------------------------------

@record
class Proxies:
    """Proxies from the environment, chosen per URL as requests chooses them."""

    by_scheme: Mapping[str, str]     # "http", "https", "all" -> proxy URL
    no_proxy: str = ""

    @classmethod
    def from_environment(cls, environ: Mapping[str, str]) -> Proxies:
        found: dict[str, str] = {}
        # Any case first, then the lowercase names again, so that they win.
        for name, value in environ.items():
            if value and name.lower().endswith("_proxy"):
                found[name.lower()[:-6]] = value
        if "REQUEST_METHOD" in environ:
            found.pop("http", None)  # a CGI script's HTTP_PROXY is a request header ("httpoxy")
        for name, value in environ.items():
            if name.endswith("_proxy"):
                if value:
                    found[name.lower()[:-6]] = value
                else:
                    found.pop(name.lower()[:-6], None)
        no_proxy = environ.get("no_proxy") or environ.get("NO_PROXY") or ""
        return cls({k: v for k, v in found.items() if k in ("http", "https", "all")}, no_proxy)

    def for_url(self, url: str) -> str | None:
        """The proxy URL to reach ``url`` through, or None to connect directly."""
        parts = urlsplit(url)
        if not parts.hostname or self._bypassed(parts.hostname, parts.port):
            return None
        proxy = self.by_scheme.get(parts.scheme) or self.by_scheme.get("all")
        if proxy and "://" not in proxy:
            proxy = f"http://{proxy}"
        return proxy

    def _bypassed(self, host: str, port: int | None) -> bool:
        entries = [entry.strip() for entry in self.no_proxy.replace(" ", "").split(",")]
        entries = [entry for entry in entries if entry]
        if not entries:
            return False
        if self.no_proxy.strip() == "*":
            return True
        host = host.lower()
        if _is_ipv4(host):
            for entry in entries:
                if "/" in entry:
                    if _in_network(host, entry):
                        return True
                elif entry == host:
                    return True
        else:
            with_port = f"{host}:{port}" if port else host
            if any(host.endswith(entry) or with_port.endswith(entry) for entry in entries):
                return True
        for entry in entries:
            name = entry.lstrip(".").lower()
            if not name:
                continue
            if host == name or host.endswith(f".{name}"):
                return True
        return False


def _is_ipv4(host: str) -> bool:
    try:
        _socket.inet_aton(host)
    except OSError:
        return False
    return True


def _in_network(address: str, network: str) -> bool:
    import ipaddress  # only for a CIDR entry in NO_PROXY
    try:
        return ipaddress.ip_address(address) in ipaddress.ip_network(network, strict=False)
    except ValueError:
        return False


# -- TLS -----------------------------------------------------------------------------------

class _TLSContexts:
    """One SSL context per verification setting, each built on first use."""

    def __init__(self) -> None:
        self._contexts: dict[bool | str, ssl.SSLContext] = {}
        self._lock = threading.Lock()

    def get(self, verify: bool | str) -> ssl.SSLContext:
        with self._lock:
            if verify not in self._contexts:
                self._contexts[verify] = _new_context(verify)
            return self._contexts[verify]


def _new_context(verify: bool | str) -> ssl.SSLContext:
    """``verify``: False (no verification), True (certifi's roots), or a CA file or
    directory."""
    import ssl

    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.set_alpn_protocols(["http/1.1"])
    if verify is False:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        return context
    if verify is True:
        import certifi  # the default roots, also where the system has no CA files
        verify = certifi.where()
    try:
        if os.path.isdir(verify):
            context.load_verify_locations(capath=verify)
        else:
            context.load_verify_locations(cafile=verify)
    except OSError as err:
        words = (err.strerror or str(err)).lower()
        raise TLSFailed(f"the CA certificates in {verify} cannot be loaded: {words}") from None
    return context


def _tls_error(err: BaseException) -> bool:
    # ssl is loaded by the time a TLS error can happen; where it is not, none is one.
    ssl = sys.modules.get("ssl")
    return ssl is not None and isinstance(err, ssl.SSLError)


# A TLS 1.2 ClientHello's parts: common ECDHE, RSA and ChaCha20 suites, the usual groups and
# signature algorithms; enough for any TLS server to answer with a handshake record or an
# alert, and no plain-HTTP server to mistake it for a request.
_HELLO_SUITES = bytes.fromhex("c02bc02fc02cc030cca9cca8c013c014009c009d002f0035")
_HELLO_GROUPS = bytes.fromhex("001d00170018")
_HELLO_SIGNATURES = bytes.fromhex("040308040401050308050501080606010201")


def speaks_tls(host: str, port: int, timeout: float = 5.0) -> bool:
    """Whether ``host:port`` answers a TLS ClientHello in TLS (a handshake record or an
    alert), from a hello written here: ~1 ms and no ``ssl`` import, where an HTTPS request
    costs ~20 (a new client context loads the system's CA certificates), so a plain-HTTP
    registry never needs ssl at all. Nothing is verified here; every real request is."""
    try:
        sock = _connect(host, port, timeout)
        try:
            sock.sendall(_client_hello(host))
            answer = b""
            while len(answer) < 2 and (data := sock.recv(2 - len(answer))):
                answer += data
        finally:
            sock.close()
    except (OSError, TransportError):
        return False
    # A record's content type (22 handshake, 21 alert) and major version 3; a plain-HTTP
    # server answers "HTTP/1.1 400" or hangs up.
    return len(answer) == 2 and answer[0] in (0x15, 0x16) and answer[1] == 0x03


def _client_hello(host: str) -> bytes:
    extensions = (_extension(0x000A, _vector(_HELLO_GROUPS))
                  + _extension(0x000B, b"\x01\x00")            # uncompressed points
                  + _extension(0x000D, _vector(_HELLO_SIGNATURES)))
    if not _is_address(host) and host.isascii():
        name = host.encode()
        extensions = _extension(0x0000, _vector(b"\x00" + _vector(name))) + extensions
    body = (b"\x03\x03" + os.urandom(32) + b"\x00" + _vector(_HELLO_SUITES) + b"\x01\x00"
            + _vector(extensions))
    handshake = b"\x01" + len(body).to_bytes(3, "big") + body
    return b"\x16\x03\x01" + _vector(handshake)


def _vector(data: bytes) -> bytes:
    return len(data).to_bytes(2, "big") + data


def _extension(kind: int, data: bytes) -> bytes:
    return kind.to_bytes(2, "big") + _vector(data)


def _is_address(host: str) -> bool:
    return ":" in host or _is_ipv4(host)


# -- connections ---------------------------------------------------------------------------

@record
class _Route:
    """Where a connection goes: the origin, and the proxy it goes through if any."""

    scheme: str
    host: str
    port: int
    proxy: str | None
    verify: bool | str   # how its TLS is verified (True for plain http)

    @property
    def authority(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port == _DEFAULT_PORTS[self.scheme] else f"{host}:{self.port}"


class _Connection:
    """One socket to a server (or a proxy), with a buffered reader for answers."""

    def __init__(self, route: _Route, timeouts: tuple[float, float],
                 contexts: _TLSContexts) -> None:
        self.route = route
        connect_timeout, read_timeout = timeouts
        proxy = urlsplit(route.proxy) if route.proxy else None
        if proxy is not None and proxy.scheme != "http":
            raise ConnectFailed(f"proxy {route.proxy}: only http:// proxies are supported")
        host, port = (proxy.hostname or "", proxy.port or 80) if proxy else (route.host,
                                                                             route.port)
        authorization = _proxy_authorization(proxy.username, proxy.password) if proxy else None
        sock = _connect(host, port, connect_timeout)
        try:
            if route.scheme == "https":
                if proxy is not None:
                    _tunnel(sock, route, authorization)
                sock = _wrap(sock, route.host, route.verify, contexts)
            sock.settimeout(read_timeout)
        except BaseException:
            sock.close()
            raise
        self.sock = sock
        self.reader = io.BufferedReader(_SocketReader(sock), 65536)
        self.forward_proxy = route.scheme == "http" and proxy is not None
        # Sent with every request through a forward proxy; a tunnel had it once, on CONNECT.
        self.proxy_authorization = authorization if self.forward_proxy else None

    def dropped(self) -> bool:
        """Whether the server closed (or wrote to) the connection while it was idle."""
        poller = select.poll()  # not select.select, which fails for descriptors past 1023
        poller.register(self.sock, select.POLLIN)
        try:
            return bool(poller.poll(0))
        except OSError:
            return True

    def set_read_timeout(self, seconds: float) -> None:
        self.sock.settimeout(seconds)

    def close(self) -> None:
        try:
            self.reader.close()
        finally:
            self.sock.close()


class _SocketReader(io.RawIOBase):
    """A socket's receiving side as a raw stream, for a buffered reader (what
    ``socket.makefile("rb")`` makes, for a blocking socket with a timeout: a timeout is the
    socket's ``TimeoutError``)."""

    def __init__(self, sock: _socket.socket) -> None:
        self._sock = sock

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: WriteableBuffer) -> int:
        return self._sock.recv_into(buffer)


def _connect(host: str, port: int, timeout: float) -> _socket.socket:
    """A TCP connection to the first address of ``host`` that accepts one."""
    # An ASCII name goes as bytes: a str is always run through the IDNA codec, whose import
    # (with stringprep and unicodedata) costs a rebase more than a millisecond.
    name = host.encode() if host.isascii() else host
    try:
        addresses = _socket.getaddrinfo(name, port, 0, _socket.SOCK_STREAM)
    except _socket.gaierror as err:
        raise ConnectFailed(f"cannot resolve {host}") from err
    last: OSError | None = None
    for family, kind, protocol, _, address in addresses:
        try:
            sock = _socket.socket(family, kind, protocol)
        except OSError as err:  # an address family this host cannot use
            last = err
            continue
        try:
            sock.settimeout(timeout)
            sock.setsockopt(_socket.IPPROTO_TCP, _socket.TCP_NODELAY, 1)
            sock.connect(address)
            return sock
        except TimeoutError as err:
            sock.close()
            raise TransportError(f"connecting to {host}:{port} timed out") from err
        except OSError as err:
            sock.close()
            last = err
    raise ConnectFailed(f"cannot connect to {host}:{port}") from last


def _proxy_authorization(username: str | None, password: str | None) -> str | None:
    if not username:
        return None
    pair = f"{unquote(username)}:{unquote(password or '')}"
    return "Basic " + binascii.b2a_base64(pair.encode(), newline=False).decode()


def _tunnel(sock: _socket.socket, route: _Route, authorization: str | None) -> None:
    """Ask the proxy on ``sock`` for a tunnel to the route's origin."""
    target = f"{route.host}:{route.port}"
    head = f"CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n"
    if authorization:
        head += f"Proxy-Authorization: {authorization}\r\n"
    try:
        sock.sendall(f"{head}\r\n".encode("latin-1"))
        # Read byte by byte: nothing after the proxy's answer may be taken from the TLS stream.
        lines: list[bytes] = []
        line = b""
        while line not in (b"\r\n", b"\n"):
            line = b""
            while not line.endswith(b"\n"):
                byte = sock.recv(1)
                if not byte:
                    raise TransportError("the proxy closed the connection without an answer")
                line += byte
                if len(line) > _MAX_LINE:
                    raise TransportError("the proxy's answer has too long a line")
            lines.append(line)
    except OSError as err:
        raise TransportError(f"tunnel through the proxy to {target} failed") from err
    status = _status(lines[0].decode("latin-1"))
    if status != 200:
        raise TransportError(f"the proxy refused a tunnel to {target} (HTTP {status})")


def _wrap(sock: _socket.socket, host: str, verify: bool | str,
          contexts: _TLSContexts) -> _socket.socket:
    context = contexts.get(verify)
    import socket  # ssl wraps only socket.socket objects, and has imported socket itself

    plain = socket.socket(sock.family, sock.type, sock.proto, sock.detach())
    try:
        return context.wrap_socket(plain, server_hostname=host)
    except OSError as err:
        plain.close()  # the caller closes the socket it gave, which no longer owns the file
        raise _network_fault(err, f"TLS handshake with {host}") from err


def _network_fault(err: OSError, what: str) -> TransportError:
    """``err`` of the socket as our error; a TLS one keeps its text, which says why."""
    if _tls_error(err):
        return TLSFailed(f"{what} failed: {err}")
    return TransportError(f"{what} failed")


class _Pool:
    """Idle connections per route; at most ``max_idle`` of each are kept."""

    def __init__(self, max_idle: int) -> None:
        self.max_idle = max_idle
        self._idle: dict[_Route, list[_Connection]] = {}
        self._lock = threading.Lock()

    def take(self, route: _Route) -> _Connection | None:
        while True:
            with self._lock:
                idle = self._idle.get(route)
                connection = idle.pop() if idle else None
            if connection is None or not connection.dropped():
                return connection
            connection.close()

    def give_back(self, connection: _Connection) -> None:
        with self._lock:
            idle = self._idle.setdefault(connection.route, [])
            if len(idle) < self.max_idle:
                idle.append(connection)
                return
        connection.close()

    def close(self) -> None:
        with self._lock:
            idle = [c for connections in self._idle.values() for c in connections]
            self._idle.clear()
        for connection in idle:
            connection.close()


# -- responses -----------------------------------------------------------------------------

class Response:
    """A response whose body is read on demand; its connection goes back to the pool once the
    body has been read to its end, and is closed if the response is closed before that."""

    def __init__(self, status_code: int, reason: str, headers: Headers, url: str,
                 connection: _Connection | None, framing: str, length: int,
                 reusable: bool, pool: _Pool) -> None:
        self.status_code, self.reason, self.headers, self.url = status_code, reason, headers, url
        self._connection = connection
        self._framing = framing        # "none", "length", "chunked" or "close"
        self._remaining = length       # of the body, or of the current chunk
        self._reusable = reusable
        self._pool = pool
        self._content: bytes | None = None
        if framing == "none" or (framing == "length" and length == 0):
            self._finish()

    @property
    def content(self) -> bytes:
        """The whole body (read once, then kept)."""
        if self._content is None:
            self._content = self.read()
        return self._content

    def read(self, size: int = -1) -> bytes:
        """Up to ``size`` bytes of the body (all that is left if negative); b"" at its end."""
        if size < 0:
            return b"".join(iter(lambda: self.read(BLOCK), b""))
        if self._connection is None:
            return b""
        try:
            if self._framing == "length":
                data = self._read_exact(min(size, self._remaining))
                self._remaining -= len(data)
                if not self._remaining:
                    self._finish()
                return data
            if self._framing == "chunked":
                return self._read_chunked(size)
            data = self._connection.reader.read1(size)
            if not data:
                self._finish()
            return data
        except OSError as err:
            self.close()
            raise _network_fault(err, "reading the answer") from err

    def _read_exact(self, size: int) -> bytes:
        assert self._connection is not None
        data = self._connection.reader.read(size)
        if len(data) < size:
            self.close()
            raise TransportError("connection broken mid-answer")
        return data

    def _read_chunked(self, size: int) -> bytes:
        assert self._connection is not None
        reader = self._connection.reader
        if self._remaining == 0:
            line = reader.readline(_MAX_LINE)
            try:
                self._remaining = int(line.split(b";", 1)[0].strip(), 16)
            except ValueError:
                self.close()
                raise TransportError("connection broken mid-answer") from None
            if self._remaining == 0:
                while reader.readline(_MAX_LINE) not in (b"\r\n", b"\n", b""):
                    pass  # trailer fields: none of them matter to us
                self._finish()
                return b""
        data = self._read_exact(min(size, self._remaining))
        self._remaining -= len(data)
        if not self._remaining:
            self._read_exact(2)  # the CRLF after the chunk
        return data

    def _finish(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            if self._reusable:
                self._pool.give_back(connection)
            else:
                connection.close()

    def close(self) -> None:
        """Done with the response: an unread rest of the body costs its connection."""
        connection, self._connection = self._connection, None
        if connection is not None:
            connection.close()


# -- the client ----------------------------------------------------------------------------

class HTTPClient:
    """Requests over pooled keep-alive connections; safe to use from many threads."""

    def __init__(self, max_idle: int = 10, proxies: Proxies | None = None,
                 headers: Mapping[str, str] | None = None) -> None:
        self.proxies = proxies if proxies is not None else Proxies.from_environment(os.environ)
        self.headers = dict(headers or {})
        self._pool = _Pool(max_idle)
        self._contexts = _TLSContexts()

    def request(self, method: str, url: str, headers: Mapping[str, str] | None = None,
                body: Body = None, stream: bool = False,
                timeout: tuple[float, float] = (10.0, 120.0),
                verify: bool | str = True) -> Response:
        """Send, following redirects; the body is read before returning unless ``stream``."""
        all_headers = {**self.headers, **(headers or {})}
        for _ in range(MAX_REDIRECTS + 1):
            response = self._exchange(method, url, all_headers, body, timeout, verify)
            location = response.headers.get("Location")
            if not (response.status_code in _REDIRECTS and location and _replayable(body)):
                if not stream:
                    response.content  # noqa: B018 (read now: a fault here is the request's)
                return response
            response.close()
            target = urljoin(url, location)
            if _strips_authorization(url, target):
                all_headers = {k: v for k, v in all_headers.items()
                               if k.lower() != "authorization"}
            if (response.status_code == 303 and method != "HEAD") or \
                    (response.status_code in (301, 302) and method == "POST"):
                method, body = "GET", None
                all_headers = {k: v for k, v in all_headers.items()
                               if k.lower() not in ("content-length", "content-type")}
            url = target
        raise TransportError(f"more than {MAX_REDIRECTS} redirects from {url}")

    def close(self) -> None:
        self._pool.close()

    def _exchange(self, method: str, url: str, headers: Mapping[str, str], body: Body,
                  timeout: tuple[float, float], verify: bool | str) -> Response:
        """One request and the head of its answer, on a pooled or new connection."""
        parts = urlsplit(url)
        if parts.scheme not in _DEFAULT_PORTS or not parts.hostname:
            raise ConnectFailed(f"cannot request {url}: not an http or https URL")
        route = _Route(parts.scheme, parts.hostname, parts.port or _DEFAULT_PORTS[parts.scheme],
                       self.proxies.for_url(url), verify if parts.scheme == "https" else True)
        connection = self._pool.take(route)
        if connection is not None:
            connection.set_read_timeout(timeout[1])
        else:
            connection = _Connection(route, timeout, self._contexts)
        try:
            target = url.split("#", 1)[0] if connection.forward_proxy else \
                (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
            _send(connection, method, target, route, headers, body)
            return self._answer(connection, method, url)
        except BaseException:
            connection.close()
            raise

    def _answer(self, connection: _Connection, method: str, url: str) -> Response:
        try:
            while True:
                status_line = connection.reader.readline(_MAX_LINE + 1)
                if not status_line:
                    raise TransportError("connection closed without an answer")
                version, status, reason = _status_line(status_line.decode("latin-1"))
                headers = _read_headers(connection.reader)
                if not 100 <= status < 200:
                    break
        except OSError as err:
            raise _network_fault(err, "waiting for the answer") from err
        keep_alive = "close" not in headers.get("Connection", "").lower() and (
            version != "HTTP/1.0" or "keep-alive" in headers.get("Connection", "").lower())
        if method == "HEAD" or status in (204, 304):
            framing, length = "none", 0
        elif "chunked" in headers.get("Transfer-Encoding", "").lower():
            framing, length = "chunked", 0
        elif "Content-Length" in headers:
            try:
                framing, length = "length", int(headers["Content-Length"].split(",")[0])
            except ValueError:
                raise TransportError("the answer has an invalid Content-Length") from None
        else:
            framing, length, keep_alive = "close", 0, False
        return Response(status, reason, headers, url, connection, framing, length,
                        keep_alive, self._pool)


def _send(connection: _Connection, method: str, target: str, route: _Route,
          headers: Mapping[str, str], body: Body) -> None:
    names = {name.lower() for name in headers}
    lines = [f"{method} {target} HTTP/1.1", f"Host: {route.authority}"]
    if connection.proxy_authorization:
        lines.append(f"Proxy-Authorization: {connection.proxy_authorization}")
    lines += [f"{name}: {value}" for name, value in headers.items()]
    chunked = False
    if "content-length" not in names and "transfer-encoding" not in names:
        if body is None:
            if method not in ("GET", "HEAD"):
                lines.append("Content-Length: 0")
        elif isinstance(body, bytes | bytearray) or _sized(body):
            lines.append(f"Content-Length: {len(cast(SizedBody, body))}")
        else:
            lines.append("Transfer-Encoding: chunked")
            chunked = True
    head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
    sock = connection.sock
    if isinstance(body, bytes | bytearray):
        _sendall(sock, head + body if len(body) < BLOCK else head)
        if len(body) >= BLOCK:
            _sendall(sock, body)
        return
    _sendall(sock, head)
    if body is None:
        return
    for block in _blocks(body):  # the body's own errors are raised as they are
        if chunked:
            if block:  # its size line, then the block as it is (a layer's are 1 MiB: no copy)
                _sendall(sock, b"%x\r\n" % len(block))
                _sendall(sock, block)
                _sendall(sock, b"\r\n")
        else:
            _sendall(sock, block)
    if chunked:
        _sendall(sock, b"0\r\n\r\n")


def _blocks(body: SizedBody | Iterable[bytes]) -> Iterator[bytes]:
    if hasattr(body, "read"):
        readable = cast("BinaryIO", body)
        while block := readable.read(BLOCK):
            yield block
    else:
        yield from body


def _sendall(sock: _socket.socket, data: bytes) -> None:
    try:
        sock.sendall(data)
    except OSError as err:
        raise _network_fault(err, "sending the request") from err


def _strips_authorization(old: str, new: str) -> bool:
    """Whether a redirect from ``old`` to ``new`` leaves the origin the credentials were
    meant for, by requests' rule: another host, or another scheme or port, except http to
    https on the default ports."""
    before, after = urlsplit(old), urlsplit(new)
    if before.hostname != after.hostname:
        return True
    if before.scheme == "http" and before.port in (80, None) and after.scheme == "https" \
            and after.port in (443, None):
        return False
    defaults = (_DEFAULT_PORTS.get(before.scheme), None)
    if before.scheme == after.scheme and before.port in defaults and after.port in defaults:
        return False
    return before.port != after.port or before.scheme != after.scheme


def _sized(body: object) -> bool:
    return hasattr(body, "read") and hasattr(body, "__len__")


def _replayable(body: Body) -> bool:
    return body is None or isinstance(body, bytes | bytearray)


def _status(line: str) -> int:
    return _status_line(line)[1]


def _status_line(line: str) -> tuple[str, int, str]:
    version, _, rest = line.strip().partition(" ")
    code, _, reason = rest.partition(" ")
    if not version.startswith("HTTP/") or not code.isdigit() or len(code) != 3:
        raise TransportError("the server did not answer in HTTP")
    return version, int(code), reason


def _read_headers(reader: io.BufferedReader[_SocketReader]) -> Headers:
    fields: list[tuple[str, str]] = []
    while True:
        line = reader.readline(_MAX_LINE + 1)
        if not line:
            raise TransportError("connection closed without an answer")
        if len(line) > _MAX_LINE or len(fields) > _MAX_HEADERS:
            raise TransportError("the answer's headers are too large")
        if line in (b"\r\n", b"\n"):
            return Headers(fields)
        text = line.decode("latin-1").rstrip("\r\n")
        if text[:1] in (" ", "\t") and fields:  # an obsolete folded continuation line
            name, value = fields[-1]
            fields[-1] = (name, f"{value} {text.strip()}")
            continue
        name, _, value = text.partition(":")
        fields.append((name.strip(), value.strip()))
