"""Which certificates a registry's TLS must chain to, the way users already configure it.

* ``SSL_CERT_FILE``: a CA bundle that replaces the default roots (as for Go programs, the
  Go lifecycle among them, and OpenSSL).
* Docker's convention, ``<certs.d>/<host[:port]>/ca.crt``: the CA of that one registry
  (``/etc/docker/certs.d`` unless ``CNB_REGISTRY_CERTS_DIR`` names another directory).
* Otherwise the default roots (certifi's bundle, or ``REQUESTS_CA_BUNDLE``).

TLS is always verified, except for a registry given with ``-insecure-registry``, which may
also be reached over plain HTTP, as may a registry on a loopback address that does not speak
TLS. Client certificates (``client.cert``/``client.key``) are not supported.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

DEFAULT_CERTS_DIR = Path("/etc/docker/certs.d")


@dataclass(frozen=True)
class TrustConfig:
    cert_file: Path | None = None
    certs_dir: Path = DEFAULT_CERTS_DIR

    @classmethod
    def from_environment(cls, environ: Mapping[str, str]) -> TrustConfig:
        cert_file = environ.get("SSL_CERT_FILE")
        return cls(Path(cert_file) if cert_file else None,
                   Path(environ.get("CNB_REGISTRY_CERTS_DIR") or DEFAULT_CERTS_DIR))

    def verify_for(self, registry: str, insecure: bool) -> bool | str:
        """The ``verify`` argument of requests for ``registry``."""
        if insecure:
            return False
        registry_ca = self.certs_dir / registry / "ca.crt"
        if registry_ca.is_file():
            return str(registry_ca)
        return str(self.cert_file) if self.cert_file else True

    def advice(self, registry: str) -> str:
        return (f"trust its CA with SSL_CERT_FILE or {self.certs_dir / registry / 'ca.crt'}, "
                f"or use -insecure-registry {registry}")
