"""The image labels the phases read and write, and how each platform API shapes them.

* ``io.buildpacks.lifecycle.metadata``: the layers the exporter wrote, the run image
  (``runImage.topLayer, reference``; ``image, mirrors`` from 0.12; ``stack.runImage`` as the
  deprecated copy at every version), ``sbom`` (0.8 on, when there is an SBOM layer) and
  ``exec-env`` (0.15);
* ``io.buildpacks.build.metadata``: the processes (``command`` a string before 0.10), the
  buildpacks, ``bom`` (before 0.9) and the launcher that is in the image;
* ``io.buildpacks.project.metadata``, ``io.buildpacks.exec-env`` (0.15), and the labels the
  run image brings (``io.buildpacks.stack.*``, ``io.buildpacks.base.*``,
  ``io.buildpacks.rebasable``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from lifecycle.checking import TYPE_CHECKING
from lifecycle.jsonio import copy_json, loads_json
from lifecycle.platform.exits import ExitCode, LifecycleError
from lifecycle.record import field, record

if TYPE_CHECKING:  # a rebase reads labels but no build's metadata.toml or launcher.toml
    from typing import Any

    from lifecycle.platform.api import Features
    from lifecycle.platform.files.build_metadata import Process
    from lifecycle.platform.files.launcher import LauncherInfo

LIFECYCLE_LABEL = "io.buildpacks.lifecycle.metadata"
BUILD_LABEL = "io.buildpacks.build.metadata"
PROJECT_LABEL = "io.buildpacks.project.metadata"
EXEC_ENV_LABEL = "io.buildpacks.exec-env"
STACK_ID_LABEL = "io.buildpacks.stack.id"
MIXINS_LABEL = "io.buildpacks.stack.mixins"
REBASABLE_LABEL = "io.buildpacks.rebasable"
DISTRO_NAME_LABEL = "io.buildpacks.base.distro.name"
DISTRO_VERSION_LABEL = "io.buildpacks.base.distro.version"
RUN_IMAGE_LABEL_PREFIXES = ("io.buildpacks.stack.", "io.buildpacks.base.")


@record
class RunImageMetadata:
    """A canonical run image and its mirrors (the same image on other registries), as the
    label records them and run.toml and stack.toml list them."""

    image: str = ""
    mirrors: tuple[str, ...] = ()

    @property
    def candidates(self) -> tuple[str, ...]:
        return ((self.image,) if self.image else ()) + self.mirrors

    def to_json(self) -> dict[str, Any]:
        document: dict[str, Any] = {}
        if self.image:
            document["image"] = self.image
        if self.mirrors:
            document["mirrors"] = list(self.mirrors)
        return document


@record
class LifecycleLabel:
    """``io.buildpacks.lifecycle.metadata``, keeping unknown keys and old ``app`` shapes."""

    document: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def parse(cls, text: str, image: str) -> LifecycleLabel:
        try:
            document = loads_json(text)
        except ValueError as err:
            raise LifecycleError(f"parse label '{LIFECYCLE_LABEL}' of image '{image}'",
                                 f"invalid JSON: {err}", ExitCode.REBASE_FAILED) from None
        if not isinstance(document, dict):
            raise LifecycleError(f"parse label '{LIFECYCLE_LABEL}' of image '{image}'",
                                 "not a JSON object", ExitCode.REBASE_FAILED)
        return cls(document)

    def _table(self, *keys: str) -> Mapping[str, Any]:
        value: Any = self.document
        for key in keys:
            value = value.get(key) if isinstance(value, Mapping) else None
        return value if isinstance(value, Mapping) else {}

    @property
    def top_layer(self) -> str:
        value = self._table("runImage").get("topLayer", "")
        return value if isinstance(value, str) else ""

    def run_image(self) -> RunImageMetadata:
        """Recorded run image: ``runImage{image,mirrors}``, else ``stack.runImage``."""
        for table in (self._table("runImage"), self._table("stack", "runImage")):
            image = table.get("image")
            mirrors = table.get("mirrors") or []
            if isinstance(image, str) and image:
                if isinstance(mirrors, list):
                    return RunImageMetadata(image, tuple(m for m in mirrors if isinstance(m, str)))
                return RunImageMetadata(image)
        return RunImageMetadata()

    def layer_sha(self, buildpack_id: str, layer: str) -> str | None:
        sha = (self.layer_data(buildpack_id, layer) or {}).get("sha")
        return sha if isinstance(sha, str) else None

    def layer_data(self, buildpack_id: str, layer: str) -> Mapping[str, Any] | None:
        for buildpack in self.document.get("buildpacks") or []:
            if isinstance(buildpack, Mapping) and buildpack.get("key") == buildpack_id:
                entry = (buildpack.get("layers") or {}).get(layer)
                return entry if isinstance(entry, Mapping) else None
        return None

    def sha(self, key: str) -> str | None:
        value = self._table(key).get("sha")
        return value if isinstance(value, str) else None

    def app_shas(self) -> frozenset[str]:
        app = self.document.get("app")
        entries = app if isinstance(app, list) else [app]
        return frozenset(e["sha"] for e in entries
                         if isinstance(e, Mapping) and isinstance(e.get("sha"), str))

    def with_run_image(self, top_layer: str, reference: str,
                       recorded: RunImageMetadata | None, features: Features) -> dict[str, Any]:
        """The label after a rebase; ``recorded`` replaces the recorded image and mirrors.

        They go into ``stack.runImage`` at every version, and into ``runImage`` where the
        version writes names there (0.12 on) or the label already has them.
        """
        document: dict[str, Any] = copy_json(self.document)
        run_image = dict(document.get("runImage") or {})
        run_image["topLayer"] = top_layer
        run_image["reference"] = reference
        if recorded is not None:
            if features.label_run_image_names or "image" in run_image:
                run_image.pop("image", None)
                run_image.pop("mirrors", None)
                run_image.update(recorded.to_json())
            document["stack"] = {"runImage": recorded.to_json()}
        document["runImage"] = run_image
        return dict(document)


# -- writing ---------------------------------------------------------------------------------

@record
class RecordedRunImage:
    """What the lifecycle label says of the run image the app image is based on."""

    top_layer: str
    reference: str
    names: RunImageMetadata        # the canonical image and its mirrors


def lifecycle_label(features: Features, *, app: Sequence[str], sbom: str | None,
                    buildpacks: Sequence[Mapping[str, Any]], config: str, launcher: str,
                    process_types: str, run_image: RecordedRunImage,
                    exec_env: str) -> dict[str, Any]:
    """``io.buildpacks.lifecycle.metadata`` in the version's shape (keys in the Go order)."""
    label: dict[str, Any] = {"app": [{"sha": sha} for sha in app]}
    if sbom is not None:
        label["sbom"] = {"sha": sbom}
    label["buildpacks"] = list(buildpacks)
    label["config"] = {"sha": config}
    if features.exec_env and exec_env:
        label["exec-env"] = exec_env
    label["launcher"] = {"sha": launcher}
    label["process-types"] = {"sha": process_types}
    label["runImage"] = {"topLayer": run_image.top_layer, "reference": run_image.reference,
                         **(run_image.names.to_json() if features.label_run_image_names else {})}
    label["stack"] = {"runImage": run_image.names.to_json()}
    return label


def buildpack_entry(buildpack_id: str, version: str, layers: Mapping[str, Any],
                    store: Mapping[str, Any] | None) -> dict[str, Any]:
    """One ``buildpacks[]`` entry of the lifecycle label (and of the cache's label)."""
    entry: dict[str, Any] = {"key": buildpack_id, "version": version, "layers": dict(layers)}
    if store is not None:
        entry["store"] = dict(store)
    return entry


def build_label(features: Features, *, buildpacks: Sequence[Mapping[str, Any]],
                processes: Sequence[Process], default_process_type: str, bom: Any,
                launcher: LauncherInfo) -> dict[str, Any]:
    """``io.buildpacks.build.metadata`` in the version's shape (keys in the Go order)."""
    label: dict[str, Any] = {}
    if features.build_label_bom:
        label["bom"] = bom
    label["buildpacks"] = list(buildpacks)
    label["launcher"] = launcher.to_json()
    label["processes"] = [process.to_json(features) for process in processes]
    if default_process_type:
        label["buildpack-default-process-type"] = default_process_type
    return label
