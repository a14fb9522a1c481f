"""A small token issuer for the registry's token auth, written for the tests.

The registry is the real one (distribution 2.8, ``auth: token``); this issuer plays the
authorization server: given valid HTTP Basic credentials it returns an ES256-signed JWT
granting the requested ``repository:<name>:<actions>`` scopes, and 401 otherwise. The
signing certificate goes into the registry's ``rootcertbundle``; tokens carry it as
``x5c``, which is how distribution finds the key.
"""

from __future__ import annotations

import base64
import datetime
import json
import threading
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import jwt
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

SERVICE = "cnb-test-registry"
ISSUER = "cnb-test-issuer"


@dataclass
class TokenIssuer:
    credentials: tuple[str, str]
    directory: Path
    requests: list[str] = field(default_factory=list)  # scopes asked for, for assertions
    expired: bool = False                               # issue tokens that expired already
    issued: list[str] = field(default_factory=list)     # every token handed out

    def start(self) -> TokenIssuer:
        self.key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, ISSUER)])
        now = datetime.datetime.now(datetime.UTC)
        self.cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
                     .public_key(self.key.public_key()).serial_number(x509.random_serial_number())
                     .not_valid_before(now - datetime.timedelta(days=1))
                     .not_valid_after(now + datetime.timedelta(days=1))
                     .sign(self.key, hashes.SHA256()))
        self.directory.mkdir(parents=True, exist_ok=True)
        self.cert_path = self.directory / "token-cert.pem"
        self.cert_path.write_bytes(self.cert.public_bytes(serialization.Encoding.PEM))
        issuer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                query = parse_qs(urlsplit(self.path).query)
                issuer.requests.extend(query.get("scope", []))
                if self.headers.get("Authorization") != issuer.basic_header():
                    self.send_response(401)
                    self.end_headers()
                    return
                body = json.dumps({"token": issuer.token(query.get("scope", []))}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    @property
    def realm(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/token"

    def basic_header(self) -> str:
        user, password = self.credentials
        return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()

    def token(self, scopes: list[str]) -> str:
        access = []
        for scope in " ".join(scopes).split():
            kind, name, actions = scope.split(":")
            access.append({"type": kind, "name": name, "actions": actions.split(",")})
        now = datetime.datetime.now(datetime.UTC)
        if self.expired:
            now -= datetime.timedelta(minutes=10)
        claims = {"iss": ISSUER, "sub": self.credentials[0], "aud": SERVICE,
                  "exp": now + datetime.timedelta(minutes=5), "nbf": now, "iat": now,
                  "jti": uuid.uuid4().hex, "access": access}
        der = self.cert.public_bytes(serialization.Encoding.DER)
        token = jwt.encode(claims, self.key, algorithm="ES256",
                           headers={"x5c": [base64.b64encode(der).decode()]})
        self.issued.append(token)
        return token

    def registry_config(self) -> str:
        return (f"auth:\n  token:\n    realm: {self.realm}\n    service: {SERVICE}\n"
                f"    issuer: {ISSUER}\n    rootcertbundle: {self.cert_path}\n")

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
