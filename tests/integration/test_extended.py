"""The extended run image (platform API 0.12 on): analyzed.toml ``[run-image] extend = true``
and the extender's output in ``<extended>/run/<dir>`` (an OCI layout holding the extended
image's manifest, config and only the layers the extensions added), built here as the Go
extender leaves it, then exported to the real registry and to a layout."""

from __future__ import annotations

import functools
import gzip
import hashlib
import io
import json
import tarfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from lifecycle.backends.base import ImageNotFound, ImageStore
from lifecycle.backends.layout import LayoutStore
from lifecycle.backends.registry import RegistryStore
from lifecycle.image.model import OCI_MANIFEST, Image
from lifecycle.reference import parse_reference
from lifecycle.samplebuild import SampleBuild
from tests.harness.images import make_run_image_layout, publish_run_image
from tests.harness.registry import Registries
from tests.integration.conftest import Result, run_phase


def blob(layout: Path, data: bytes) -> tuple[str, int]:
    digest = hashlib.sha256(data).hexdigest()
    (layout / "blobs" / "sha256").mkdir(parents=True, exist_ok=True)
    (layout / "blobs" / "sha256" / digest).write_bytes(data)
    return f"sha256:{digest}", len(data)


def extend(run_image: Image, extended_dir: Path, rebasable: str | None) -> tuple[str, str]:
    """What the extender leaves for one run.Dockerfile that adds /etc/extended-by; returns
    the extension layer's diffID and the layout directory."""
    tar_bytes = io.BytesIO()
    with tarfile.open(fileobj=tar_bytes, mode="w") as tar:
        data = b"an extension\n"
        info = tarfile.TarInfo("etc/extended-by")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    diff_id = f"sha256:{hashlib.sha256(tar_bytes.getvalue()).hexdigest()}"
    layout = extended_dir / "run" / "sha256_extended"
    layer_digest, layer_size = blob(layout, gzip.compress(tar_bytes.getvalue(), mtime=0))
    config: dict[str, Any] = run_image.mutable_config()
    config["config"]["Env"] = [*config["config"].get("Env", []), "EXTENDED=yes"]
    labels = config["config"].setdefault("Labels", {})
    if rebasable is not None:
        labels["io.buildpacks.rebasable"] = rebasable
    config["rootfs"]["diff_ids"].append(diff_id)
    config.setdefault("history", []).append(
        {"created_by": "RUN echo an extension > /etc/extended-by",
         "comment": "samples/curl:extension"})
    config_digest, config_size = blob(layout, json.dumps(config).encode())
    manifest = {"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                           "digest": config_digest, "size": config_size},
                "layers": [*(layer.descriptor(OCI_MANIFEST) for layer in run_image.layers),
                           {"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                            "digest": layer_digest, "size": layer_size}]}
    manifest_digest, manifest_size = blob(layout, json.dumps(manifest).encode())
    (layout / "oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}')
    (layout / "index.json").write_text(json.dumps(
        {"schemaVersion": 2, "manifests": [{"mediaType": OCI_MANIFEST,
                                            "digest": manifest_digest,
                                            "size": manifest_size}]}))
    return diff_id, str(layout)


def export(build: SampleBuild, root: Path, target: Target, extended: Path,
           extend_flag: bool = True) -> Result:
    run, reference, app = target.run, target.reference, target.app
    (root / "run.toml").write_text(f'[[images]]\nimage = "{run}"\n')
    (root / "analyzed.toml").write_text(
        f'[run-image]\n  reference = "{reference}"\n  image = "{run}"\n'
        f'  extend = {str(extend_flag).lower()}\n')
    return run_phase("exporter", *target.flags, "-layers", str(build.layers_dir),
                     "-app", str(build.app_dir),
                     "-group", str(build.group_path), "-run", str(root / "run.toml"),
                     "-analyzed", str(root / "analyzed.toml"), "-extended", str(extended),
                     "-report", str(root / "report.toml"), app,
                     env={"CNB_PLATFORM_API": "0.12"})


@dataclass(frozen=True)
class Target:
    """Where the run image is and the app goes: flags, names, and a store to read back."""

    flags: tuple[str, ...]
    run: str
    app: str
    base: Image
    reference: str
    open_store: Callable[[], ImageStore]

    def read_app(self) -> Image:
        store = self.open_store()
        try:
            return store.read(parse_reference(self.app)).image
        finally:
            store.close()


@pytest.fixture(params=["registry", "layout"])
def target(request: pytest.FixtureRequest, tmp_path: Path, unique: str) -> Target:
    """The run image published to the real registry, or in a layout directory."""
    if request.param == "layout":
        layouts = tmp_path / "oci"
        make_run_image_layout(layouts / "example.com/cnb/run/v1", "v1")
        flags: tuple[str, ...] = ("-layout", "-layout-dir", str(layouts))
        run, app = "example.com/cnb/run:v1", "example.com/apps/extended:latest"
        open_store: Callable[[], ImageStore] = functools.partial(LayoutStore, layouts)
    else:
        registries: Registries = request.getfixturevalue("registries")
        run = f"{registries.one.host}/{unique}/run:v1"
        app = f"{registries.one.host}/{unique}/app:latest"
        publish_run_image(tmp_path, [run])
        flags, open_store = (), RegistryStore
    store = open_store()
    try:
        stored = store.read(parse_reference(run))
    finally:
        store.close()
    return Target(flags, run, app, stored.image, stored.reference, open_store)


@pytest.mark.parametrize(("rebasable", "expected"),
                         [("true", "true"), ("false", "false"), (None, "false")])
def test_the_app_image_is_built_on_the_extended_run_image(
        build: SampleBuild, tmp_path: Path, target: Target, rebasable: str | None,
        expected: str) -> None:
    base, reference = target.base, target.reference
    extended = build.layers_dir / "extended"
    extension, layout = extend(base, extended, rebasable)
    result = export(build, tmp_path, target, extended)
    assert result.code == 0, result.output
    assert f"Using the extended run image in '{extended}' (1 extension layer(s))" in result.stdout
    image = target.read_app()
    assert image.diff_ids[:len(base.diff_ids) + 1] == (*base.diff_ids, extension)
    assert "EXTENDED=yes" in image.image_config["Env"]
    assert image.labels["io.buildpacks.rebasable"] == expected
    label = json.loads(image.labels["io.buildpacks.lifecycle.metadata"])
    assert label["runImage"]["topLayer"] == base.top_layer
    assert label["runImage"]["reference"] == reference
    assert any(entry.get("created_by", "").startswith("RUN echo an extension")
               for entry in image.config["history"])
    assert layout.startswith(str(extended / "run"))


def test_extend_true_without_the_extended_directory_is_exit_3(
        build: SampleBuild, tmp_path: Path, target: Target) -> None:
    missing = tmp_path / "no-extended"
    result = export(build, tmp_path, target, missing)
    assert result.code == 3, result.output
    assert f"'{missing / 'run'}'" in result.stderr and "-extended" in result.stderr
    assert len([line for line in result.stderr.splitlines() if "ERROR" in line]) == 1
    assert not (tmp_path / "report.toml").exists()
    with pytest.raises(ImageNotFound):
        target.read_app()


def test_a_run_image_not_extended_ignores_the_directory(
        build: SampleBuild, tmp_path: Path, target: Target) -> None:
    base = target.base
    extended = build.layers_dir / "extended"
    extend(base, extended, "true")
    result = export(build, tmp_path, target, extended, extend_flag=False)
    assert result.code == 0, result.output
    image = target.read_app()
    assert "EXTENDED=yes" not in image.image_config["Env"]
    assert image.diff_ids[len(base.diff_ids)] != base.diff_ids[-1]
