"""analyzed.toml: what the analyzer found, in every platform API's shape.

* up to 0.6: ``[image] reference`` (the previous image) and ``[metadata]`` (its lifecycle
  label, with TOML-style keys);
* 0.7 on: also ``[run-image] reference``, the run image the analyzer chose;
* 0.12 on: ``[run-image] image`` (the name as given), ``extend``, and ``[run-image.target]
  os, arch, arch-variant (or variant), id, [distro] name, version``.

``[previous-image]`` is read as another spelling of ``[image]``. Each reader takes what is there;
which of it a version uses is the phase's question.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lifecycle.platform.files._toml import Fields, read_toml
from lifecycle.platform.files.labels import LifecycleLabel
from lifecycle.record import record


@record
class Target:
    """Target data: where a run image runs."""

    os: str = ""
    arch: str = ""
    variant: str = ""
    id: str = ""
    distro_name: str = ""
    distro_version: str = ""


@record
class AnalyzedRunImage:
    """analyzed.toml's ``[run-image]``."""

    reference: str                 # a digest reference, a daemon image ID or a layout path
    image: str = ""                # the name as the platform or an extension gave it
    extend: bool = False           # extensions extended it: the base is in <extended>/run
    target: Target | None = None


@record
class Analyzed:
    """What the analyzer left in analyzed.toml."""

    image_reference: str | None = None    # the previous image
    label: LifecycleLabel | None = None   # the previous image's lifecycle label
    run_image: AnalyzedRunImage | None = None


# analyzed.toml spells the label's keys in TOML style.
_ANALYZED_KEYS = {"run-image": "runImage", "top-layer": "topLayer"}


def _label_keys(value: Any) -> Any:
    if isinstance(value, dict):
        return {_ANALYZED_KEYS.get(key, key): _label_keys(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_label_keys(item) for item in value]
    return value


def read_analyzed(path: Path) -> Analyzed | None:
    """analyzed.toml in any version's shape; None if the file does not exist, exit 3 if it is
    malformed."""
    document = read_toml(path, "analyzed TOML")
    if document is None:
        return None
    fields = Fields(document, path, "analyzed TOML")
    previous = fields.sub("image") or fields.sub("previous-image")
    reference = previous.string("reference") if previous else ""
    metadata = fields.table_of("metadata")
    return Analyzed(reference or None,
                    LifecycleLabel(_label_keys(metadata)) if metadata else None,
                    _run_image(fields.sub("run-image")))


def _run_image(fields: Fields | None) -> AnalyzedRunImage | None:
    if fields is None:
        return None
    reference = fields.string("reference")
    if not reference:
        return None
    target = fields.sub("target")
    return AnalyzedRunImage(reference, fields.string("image"), fields.boolean("extend"),
                            _target(target) if target else None)


def _target(fields: Fields) -> Target:
    distro = fields.sub("distro")
    return Target(os=fields.string("os"), arch=fields.string("arch"),
                  variant=fields.string("arch-variant") or fields.string("variant"),
                  id=fields.string("id"),
                  distro_name=distro.string("name") if distro else "",
                  distro_version=distro.string("version") if distro else "")
