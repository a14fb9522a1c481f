"""``rebase-many`` against real registries: a fleet rebased concurrently, failures contained."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from lifecycle.backends.registry import RegistryStore
from lifecycle.reference import parse_reference
from lifecycle.samplebuild import SampleBuild
from tests.harness.images import publish_run_image, skopeo_inspect
from tests.harness.registry import Registries
from tests.integration.conftest import CLEAN_ENV, Result, export_args, run_phase, write_stack

pytestmark = pytest.mark.registry


def copy_image(source: str, targets: list[str]) -> None:
    store = RegistryStore()
    image = store.read(parse_reference(source)).image
    for target in targets:
        store.write(image, [parse_reference(target)])


@pytest.fixture
def fleet(registries: Registries, build: SampleBuild, tmp_path: Path,
          unique: str) -> dict[str, object]:
    """Five app images on registry one built on run image v1 (mirrored on registry two),
    then v2 published to every mirror."""
    canonical = f"{registries.one.host}/{unique}/run:v1"
    mirror = f"{registries.two.host}/{unique}/run:v1"
    publish_run_image(tmp_path, [canonical, mirror], "v1")
    stack = write_stack(tmp_path / "stack.toml", canonical, [mirror])
    first = f"{registries.one.host}/{unique}/app0:latest"
    exported = run_phase("exporter", *export_args(build, stack, first))
    assert exported.code == 0, exported.output
    apps = [first] + [f"{registries.one.host}/{unique}/app{n}:latest" for n in range(1, 5)]
    copy_image(first, apps[1:])
    publish_run_image(tmp_path, [canonical, mirror], "v2")
    return {"apps": apps, "canonical": canonical, "mirror": mirror}


def top_diff_ids(ref: str) -> list[str]:
    diff_ids: list[str] = skopeo_inspect(ref, config=True)["rootfs"]["diff_ids"]
    return diff_ids


def test_every_image_is_rebased_and_failures_are_contained(
        fleet: dict[str, object], tmp_path: Path, registries: Registries,
        unique: str) -> None:
    apps = list(fleet["apps"])  # type: ignore[call-overload]
    missing = f"{registries.one.host}/{unique}/nothing:here"
    listing = tmp_path / "images.txt"
    listing.write_text("# the fleet\n" + "\n".join(apps) + f"\n\n{missing}\nNOT/VALID:\n"
                       f"{apps[0]}  # listed twice\n")
    report = tmp_path / "many.toml"
    result = run_phase("rebasemany", "-jobs", "4", "-report", str(report), str(listing))

    assert result.code == 72, result.output
    new_base = top_diff_ids(str(fleet["canonical"]))
    for app in apps:
        assert f"{app}: rebased onto '{fleet['canonical']}'" in result.stdout
        assert top_diff_ids(app)[:len(new_base)] == new_base
    assert f"ERROR: {missing}: failed to access image to rebase" in result.stderr
    assert "ERROR: NOT/VALID:: failed to parse image" in result.stderr
    assert "1 duplicate image name(s)" in result.stderr
    assert "Rebased 5 of 7 image(s) in" in result.stdout and "; 2 failed" in result.stdout
    assert "ERROR: failed to rebase: 2 of 7 image(s) could not be rebased" in result.stderr
    assert "Selecting run image" not in result.output  # per-image detail only at debug

    entries = tomllib.loads(report.read_text())["images"]
    assert [entry["name"] for entry in entries] == [*apps, missing, "NOT/VALID:"]
    assert [entry["status"] for entry in entries] == ["rebased"] * 5 + ["failed"] * 2
    assert all(entry["digest"].startswith("sha256:") for entry in entries[:5])


def test_scenario_2_from_standard_input(fleet: dict[str, object], tmp_path: Path) -> None:
    apps = list(fleet["apps"])  # type: ignore[call-overload]
    completed = subprocess.run(
        [sys.executable, "-m", "lifecycle.rebasemany", "-run-image", str(fleet["mirror"]),
         "-log-level", "debug", "-"], input="\n".join(apps[:2]), capture_output=True,
        text=True, timeout=120, env=CLEAN_ENV)
    assert completed.returncode == 0, completed.stderr
    assert "Rebased 2 of 2 image(s)" in completed.stdout
    assert f"{apps[0]}: Using run image '{fleet['mirror']}'" in completed.stdout
    new_base = top_diff_ids(str(fleet["mirror"]))
    assert top_diff_ids(apps[1])[:len(new_base)] == new_base


@pytest.mark.parametrize(("args", "stdin", "message"), [
    (["/nonexistent/list.txt"], "", "failed to read image list '/nonexistent/list.txt'"),
    (["-"], "# nothing\n\n", "failed to read image list standard input: no image names"),
    ([], "", "exactly one image list"),
    (["a.txt", "b.txt"], "", "exactly one image list"),
    (["-jobs", "0x1000", "-"], "x\n", "-jobs: 4096 is not between 1 and 256"),
    (["-run-image", "BAD//ref", "-"], "x\n", "BAD//ref"),
])
def test_bad_invocations_are_one_line_and_exit_3(args: list[str], stdin: str,
                                                 message: str) -> None:
    completed = subprocess.run([sys.executable, "-m", "lifecycle.rebasemany", *args],
                               input=stdin, capture_output=True, text=True, timeout=60,
                               env=CLEAN_ENV)
    assert completed.returncode == 3, completed.stderr
    assert message in completed.stderr
    assert len(completed.stderr.strip().splitlines()) == 1
    assert "Traceback" not in completed.stderr


def test_help_names_the_command() -> None:
    result: Result = run_phase("rebasemany", "-h")
    assert result.code == 0
    assert "rebase-many [flags] <image-list-file | ->" in result.output
