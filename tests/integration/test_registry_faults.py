"""Registry faults: every run ends with a correct, pullable image or a clean failure that left
the previous image in place. A proxy (tests/harness/faultproxy.py) injects the faults in front
of the real registry; the exporter and rebaser run as subprocesses, as pack runs them.

Three ways of writing meet the faults: ``export`` and ``rebase`` with every name through the
proxy (blobs are mounted or uploaded, configs read), and ``export-across``, which takes its
run image from the proxy but writes straight to the registry, so a run-image layer is
streamed from one to the other (a fault in the middle of that read is resumed)."""

from __future__ import annotations

import base64
import itertools
import json
import tomllib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest

from lifecycle.backends.auth import Keychain
from lifecycle.backends.registry import RegistryStore
from lifecycle.reference import parse_reference
from lifecycle.samplebuild import write_sample_build
from tests.harness.faultproxy import EFFECTS, Fault, FaultProxy
from tests.harness.images import publish_run_image, pull_to_layout, skopeo_inspect
from tests.harness.registry import Registries
from tests.harness.services import start_registry
from tests.harness.tokens import TokenIssuer
from tests.integration.conftest import Result, export_args, run_phase, write_stack

pytestmark = [pytest.mark.registry, pytest.mark.timeout(120)]  # a guard: no run may hang

# Short waits so a hundred and fifty scenarios take a minute or two: 1 s read timeout (the
# proxy stalls for 2.5 s), 4 attempts, 10 ms first back-off, and no wait longer than 0.1 s,
# Retry-After included (tests/unit/test_retry.py shows it honoured); debug logs tell how a
# fault was overcome.
PHASE_ENV = {"CNB_REGISTRY_RETRY_DELAY": "0.01", "CNB_REGISTRY_TIMEOUT": "1",
             "CNB_REGISTRY_ATTEMPTS": "4", "CNB_REGISTRY_MAX_DELAY": "0.1",
             "CNB_LOG_LEVEL": "debug"}
EXPORT_KINDS = ("manifest-get", "blob-get", "blob-head", "upload-post", "upload-put",
                "manifest-put")
# A rebase sends its new config without asking whether it is there: it makes no blob HEAD.
REBASE_KINDS = tuple(kind for kind in EXPORT_KINDS if kind != "blob-head")
ACROSS_KINDS = ("manifest-get", "layer-get")     # layer-get: the streamed run-image layer
COUNTER = itertools.count()


@dataclass(frozen=True)
class World:
    proxy: FaultProxy
    upstream: str          # the registry itself, for setting up and checking
    namespace: str
    stack: Path            # run image reached through the proxy
    base_app: str          # an exported app image on the upstream name
    new_run: str           # run image v2, through the proxy
    new_stack: Path        # run image v2 through the proxy, for writes straight to the registry
    new_layer: str         # the digest of the layer run image v2 does not share with v1
    env: Mapping[str, str]  # for the phases: credentials, where needed

    def names(self, repo: str) -> tuple[str, str]:
        """(through the proxy, straight to the registry)"""
        return (f"{self.proxy.host}/{self.namespace}/{repo}:latest",
                f"{self.upstream}/{self.namespace}/{repo}:latest")


def make_world(root: Path, proxy: FaultProxy, upstream: str, run_host: str,
               env: Mapping[str, str] | None = None) -> World:
    """Run images v1 and v2 and an app exported on v1, on ``upstream``; the stacks name the
    run images on ``run_host`` (the proxy, or the registry itself when the proxy stands in
    front of something else)."""
    namespace = f"faults{next(COUNTER)}"
    publish_run_image(root / "v1", [f"{upstream}/{namespace}/run:v1"], "v1")
    publish_run_image(root / "v2", [f"{upstream}/{namespace}/run:v2"], "v2")
    build = write_sample_build(root / "build")
    base_app = f"{upstream}/{namespace}/base:latest"
    stack = write_stack(root / "stack.toml", f"{upstream}/{namespace}/run:v1", [])
    assert run_phase("exporter", *export_args(build, stack, base_app), env=env).code == 0
    layers = [set(skopeo_inspect(f"{upstream}/{namespace}/run:{version}")["Layers"])
              for version in ("v1", "v2")]
    (new_layer,) = layers[1] - layers[0]
    return World(proxy, upstream, namespace,
                 write_stack(root / "proxied.toml", f"{run_host}/{namespace}/run:v1", []),
                 base_app, f"{run_host}/{namespace}/run:v2",
                 write_stack(root / "proxied-v2.toml", f"{run_host}/{namespace}/run:v2", []),
                 new_layer, dict(env or {}))


@pytest.fixture(scope="module")
def world(registries: Registries, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    proxy = FaultProxy(registries.one.port, stall_seconds=2.5)
    try:
        yield make_world(tmp_path_factory.mktemp("faults"), proxy, registries.one.host,
                         proxy.host)
    finally:
        proxy.stop()


@pytest.fixture(scope="module")
def token_world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """A registry with token auth whose token issuer is reached through the proxy."""
    root = tmp_path_factory.mktemp("token-faults")
    issuer = TokenIssuer(("token-user", "token-pass"), root).start()
    proxy = FaultProxy(issuer.server.server_address[1], stall_seconds=2.5)
    registry = start_registry(root / "registry", auth_config=issuer.registry_config().replace(
        issuer.realm, f"http://{proxy.host}/token"))
    auth_file = root / "auth.json"  # for skopeo (the checks), as containers-auth.json
    auth_file.write_text(json.dumps({"auths": {registry.host: {"auth": base64.b64encode(
        ":".join(issuer.credentials).encode()).decode()}}}))
    try:
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv("REGISTRY_AUTH_FILE", str(auth_file))
            yield make_world(root, proxy, registry.host, registry.host, {
                "CNB_REGISTRY_AUTH": json.dumps({registry.host: issuer.basic_header()})})
    finally:
        registry.stop()
        proxy.stop()
        issuer.stop()


def previous_image(world: World, repo: str) -> str:
    """Put the base app at ``repo`` (straight to the registry); returns its digest."""
    store = RegistryStore(keychain=Keychain.from_environment(world.env))
    image = store.read(parse_reference(world.base_app)).image
    store.write(image, [parse_reference(world.names(repo)[1])])
    return image.digest()


def check_outcome(world: World, result: Result, repo: str, before: str, failure_code: int,
                  tmp_path: Path) -> None:
    """A correct, pullable new image; or a one-line failure and the old image untouched."""
    world.proxy.clear()
    assert "Traceback" not in result.output
    _, direct = world.names(repo)
    now = skopeo_inspect(direct)["Digest"]
    if result.code == 0:
        report = tomllib.loads((tmp_path / "report.toml").read_text())
        assert now == report["image"]["digest"] != before
    else:
        assert result.code == failure_code, result.output
        errors = [line for line in result.stderr.splitlines() if line.startswith("ERROR")]
        assert len(errors) == 1, result.stderr
        assert now == before
    pull_to_layout(direct, tmp_path / "pulled")  # every blob there, every digest right


def export(world: World, repo: str, tmp_path: Path, env: Mapping[str, str]) -> Result:
    build = write_sample_build(tmp_path / "build", message=f"changed for {repo}")
    return run_phase("exporter", *export_args(build, world.stack, "-report",
                                              str(tmp_path / "report.toml"),
                                              world.names(repo)[0]), env=env)


def export_across(world: World, repo: str, tmp_path: Path,
                  env: Mapping[str, str]) -> Result:
    """Run image v2 read through the proxy, the app written straight to the registry: the
    layer v2 adds is not in the app's repository yet, so it is streamed across."""
    build = write_sample_build(tmp_path / "build", message=f"changed for {repo}")
    return run_phase("exporter", *export_args(build, world.new_stack, "-report",
                                              str(tmp_path / "report.toml"),
                                              world.names(repo)[1]), env=env)


def rebase(world: World, repo: str, tmp_path: Path, env: Mapping[str, str]) -> Result:
    return run_phase("rebaser", "-run-image", world.new_run, "-report",
                     str(tmp_path / "report.toml"), world.names(repo)[0], env=env)


PHASES = {"export": (export, 62, EXPORT_KINDS), "rebase": (rebase, 72, REBASE_KINDS),
          "export-across": (export_across, 62, ACROSS_KINDS)}


def lasting_fault_code(phase: str, kind: str) -> int:
    """The exit code of ``phase`` failed by a lasting ``kind`` fault. An export first asks for
    the run image's manifest in its access check (whose answer the read then uses): a run
    image the registry cannot answer for is not readable, a failure of the inputs (3)."""
    return 3 if phase.startswith("export") and kind == "manifest-get" else PHASES[phase][1]


def with_fault(world: World, tmp_path: Path, phase: str, kind: str, effect: str,
               times: int, test: str = "outcome",
               env: Mapping[str, str] = PHASE_ENV) -> tuple[Result, int]:
    """Run ``phase`` with the fault injected ``times`` times over an intact previous image
    (in a repository of its own for each ``test``), check the outcome; returns the result and
    how many faults were injected."""
    run, _, _ = PHASES[phase]
    repo = f"{test}-{phase}-{kind}-{effect}-{times}"
    before = previous_image(world, repo)
    if kind == "layer-get":
        world.proxy.inject(Fault("blob-get", effect, times, path_contains=world.new_layer))
    elif kind == "token-push":  # a token for pushing: asked for after the run image is read
        world.proxy.inject(Fault("token-get", effect, times, path_contains="%2Cpush"))
    else:
        world.proxy.inject(Fault(kind, effect, times))
    result = run(world, repo, tmp_path, {**env, **world.env})
    injected = len(world.proxy.injected)
    check_outcome(world, result, repo, before, lasting_fault_code(phase, kind), tmp_path)
    return result, injected


@pytest.mark.parametrize(("phase", "kind", "effect"), [
    (phase, kind, effect) for phase, (_, _, kinds) in PHASES.items()
    for kind in kinds for effect in EFFECTS])
def test_a_passing_fault_is_retried_and_the_image_is_complete(
        world: World, tmp_path: Path, phase: str, kind: str, effect: str) -> None:
    result, injected = with_fault(world, tmp_path, phase, kind, effect, times=1)
    assert injected, f"no {kind} request was made: the scenario tests nothing"
    assert result.code == 0, result.output


@pytest.mark.parametrize(("phase", "kind", "effect"), [
    (phase, kind, effect) for phase, (_, _, kinds) in PHASES.items()
    for kind in kinds for effect in ("503", "reset")])
def test_a_lasting_fault_fails_cleanly_or_is_worked_around(
        world: World, tmp_path: Path, phase: str, kind: str, effect: str) -> None:
    with_fault(world, tmp_path, phase, kind, effect, times=1000)


@pytest.mark.parametrize("ranges", [True, False], ids=["range", "no-range"])
@pytest.mark.parametrize("effect", ["reset-mid-body", "truncate"])
def test_a_layer_read_broken_mid_body_goes_on_where_it_stopped(
        world: World, tmp_path: Path, effect: str, ranges: bool) -> None:
    """With a Range request; or, from a registry that ignores Range, the whole blob again
    with the bytes already read skipped."""
    world.proxy.ranges = ranges
    try:
        result, injected = with_fault(world, tmp_path, "export-across", "layer-get", effect,
                                      times=1, test="resume" if ranges else "resume-whole")
    finally:
        world.proxy.ranges = True
    assert injected and result.code == 0, result.output
    assert "reading on from there" in result.output
    assert "starting it again" not in result.output  # the upload went on undisturbed


@pytest.mark.parametrize("phase", ["export", "rebase"])
def test_the_deadline_ends_retries_whatever_the_attempts_left(world: World, tmp_path: Path,
                                                              phase: str) -> None:
    """A registry that stalls every answer, a thousand attempts allowed, a 2 s deadline: the
    phase gives up after a few attempts, with its one line and the previous image intact."""
    result, injected = with_fault(world, tmp_path, phase, "manifest-get", "stall", times=1000,
                                  test="deadline", env={**PHASE_ENV, "CNB_REGISTRY_ATTEMPTS":
                                                        "1000", "CNB_REGISTRY_DEADLINE": "2"})
    assert result.code == lasting_fault_code(phase, "manifest-get"), result.output
    assert 1 <= injected < 10


@pytest.mark.parametrize(("kind", "effect", "times"),
                         [("token-get", effect, 1) for effect in EFFECTS]
                         + [("token-push", "503", 1000), ("token-push", "reset", 1000)])
def test_a_token_service_fault_is_retried_or_fails_cleanly(token_world: World, tmp_path: Path,
                                                           kind: str, effect: str,
                                                           times: int) -> None:
    """The token GET is retried like any other; a lasting fault is a failure (62), not a
    refusal of access."""
    result, injected = with_fault(token_world, tmp_path, "export-across", kind, effect, times)
    assert injected
    assert result.code == (0 if times == 1 else 62), result.output


def test_two_exporters_writing_one_tag_at_once_both_finish(world: World,
                                                           tmp_path: Path) -> None:
    import subprocess
    import sys

    from tests.integration.conftest import CLEAN_ENV
    repo = "concurrent"
    previous_image(world, repo)
    processes = []
    for n in range(2):
        build = write_sample_build(tmp_path / f"build{n}", message=f"writer {n}")
        processes.append(subprocess.Popen(
            [sys.executable, "-m", "lifecycle.exporter",
             *export_args(build, world.stack, "-report", str(tmp_path / f"r{n}.toml"),
                          world.names(repo)[1])],
            env=CLEAN_ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE))
    outputs = [process.communicate(timeout=120) for process in processes]
    assert [process.returncode for process in processes] == [0, 0], outputs
    digests = {tomllib.loads((tmp_path / f"r{n}.toml").read_text())["image"]["digest"]
               for n in range(2)}
    now = skopeo_inspect(world.names(repo)[1])["Digest"]
    assert now in digests
    label = json.loads(skopeo_inspect(world.names(repo)[1])["Labels"]
                       ["io.buildpacks.lifecycle.metadata"])
    assert label["app"]
    pull_to_layout(world.names(repo)[1], tmp_path / "pulled")
