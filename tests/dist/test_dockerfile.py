"""The Dockerfile: a plain ``docker build .`` of the source fetches the dependencies from the
package index; and over an existing lifecycle image (``--build-arg LIFECYCLE_IMAGE=...``, what
``pack build --lifecycle-image`` takes). Nothing can be pulled here, so the "lifecycle image"
is a stand-in made like buildpacksio/lifecycle: no shell, no C library, ``/cnb/lifecycle.toml``
and the phases under ``/cnb/lifecycle``, its API list in a label. The result must keep its
phases, labels and launcher and run our exporter, self-contained, in a real export."""

from __future__ import annotations

import io
import json
import os
import re
import shlex
import shutil
import tarfile
import tomllib
from pathlib import Path

import docker
import pytest

from release.build_dist import arguments
from tests.acceptance.images import ROOT, add_wheels, build_image, import_base, source_context
from tests.dist.conftest import run_to_completion
from tests.dist.pack_descriptor import platform_pack_builds_with, read_as_pack_current
from tests.dist.test_binaries import pack_env, pack_volumes
from tests.dist.test_descriptor import GO_LAUNCHER
from tests.harness.dockerd import Dockerd
from tests.harness.images import publish_run_image, skopeo_inspect
from tests.harness.registry import Registries
from tests.harness.services import ServiceError

pytestmark = pytest.mark.dist

STAND_IN = "cnb-dist/go-lifecycle:0.20.0"
OVERLAID = "cnb-dist/lifecycle-overlaid:dev"
GO_PHASES = ("analyzer", "detector", "restorer", "builder", "creator", "rebaser", "exporter")
STAND_IN_APIS = {"buildpack": {"deprecated": [], "supported": ["0.7", "0.10", "0.11"]},
                 "platform": {"deprecated": [], "supported": ["0.7", "0.12", "0.13", "0.16"]}}
STAND_IN_DESCRIPTOR = (
    '[apis]\n[apis.buildpack]\n  deprecated = []\n  supported = ["0.7", "0.10", "0.11"]\n'
    '[apis.platform]\n  deprecated = []\n  supported = ["0.7", "0.12", "0.13", "0.16"]\n'
    '[api]\n  platform = "0.3"\n  buildpack = "0.2"\n[lifecycle]\n  version = "0.20.0"\n')


def docker_build(client: docker.DockerClient, context: Path, tag: str, network: str,
                 **buildargs: str) -> str:
    """``docker build`` of ``context``, bounded; a failure shows the end of the build's
    output."""
    try:
        build_image(client, f"docker build of {tag}", path=str(context), tag=tag,
                    network_mode=network, buildargs=buildargs)
    except ServiceError as err:
        raise AssertionError(str(err)) from None
    return tag


def test_a_plain_docker_build_fetches_the_dependencies_from_the_index(
        dockerd: Dockerd, tmp_path: Path) -> None:
    """What a fresh clone gets from ``docker build .`` (the stock base image cannot be pulled
    here, so BASE_IMAGE names the tests' own Debian with python3 and pip)."""
    client = dockerd.client
    context = source_context(tmp_path / "src")
    assert not (context / "wheels").exists()
    proxy_ca = {}
    if os.environ.get("PIP_CERT"):  # this machine's own way to the index, re-signed TLS
        (context / "certs").mkdir()
        shutil.copy(os.environ["PIP_CERT"], context / "certs" / "index-ca.crt")
        proxy_ca["PIP_CERT"] = "/src/certs/index-ca.crt"
    docker_build(client, context, "cnb-dist/from-index:dev", "host",
                 BASE_IMAGE=import_base(client), **proxy_ca)
    version = client.containers.run("cnb-dist/from-index:dev", ["/cnb/lifecycle/exporter",
                                                                "-version"], remove=True)
    assert version.decode().strip()
    files = files_in(client, "cnb-dist/from-index:dev", "/cnb/lifecycle.toml")
    descriptor = tomllib.loads(files["lifecycle.toml"].decode())
    assert descriptor["api"] == {"platform": "0.3", "buildpack": "0.2"}


def stand_in_rootfs() -> bytes:
    """What buildpacksio/lifecycle holds: distroless static's /tmp and users, and /cnb."""
    files = {"cnb/lifecycle.toml": STAND_IN_DESCRIPTOR.encode(),
             "etc/passwd": b"root:x:0:0:root:/root:/sbin/nologin\n"
                           b"nonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n",
             "cnb/lifecycle/launcher": GO_LAUNCHER,
             **{f"cnb/lifecycle/{phase}": f"go {phase}".encode() for phase in GO_PHASES}}
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as tar:
        for directory, mode in (("tmp", 0o1777), ("etc", 0o755), ("cnb", 0o755),
                                ("cnb/lifecycle", 0o755), ("layers", 0o755)):
            info = tarfile.TarInfo(directory)
            info.type, info.mode = tarfile.DIRTYPE, mode
            tar.addfile(info)
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), 0o755
            tar.addfile(info, io.BytesIO(data))
    return out.getvalue()


def compact_json(document: object) -> str:
    return json.dumps(document, separators=(",", ":"))


def files_in(client: docker.DockerClient, image: str, path: str) -> dict[str, bytes]:
    """The regular files under ``path`` in ``image``, read from a container never started."""
    container = client.containers.create(image, ["none"])
    try:
        stream, _ = container.get_archive(path)
        data = b"".join(stream)
    finally:
        container.remove(force=True)
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        return {m.name: tar.extractfile(m).read()  # type: ignore[union-attr]
                for m in tar.getmembers() if m.isfile()}


@pytest.fixture(scope="module")
def overlaid(dockerd: Dockerd, phases_root: Path,
             tmp_path_factory: pytest.TempPathFactory) -> str:
    """The Dockerfile over the stand-in, taking the phases the session's PyInstaller run made
    (``PREBUILT``), so that PyInstaller runs once per session."""
    client = dockerd.client
    client.api.import_image_from_data(
        stand_in_rootfs(), repository=STAND_IN.rpartition(":")[0], tag="0.20.0",
        changes=[f"LABEL io.buildpacks.lifecycle.apis='{compact_json(STAND_IN_APIS)}'",
                 "LABEL io.buildpacks.lifecycle.version=0.20.0", "WORKDIR /layers"])
    context = source_context(tmp_path_factory.mktemp("context") / "src")
    shutil.copytree(phases_root, context / "prebuilt", symlinks=True)
    add_wheels(context)
    return docker_build(client, context, OVERLAID, "none", BASE_IMAGE=import_base(client),
                        WHEELS="wheels", LIFECYCLE_IMAGE=STAND_IN, PREBUILT="prebuilt")


def test_the_from_scratch_lifecycle_image_build_is_a_command_build_dist_takes() -> None:
    """The Dockerfile's other ``LIFECYCLE_IMAGE`` branch runs PyInstaller in the build (not
    repeated here); what it runs is ``build_dist.py``'s image root with the same code as
    ``PREBUILT`` apart from the PyInstaller run the session made, so its command line is what
    is left to check."""
    dockerfile = (ROOT / "Dockerfile").read_text().replace("\\\n", " ")
    runs = [arguments(shlex.split(command.replace("$PREBUILT", "prebuilt")))
            for command in re.findall(r"/src/release/build_dist\.py (--[^;&]+)", dockerfile)]
    assert [(run.image_root, run.base_cnb, run.phases_root) for run in runs] == [
        (Path("/out"), Path("/base"), Path("/src/prebuilt")), (Path("/out"), Path("/base"), None)]


def test_the_lifecycle_image_keeps_its_phases_and_takes_ours(dockerd: Dockerd,
                                                             overlaid: str) -> None:
    client = dockerd.client
    files = files_in(client, overlaid, "/cnb")
    for phase in ("analyzer", "detector", "restorer", "builder", "creator"):
        assert files[f"cnb/lifecycle/{phase}"] == f"go {phase}".encode()
    assert files["cnb/lifecycle/launcher"] == GO_LAUNCHER
    ours = files["cnb/lifecycle/exporter"]
    assert files["cnb/lifecycle/rebaser"] == ours and ours.startswith(b"\x7fELF")
    descriptor = files["cnb/lifecycle.toml"].decode()
    assert tomllib.loads(descriptor)["apis"]["platform"]["supported"] == ["0.7", "0.12", "0.13"]
    names = [f"lifecycle/{name.rpartition('/')[2]}" for name in files]
    assert platform_pack_builds_with(read_as_pack_current(descriptor, names)) == (0, 13)
    assert tomllib.loads(files["cnb/lifecycle/launcher.toml"].decode())["launcher"] == {
        "version": "0.20.0", "source": {"git": {"repository": "github.com/buildpacks/lifecycle",
                                                "commit": "0123abc"}}}
    kpack_copies = names_in_last_layer(client, overlaid)  # all kpack takes of a lifecycle image
    for name in ("cnb/lifecycle.toml", "cnb/lifecycle/launcher", "cnb/lifecycle/launcher.toml",
                 "cnb/lifecycle/exporter", "cnb/lifecycle/rebaser", "cnb/lifecycle/cacert.pem",
                 *(f"cnb/lifecycle/{phase}" for phase in GO_PHASES)):
        assert name in kpack_copies, name
    assert not [name for name in kpack_copies if not name.startswith("cnb")]  # no C library
    config = client.images.get(overlaid).attrs["Config"]
    assert config["Labels"]["io.buildpacks.lifecycle.version"] == "0.20.0"
    assert config["WorkingDir"] == "/layers"
    assert "no shell" in shell_check(client, overlaid)


def names_in_last_layer(client: docker.DockerClient, image: str) -> set[str]:
    """The paths in ``image``'s last layer, from ``docker save``."""
    saved = tarfile.open(fileobj=io.BytesIO(b"".join(client.images.get(image).save())))
    manifest = json.load(saved.extractfile("manifest.json"))  # type: ignore[arg-type]
    layer = saved.extractfile(manifest[0]["Layers"][-1])
    with tarfile.open(fileobj=layer) as tar:
        return {name.removeprefix("./").rstrip("/") for name in tar.getnames()}


def shell_check(client: docker.DockerClient, image: str) -> str:
    try:
        client.containers.run(image, ["/bin/sh", "-c", "true"], remove=True)
    except docker.errors.APIError:
        return "no shell"
    return "a shell"


def test_our_exporter_publishes_from_the_lifecycle_image(dockerd: Dockerd, overlaid: str,
                                                         reachable: Path,
                                                         registries: Registries,
                                                         unique: str) -> None:
    """As pack 0.40 runs the exporter of an untrusted builder: in the lifecycle image, as
    root with the build's user, at the newest platform API both lifecycles declare."""
    run = f"{registries.one.host}/{unique}/run:v1"
    app = f"{registries.one.host}/{unique}/app:latest"
    publish_run_image(reachable / "run-layout", [run])
    volumes = pack_volumes(reachable)
    run_toml = reachable / "build" / "layers" / "run.toml"
    run_toml.write_text(f'[[images]]\nimage = "{run}"\nmirrors = []\n')
    binds = {host: {"bind": inside, "mode": "rw"} for host, inside in volumes.items()}
    command = ["/cnb/lifecycle/exporter", "-run", "/layers/run.toml", "-cache-dir", "/cache",
               "-layers", "/layers", "-app", "/workspace", "-process-type", "web", app]
    logs = run_to_completion(dockerd.client, overlaid, command, binds, user="root",
                             environment=pack_env(CNB_REGISTRY_AUTH="{}",
                                                  CNB_PLATFORM_API="0.13"))
    assert "Adding cache layer 'examples_cache:deps'" in logs
    config = skopeo_inspect(app, config=True)["config"]
    assert config["Entrypoint"] == ["/cnb/process/web"]
    assert "CNB_PLATFORM_API=0.13" in config["Env"]
    build = json.loads(config["Labels"]["io.buildpacks.build.metadata"])
    assert build["launcher"] == {"version": "0.20.0", "source": {"git": {  # launcher.toml's
        "repository": "github.com/buildpacks/lifecycle", "commit": "0123abc"}}}
