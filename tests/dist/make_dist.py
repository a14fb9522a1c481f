"""The session's one PyInstaller run: ``release/build_dist.py`` writes the archive and the
Dockerfile's ``PREBUILT`` phases, once per pytest process. The warm-up (tests/harness/warmup.py)
starts it right after collection, beside the debootstraps; the fixture that needs it waits
on the same lock, then finds it made (or, if the warm-up failed, makes it and says why)."""

from __future__ import annotations

import shutil
import sys
import tempfile
import threading
from pathlib import Path

from tests.acceptance.images import ROOT
from tests.harness.services import run_bounded

MAKE_DIST_SECONDS = 1200

_lock = threading.Lock()
_made: list[Path] = []


def release_build() -> Path:
    """A directory holding ``dist/<archive>.tgz`` and ``phases/``; PyInstaller's scratch space
    is removed. Whoever calls this removes the directory (``remove_release_build``)."""
    with _lock:
        if not _made:
            output = Path(tempfile.mkdtemp(prefix="cnb-make-dist-"))
            try:
                run_bounded([sys.executable, str(ROOT / "release" / "build_dist.py"),
                             "--dist-dir", str(output / "dist"), "--work-dir",
                             str(output / "work"), "--phases-root", str(output / "phases")],
                            "release/build_dist.py", MAKE_DIST_SECONDS)
                shutil.rmtree(output / "work")
            except BaseException:
                shutil.rmtree(output)
                raise
            _made.append(output)
        return _made[0]


def remove_release_build() -> None:
    with _lock:
        while _made:
            shutil.rmtree(_made.pop())
