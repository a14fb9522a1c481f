"""Pure image transforms keep config, rootfs and history consistent with the layers."""

from __future__ import annotations

import pytest

from lifecycle.image import mutate
from lifecycle.image.model import DOCKER_MANIFEST, OCI_LAYER_GZIP, Image, Layer


def layer(name: str) -> Layer:
    return Layer(digest=f"sha256:{name}-blob", diff_id=f"sha256:{name}", size=1,
                 media_type=OCI_LAYER_GZIP)


def image(names: list[str], **config: object) -> Image:
    layers = tuple(layer(n) for n in names)
    base = {"architecture": "amd64", "os": "linux",
            "config": {"Env": ["PATH=/bin"], "Labels": {"io.buildpacks.stack.id": "s1"}},
            "rootfs": {"type": "layers", "diff_ids": [x.diff_id for x in layers]},
            "history": [{"created_by": f"base {n}"} for n in names], **config}
    return Image(base, layers)


def test_append_layers_adds_history_and_diff_ids() -> None:
    base = image(["b1", "b2"])
    app = mutate.append_layers(base, [(layer("a1"), "Application Layer")])
    assert app.diff_ids == ("sha256:b1", "sha256:b2", "sha256:a1")
    assert app.config["rootfs"]["diff_ids"] == list(app.diff_ids)
    assert app.config["history"][-1] == {"created": mutate.NORMALIZED_TIME,
                                         "created_by": "Application Layer"}
    assert base.diff_ids == ("sha256:b1", "sha256:b2")  # the input is untouched


def test_history_that_does_not_line_up_is_replaced_by_blank_entries() -> None:
    base = image(["b1", "b2"], history=[{"created_by": "only one"}])
    app = mutate.append_layers(base, [(layer("a1"), "app")])
    assert [h.get("created_by") for h in app.config["history"]] == [None, None, "app"]


def test_env_labels_and_runtime_config() -> None:
    img = mutate.set_env(image(["b"]), {"PATH": "/cnb/process:/bin", "NEW": "1"})
    assert img.image_config["Env"] == ["PATH=/cnb/process:/bin", "NEW=1"]
    assert mutate.env_value(img, "NEW") == "1" and mutate.env_value(img, "NONE") is None
    img = mutate.set_labels(img, {"x": "y"}, remove_prefixes=["io.buildpacks.stack."])
    assert img.labels == {"x": "y"}
    img = mutate.set_runtime_config(img, Entrypoint=["/cnb/lifecycle/launcher"], Cmd=None)
    assert img.image_config["Entrypoint"] == ["/cnb/lifecycle/launcher"]
    assert "Cmd" not in img.image_config


def test_rebase_swaps_base_and_keeps_app_config() -> None:
    old_base = image(["o1", "o2"])
    app = mutate.append_layers(old_base, [(layer("a1"), "app1"), (layer("a2"), "app2")])
    app = mutate.set_env(app, {"APP": "1"})
    new_base = image(["n1"], architecture="arm64", **{"os.version": "10"})
    rebased = mutate.rebase(app, "sha256:o2", new_base)
    assert rebased.diff_ids == ("sha256:n1", "sha256:a1", "sha256:a2")
    assert rebased.config["architecture"] == "arm64" and rebased.config["os.version"] == "10"
    assert mutate.env_value(rebased, "APP") == "1"
    assert [h["created_by"] for h in rebased.config["history"]] == ["base n1", "app1", "app2"]


def test_rebase_missing_top_layer() -> None:
    with pytest.raises(mutate.RebaseError, match="could not find base layer sha256:zz"):
        mutate.rebase(image(["a"]), "sha256:zz", image(["b"]))


def test_manifest_follows_media_type_and_digest_is_stable() -> None:
    img = Image(image(["b"]).config, (layer("b"),), DOCKER_MANIFEST)
    manifest = img.manifest()
    assert manifest["config"]["mediaType"] == "application/vnd.docker.container.image.v1+json"
    assert manifest["layers"][0]["mediaType"] == (
        "application/vnd.docker.image.rootfs.diff.tar.gzip")
    assert img.digest() == Image(img.config, img.layers, DOCKER_MANIFEST).digest()


def test_set_created_normalises_history() -> None:
    img = mutate.set_created(image(["b"], created="2024-01-01T00:00:00Z", container="x"),
                             "1980-01-01T00:00:01Z")
    assert img.config["created"] == "1980-01-01T00:00:01Z" and "container" not in img.config
    assert all(h["created"] == "1980-01-01T00:00:01Z" for h in img.config["history"])
