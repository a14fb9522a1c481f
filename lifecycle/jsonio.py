"""JSON and file-writing helpers shared by every layer of the code (backends included).

They live outside :mod:`lifecycle.platform` so that backends, caches and fingerprints do not
depend on the platform's file formats.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path

from lifecycle.checking import TYPE_CHECKING

if TYPE_CHECKING:
    from typing import Any


def loads_json(data: str | bytes) -> Any:
    """``json.loads`` for untrusted text: absurdly deep nesting is the ``ValueError`` it is,
    not a ``RecursionError``."""
    try:
        return json.loads(data)
    except RecursionError:
        raise ValueError("nested too deeply") from None


def copy_json(value: Any) -> Any:
    """A deep copy of a decoded JSON document, for an edit that must not reach the original.

    The documents are dicts, lists and scalars (a mapping or tuple of ours becomes a dict or
    a list); ``copy.deepcopy`` would copy them too, at several times the cost and an import
    a rebase needs nowhere else.
    """
    if isinstance(value, Mapping):
        return {key: copy_json(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [copy_json(item) for item in value]
    return value


def write_atomically(path: Path, data: bytes) -> None:
    """Write ``data`` so that a reader sees the old file or the whole new one, never a part."""
    path.parent.mkdir(parents=True, exist_ok=True)
    # A new file beside the target, made as tempfile.mkstemp makes one (O_EXCL, owner-only
    # until the chmod), without importing tempfile and, with it, shutil, random, bz2 and lzma,
    # which a rebase needs nowhere else.
    temp_name = path.with_name(f".{path.name}.{os.urandom(6).hex()}.tmp")
    fd = os.open(temp_name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
    try:
        with os.fdopen(fd, "wb") as stream:
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())
        os.chmod(temp_name, 0o644)
        os.replace(temp_name, path)
    except BaseException:
        temp_name.unlink(missing_ok=True)
        raise


def labels_json(document: Any) -> str:
    """Label values are compact JSON, like Go's encoding/json output."""
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False)
