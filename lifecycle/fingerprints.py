"""Layer fingerprints remembered between exports, so that an unchanged layer is not tarred again.

A fingerprint (:meth:`lifecycle.archive.LayerPlan.fingerprint`) covers every tar header of a
layer and the stamp (device, inode, size, mtime, ctime) of every file it reads. The file
``<layers>/.cnb-layer-fingerprints.json`` maps each layer's ID to the fingerprint and the
diffID it had when it was last exported. The exporter skips tarring a layer only when:

* its fingerprint now is exactly the recorded one (no plan gets one while any of its files
  is newer than the racy window, so a change that does not move a timestamp is not trusted);
* the recorded diffID is one the previous image's label offers that layer for reuse, and the
  previous image has it.

Anything else (no file, a broken file, another format, a missing layer) means tarring again:
the cost of doubt is time, never a wrong layer. The file is written atomically, only after
the image was saved.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

from lifecycle.jsonio import loads_json, write_atomically
from lifecycle.log import get_logger
from lifecycle.record import record

FILE_NAME = ".cnb-layer-fingerprints.json"
FORMAT = "cnb-lifecycle/layer-fingerprints/v1"


@record
class Recorded:
    """A layer plan's fingerprint, and the diffID of the layer it made."""

    fingerprint: str
    diff_id: str


@record
class LayerFingerprints:
    """The fingerprints remembered from earlier exports, and the file they are kept in."""

    path: Path
    recorded: Mapping[str, Recorded]

    @classmethod
    def load(cls, layers_dir: Path) -> LayerFingerprints:
        path = layers_dir / FILE_NAME
        try:
            document = loads_json(path.read_bytes())
            layers = document["layers"] if document.get("format") == FORMAT else {}
            recorded = {layer_id: Recorded(str(entry["fingerprint"]), str(entry["diff_id"]))
                        for layer_id, entry in layers.items()}
        except FileNotFoundError:
            recorded = {}
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as err:
            get_logger().debug(f"Ignoring layer fingerprints in '{path}': {err}")
            recorded = {}
        return cls(path, recorded)

    def diff_id(self, layer_id: str, fingerprint: str | None) -> str | None:
        """The diffID recorded for ``layer_id`` if its fingerprint is still ``fingerprint``."""
        known = self.recorded.get(layer_id)
        if fingerprint is None or known is None or known.fingerprint != fingerprint:
            return None
        return known.diff_id

    def save(self, exported: Mapping[str, Recorded]) -> None:
        """Replace the record with the layers of the export that just succeeded."""
        document = {"format": FORMAT,
                    "layers": {layer_id: {"fingerprint": entry.fingerprint,
                                          "diff_id": entry.diff_id}
                               for layer_id, entry in sorted(exported.items())}}
        try:
            write_atomically(self.path, json.dumps(document, indent=1).encode())
        except OSError as err:
            get_logger().warning(f"Not remembering layer fingerprints in '{self.path}': "
                                 f"{err.strerror or err}")
