"""Registry backend: the OCI distribution API v2 over one pooled HTTP session.

Reads fetch only manifests and configs; layers stay in the registry as lazy blob sources.
Writes go blob by blob — HEAD first (present: skip), cross-repository mount when the blob is
in another repository of the same registry, otherwise a streamed upload (monolithic for
small blobs, chunked PATCHes for large ones) — and only when every blob is present is the
manifest put, once per name. A tag therefore never points at a manifest with missing blobs.
Why this client is hand-written, on a small HTTP client of our own (``httpclient``) rather
than a library: docs/design.md.
"""

from __future__ import annotations

import functools
import io
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from urllib.parse import urlencode, urljoin

from lifecycle import interrupts
from lifecycle.backends.auth import Keychain
from lifecycle.backends.base import (
    DEFAULT_CONNECTIONS,
    Access,
    AccessDenied,
    BackendError,
    ImageNotFound,
    ImageStore,
)
from lifecycle.backends.httpclient import (
    Body,
    ConnectFailed,
    HTTPClient,
    Response,
    TLSFailed,
    TransportError,
    speaks_tls,
)
from lifecycle.backends.oci import child_what, follow_default, stored_document, verify
from lifecycle.backends.retry import RETRIABLE_STATUSES, RetryPolicy
from lifecycle.backends.tls import TrustConfig
from lifecycle.causes import describe
from lifecycle.checking import TYPE_CHECKING, cast
from lifecycle.image.index import ImageIndex, IndexChild, Platform, StoredIndex
from lifecycle.image.model import (
    DOCKER_MANIFEST,
    DOCKER_MANIFEST_LIST,
    OCI_INDEX,
    OCI_MANIFEST,
    BlobSource,
    Image,
    SaveResult,
    StoredImage,
    sha256_digest,
)
from lifecycle.jsonio import loads_json
from lifecycle.log import get_logger
from lifecycle.platform.exits import one_line
from lifecycle.progress import count_sent
from lifecycle.record import record
from lifecycle.reference import Reference, host_and_port, registry_host
from lifecycle.workers import run_each

if TYPE_CHECKING:
    from concurrent.futures import Future
    from typing import BinaryIO

    from _typeshed import WriteableBuffer

    from lifecycle.image.growing import GrowingBlob

MANIFEST_ACCEPT = ", ".join((OCI_MANIFEST, DOCKER_MANIFEST, OCI_INDEX, DOCKER_MANIFEST_LIST))
CHUNK_SIZE = 16 << 20
"""Blobs up to this size go up in one PUT; larger ones in PATCH chunks of this size."""
INDEX_WORKERS = 8
"""Children of an index written at the same time (each a few small requests)."""
_CHALLENGE_PARAM = r'(\w+)="([^"]*)"'  # compiled on first use: only a registry that asks


@record
class Repository:
    """A repository on a registry, with how to reach it."""

    registry: str
    name: str
    scheme: str

    def url(self, path: str) -> str:
        return f"{self.scheme}://{self.registry}/v2/{self.name}/{path}"

    def __str__(self) -> str:
        return f"{self.registry}/{self.name}"


class RegistryClient:
    """HTTP with the registry's auth flow: anonymous first, then Basic or Bearer as asked."""

    def __init__(self, keychain: Keychain, connections: int = DEFAULT_CONNECTIONS,
                 policy: RetryPolicy | None = None, trust: TrustConfig | None = None,
                 insecure: frozenset[str] = frozenset()) -> None:
        self.keychain = keychain
        self.policy = policy or RetryPolicy()
        self.trust = trust or TrustConfig()
        self.insecure = insecure
        self._schemes: dict[str, str] = {}   # registry -> scheme it answered on
        # One pool per registry host, as large as the number of requests under way at once,
        # so concurrent callers (rebase-many) reuse connections instead of discarding them.
        self.http = HTTPClient(max_idle=connections, headers={"User-Agent": "cnb-lifecycle"})
        self._auth: dict[tuple[str, str], str] = {}  # (registry, scope) -> Authorization

    def request(self, method: str, repo: Repository, url: str, scope: str,
                headers: Mapping[str, str] | None = None, data: Body = None,
                stream: bool = False, replayable: bool = True) -> Response:
        """Send; on a 401 challenge, authenticate for ``scope`` and send again.

        A request whose body cannot be sent twice (``replayable=False``) is only sent once
        authentication for its scope is known; callers make a cheap request first. A 401
        despite a cached token (it expired during a long upload) fetches a fresh one.
        """
        all_headers = dict(headers or {})
        cached = self._auth.get((repo.registry, scope))
        if cached:
            all_headers["Authorization"] = cached
        response = self._send(method, url, repo, all_headers, data, stream, replayable)
        if response.status_code != 401 or not replayable:
            return response
        challenge = response.headers.get("WWW-Authenticate", "")
        response.close()
        authorization = self._authenticate(repo, scope, challenge)
        if authorization is None or authorization == cached:
            return response
        all_headers["Authorization"] = authorization
        return self._send(method, url, repo, all_headers, data, stream, replayable)

    def _send(self, method: str, url: str, repo: Repository, headers: Mapping[str, str],
              data: Body, stream: bool, replayable: bool,
              unreachable: str = "registry") -> Response:
        """One request, sent again after a transient fault if its body can be (retry.py)."""
        attempt = 0
        while True:
            attempt += 1
            try:
                response = self.http.request(method, url, headers=headers, body=data,
                                             stream=stream, timeout=self.policy.timeouts,
                                             verify=self._verify(repo.registry))
            except TLSFailed as err:
                raise BackendError(self._tls_failure(repo.registry, err)) from None
            except TransportError as err:
                if not (replayable and _transient(err) and self.policy.may_retry(attempt)):
                    raise BackendError(f"cannot reach {unreachable} {repo.registry}: "
                                       f"{describe(err)}") from None
                fault, retry_after = describe(err), None
            else:
                if not (response.status_code in RETRIABLE_STATUSES and replayable
                        and self.policy.may_retry(attempt)):
                    return response
                fault, retry_after = f"HTTP {response.status_code}", \
                    response.headers.get("Retry-After")
                response.close()
            get_logger().debug(f"{method} {repo}: {fault}; trying again (attempt "
                               f"{attempt + 1} of {self.policy.attempts})")
            self.policy.pause(attempt, retry_after)

    def _verify(self, registry: str) -> bool | str:
        insecure = registry in self.insecure or registry_host(registry) in self.insecure
        return self.trust.verify_for(registry, insecure)

    def _tls_failure(self, registry: str, err: TLSFailed) -> str:
        text = str(err)
        if "CERTIFICATE_VERIFY_FAILED" in text:
            detail = re.search(r"certificate verify failed: ([^(')]+)", text)
            cause = detail.group(1).strip() if detail else "certificate verify failed"
            return (f"cannot reach registry {registry}: its TLS certificate is not trusted "
                    f"({cause}); {self.trust.advice(registry)}")
        return f"cannot reach registry {registry}: {describe(err)}"

    def scheme_for(self, registry: str) -> str:
        """For a registry that may be reached over plain HTTP (loopback, -insecure-registry):
        ``https`` if it speaks TLS (an untrusted certificate included: that is reported when
        it is used), else ``http``. Asked once per registry."""
        if registry not in self._schemes:
            self._schemes[registry] = "https" if self._speaks_tls(registry) else "http"
        return self._schemes[registry]

    def _speaks_tls(self, registry: str) -> bool:
        url = f"https://{registry}/v2/"
        if self.http.proxies.for_url(url):
            # Through a proxy only a request can tell.
            try:
                self.http.request("GET", url, timeout=(5, 10),
                                  verify=self._verify(registry)).close()
                return True
            except TLSFailed as err:
                return "CERTIFICATE_VERIFY_FAILED" in str(err)
            except TransportError:
                return False
        return speaks_tls(*host_and_port(registry))

    def _authenticate(self, repo: Repository, scope: str, challenge: str) -> str | None:
        kind, _, params_text = challenge.partition(" ")
        params = dict(re.findall(_CHALLENGE_PARAM, params_text))
        credentials = self.keychain.authorization(repo.registry)
        if kind.lower() == "basic":
            authorization = credentials
        elif kind.lower() == "bearer" and "realm" in params:
            if credentials and credentials.lower().startswith("bearer "):
                authorization = credentials
            else:
                authorization = self._token(repo, params, scope, credentials)
        else:
            return None
        if authorization:
            self._auth[(repo.registry, scope)] = authorization
        return authorization

    def _token(self, repo: Repository, params: Mapping[str, str], scope: str,
               credentials: str | None) -> str | None:
        query = [("service", params.get("service", ""))]
        query += [("scope", s) for s in scope.split(" ") if s]
        url = params["realm"] + ("&" if "?" in params["realm"] else "?") + urlencode(query)
        headers = {"Authorization": credentials} if credentials else {}
        response = self._send("GET", url, repo, headers, None, False, True,
                              unreachable="the token service of")
        if response.status_code in RETRIABLE_STATUSES:  # still failing after the retries
            raise BackendError(f"the token service of {repo.registry} is unavailable "
                               f"(HTTP {response.status_code})")
        if response.status_code != 200:
            raise AccessDenied(f"token service of {repo.registry} refused access to {repo} "
                               f"(HTTP {response.status_code})")
        try:
            body = loads_json(response.content)
        except ValueError:
            raise BackendError(f"the token service of {repo.registry} answered no JSON") from None
        token = body.get("token") or body.get("access_token") if isinstance(body, dict) else None
        return f"Bearer {token}" if token else None


def _transient(err: TransportError) -> bool:
    """Whether asking again may help: not when nothing listens or the name does not resolve
    (as go-containerregistry, which retries only temporary network errors)."""
    return not isinstance(err, ConnectFailed)


@record
class RegistryBlobs:
    """Blobs of one registry repository, streamed on demand (never held in memory)."""

    client: RegistryClient
    repo: Repository

    def open_blob(self, digest: str) -> AbstractContextManager[BinaryIO]:
        return self._stream(digest)

    @contextmanager
    def _stream(self, digest: str) -> Iterator[BinaryIO]:
        stream = _ResponseStream(self._get(digest, 0), lambda offset: self._get(digest, offset),
                                 self.client.policy, f"blob {digest} from {self.repo}")
        try:
            yield cast("BinaryIO", stream)
        finally:
            stream.close()

    def _get(self, digest: str, offset: int) -> Response:
        """The blob's bytes from ``offset`` on: a Range request when resuming; a registry
        that ignores Range answers 200 with the whole blob, and the reader skips."""
        headers = {"Range": f"bytes={offset}-"} if offset else {}
        response = self.client.request("GET", self.repo, self.repo.url(f"blobs/{digest}"),
                                       pull_scope(self.repo), headers=headers, stream=True)
        if response.status_code != 200 and not (
                response.status_code == 206 and offset
                and response.headers.get("Content-Range", "").startswith(f"bytes {offset}-")):
            response.close()
            raise BackendError(f"cannot read blob {digest} from {self.repo}: "
                               f"HTTP {response.status_code}")
        return response

    def describe(self) -> str:
        return str(self.repo)


class _ResponseStream(io.RawIOBase):
    """A blob's response body as a file.

    A transfer that breaks part-way (reset, truncated, stalled past the read timeout) goes on
    from a fresh GET at the offset reached, as the retry policy allows; whoever reads the
    stream verifies the blob's digest, so a resumed transfer is checked like any other.
    When it cannot go on it raises OSError, as a failing disk would, where the HTTP client
    would raise its own exception types.
    """

    def __init__(self, response: Response,
                 reopen: Callable[[int], Response], policy: RetryPolicy,
                 what: str) -> None:
        super().__init__()
        self.response, self.reopen, self.policy, self.what = response, reopen, policy, what
        self.offset = 0      # bytes delivered to the reader
        self.position = 0    # offset in the blob of the current response's next byte

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: WriteableBuffer) -> int:
        target = memoryview(buffer).cast("B")
        failures = 0
        while True:
            try:
                data = self._read(len(target))
                break
            except TransportError as err:
                fault = describe(err)
            failures += 1
            self.response.close()
            if not self.policy.may_retry(failures):
                raise OSError(f"reading {self.what} failed: {fault}")
            get_logger().debug(f"Reading {self.what} broke at byte {self.offset} ({fault}); "
                               f"reading on from there (attempt {failures + 1})")
            self.policy.pause(failures)
            try:
                self.response = self.reopen(self.offset)
            except BackendError as err:
                raise OSError(f"reading {self.what} failed: {err}") from None
            self.position = self.offset if self.response.status_code == 206 else 0
        target[:len(data)] = data
        self.offset += len(data)
        return len(data)

    def _read(self, size: int) -> bytes:
        """Up to ``size`` bytes at ``offset``, first skipping what a whole-blob answer to a
        resumed read repeats."""
        while self.position < self.offset:
            skipped = self.response.read(min(self.offset - self.position, CHUNK_SIZE))
            if not skipped:
                raise TransportError("the blob is shorter than before")
            self.position += len(skipped)
        data = self.response.read(size)
        self.position += len(data)
        return data

    def close(self) -> None:
        self.response.close()
        super().close()


def pull_scope(repo: Repository) -> str:
    return f"repository:{repo.name}:pull"


def push_scope(repo: Repository, mount_from: Repository | None = None) -> str:
    scope = f"repository:{repo.name}:pull,push"
    return f"{scope} {pull_scope(mount_from)}" if mount_from else scope


class RegistryStore(ImageStore):
    """Images in registries speaking the OCI distribution API v2."""

    kind = "registry"
    compress_layers = True

    def __init__(self, insecure_registries: frozenset[str] = frozenset(),
                 keychain: Keychain | None = None,
                 connections: int = DEFAULT_CONNECTIONS,
                 policy: RetryPolicy | None = None, trust: TrustConfig | None = None) -> None:
        self.insecure = insecure_registries
        self.client = RegistryClient(keychain or Keychain(), connections, policy, trust,
                                     insecure_registries)
        # A readable manifest's answer to an access check, kept for the read that follows
        # it (run image candidates: checked, then the chosen one read), which then costs
        # no request; the read takes it out.
        self._checked: dict[tuple[Repository, str], Response] = {}

    def close(self) -> None:
        self.client.http.close()

    def _repo(self, ref: Reference) -> Repository:
        scheme = ref.scheme(self.insecure)
        if scheme == "http":  # allowed, not required: TLS is used wherever it is spoken
            scheme = self.client.scheme_for(ref.registry)
        return Repository(ref.registry, ref.repository_str, scheme)

    # -- reading -------------------------------------------------------------------------
    def check_read_access(self, ref: Reference) -> Access:
        repo = self._repo(ref)
        try:
            # A GET, not a HEAD: a readable image is read next, and this answer serves it
            # (its body read in the request, so a broken one is asked for again).
            response = self.client.request("GET", repo, repo.url(f"manifests/{ref.identifier}"),
                                           pull_scope(repo), headers={"Accept": MANIFEST_ACCEPT})
            status = response.status_code
            if status == 200:
                self._checked[repo, ref.identifier] = response
        except BackendError as err:
            return Access(False, str(err))
        if status == 200:
            return Access(True, "readable")
        if status in (401, 403):
            return Access(False, f"access denied (HTTP {status})")
        if status == 404:
            return Access(False, "not found (HTTP 404)")
        return Access(False, f"registry answered HTTP {status}")

    def read(self, ref: Reference) -> StoredImage:
        return follow_default(self.read_index(ref), f"image '{ref}'",
                              lambda child: self.read_child(ref, child))

    def read_index(self, ref: Reference) -> StoredImage | StoredIndex:
        repo = self._repo(ref)
        what = f"image '{ref}'"
        response = self._get_manifest(repo, ref.identifier, what)
        data = response.content
        digest = ref.digest or response.headers.get("Docker-Content-Digest") or sha256_digest(data)
        verify(data, digest, what)
        media_type = response.headers.get("Content-Type", OCI_MANIFEST).split(";")[0].strip()
        return self._stored(repo, data, media_type, digest, what)

    def read_child(self, ref: Reference, child: IndexChild) -> StoredImage:
        repo = self._repo(ref)
        what = child_what(f"image '{ref}'", child)
        data = verify(self._get_manifest(repo, child.digest, what).content, child.digest, what)
        stored = self._stored(repo, data, child.media_type, child.digest, what, child=True)
        assert isinstance(stored, StoredImage)
        return stored

    def _stored(self, repo: Repository, data: bytes, media_type: str, digest: str, what: str,
                child: bool = False) -> StoredImage | StoredIndex:
        def fetch_blob(blob: str, description: str) -> bytes:
            response = self.client.request("GET", repo, repo.url(f"blobs/{blob}"),
                                           pull_scope(repo))
            if response.status_code != 200:
                raise BackendError(f"{description}: HTTP {response.status_code} for blob {blob}")
            return verify(response.content, blob, description)

        return stored_document(data, media_type, digest, str(repo), what, fetch_blob,
                               RegistryBlobs(self.client, repo), child)

    def _get_manifest(self, repo: Repository, identifier: str, what: str) -> Response:
        checked = self._checked.pop((repo, identifier), None)
        if checked is not None:
            return checked
        response = self.client.request("GET", repo, repo.url(f"manifests/{identifier}"),
                                       pull_scope(repo), headers={"Accept": MANIFEST_ACCEPT})
        if response.status_code == 404:
            raise ImageNotFound(f"{what} not found")
        if response.status_code in (401, 403):
            raise AccessDenied(f"{what}: access denied (HTTP {response.status_code})")
        if response.status_code != 200:
            raise BackendError(f"{what}: registry answered HTTP {response.status_code}")
        return response

    # -- writing -------------------------------------------------------------------------
    def blob_stager(self, refs: Sequence[Reference]) -> _UploadStager:
        # The first target repository gets the bytes; write() mounts them into the others.
        return _UploadStager(self.client, self._repo(refs[0]))

    def write(self, image: Image, refs: Sequence[Reference], *,
              new_configs: bool = False) -> SaveResult:
        self._ensure_blobs([image], refs, 1, new_configs)
        return self._tag(refs, image.manifest_bytes(), image.manifest_media_type)

    def write_index(self, index: ImageIndex, images: Sequence[Image],
                    refs: Sequence[Reference], *, new_configs: bool = False) -> SaveResult:
        # Every blob the new children have (each once, however many share it), then every
        # child's manifest by digest, in every target repository and many at a time over
        # the one connection pool; only then is any name pointed at the index.
        self._ensure_blobs(images, refs, INDEX_WORKERS, new_configs)
        repos = list({self._repo(ref): ref for ref in refs})
        run_each([functools.partial(self._put_child, repo, image)
                  for repo in repos for image in images], INDEX_WORKERS, "write")
        return self._tag(refs, index.manifest_bytes(), index.media_type)

    def _put_child(self, repo: Repository, image: Image) -> None:
        response = self.client.request(
            "PUT", repo, repo.url(f"manifests/{image.digest()}"), push_scope(repo),
            headers={"Content-Type": image.manifest_media_type}, data=image.manifest_bytes())
        if response.status_code not in (200, 201):
            raise BackendError(f"cannot write the image for platform "
                               f"{Platform.of_image(image)} to {repo}: "
                               f"{_failure('put manifest', response)}")

    def _ensure_blobs(self, images: Sequence[Image], refs: Sequence[Reference],
                      workers: int, new_configs: bool) -> None:
        """Every blob of ``images`` present in every target repository: the first
        repository gets them from their sources, the others mount them from it. With
        ``new_configs`` the first repository is not asked for the configs before they are
        sent."""
        blobs: dict[str, tuple[int, BlobSource | None, bool]] = {}  # digest: size, source, ask
        for image in images:
            for layer in image.layers:
                blobs.setdefault(layer.digest, (layer.size, layer.source, True))
            config = image.config_bytes()
            blobs.setdefault(sha256_digest(config),
                             (len(config), _BytesBlob(config), not new_configs))
        repos = list({self._repo(ref): ref for ref in refs})
        for number, repo in enumerate(repos):
            placed_in = repos[0] if number else None
            # A step that fails stops those not yet begun: a lasting fault must not be met
            # once per remaining blob (workers=1, a single image's write: one at a time).
            run_each([functools.partial(self._ensure_blob, repo, digest, size, source,
                                        placed_in, ask)
                      for digest, (size, source, ask) in blobs.items()], workers, "write")

    def _tag(self, refs: Sequence[Reference], manifest: bytes, media_type: str) -> SaveResult:
        """Point every name at ``manifest``, whose blobs (or children) are all present."""
        saved, failed = [], {}
        for ref in refs:
            repo = self._repo(ref)
            try:
                response = self.client.request(
                    "PUT", repo, repo.url(f"manifests/{ref.identifier}"), push_scope(repo),
                    headers={"Content-Type": media_type}, data=manifest)
                if response.status_code not in (200, 201):
                    failed[str(ref)] = _failure("put manifest", response)
                    continue
            except BackendError as err:
                failed[str(ref)] = str(err)
                continue
            saved.append(str(ref))
        return SaveResult(digest=sha256_digest(manifest), manifest_size=len(manifest),
                          saved=tuple(saved), failed=failed)

    def _ensure_blob(self, repo: Repository, digest: str, size: int, source: BlobSource | None,
                     placed_in: Repository | None, ask: bool) -> None:
        """Make ``digest`` present in ``repo``: already there, mounted, or uploaded.

        ``placed_in`` is another target repository this write already put the blob in; on
        the same registry it is as good a mount source as the layer's own repository. Without
        ``ask`` a blob with no mount source is uploaded without asking whether it is there.
        """
        if isinstance(source, RegistryBlobs) and source.repo == repo:
            return  # listed by a manifest of this very repository: the registry links it here
        mount_from = _mount_source(repo, source, placed_in)
        # With a mount source, the mount request answers whether the blob is there too.
        if mount_from is None and ask:
            head = self.client.request("HEAD", repo, repo.url(f"blobs/{digest}"),
                                       push_scope(repo))
            if head.status_code == 200:
                return
        attempt = 0
        while True:
            attempt += 1
            try:
                self._upload(repo, digest, size, source, mount_from)
                return
            except _UploadInterrupted as err:
                if not self.client.policy.may_retry(attempt):
                    raise
                get_logger().debug(f"Upload of {digest} to {repo} failed ({err}); starting "
                                   f"it again (attempt {attempt + 1})")
                self.client.policy.pause(attempt)

    def _upload(self, repo: Repository, digest: str, size: int, source: BlobSource | None,
                mount_from: Repository | None) -> None:
        """One attempt: mount, or upload from a new session, reading the source from its start."""
        scope = push_scope(repo, mount_from)
        query = f"?mount={digest}&from={mount_from.name}" if mount_from else ""
        started = self.client.request("POST", repo, repo.url(f"blobs/uploads/{query}"), scope)
        if started.status_code == 201:
            return  # mounted: no byte of the layer moved
        if started.status_code != 202 or "Location" not in started.headers:
            raise BackendError(f"cannot upload blob {digest} to {repo}: "
                               f"{_failure('start upload', started)}")
        if source is None:
            raise BackendError(f"layer {digest} for {repo} has no source to copy it from")
        location = urljoin(repo.url(""), started.headers["Location"])
        try:
            final = self._send_blob(repo, scope, location, digest, size, source)
        except (AccessDenied, _LocalSourceFailed):
            raise  # asking again cannot help
        except BackendError as err:
            # The session's state is unknown: a new one, from the first byte, is what helps.
            raise _UploadInterrupted(str(err)) from None
        if final.status_code not in (201, 204):
            raise _UploadInterrupted(f"cannot upload blob {digest} to {repo}: "
                                     f"{_failure('finish upload', final)}")

    def _send_blob(self, repo: Repository, scope: str, location: str, digest: str, size: int,
                   source: BlobSource) -> Response:
        """The blob's bytes into the upload session at ``location``; the final response."""
        try:
            with source.open_blob(digest) as stream:
                body = _SizedStream(stream, size)
                if size <= CHUNK_SIZE:
                    return self.client.request(
                        "PUT", repo, _with_digest(location, digest), scope, data=body,
                        headers={"Content-Type": "application/octet-stream"},
                        replayable=False)
                return self._upload_chunks(repo, scope, location, digest, body)
        except OSError as err:  # the source's own: the HTTP client never wraps a body's errors
            # A registry source may fail in passing (read again on the next attempt); a local
            # file that cannot be read will not do better the next time.
            failure = BackendError if isinstance(source, RegistryBlobs) else _LocalSourceFailed
            raise failure(f"cannot read blob {digest} from {source.describe()} for "
                          f"{repo}: {describe(err)}") from None

    def _upload_chunks(self, repo: Repository, scope: str, location: str, digest: str,
                       stream: _SizedStream) -> Response:
        offset = 0
        while chunk := stream.read(CHUNK_SIZE):
            response = self.client.request(
                "PATCH", repo, location, scope, data=chunk,
                headers={"Content-Type": "application/octet-stream",
                         "Content-Range": f"{offset}-{offset + len(chunk) - 1}",
                         "Content-Length": str(len(chunk))})
            if response.status_code != 202 or "Location" not in response.headers:
                raise BackendError(f"cannot upload blob {digest} to {repo}: "
                                   f"{_failure('upload chunk', response)}")
            location = urljoin(location, response.headers["Location"])
            offset += len(chunk)
        return self.client.request("PUT", repo, _with_digest(location, digest), scope,
                                   headers={"Content-Length": "0"})


class _LocalSourceFailed(BackendError):
    """A blob's local source could not be read: final, not a registry fault."""


class _UploadInterrupted(BackendError):
    """An upload session broke after it started: worth starting again from a new session."""


class _UploadStager:
    """Uploads layer blobs while the exporter is still writing them (BlobStager).

    Each blob is streamed in one PATCH (chunked transfer encoding) as the file grows, and
    committed once the writer knows its digest. Anything that goes wrong only costs the head
    start: the upload session is dropped, and write() finds the blob missing and uploads it
    from the finished file, with its usual checks.
    """

    WORKERS = 2

    def __init__(self, client: RegistryClient, repo: Repository) -> None:
        self.client, self.repo = client, repo
        self.scope = push_scope(repo)
        from concurrent.futures import ThreadPoolExecutor  # imported ahead: backends.import_ahead

        self._pool = ThreadPoolExecutor(max_workers=self.WORKERS, thread_name_prefix="upload")
        self._uploads: list[Future[None]] = []

    def stage(self, blob: GrowingBlob) -> None:
        self._uploads.append(self._pool.submit(self._upload, blob))

    def finish(self) -> None:
        for upload in self._uploads:
            interrupts.result(upload)
        self._pool.shutdown()

    def _upload(self, blob: GrowingBlob) -> None:
        location = None
        try:
            started = self.client.request("POST", self.repo, self.repo.url("blobs/uploads/"),
                                          self.scope)
            if started.status_code != 202 or "Location" not in started.headers:
                return
            location = urljoin(self.repo.url(""), started.headers["Location"])
            sent = self.client.request("PATCH", self.repo, location, self.scope,
                                       data=_counted(blob.chunks()), replayable=False,
                                       headers={"Content-Type": "application/octet-stream"})
            if sent.status_code != 202 or "Location" not in sent.headers:
                raise BackendError(_failure("stream upload", sent))
            location = urljoin(location, sent.headers["Location"])
            digest = blob.digest()
            done = self.client.request("PUT", self.repo, _with_digest(location, digest),
                                       self.scope, headers={"Content-Length": "0"})
            if done.status_code not in (201, 204):
                raise BackendError(_failure("finish upload", done))
            location = None
            get_logger().debug(f"Uploaded {digest} to {self.repo} while it was written")
        except (BackendError, OSError) as err:
            get_logger().debug(f"Early upload to {self.repo} stopped ({err}); the blob is "
                               "uploaded when the image is written")
        finally:
            blob.close()
            if location is not None:
                self._cancel(location)

    def _cancel(self, location: str) -> None:
        try:
            self.client.request("DELETE", self.repo, location, self.scope).close()
        except BackendError:
            pass  # the registry expires abandoned upload sessions by itself


def _counted(chunks: Iterator[bytes]) -> Iterator[bytes]:
    for chunk in chunks:
        count_sent(len(chunk))
        yield chunk


def _mount_source(repo: Repository, source: BlobSource | None,
                  placed_in: Repository | None) -> Repository | None:
    """A repository on ``repo``'s registry holding the blob, if we know one."""
    candidates = (source.repo if isinstance(source, RegistryBlobs) else None, placed_in)
    return next((candidate for candidate in candidates if candidate is not None
                 and candidate.registry == repo.registry and candidate != repo), None)


class _SizedStream:
    """A blob stream cut to its declared size, for a streamed upload body.

    Its ``__len__`` makes the HTTP client send a Content-Length (and so a monolithic PUT,
    not a chunked transfer). A source that ends early raises instead of leaving the registry
    waiting for the missing bytes.
    """

    def __init__(self, stream: BinaryIO, size: int) -> None:
        self.stream = stream
        self.remaining = size

    def __len__(self) -> int:
        return self.remaining

    def read(self, size: int = -1) -> bytes:
        wanted = self.remaining if size < 0 else min(size, self.remaining)
        data = self.stream.read(wanted) if wanted else b""
        if wanted and not data:
            raise OSError(f"the blob ended {self.remaining} bytes short of its size")
        self.remaining -= len(data)
        count_sent(len(data))
        return data


@record
class _BytesBlob:
    data: bytes

    @contextmanager
    def open_blob(self, digest: str) -> Iterator[BinaryIO]:
        yield io.BytesIO(self.data)

    def describe(self) -> str:
        return "memory"


def _with_digest(location: str, digest: str) -> str:
    return location + ("&" if "?" in location else "?") + urlencode({"digest": digest})


def _failure(action: str, response: Response) -> str:
    """A one-line cause from a registry error response (its error codes, never headers)."""
    detail = ""
    try:
        errors = loads_json(response.content).get("errors") or []
        detail = "; ".join(f"{e.get('code')}: {e.get('message')}" for e in errors)
    except ValueError:
        pass
    return one_line(f"{action}: HTTP {response.status_code}" + (f" {detail}" if detail else ""))
