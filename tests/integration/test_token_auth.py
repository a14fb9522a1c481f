"""Bearer token auth, as real registries ask for it: the registry is distribution 2.8 with
``auth: token``; the token issuer is the tests' own (tests/harness/tokens.py)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from lifecycle.samplebuild import SampleBuild
from tests.harness.images import make_run_image_layout
from tests.harness.registry import TokenRegistry
from tests.integration.conftest import export_args, run_phase, write_stack

pytestmark = pytest.mark.registry


def test_export_and_rebase_with_token_auth(token_registry: TokenRegistry, build: SampleBuild,
                                           tmp_path: Path, unique: str) -> None:
    host, issuer = token_registry.registry.host, token_registry.issuer
    user, password = issuer.credentials
    run = f"{host}/{unique}/run:v1"
    subprocess.run(["skopeo", "copy", "--quiet", "--dest-tls-verify=false", "--dest-creds",
                    f"{user}:{password}", f"oci:{make_run_image_layout(tmp_path / 'l')}:latest",
                    f"docker://{run}"], check=True, capture_output=True, timeout=120)
    stack = write_stack(tmp_path / "stack.toml", run, [])
    app = f"{host}/{unique}/app:latest"

    anonymous = run_phase("exporter", *export_args(build, stack, app))
    assert anonymous.code == 3
    assert f"token service of {host} refused access" in anonymous.stderr

    env = {"CNB_REGISTRY_AUTH": json.dumps({host: issuer.basic_header()})}
    exported = run_phase("exporter", *export_args(build, stack, "-log-level", "debug", app),
                         env=env)
    assert exported.code == 0, exported.output
    assert password not in exported.output and issuer.basic_header() not in exported.output
    # the base layers were mounted from the run image's repository: one token for both
    assert f"repository:{unique}/run:pull" in issuer.requests
    assert f"repository:{unique}/app:pull,push" in issuer.requests

    rebased = run_phase("rebaser", "-report", str(tmp_path / "r.toml"), app, env=env)
    assert rebased.code == 0, rebased.output
