"""Credentials as the lifecycle finds them: CNB_REGISTRY_AUTH, then the Docker config's
credential helpers and auths; and the failures: missing helper, wrong password, expired token."""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path

import pytest

from lifecycle.samplebuild import SampleBuild
from tests.harness.images import make_run_image_layout, push_layout
from tests.harness.registry import Registries, TokenRegistry
from tests.integration.conftest import Result, export_args, run_phase, write_stack

pytestmark = pytest.mark.registry

WRONG = "n0t-the-Pa55word"

HELPER = """#!/bin/sh
# A credential helper as Docker's protocol has it: server URL on stdin, JSON on stdout.
read -r server
if [ "$server" = "$CNBTEST_REGISTRY" ]; then
  printf '{"ServerURL":"%s","Username":"%s","Secret":"%s"}' "$server" "$CNBTEST_USER" \\
    "$CNBTEST_SECRET"
else
  echo "credentials not found in native keychain"
  exit 1
fi
"""


def basic(user: str, password: str) -> str:
    return base64.b64encode(f"{user}:{password}".encode()).decode()


class Setup:
    def __init__(self, registries: Registries, build: SampleBuild, tmp_path: Path,
                 unique: str) -> None:
        assert registries.locked.credentials is not None
        self.host, self.tmp_path, self.build = registries.locked.host, tmp_path, build
        self.user, self.password = registries.locked.credentials
        self.run = f"{self.host}/{unique}/run:v1"
        push_layout(make_run_image_layout(tmp_path / "run"), self.run,
                    credentials=registries.locked.credentials)
        self.stack = write_stack(tmp_path / "stack.toml", self.run, [])
        self.app = f"{self.host}/{unique}/app:latest"
        (tmp_path / "bin").mkdir()
        helper = tmp_path / "bin" / "docker-credential-cnbtest"
        helper.write_text(HELPER)
        helper.chmod(0o755)

    def export(self, config: dict[str, object], secret: str | None = None,
               **env: str) -> Result:
        (self.tmp_path / "docker").mkdir(exist_ok=True)
        (self.tmp_path / "docker" / "config.json").write_text(json.dumps(config))
        return run_phase("exporter", *export_args(self.build, self.stack, self.app), env={
            "PATH": f"{self.tmp_path / 'bin'}:{os.environ['PATH']}",
            "DOCKER_CONFIG": str(self.tmp_path / "docker"), "CNBTEST_REGISTRY": self.host,
            "CNBTEST_USER": self.user, "CNBTEST_SECRET": secret or self.password, **env})

    def auths(self, password: str) -> dict[str, object]:
        return {self.host: {"auth": basic(self.user, password)}}


@pytest.fixture
def setup(registries: Registries, build: SampleBuild, tmp_path: Path, unique: str) -> Setup:
    return Setup(registries, build, tmp_path, unique)


def only_error(result: Result) -> str:
    errors = [line for line in result.stderr.splitlines() if line.startswith("ERROR")]
    assert len(errors) == 1 and "Traceback" not in result.output, result.output
    return errors[0]


def test_cred_helpers_for_the_registry(setup: Setup) -> None:
    result = setup.export({"credHelpers": {setup.host: "cnbtest"}})
    assert result.code == 0, result.output


def test_creds_store_for_every_registry(setup: Setup) -> None:
    result = setup.export({"credsStore": "cnbtest"})
    assert result.code == 0, result.output


def test_a_helper_without_credentials_falls_back_to_auths(setup: Setup) -> None:
    result = setup.export({"credsStore": "cnbtest", "auths": setup.auths(setup.password)},
                          CNBTEST_REGISTRY="some.other.registry")
    assert result.code == 0, result.output


def test_cnb_registry_auth_wins_over_a_helper(setup: Setup) -> None:
    header = "Basic " + basic(setup.user, setup.password)
    env = {"CNB_REGISTRY_AUTH": json.dumps({setup.host: header})}
    result = setup.export({"credsStore": "cnbtest"}, secret=WRONG, **env)
    assert result.code == 0, result.output


def test_a_helper_wins_over_auths(setup: Setup) -> None:
    result = setup.export({"credHelpers": {setup.host: "cnbtest"},
                           "auths": setup.auths(WRONG)})
    assert result.code == 0, result.output


def test_a_missing_helper_is_one_line(setup: Setup) -> None:
    result = setup.export({"credHelpers": {setup.host: "nope"}})
    assert result.code == 3
    assert f"credential helper 'docker-credential-nope' for {setup.host} is not installed" \
        in only_error(result)


def test_a_wrong_password_is_one_line_for_each_phase(setup: Setup) -> None:
    result = setup.export({"auths": setup.auths(WRONG)})
    assert result.code == 3
    assert "access denied (HTTP 401)" in only_error(result)
    assert WRONG not in result.output and basic(setup.user, WRONG) not in result.output
    good = setup.export({"auths": setup.auths(setup.password)})
    assert good.code == 0, good.output
    (setup.tmp_path / "docker" / "config.json").write_text(
        json.dumps({"auths": setup.auths(WRONG)}))
    rebased = run_phase("rebaser", "-report", str(setup.tmp_path / "r.toml"), setup.app,
                        env={"DOCKER_CONFIG": str(setup.tmp_path / "docker")})
    assert rebased.code == 72
    assert "access denied (HTTP 401)" in only_error(rebased)


def test_an_expired_token_is_one_line(token_registry: TokenRegistry, build: SampleBuild,
                                      tmp_path: Path, unique: str) -> None:
    host, issuer = token_registry.registry.host, token_registry.issuer
    env = {"CNB_REGISTRY_AUTH": json.dumps({host: issuer.basic_header()})}
    stack = write_stack(tmp_path / "stack.toml", f"{host}/{unique}/run:v1", [])
    issuer.expired = True
    try:
        result = run_phase("exporter", *export_args(build, stack, f"{host}/{unique}/app:1"),
                           env=env)
    finally:
        issuer.expired = False
    assert result.code == 3
    assert "access denied (HTTP 401)" in only_error(result)
