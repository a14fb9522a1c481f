"""No secret in any output or file: every command at debug level, with credentials configured
(CNB_REGISTRY_AUTH, a Docker config, Bearer tokens), against real registries."""

from __future__ import annotations

import base64
import json
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import pytest

from lifecycle.samplebuild import SampleBuild
from tests.harness.images import make_run_image_layout, push_layout
from tests.harness.registry import Registries, TokenRegistry
from tests.integration.conftest import Result, export_args, run_phase, write_stack

pytestmark = pytest.mark.registry


def everything_written(*roots: Path) -> str:
    return "".join(path.read_text(errors="replace") for root in roots
                   for path in root.rglob("*") if path.is_file() and path.stat().st_size < 1 << 20)


def secrets_of(user: str, password: str) -> list[str]:
    encoded = base64.b64encode(f"{user}:{password}".encode()).decode()
    return [password, encoded, f"Basic {encoded}"]


def run_every_command(build: SampleBuild, tmp_path: Path, registry: str, unique: str,
                      env: dict[str, str]) -> list[Result]:
    stack = write_stack(tmp_path / "stack.toml", f"{registry}/{unique}/run:v1", [])
    app = f"{registry}/{unique}/app:latest"
    listing = tmp_path / "fleet.txt"
    listing.write_text(app + "\n")
    results = [
        run_phase("exporter", "-log-level", "debug", "-cache-image",
                  f"{registry}/{unique}/cache:1", *export_args(build, stack, "-report",
                                                                str(tmp_path / "e.toml"), app),
                  env=env),
        run_phase("rebaser", "-log-level", "debug", "-report", str(tmp_path / "r.toml"), app,
                  env=env),
        run_phase("rebasemany", "-log-level", "debug", "-report", str(tmp_path / "m.toml"),
                  str(listing), env=env),
        run_phase("exporter", "-log-level", "debug", "-log-format", "json",
                  *export_args(build, stack, app), env=env),
    ]
    assert [result.code for result in results] == [0, 0, 0, 0], [r.output for r in results]
    return results


def test_basic_credentials_never_appear(registries: Registries, build: SampleBuild,
                                        tmp_path: Path, unique: str) -> None:
    locked = registries.locked
    assert locked.credentials is not None
    push_layout(make_run_image_layout(tmp_path / "run"), f"{locked.host}/{unique}/run:v1",
                credentials=locked.credentials)
    secrets = secrets_of(*locked.credentials)
    config = tmp_path / "docker"
    config.mkdir()
    (config / "config.json").write_text(json.dumps(
        {"auths": {locked.host: {"auth": secrets[1]}}}))
    for env in ({"CNB_REGISTRY_AUTH": json.dumps({locked.host: secrets[2]})},
                {"DOCKER_CONFIG": str(config)}):
        results = run_every_command(build, tmp_path, locked.host, unique, env)
        seen = "".join(result.output for result in results)
        seen += everything_written(tmp_path / "e.toml", build.layers_dir, tmp_path / "m.toml",
                                   tmp_path / "r.toml")
        for secret in secrets:
            assert secret not in seen


def test_bearer_tokens_never_appear(token_registry: TokenRegistry, build: SampleBuild,
                                    tmp_path: Path, unique: str) -> None:
    host, issuer = token_registry.registry.host, token_registry.issuer
    user, password = issuer.credentials
    subprocess.run(["skopeo", "copy", "--quiet", "--dest-tls-verify=false", "--dest-creds",
                    f"{user}:{password}", f"oci:{make_run_image_layout(tmp_path / 'l')}:latest",
                    f"docker://{host}/{unique}/run:v1"], check=True, capture_output=True,
                   timeout=120)
    issued_before = len(issuer.issued)
    results = run_every_command(build, tmp_path, host, unique,
                                {"CNB_REGISTRY_AUTH": json.dumps({host: issuer.basic_header()})})
    tokens = issuer.issued[issued_before:]
    assert tokens
    seen = "".join(result.output for result in results)
    seen += everything_written(tmp_path / "e.toml", build.layers_dir, tmp_path / "m.toml")
    for secret in [*secrets_of(user, password), *tokens]:
        assert secret not in seen


def test_temporary_files_are_private(build: SampleBuild, tmp_path: Path,
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """While an export runs, its work dir and layer files are readable by their owner alone;
    afterwards they are gone."""
    from lifecycle import exporter

    make_run_image_layout(tmp_path / "oci" / "example.com/cnb/run/v1", "v1")
    stack = write_stack(tmp_path / "stack.toml", "example.com/cnb/run:v1", [])
    monkeypatch.setenv("TMPDIR", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    tempfile.tempdir = None  # let tempfile read TMPDIR again
    modes: list[int] = []
    real_save = exporter.save

    def save_and_look(*args: Any) -> None:
        for path in (tmp_path / "tmp").rglob("*"):
            modes.append(path.stat().st_mode & 0o777)
        real_save(*args)

    monkeypatch.setattr(exporter, "save", save_and_look)
    try:
        code = exporter.main(["-layout", "-layout-dir", str(tmp_path / "oci"),
                              *export_args(build, stack, "example.com/apps/private:1")])
    finally:
        tempfile.tempdir = None
    assert code == 0
    assert modes and all(mode & 0o077 == 0 for mode in modes), [oct(m) for m in modes]
    assert list((tmp_path / "tmp").iterdir()) == []
