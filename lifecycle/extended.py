"""The extended run image (platform API 0.12 on, ``-extended``/``CNB_EXTENDED_DIR``).

When image extensions extended the run image, analyzed.toml says ``[run-image] extend = true``
and the extender has left the result in ``<extended>/run/<one directory>``: an OCI image
layout with one manifest, whose config is the extended image's whole config and whose blobs
are the manifest, the config and the layers the extensions added, not the run image's own
layers (those stay in the run image). The app image is then built on that image: every run
image layer, then every extension layer, and the extended config (env, labels, history and
all); ``io.buildpacks.rebasable`` is ``true`` only if the extended config says ``true``
(the extender sets ``false`` when any run.Dockerfile did not declare its layers rebasable).
The lifecycle label's ``runImage.topLayer`` stays the run image's own top layer, so a rebase
replaces the run image below the extension layers, when it is allowed to.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from lifecycle.archive import LocalBlob
from lifecycle.image import mutate
from lifecycle.image.model import Image, Layer
from lifecycle.jsonio import loads_json
from lifecycle.platform import files
from lifecycle.platform.exits import invalid_args


def extended_run_image(extended_dir: Path, run_image: Image) -> Image:
    """``run_image`` with the extension layers and config found under ``<extended>/run``;
    exit 3 if there is none, or if it is not an extension of ``run_image``."""
    layout = _the_layout(extended_dir / "run")
    try:
        return _extend(layout, run_image)
    except (KeyError, TypeError, ValueError, AttributeError) as err:
        raise invalid_args(f"read the extended run image in '{layout}'",
                           f"its index, manifest or config is malformed ({err!s})") from None


def _extend(layout: Path, run_image: Image) -> Image:
    manifest = _read_blob(layout, _one_manifest(layout)["digest"], "manifest")
    config = _read_blob(layout, manifest["config"]["digest"], "config")
    where = f"the extended run image in '{layout}'"
    diff_ids = config.get("rootfs", {}).get("diff_ids", [])
    descriptors = manifest.get("layers", [])
    base = list(run_image.diff_ids)
    if len(diff_ids) != len(descriptors) or diff_ids[:len(base)] != base:
        raise invalid_args(f"read {where}",
                           "it is not an extension of the run image that analyzed.toml names "
                           "(its first layers are not the run image's)")
    added = []
    for descriptor, diff_id in zip(descriptors[len(base):], diff_ids[len(base):], strict=True):
        blob = _blob_path(layout, descriptor["digest"])
        if not blob.is_file():
            raise invalid_args(f"read {where}", f"extension layer {descriptor['digest']} is "
                               f"missing from '{layout / 'blobs'}'")
        added.append(Layer(descriptor["digest"], diff_id, int(descriptor["size"]),
                           descriptor["mediaType"], LocalBlob(blob, descriptor["digest"])))
    extended = Image(config, (*run_image.layers, *added), run_image.manifest_media_type)
    rebasable = "true" if extended.labels.get(files.REBASABLE_LABEL) == "true" else "false"
    return mutate.set_labels(extended, {files.REBASABLE_LABEL: rebasable})


def _the_layout(parent: Path) -> Path:
    """The one directory in ``<extended>/run`` (named by the extender, not by us)."""
    try:
        entries = sorted(parent.iterdir())
    except OSError as err:
        raise invalid_args("read the extended run image",
                           f"analyzed.toml says the run image was extended, but '{parent}' "
                           f"cannot be read ({err.strerror or err}); pass the extender's "
                           "output directory with -extended") from None
    if len(entries) != 1 or not entries[0].is_dir():
        raise invalid_args("read the extended run image",
                           f"'{parent}' must hold exactly one image layout directory; it has "
                           f"{len(entries)} entries")
    return entries[0]


def _one_manifest(layout: Path) -> dict[str, Any]:
    index = _read_json(layout / "index.json", f"the extended run image's index in '{layout}'")
    manifests = index.get("manifests", []) if isinstance(index, dict) else []
    if len(manifests) != 1:
        raise invalid_args(f"read the extended run image in '{layout}'",
                           f"index.json must list exactly one manifest; it lists "
                           f"{len(manifests)}")
    manifest: dict[str, Any] = manifests[0]
    return manifest


def _blob_path(layout: Path, digest: str) -> Path:
    algorithm, _, hexdigest = digest.partition(":")
    return layout / "blobs" / algorithm / hexdigest


def _read_blob(layout: Path, digest: str, what: str) -> dict[str, Any]:
    path = _blob_path(layout, digest)
    data = _read_bytes(path, f"the extended run image's {what}")
    if f"sha256:{hashlib.sha256(data).hexdigest()}" != digest:
        raise invalid_args(f"read the extended run image's {what} '{path}'",
                           f"its contents do not match its digest {digest}")
    document = loads_json(data)
    if not isinstance(document, dict):
        raise invalid_args(f"read the extended run image's {what} '{path}'", "not a JSON object")
    return document


def _read_json(path: Path, what: str) -> Any:
    try:
        return loads_json(_read_bytes(path, what))
    except ValueError as err:
        raise invalid_args(f"read {what} '{path}'", err) from None


def _read_bytes(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as err:
        raise invalid_args(f"read {what} '{path}'", err.strerror or err) from None
