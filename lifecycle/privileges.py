"""Running as the build's user, as the lifecycle does when a platform starts it as root.

pack starts the exporter as root (so it can reach the Docker socket and own cache volumes)
with ``CNB_USER_ID``/``CNB_GROUP_ID`` naming the user the buildpacks ran as. The exporter then:

* makes the cache directories exist and belong to that user (:func:`ensure_owner`);
* reads the layers and app directories, and writes its own files (report.toml, the layer
  fingerprints, the build and launch caches), *as that user* (:func:`as_user`), so it reads
  nothing the build could not, and leaves no root-owned file behind;
* talks to the registry or the Docker daemon as itself.

The switch changes only the *effective* IDs (and the supplementary groups), so root can be
taken back for the daemon socket: the Go lifecycle drops for good, but a Python process
cannot keep an already-open Docker connection across a full drop. Not root, or the user is
root: nothing changes.

Nothing may be imported while the IDs are switched: the build's user may not be allowed to
read where the lifecycle is installed. Modules imported on first use elsewhere (the file
formats, for one) are imported by the exporter before its first switch.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def switching(uid: int, gid: int) -> bool:
    """Whether :func:`as_user` changes IDs here (root, and a build user that is not root)."""
    return os.geteuid() == 0 and (uid, gid) != (0, 0)


@contextmanager
def as_user(uid: int, gid: int) -> Iterator[None]:
    """Run the block with effective IDs ``uid``:``gid`` (when root and they are not root's)."""
    if not switching(uid, gid):
        yield
        return
    groups = os.getgroups()
    os.setgroups([gid])
    os.setegid(gid)
    os.seteuid(uid)
    try:
        yield
    finally:
        os.seteuid(0)
        os.setegid(0)
        os.setgroups(groups)


def ensure_owner(uid: int, gid: int, *directories: Path | None) -> None:
    """Create each directory if needed and give it, and what is in it, to ``uid:gid``."""
    if not switching(uid, gid):
        return
    for directory in directories:
        if directory is None:
            continue
        directory.mkdir(parents=True, exist_ok=True)
        for path in (directory, *directory.rglob("*")):
            status = path.lstat()
            if (status.st_uid, status.st_gid) != (uid, gid):
                os.lchown(path, uid, gid)
