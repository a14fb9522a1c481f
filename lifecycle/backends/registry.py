"""Registry backend: the OCI distribution API v2 over one pooled HTTP session.

Reads fetch only manifests and configs; layers stay in the registry as lazy blob sources.
Writes go blob by blob — HEAD first (present: skip), cross-repository mount when the blob is
in another repository of the same registry, otherwise a streamed upload (monolithic for
small blobs, chunked PATCHes for large ones) — and only when every blob is present is the
manifest put, once per name. A tag therefore never points at a manifest with missing blobs.
Why this client is hand-written on ``requests`` rather than a library: docs/design.md.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from typing import Any, BinaryIO, cast
from urllib.parse import urlencode, urljoin

import requests

from lifecycle.backends.auth import Keychain
from lifecycle.backends.base import Access, AccessDenied, BackendError, ImageNotFound
from lifecycle.backends.oci import image_from_manifest, resolve_manifest, verify
from lifecycle.image.model import (
    DOCKER_MANIFEST,
    DOCKER_MANIFEST_LIST,
    OCI_INDEX,
    OCI_MANIFEST,
    Image,
    SaveResult,
    StoredImage,
    sha256_digest,
)
from lifecycle.platform.exits import one_line
from lifecycle.reference import Reference

MANIFEST_ACCEPT = ", ".join((OCI_MANIFEST, DOCKER_MANIFEST, OCI_INDEX, DOCKER_MANIFEST_LIST))
CHUNK_SIZE = 16 << 20
"""Blobs up to this size go up in one PUT; larger ones in PATCH chunks of this size."""
TIMEOUT = (10, 300)  # connect, read (seconds)
_CHALLENGE_PARAM = re.compile(r'(\w+)="([^"]*)"')


@dataclass(frozen=True)
class Repository:
    """A repository on a registry, with how to reach it."""

    registry: str
    name: str
    scheme: str

    @classmethod
    def of(cls, ref: Reference, insecure: frozenset[str]) -> Repository:
        return cls(ref.registry, ref.repository_str, ref.scheme(insecure))

    def url(self, path: str) -> str:
        return f"{self.scheme}://{self.registry}/v2/{self.name}/{path}"

    def __str__(self) -> str:
        return f"{self.registry}/{self.name}"


class RegistryClient:
    """HTTP with the registry's auth flow: anonymous first, then Basic or Bearer as asked."""

    def __init__(self, keychain: Keychain) -> None:
        self.keychain = keychain
        self.http = requests.Session()
        self.http.headers["User-Agent"] = "cnb-lifecycle"
        self._auth: dict[tuple[str, str], str] = {}  # (registry, scope) -> Authorization

    def request(self, method: str, repo: Repository, url: str, scope: str,
                headers: Mapping[str, str] | None = None, data: Any = None,
                stream: bool = False, replayable: bool = True) -> requests.Response:
        """Send; on a 401 challenge, authenticate for ``scope`` and send again.

        A request whose body cannot be sent twice (``replayable=False``) is only sent once
        authentication for its scope is known; callers make a cheap request first.
        """
        all_headers = dict(headers or {})
        cached = self._auth.get((repo.registry, scope))
        if cached:
            all_headers["Authorization"] = cached
        response = self._send(method, url, repo, all_headers, data, stream)
        if response.status_code != 401 or cached or not replayable:
            return response
        challenge = response.headers.get("WWW-Authenticate", "")
        response.close()
        authorization = self._authenticate(repo, scope, challenge)
        if authorization is None:
            return response
        all_headers["Authorization"] = authorization
        return self._send(method, url, repo, all_headers, data, stream)

    def _send(self, method: str, url: str, repo: Repository, headers: Mapping[str, str],
              data: Any, stream: bool) -> requests.Response:
        try:
            return self.http.request(method, url, headers=headers, data=data, stream=stream,
                                     timeout=TIMEOUT, allow_redirects=True)
        except requests.RequestException as err:
            raise BackendError(f"cannot reach registry {repo.registry}: "
                               f"{type(err).__name__}") from None

    def _authenticate(self, repo: Repository, scope: str, challenge: str) -> str | None:
        kind, _, params_text = challenge.partition(" ")
        params = dict(_CHALLENGE_PARAM.findall(params_text))
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
        try:
            response = self.http.get(url, headers=headers, timeout=TIMEOUT)
        except requests.RequestException as err:
            raise BackendError(f"cannot reach the token service of {repo.registry}: "
                               f"{type(err).__name__}") from None
        if response.status_code != 200:
            raise AccessDenied(f"token service of {repo.registry} refused access to {repo} "
                               f"(HTTP {response.status_code})")
        body = response.json()
        token = body.get("token") or body.get("access_token") if isinstance(body, dict) else None
        return f"Bearer {token}" if token else None


@dataclass(frozen=True)
class RegistryBlobs:
    """Blobs of one registry repository, streamed on demand (never held in memory)."""

    client: RegistryClient
    repo: Repository

    def open_blob(self, digest: str) -> AbstractContextManager[BinaryIO]:
        return self._stream(digest)

    @contextmanager
    def _stream(self, digest: str) -> Iterator[BinaryIO]:
        response = self.client.request("GET", self.repo, self.repo.url(f"blobs/{digest}"),
                                       pull_scope(self.repo), stream=True)
        try:
            if response.status_code != 200:
                raise BackendError(f"cannot read blob {digest} from {self.repo}: "
                                   f"HTTP {response.status_code}")
            response.raw.decode_content = False
            yield cast(BinaryIO, response.raw)  # urllib3's response is a binary stream
        finally:
            response.close()

    def describe(self) -> str:
        return str(self.repo)


def pull_scope(repo: Repository) -> str:
    return f"repository:{repo.name}:pull"


def push_scope(repo: Repository, mount_from: Repository | None = None) -> str:
    scope = f"repository:{repo.name}:pull,push"
    return f"{scope} {pull_scope(mount_from)}" if mount_from else scope


class RegistryStore:
    kind = "registry"
    compress_layers = True

    def __init__(self, insecure_registries: frozenset[str] = frozenset(),
                 keychain: Keychain | None = None) -> None:
        self.insecure = insecure_registries
        self.client = RegistryClient(keychain or Keychain())

    def _repo(self, ref: Reference) -> Repository:
        return Repository.of(ref, self.insecure)

    # -- reading -------------------------------------------------------------------------
    def check_read_access(self, ref: Reference) -> Access:
        repo = self._repo(ref)
        try:
            response = self.client.request("HEAD", repo, repo.url(f"manifests/{ref.identifier}"),
                                           pull_scope(repo), headers={"Accept": MANIFEST_ACCEPT})
        except AccessDenied as err:
            return Access(False, str(err))
        except BackendError as err:
            return Access(False, str(err))
        status = response.status_code
        if status == 200:
            return Access(True, "readable")
        if status in (401, 403):
            return Access(False, f"access denied (HTTP {status})")
        if status == 404:
            return Access(False, "not found (HTTP 404)")
        return Access(False, f"registry answered HTTP {status}")

    def read(self, ref: Reference) -> StoredImage:
        repo = self._repo(ref)
        what = f"image '{ref}'"
        response = self._get_manifest(repo, ref.identifier, what)
        data = response.content
        digest = ref.digest or response.headers.get("Docker-Content-Digest") or sha256_digest(data)
        verify(data, digest, what)
        media_type = response.headers.get("Content-Type", OCI_MANIFEST).split(";")[0].strip()

        def fetch_manifest(child: str, description: str) -> bytes:
            return verify(self._get_manifest(repo, child, description).content, child,
                          description)

        def fetch_blob(blob: str, description: str) -> bytes:
            response = self.client.request("GET", repo, repo.url(f"blobs/{blob}"),
                                           pull_scope(repo))
            if response.status_code != 200:
                raise BackendError(f"{description}: HTTP {response.status_code} for blob {blob}")
            return verify(response.content, blob, description)

        manifest, media_type, digest = resolve_manifest(data, media_type, digest, what,
                                                        fetch_manifest)
        image = image_from_manifest(manifest, media_type, what, fetch_blob,
                                    RegistryBlobs(self.client, repo))
        return StoredImage(image, f"{repo}@{digest}", digest)

    def _get_manifest(self, repo: Repository, identifier: str, what: str) -> requests.Response:
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
    def write(self, image: Image, refs: Sequence[Reference]) -> SaveResult:
        manifest = image.manifest_bytes()
        repos = {self._repo(ref): ref for ref in refs}
        for repo in repos:
            for layer in image.layers:
                self._ensure_blob(repo, layer.digest, layer.size, layer.source)
            self._ensure_blob(repo, image.config_digest(), len(image.config_bytes()),
                              _BytesBlob(image.config_bytes()))
        saved, failed = [], {}
        for ref in refs:
            repo = self._repo(ref)
            try:
                response = self.client.request(
                    "PUT", repo, repo.url(f"manifests/{ref.identifier}"), push_scope(repo),
                    headers={"Content-Type": image.manifest_media_type}, data=manifest)
                if response.status_code not in (200, 201):
                    failed[str(ref)] = _failure("put manifest", response)
                    continue
            except BackendError as err:
                failed[str(ref)] = str(err)
                continue
            saved.append(str(ref))
        return SaveResult(digest=image.digest(), manifest_size=len(manifest),
                          saved=tuple(saved), failed=failed)

    def _ensure_blob(self, repo: Repository, digest: str, size: int, source: Any) -> None:
        head = self.client.request("HEAD", repo, repo.url(f"blobs/{digest}"), push_scope(repo))
        if head.status_code == 200:
            return
        mount_from = source.repo if (isinstance(source, RegistryBlobs)
                                     and source.repo.registry == repo.registry
                                     and source.repo != repo) else None
        scope = push_scope(repo, mount_from)
        query = f"?mount={digest}&from={mount_from.name}" if mount_from else ""
        started = self.client.request("POST", repo, repo.url(f"blobs/uploads/{query}"), scope)
        if started.status_code == 201:
            return  # mounted: no byte of the layer moved
        if started.status_code != 202:
            raise BackendError(f"cannot upload blob {digest} to {repo}: "
                               f"{_failure('start upload', started)}")
        if source is None:
            raise BackendError(f"layer {digest} for {repo} has no source to copy it from")
        location = urljoin(repo.url(""), started.headers["Location"])
        try:
            with source.open_blob(digest) as stream:
                if size <= CHUNK_SIZE:
                    final = self.client.request(
                        "PUT", repo, _with_digest(location, digest), scope, data=stream.read(),
                        headers={"Content-Type": "application/octet-stream",
                                 "Content-Length": str(size)})
                else:
                    final = self._upload_chunks(repo, scope, location, digest, stream)
        except OSError as err:
            raise BackendError(f"cannot read blob {digest} from {source.describe()} for "
                               f"{repo}: {err}") from None
        if final.status_code not in (201, 204):
            raise BackendError(f"cannot upload blob {digest} to {repo}: "
                               f"{_failure('finish upload', final)}")

    def _upload_chunks(self, repo: Repository, scope: str, location: str, digest: str,
                       stream: BinaryIO) -> requests.Response:
        offset = 0
        while chunk := stream.read(CHUNK_SIZE):
            response = self.client.request(
                "PATCH", repo, location, scope, data=chunk,
                headers={"Content-Type": "application/octet-stream",
                         "Content-Range": f"{offset}-{offset + len(chunk) - 1}",
                         "Content-Length": str(len(chunk))})
            if response.status_code != 202:
                raise BackendError(f"cannot upload blob {digest} to {repo}: "
                                   f"{_failure('upload chunk', response)}")
            location = urljoin(location, response.headers["Location"])
            offset += len(chunk)
        return self.client.request("PUT", repo, _with_digest(location, digest), scope,
                                   headers={"Content-Length": "0"})


@dataclass(frozen=True)
class _BytesBlob:
    data: bytes

    @contextmanager
    def open_blob(self, digest: str) -> Iterator[BinaryIO]:
        yield io.BytesIO(self.data)

    def describe(self) -> str:
        return "memory"


def _with_digest(location: str, digest: str) -> str:
    return location + ("&" if "?" in location else "?") + urlencode({"digest": digest})


def _failure(action: str, response: requests.Response) -> str:
    """A one-line cause from a registry error response (its error codes, never headers)."""
    detail = ""
    try:
        errors = response.json().get("errors") or []
        detail = "; ".join(f"{e.get('code')}: {e.get('message')}" for e in errors)
    except ValueError:
        pass
    return one_line(f"{action}: HTTP {response.status_code}" + (f" {detail}" if detail else ""))
