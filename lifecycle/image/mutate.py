"""Pure transforms on :class:`~lifecycle.image.model.Image`: each returns a new image.

Every transform keeps ``rootfs.diff_ids`` and ``history`` consistent with the layer tuple, so
no caller can produce a config that disagrees with its manifest.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from lifecycle.checking import TYPE_CHECKING
from lifecycle.image.model import Image, Layer
from lifecycle.record import replace

if TYPE_CHECKING:
    from typing import Any

NORMALIZED_TIME = "1980-01-01T00:00:01Z"
BASE_NAME_ANNOTATION = "org.opencontainers.image.base.name"
BASE_DIGEST_ANNOTATION = "org.opencontainers.image.base.digest"


class RebaseError(ValueError):
    """The app image cannot be rebased onto the new base."""


def append_layers(image: Image, additions: Sequence[tuple[Layer, str]],
                  created: str = NORMALIZED_TIME) -> Image:
    """Append layers, each with the ``created_by`` text of its history entry."""
    config = image.mutable_config()
    history = _layer_history(image)
    history += [{"created": created, "created_by": text} for _, text in additions]
    layers = image.layers + tuple(layer for layer, _ in additions)
    return _with_layers(replace(image, config=config), layers, history)


def set_runtime_config(image: Image, **changes: Any) -> Image:
    """Set keys of the runtime ``config`` section (``Env=[...]``, ``Entrypoint=[...]``, ...).

    A value of ``None`` removes the key.
    """
    config = image.mutable_config()
    section = dict(config.get("config") or {})
    for key, value in changes.items():
        if value is None:
            section.pop(key, None)
        else:
            section[key] = value
    config["config"] = section
    return replace(image, config=config)


def set_labels(image: Image, labels: Mapping[str, str],
               remove_prefixes: Sequence[str] = ()) -> Image:
    """Drop labels starting with any of ``remove_prefixes``, then set ``labels``."""
    current = {k: v for k, v in image.labels.items()
               if not any(k.startswith(p) for p in remove_prefixes)}
    current.update(labels)
    return set_runtime_config(image, Labels=current)


def set_env(image: Image, env: Mapping[str, str]) -> Image:
    """Set environment variables, replacing same-named entries and keeping order otherwise."""
    entries = [str(e) for e in image.image_config.get("Env") or []]
    names = [e.split("=", 1)[0] for e in entries]
    for key, value in env.items():
        entry = f"{key}={value}"
        if key in names:
            entries[names.index(key)] = entry
        else:
            entries.append(entry)
            names.append(key)
    return set_runtime_config(image, Env=entries)


def env_value(image: Image, key: str) -> str | None:
    for entry in image.image_config.get("Env") or []:
        name, _, value = str(entry).partition("=")
        if name == key:
            return value
    return None


def set_created(image: Image, created: str) -> Image:
    """Normalise the image's and every history entry's creation time."""
    config = image.mutable_config()
    config["created"] = created
    config["history"] = [{**entry, "created": created} for entry in config.get("history") or []]
    config.pop("container", None)
    config.pop("docker_version", None)
    return replace(image, config=config)


def set_base_annotations(image: Image, base_name: str, base_digest: str) -> Image:
    """Record the base image (its name, and the digest of the manifest used) in the manifest's
    annotations, where image tools look for it. A base without a manifest digest (the daemon
    has none) leaves none recorded."""
    annotations = {key: value for key, value in image.annotations.items()
                   if key not in (BASE_NAME_ANNOTATION, BASE_DIGEST_ANNOTATION)}
    if base_digest:
        annotations[BASE_NAME_ANNOTATION] = base_name
        annotations[BASE_DIGEST_ANNOTATION] = base_digest
    return replace(image, annotations=annotations)


def without_history_texts(image: Image) -> Image:
    """History entries with only their creation time, as images of platform APIs before 0.12
    have them (what created each layer is not recorded)."""
    config = image.mutable_config()
    config["history"] = [{"created": entry.get("created", NORMALIZED_TIME)}
                         for entry in _layer_history(image)]
    return replace(image, config=config)


def rebase(app: Image, old_top_layer: str, new_base: Image) -> Image:
    """Put ``app``'s layers above ``old_top_layer`` onto ``new_base``.

    The app config is kept (env, labels, entrypoint ...), except that os, architecture and
    os.version come from the new base, as the modern lifecycle does.
    """
    try:
        cut = app.diff_ids.index(old_top_layer) + 1
    except ValueError:
        raise RebaseError(f"could not find base layer {old_top_layer} in image") from None
    app_history = _layer_history(app)[cut:]
    history = _layer_history(new_base) + app_history
    config = app.mutable_config()
    for key in ("os", "architecture", "os.version", "variant"):
        if key in new_base.config:
            config[key] = new_base.config[key]
        else:
            config.pop(key, None)
    return _with_layers(replace(app, config=config), new_base.layers + app.layers[cut:], history)


def _layer_history(image: Image) -> list[dict[str, Any]]:
    """One history entry per layer, in order (empty_layer entries dropped).

    Images whose history does not line up with their layers get blank entries, so that
    appending and rebasing always yield a history of exactly one entry per layer.
    """
    entries = [dict(h) for h in image.config.get("history") or [] if not h.get("empty_layer")]
    if len(entries) != len(image.layers):
        created = str(image.config.get("created") or NORMALIZED_TIME)
        return [{"created": created} for _ in image.layers]
    return entries


def _with_layers(image: Image, layers: tuple[Layer, ...], history: list[dict[str, Any]]) -> Image:
    config = image.mutable_config()
    config["rootfs"] = {"type": "layers", "diff_ids": [layer.diff_id for layer in layers]}
    config["history"] = history
    return replace(image, config=config, layers=layers)
