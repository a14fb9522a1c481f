"""``inspect-image``: what an app image records about its run image, and what a rebase would do.

    inspect-image [-daemon | -layout -layout-dir D] [-registry R] [-json] <image>

It shows the recorded run image and mirrors, the base the image is on now (reference and top
layer, from the lifecycle label), which candidate a rebase would choose for the image's own
registry (or ``-registry R``), why, and what was checked, with the rebaser's own selection
(:mod:`lifecycle.runimage`), then the processes, buildpacks, whether it is rebasable, its
platform and the OCI base annotations when present; for an app index, all of that for
each platform's image. It only reads: manifests, configs and access checks, never a layer,
never a write.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping, Sequence
from contextlib import closing
from typing import Any

from lifecycle.backends.base import BackendError, ImageStore
from lifecycle.cli import open_target, run_phase
from lifecycle.image import platforms
from lifecycle.image.model import StoredImage
from lifecycle.log import get_logger
from lifecycle.platform import files
from lifecycle.platform.exits import ExitCode, LifecycleError
from lifecycle.platform.tool_inputs import InspectInputs, resolve_inspect_inputs
from lifecycle.runimage import RunImageChoice, select_run_image

BASE_ANNOTATIONS = ("org.opencontainers.image.base.name", "org.opencontainers.image.base.digest")


def main(argv: Sequence[str] | None = None) -> int:
    return run_phase(argv, resolve_inspect_inputs, lambda inputs: inputs.log, inspect)


def inspect(inputs: InspectInputs) -> None:
    for warning in inputs.warnings:
        get_logger().warning(warning)
    action = f"inspect image '{inputs.image_name}'"
    with closing(open_target(inputs.target, action, ExitCode.FAILED)) as store:
        try:
            top = store.read_index(inputs.image)
            images = (top,) if isinstance(top, StoredImage) else tuple(
                store.read_child(inputs.image, child)
                for child in platforms.platform_children(top.index))
        except BackendError as err:
            raise LifecycleError(action, err) from None
        if not images:
            raise LifecycleError(action, "it is an index with no image for any platform")
        described = [describe_image(inputs.image_name, stored,
                                    *_label_and_choice(stored, inputs, store))
                     for stored in images]
    if isinstance(top, StoredImage):
        document = described[0]
    else:
        # An app index: each platform's child described on its own, the first of them (as
        # the exporter adds them) also at the top, as a single image would be.
        document = {**described[0], "reference": top.reference,
                    "index": {"digest": top.digest, "reference": top.reference},
                    "platforms": described}
    if inputs.json:
        print(json.dumps(document, indent=2))
    else:
        print(render_text(document), end="")


def _label_and_choice(stored: StoredImage, inputs: InspectInputs, store: ImageStore
                      ) -> tuple[files.LifecycleLabel, RunImageChoice]:
    label = _lifecycle_label(stored, inputs.image_name)
    return label, select_run_image(label.run_image().candidates, inputs.registry,
                                   store.check_read_access)


def _lifecycle_label(stored: StoredImage, name: str) -> files.LifecycleLabel:
    text = stored.image.labels.get(files.LIFECYCLE_LABEL)
    if text is None:
        raise LifecycleError(f"inspect image '{name}'", f"it has no label "
                             f"'{files.LIFECYCLE_LABEL}': it was not built by a buildpacks "
                             "lifecycle")
    try:
        return files.LifecycleLabel.parse(text, name)
    except LifecycleError as err:
        raise LifecycleError(err.action, err.cause) from None


def describe_image(name: str, stored: StoredImage, label: files.LifecycleLabel,
                   choice: RunImageChoice) -> dict[str, Any]:
    """The JSON document ``-json`` prints; the text form is rendered from it."""
    image = stored.image
    recorded = label.run_image()
    run_image = label.document.get("runImage")
    reference = run_image.get("reference", "") if isinstance(run_image, Mapping) else ""
    build = _json_label(image.labels.get(files.BUILD_LABEL))
    platform = {"os": image.os, "architecture": image.architecture}
    variant = image.image_config.get("variant")
    if isinstance(variant, str) and variant:
        platform["variant"] = variant
    document: dict[str, Any] = {
        "image": name,
        "reference": stored.reference,
        "runImage": {"image": recorded.image, "mirrors": list(recorded.mirrors),
                     "reference": reference if isinstance(reference, str) else "",
                     "topLayer": label.top_layer},
        "selection": {
            "registry": choice.target_registry,
            "chosen": choice.image,
            "reason": choice.reason,
            "candidates": [
                {"name": c.name, "registry": c.registry,
                 "readable": None if c.access is None else c.access.readable,
                 "why": "not checked" if c.access is None else c.access.reason}
                for c in choice.candidates],
        },
        "processes": _list_of_tables(build.get("processes")),
        "buildpacks": _list_of_tables(build.get("buildpacks")),
        "rebasable": image.labels.get(files.REBASABLE_LABEL) != "false",
        "platform": platform,
    }
    # The manifest's annotations; a daemon keeps no manifest, so there only labels can say.
    found = {**image.labels, **image.annotations}
    annotations = {key: found[key] for key in BASE_ANNOTATIONS if key in found}
    if annotations:
        document["baseAnnotations"] = annotations
    return document


def _json_label(text: str | None) -> Mapping[str, Any]:
    if not text:
        return {}
    try:
        document = files.loads_json(text)
    except ValueError:
        return {}
    return document if isinstance(document, Mapping) else {}


def _list_of_tables(value: Any) -> list[Mapping[str, Any]]:
    return [item for item in value if isinstance(item, Mapping)] if isinstance(value, list) \
        else []


def render_text(document: Mapping[str, Any]) -> str:
    if "platforms" not in document:
        return render_image_text(document)
    children = document["platforms"]
    lines = [f"Index: {document['image']}", f"  reference: {document['index']['reference']}",
             "  platforms: " + ", ".join("/".join(child["platform"].values())
                                         for child in children)]
    return "\n".join(lines) + "\n" + "".join(
        f"\n== {'/'.join(child['platform'].values())} ==\n{render_image_text(child)}"
        for child in children)


def render_image_text(document: Mapping[str, Any]) -> str:
    run_image, selection = document["runImage"], document["selection"]
    lines = [f"Image: {document['image']}", f"  reference: {document['reference']}", "",
             "Run image:",
             f"  recorded:  {run_image['image'] or '(none)'}",
             f"  mirrors:   {', '.join(run_image['mirrors']) or '(none)'}",
             f"  base now:  {run_image['reference'] or '(unknown)'}",
             f"  top layer: {run_image['topLayer'] or '(unknown)'}", "",
             f"Rebase for registry {selection['registry']}:"]
    if selection["chosen"]:
        lines.append(f"  would choose: {selection['chosen']}")
    else:
        lines.append("  would choose: nothing (no candidate is readable)")
    lines.append(f"  why: {selection['reason']}")
    lines.append("  checked:")
    for candidate in selection["candidates"]:
        on = candidate["registry"] or "?"
        lines.append(f"    {candidate['name']} (on {on}): {candidate['why']}")
    if not selection["candidates"]:
        lines.append("    (no run image recorded)")
    lines += ["", f"Rebasable: {'yes' if document['rebasable'] else 'no'}",
              "Platform: " + "/".join(document["platform"].values()), "", "Buildpacks:"]
    lines += [f"  {bp.get('id', '?')}@{bp.get('version', '?')}"
              + (f"  {bp['homepage']}" if bp.get("homepage") else "")
              for bp in document["buildpacks"]] or ["  (none)"]
    lines += ["", "Processes:"]
    lines += [_process_line(process) for process in document["processes"]] or ["  (none)"]
    if "baseAnnotations" in document:
        lines += ["", "Base annotations:"]
        lines += [f"  {key}: {value}" for key, value in document["baseAnnotations"].items()]
    return "\n".join(lines) + "\n"


def _process_line(process: Mapping[str, Any]) -> str:
    command = process.get("command", [])   # one string before platform API 0.10
    command = [*([command] if isinstance(command, str) else command), *process.get("args", [])]
    text = f"  {process.get('type', '?')}"
    if process.get("default"):
        text += " (default)"
    text += f": {' '.join(str(part) for part in command)}"
    if not process.get("direct", False):
        text += "  [via shell]"
    if process.get("working-dir"):
        text += f"  [in {process['working-dir']}]"
    return text


if __name__ == "__main__":
    sys.exit(main())
