"""A registry over TLS with the tests' own CA: verified by default, trusted as users do it."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from lifecycle.backends.auth import Keychain
from lifecycle.backends.registry import RegistryClient
from lifecycle.samplebuild import SampleBuild
from tests.harness.images import make_run_image_layout, push_layout, skopeo_inspect
from tests.harness.registry import Registries
from tests.harness.tlsregistry import TLSRegistry
from tests.integration.conftest import Result, export_args, run_phase, write_stack

pytestmark = pytest.mark.registry


def export(build: SampleBuild, tmp_path: Path, tls: TLSRegistry, unique: str,
           env: dict[str, str], *flags: str) -> tuple[Result, str]:
    host = tls.registry.host
    run = f"{host}/{unique}/run:v1"
    push_layout(make_run_image_layout(tmp_path / "run"), run)
    stack = write_stack(tmp_path / "stack.toml", run, [])
    app = f"{host}/{unique}/app:latest"
    args = export_args(build, stack, app)
    if env.get("CNB_PLATFORM_API") == "0.13":  # run.toml replaces the stack file
        (tmp_path / "run.toml").write_text(f'[[images]]\nimage = "{run}"\n')
        args[:2] = ["-run", str(tmp_path / "run.toml")]
    return run_phase("exporter", *flags, *args, env=env), app


def test_an_untrusted_certificate_is_one_clear_line(build: SampleBuild, tmp_path: Path,
                                                    tls_registry: TLSRegistry,
                                                    unique: str) -> None:
    host = tls_registry.registry.host
    result, app = export(build, tmp_path, tls_registry, unique,
                         {"SSL_CERT_FILE": "/etc/ssl/certs/ca-certificates.crt"})
    assert result.code == 3, result.output
    errors = [line for line in result.stderr.splitlines() if line.startswith("ERROR")]
    assert len(errors) == 1
    assert f"cannot reach registry {host}: its TLS certificate is not trusted" in errors[0]
    assert "SSL_CERT_FILE" in errors[0]
    rebased = run_phase("rebaser", "-report", str(tmp_path / "r.toml"), app)
    assert rebased.code == 72, rebased.output
    assert "its TLS certificate is not trusted" in rebased.stderr


def test_ssl_cert_file_trusts_the_ca(build: SampleBuild, tmp_path: Path,
                                     tls_registry: TLSRegistry, unique: str) -> None:
    result, app = export(build, tmp_path, tls_registry, unique,
                         {"SSL_CERT_FILE": str(tls_registry.ca_path)})
    assert result.code == 0, result.output
    assert skopeo_inspect(app)["Labels"]["io.buildpacks.lifecycle.metadata"]
    rebased = run_phase("rebaser", "-report", str(tmp_path / "r.toml"), app,
                        env={"SSL_CERT_FILE": str(tls_registry.ca_path)})
    assert rebased.code == 0, rebased.output


def test_docker_certs_d_trusts_the_ca(build: SampleBuild, tmp_path: Path,
                                      tls_registry: TLSRegistry, unique: str) -> None:
    certs_d = tmp_path / "certs.d"
    (certs_d / tls_registry.registry.host).mkdir(parents=True)
    (certs_d / tls_registry.registry.host / "ca.crt").write_bytes(
        tls_registry.ca_path.read_bytes())
    result, _ = export(build, tmp_path, tls_registry, unique,
                       {"CNB_REGISTRY_CERTS_DIR": str(certs_d),
                        "SSL_CERT_FILE": "/etc/ssl/certs/ca-certificates.crt"})
    assert result.code == 0, result.output


def test_insecure_registry_skips_verification(build: SampleBuild, tmp_path: Path,
                                              tls_registry: TLSRegistry, unique: str) -> None:
    # The flag exists from platform API 0.13, where run.toml replaces the stack file.
    result, _ = export(build, tmp_path, tls_registry, unique, {"CNB_PLATFORM_API": "0.13"},
                       "-insecure-registry", tls_registry.registry.host)
    assert result.code == 0, result.output
    assert "InsecureRequestWarning" not in result.stderr  # the user chose it


def test_the_scheme_probe_finds_tls_plain_http_and_nothing(tls_registry: TLSRegistry,
                                                           registries: Registries,
                                                           monkeypatch: pytest.MonkeyPatch
                                                           ) -> None:
    for variable in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(variable, raising=False)
    client = RegistryClient(Keychain())
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        nobody = f"127.0.0.1:{closed.getsockname()[1]}"   # bound, not listening
        assert client.scheme_for(tls_registry.registry.host) == "https"  # CA not trusted
        assert client.scheme_for(registries.one.host) == "http"
        assert client.scheme_for(nobody) == "http"


def test_behind_a_proxy_the_scheme_probe_is_a_request(monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        monkeypatch.setenv("HTTPS_PROXY", f"http://127.0.0.1:{closed.getsockname()[1]}")
        monkeypatch.delenv("NO_PROXY", raising=False)
        monkeypatch.delenv("no_proxy", raising=False)

        def no_direct_connection(*_: object, **__: object) -> None:
            raise AssertionError("the probe went around the proxy")

        monkeypatch.setattr(socket, "create_connection", no_direct_connection)
        assert RegistryClient(Keychain()).scheme_for("registry.example:5000") == "http"
