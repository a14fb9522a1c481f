"""The lifecycle and build labels: reading every shape, writing each version's shape."""

from __future__ import annotations

import pytest

from lifecycle.platform import files
from lifecycle.platform.api import SUPPORTED, Features, PlatformAPI, features_for
from lifecycle.platform.exits import ExitCode, LifecycleError


def test_label_run_image_prefers_run_image_then_stack() -> None:
    both = files.LifecycleLabel({"runImage": {"topLayer": "sha256:a", "image": "new/run",
                                              "mirrors": ["m.io/new/run"]},
                                 "stack": {"runImage": {"image": "old/run"}}})
    assert both.run_image() == files.RunImageMetadata("new/run", ("m.io/new/run",))
    stack_only = files.LifecycleLabel({"runImage": {"topLayer": "sha256:a"},
                                       "stack": {"runImage": {"image": "old/run",
                                                              "mirrors": ["x.io/old/run"]}}})
    assert stack_only.run_image() == files.RunImageMetadata("old/run", ("x.io/old/run",))
    assert files.LifecycleLabel({}).run_image() == files.RunImageMetadata()


V0_11, V0_12 = features_for(PlatformAPI(0, 11)), features_for(PlatformAPI(0, 12))


def test_label_rebase_update_keeps_other_keys() -> None:
    label = files.LifecycleLabel({"app": {"sha": "sha256:old-form"}, "buildpacks": [],
                                  "runImage": {"topLayer": "a", "reference": "r", "image": "x"},
                                  "stack": {"runImage": {"image": "x"}}})
    same = label.with_run_image("b", "reg/run@sha256:1", None, V0_12)
    assert same["runImage"] == {"topLayer": "b", "reference": "reg/run@sha256:1", "image": "x"}
    assert same["app"] == {"sha": "sha256:old-form"}
    moved = label.with_run_image("b", "r2", files.RunImageMetadata("custom/image"), V0_11)
    assert moved["runImage"]["image"] == "custom/image" and "mirrors" not in moved["runImage"]
    assert moved["stack"] == {"runImage": {"image": "custom/image"}}


@pytest.mark.parametrize(("features", "names_in_run_image"), [(V0_11, False), (V0_12, True)])
def test_a_recorded_run_image_goes_where_the_version_writes_names(
        features: Features, names_in_run_image: bool) -> None:
    label = files.LifecycleLabel({"runImage": {"topLayer": "a", "reference": "r"},
                                  "stack": {"runImage": {"image": "x", "mirrors": ["m/x"]}}})
    moved = label.with_run_image("b", "r2", files.RunImageMetadata("other/run"), features)
    assert moved["stack"] == {"runImage": {"image": "other/run"}}
    assert ("image" in moved["runImage"]) == names_in_run_image


def test_label_parse_errors_are_rebase_failures() -> None:
    for text in ("{not json", "[1, 2]"):
        with pytest.raises(LifecycleError) as err:
            files.LifecycleLabel.parse(text, "reg.io/app")
        assert err.value.code == ExitCode.REBASE_FAILED
        assert "reg.io/app" in err.value.message


RUN_IMAGE = files.RecordedRunImage("sha256:top", "reg.io/run@sha256:1",
                                   files.RunImageMetadata("reg.io/run", ("m.io/run",)))


def lifecycle_label(api: PlatformAPI, sbom: str | None = None) -> dict[str, object]:
    return files.lifecycle_label(
        features_for(api), app=["sha256:app"], sbom=sbom, buildpacks=[], config="sha256:c",
        launcher="sha256:l", process_types="", run_image=RUN_IMAGE, exec_env="production")


@pytest.mark.parametrize("api", SUPPORTED, ids=str)
def test_lifecycle_label_shape_per_version(api: PlatformAPI) -> None:
    label = lifecycle_label(api)
    names = {"image": "reg.io/run", "mirrors": ["m.io/run"]}
    at_least = api >= PlatformAPI(0, 12)
    assert label["runImage"] == {"topLayer": "sha256:top", "reference": "reg.io/run@sha256:1",
                                 **(names if at_least else {})}
    assert label["stack"] == {"runImage": names}
    assert ("exec-env" in label) == (api >= PlatformAPI(0, 15))


def test_lifecycle_label_key_order() -> None:
    assert list(lifecycle_label(PlatformAPI(0, 15), sbom="sha256:s")) == [
        "app", "sbom", "buildpacks", "config", "exec-env", "launcher", "process-types",
        "runImage", "stack"]


@pytest.mark.parametrize("api", SUPPORTED, ids=str)
def test_build_label_shape_per_version(api: PlatformAPI) -> None:
    process = files.Process("web", ("node", "server.js"), ("-p",))
    label = files.build_label(features_for(api), buildpacks=[{"id": "bp", "version": "1"}],
                              processes=[process], default_process_type="web", bom=None,
                              launcher=files.LauncherInfo("1.0", "repo", "abc"))
    below_0_9 = api < PlatformAPI(0, 9)
    assert list(label) == [*(["bom"] if below_0_9 else []), "buildpacks", "launcher",
                           "processes", "buildpack-default-process-type"]
    if below_0_9:
        assert label["bom"] is None
    command = label["processes"][0]["command"]
    assert command == (["node", "server.js"] if api >= PlatformAPI(0, 10) else "node")
    assert label["launcher"] == {"version": "1.0",
                                 "source": {"git": {"repository": "repo", "commit": "abc"}}}
