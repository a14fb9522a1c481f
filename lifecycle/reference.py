"""Image references, parsed the way go-containerregistry's weak validation parses them.

The registry string is what mirror selection compares, so these rules are load-bearing:
the first path part is a registry only if it contains ``.`` or ``:`` (``localhost/x`` is
Docker Hub), ``docker.io`` and an empty registry become ``index.docker.io``, and host case and
ports are significant, exactly as go-containerregistry's ``name.ParseReference`` decides.
"""

from __future__ import annotations

import re

from lifecycle.image.model import is_sha256_digest
from lifecycle.record import record

DEFAULT_REGISTRY = "index.docker.io"
DEFAULT_TAG = "latest"

# Character sets rather than regular expressions: every run parses references, and compiling
# the expressions would cost a rebase a millisecond before its first request.
_DIGITS = "0123456789"
_LOWER = "abcdefghijklmnopqrstuvwxyz"
_LETTERS = _LOWER + _LOWER.upper()
_DIGIT_CHARS = frozenset(_DIGITS)
_IPV4_CHARS = frozenset(_DIGITS + ".")
_REPOSITORY_CHARS = frozenset(_LOWER + _DIGITS + "_-./")
_TAG_CHARS = frozenset(_LETTERS + _DIGITS + "_-.")
_SCHEME = r"[A-Za-z][A-Za-z0-9+.-]*"
# An RFC 3986 authority as Go's url.Parse accepts it for a registry: host[:port], no userinfo.
_HOST_CHARS = frozenset(_LETTERS + _DIGITS + "._~%!$&'()*+,;=-")
_IP_LITERAL_CHARS = frozenset(_DIGITS + "ABCDEFabcdef:.")


class ReferenceError(ValueError):
    """The string is not a valid image reference."""


@record
class Reference:
    """A parsed image reference: ``registry/repository`` plus a tag or a digest."""

    registry: str
    repository: str
    tag: str | None = None
    digest: str | None = None

    @property
    def repository_str(self) -> str:
        """The repository path as the registry API sees it (``library/`` made explicit)."""
        if self.registry == DEFAULT_REGISTRY and "/" not in self.repository:
            return f"library/{self.repository}"
        return self.repository

    @property
    def context(self) -> str:
        """``registry/repository``: the repository this reference lives in."""
        return f"{self.registry}/{self.repository_str}"

    @property
    def identifier(self) -> str:
        """The tag or digest this reference names (``latest`` when neither was given)."""
        return self.digest or self.tag or DEFAULT_TAG

    @property
    def name(self) -> str:
        """The fully qualified name, e.g. ``index.docker.io/library/x:latest``."""
        if self.digest:
            return f"{self.context}@{self.digest}"
        return f"{self.context}:{self.tag or DEFAULT_TAG}"

    def is_loopback(self) -> bool:
        host = registry_host(self.registry)
        if host == "localhost" or host.endswith(".localhost"):
            return True
        address = host.strip("[]")
        if ":" not in address and not _IPV4_CHARS.issuperset(address):
            return False  # a host name: no address to ask about
        import ipaddress  # only for an address literal (1.2 ms of start-up otherwise)

        try:
            return ipaddress.ip_address(address).is_loopback
        except ValueError:
            return False

    def scheme(self, insecure_registries: frozenset[str] = frozenset()) -> str:
        """Plain HTTP only for loopback hosts and registries the user marked insecure."""
        if (self.registry in insecure_registries
                or registry_host(self.registry) in insecure_registries):
            return "http"
        return "http" if self.is_loopback() else "https"

    def __str__(self) -> str:
        return self.name


def registry_host(registry: str) -> str:
    """The host part of ``host[:port]`` (IPv6 literals keep their brackets)."""
    if registry.startswith("["):
        return registry[: registry.index("]") + 1]
    return registry.split(":", 1)[0]


def host_and_port(registry: str) -> tuple[str, int]:
    """``host[:port]`` as a host to connect to and a port (443 when none is given)."""
    host = registry_host(registry)
    port = registry[len(host) + 1:]
    return host.strip("[]"), int(port) if port.isdigit() else 443


def parse_reference(text: str) -> Reference:
    """Parse ``text`` as a tag reference, else as a digest reference (ggcr ParseReference).

    A name with a URL scheme (``http://``, ``docker://``) would otherwise parse with the
    registry ``http:`` and fail much later, so it is refused here with the fix.
    """
    scheme, separator, rest = text.partition("://")
    if separator and re.fullmatch(_SCHEME, scheme):
        fix = f"drop the scheme: write '{rest}'"
        if scheme.lower() in ("http", "https"):
            fix += "; use -insecure-registry for plain HTTP"
        raise ReferenceError(f"'{text}' has a URL scheme ({scheme}://); {fix}")
    try:
        return _parse_tag(text)
    except ReferenceError:
        pass
    try:
        return _parse_digest(text)
    except ReferenceError as err:
        raise ReferenceError(f"could not parse reference: {text}") from err


def _parse_tag(text: str) -> Reference:
    base, tag = text, ""
    parts = text.split(":")
    # A trailing ":x" is a tag unless it contains "/": then the colon was a registry port.
    if len(parts) > 1 and "/" not in parts[-1]:
        base, tag = ":".join(parts[:-1]), parts[-1]
    if tag and not (len(tag) <= 128 and _TAG_CHARS.issuperset(tag)):
        raise ReferenceError(f"tag can only contain [A-Za-z0-9_-.] and be at most 128 long: {tag}")
    registry, repository = _parse_repository(base)
    return Reference(registry, repository, tag=tag or DEFAULT_TAG)


def _parse_digest(text: str) -> Reference:
    parts = text.split("@")
    if len(parts) != 2:
        raise ReferenceError(f"a digest must contain exactly one '@' separator: {text}")
    base, digest = parts
    if not is_sha256_digest(digest):
        raise ReferenceError(f"digest must be sha256:<64 hex characters>: {digest}")
    try:
        tagged = _parse_tag(base)  # "repo:tag@sha256:..." keeps only the digest, as ggcr does
        return Reference(tagged.registry, tagged.repository, digest=digest)
    except ReferenceError:
        registry, repository = _parse_repository(base)
        return Reference(registry, repository, digest=digest)


def _parse_repository(name: str) -> tuple[str, str]:
    if not name:
        raise ReferenceError("a repository name must be specified")
    registry, repository = "", name
    first, sep, rest = name.partition("/")
    if sep and ("." in first or ":" in first):
        registry, repository = first, rest
    if not 2 <= len(repository) <= 255 or not _REPOSITORY_CHARS.issuperset(repository):
        raise ReferenceError(
            "repository must be 2 to 255 characters of [a-z0-9_-./]: " + repository)
    if registry and not _is_authority(registry):
        raise ReferenceError(f"registries must be valid RFC 3986 URI authorities: {registry}")
    if registry in ("", "docker.io"):
        registry = DEFAULT_REGISTRY
    return registry, repository


def _is_authority(text: str) -> bool:
    """``host[:port]``: a bracketed IP literal or a name of RFC 3986's host characters, then
    perhaps a colon and a port of digits (perhaps none)."""
    if text.startswith("["):
        host, bracket, port = text[1:].partition("]")
        valid_host = bool(bracket and host) and _IP_LITERAL_CHARS.issuperset(host)
    else:
        host, colon, digits = text.partition(":")
        port = colon + digits
        valid_host = bool(host) and _HOST_CHARS.issuperset(host)
    if not port:
        return valid_host
    return valid_host and port[0] == ":" and _DIGIT_CHARS.issuperset(port[1:])
