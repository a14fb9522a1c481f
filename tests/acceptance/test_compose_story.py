"""The whole seed story in containers (tests/acceptance/docker-compose.yml), from a clean daemon.

Two registries with different registry strings (127.0.0.1:<p> and localhost:<q>) hold the run
image v1 (canonical on one, mirror on the other). A builder container exports the app to each
registry, and each export picks the run image on its own registry. Run image v2 is published
to every mirror; the rebaser runs in a container for Scenario 1 (no flag) and Scenario 2
(-runImage). ``docker run`` of the rebased images shows the new base and the unchanged app.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from lifecycle.samplebuild import write_sample_build
from tests.acceptance.images import build_builder_image
from tests.harness.dockerd import Dockerd
from tests.harness.images import publish_run_image, skopeo_inspect
from tests.harness.registry import Registries

pytestmark = pytest.mark.acceptance

COMPOSE_FILE = Path(__file__).with_name("docker-compose.yml")
BUILD_UID = 1000


@pytest.fixture
def volumes(tmp_path: Path) -> Iterator[Path]:
    """The build's layers and workspace, owned by the build's user as pack leaves them."""
    root = Path(os.environ.get("TMPDIR", "/tmp")) / f"cnb-story-{tmp_path.name}"
    build = write_sample_build(root)
    for path in (root, *root.rglob("*")):
        os.lchown(path, BUILD_UID, BUILD_UID)
    yield build.layers_dir.parent
    shutil.rmtree(root, ignore_errors=True)


def compose(docker_compose: str, dockerd: Dockerd, service: str,
            variables: dict[str, str]) -> str:
    completed = subprocess.run(
        [docker_compose, "-f", str(COMPOSE_FILE), "-p", "cnbstory", "run", "--rm", "-T",
         service], capture_output=True, text=True, timeout=600,
        env={**os.environ, **variables, "DOCKER_HOST": dockerd.host})
    assert completed.returncode == 0, completed.stdout + completed.stderr
    return completed.stdout + completed.stderr


def run_image_version(dockerd: Dockerd, image: str) -> str:
    dockerd.client.images.pull(image)
    return dockerd.run(image)


def test_the_seed_story(dockerd: Dockerd, registries: Registries, lifecycle_image: str,
                        docker_compose: str, volumes: Path, tmp_path: Path,
                        unique: str) -> None:
    one, two = registries.one.host, registries.two.host
    canonical, mirror = f"{one}/{unique}/run:v1", f"{two}/{unique}/run:v1"
    publish_run_image(tmp_path / "v1", [canonical, mirror], "v1")
    stack = f'[run-image]\nimage = "{canonical}"\nmirrors = ["{mirror}"]\n'
    builder = build_builder_image(dockerd.client, stack, f"cnb-acceptance/builder:{unique}")
    variables = {
        "BUILDER_IMAGE": builder, "BUILD_UID": str(BUILD_UID),
        "LAYERS_DIR": str(volumes / "layers"), "WORKSPACE_DIR": str(volumes / "workspace"),
        "APP_ON_ONE": f"{one}/{unique}/app:latest", "APP_ON_TWO": f"{two}/{unique}/app:latest",
        "CUSTOM_RUN_IMAGE": f"{two}/{unique}/custom-run:v3",
    }

    exported_one = compose(docker_compose, dockerd, "export-to-one", variables)
    assert f"Selected run image '{canonical}'" in exported_one
    exported_two = compose(docker_compose, dockerd, "export-to-two", variables)
    assert f"Selected run image '{mirror}'" in exported_two
    for app, run in ((variables["APP_ON_ONE"], canonical), (variables["APP_ON_TWO"], mirror)):
        label = json.loads(skopeo_inspect(app)["Labels"]["io.buildpacks.lifecycle.metadata"])
        assert label["runImage"]["reference"].startswith(run.rsplit(":", 1)[0] + "@")
        assert label["stack"]["runImage"] == {"image": canonical, "mirrors": [mirror]}
        output = run_image_version(dockerd, app)
        assert "app says: hi there" in output and "run image version: v1" in output

    publish_run_image(tmp_path / "v2", [canonical, mirror], "v2")
    publish_run_image(tmp_path / "v3", [variables["CUSTOM_RUN_IMAGE"]], "v3")
    scenario_1 = compose(docker_compose, dockerd, "rebase-scenario-1", variables)
    assert f"Selected run image '{canonical}'" in scenario_1
    scenario_2 = compose(docker_compose, dockerd, "rebase-scenario-2", variables)
    assert f"Using run image '{variables['CUSTOM_RUN_IMAGE']}'" in scenario_2

    output = run_image_version(dockerd, variables["APP_ON_ONE"])
    assert "run image version: v2" in output and "app says: hi there" in output
    output = run_image_version(dockerd, variables["APP_ON_TWO"])
    assert "run image version: v3" in output and "app says: hi there" in output
