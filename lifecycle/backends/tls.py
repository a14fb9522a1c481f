"""Which certificates a registry's TLS must chain to, the way users already configure it.

* ``SSL_CERT_FILE``: a CA bundle that replaces the default roots (as for Go programs, the
  Go lifecycle among them, and OpenSSL).
* Docker's convention, ``<certs.d>/<host[:port]>/ca.crt``: the CA of that one registry
  (``/etc/docker/certs.d`` unless ``CNB_REGISTRY_CERTS_DIR`` names another directory).
* Otherwise the default roots: ``REQUESTS_CA_BUNDLE`` (or ``CURL_CA_BUNDLE``) if set, as
  requests-based tools honour it, else certifi's bundle, which builders without CA files
  have too.

TLS is always verified, except for a registry given with ``-insecure-registry``, which may
also be reached over plain HTTP, as may a registry on a loopback address that does not speak
TLS. Client certificates (``client.cert``/``client.key``) are not supported.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from lifecycle.record import record

DEFAULT_CERTS_DIR = Path("/etc/docker/certs.d")


@record
class TrustConfig:
    cert_file: Path | None = None
    certs_dir: Path = DEFAULT_CERTS_DIR
    default_bundle: Path | None = None

    @classmethod
    def from_environment(cls, environ: Mapping[str, str]) -> TrustConfig:
        cert_file = environ.get("SSL_CERT_FILE")
        bundle = environ.get("REQUESTS_CA_BUNDLE") or environ.get("CURL_CA_BUNDLE")
        return cls(Path(cert_file) if cert_file else None,
                   Path(environ.get("CNB_REGISTRY_CERTS_DIR") or DEFAULT_CERTS_DIR),
                   Path(bundle) if bundle else None)

    def verify_for(self, registry: str, insecure: bool) -> bool | str:
        """How the registry client verifies ``registry``: not at all (False), against
        certifi's roots (True), or against the CA file or directory named."""
        if insecure:
            return False
        registry_ca = self.certs_dir / registry / "ca.crt"
        if registry_ca.is_file():
            return str(registry_ca)
        chosen = self.cert_file or self.default_bundle
        return str(chosen) if chosen else True

    def advice(self, registry: str) -> str:
        return (f"trust its CA with SSL_CERT_FILE or {self.certs_dir / registry / 'ca.crt'}, "
                f"or use -insecure-registry {registry}")
