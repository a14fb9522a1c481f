"""JSON and file-writing helpers shared by every layer of the code (backends included).

They live outside :mod:`lifecycle.platform` so that backends, caches and fingerprints do not
depend on the platform's file formats.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any


def loads_json(data: str | bytes) -> Any:
    """``json.loads`` for untrusted text: absurdly deep nesting is the ``ValueError`` it is,
    not a ``RecursionError``."""
    try:
        return json.loads(data)
    except RecursionError:
        raise ValueError("nested too deeply") from None


def write_atomically(path: Path, data: bytes) -> None:
    """Write ``data`` so that a reader sees the old file or the whole new one, never a part."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as stream:
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())
        os.chmod(temp_name, 0o644)
        os.replace(temp_name, path)
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise


def labels_json(document: Any) -> str:
    """Label values are compact JSON, like Go's encoding/json output."""
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False)
