"""A blob followed while it is written, and the compression stage beside the tar writer."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from lifecycle import archive
from lifecycle.image.growing import BlobBroken, GrowingBlob


def test_a_follower_reads_every_byte_while_the_writer_goes_on(tmp_path: Path) -> None:
    path = tmp_path / "blob"
    path.write_bytes(b"")
    blob = GrowingBlob(str(path))
    read: list[bytes] = []
    follower = threading.Thread(target=lambda: read.extend(blob.chunks()))
    follower.start()
    with path.open("ab") as writer:
        for n in range(50):
            writer.write(bytes([n]) * 1000)
            writer.flush()
            blob.grew(1000 * (n + 1))
    os.replace(path, tmp_path / "renamed")  # the writer renames when done; the fd follows
    blob.finished("sha256:abc", 50_000)
    follower.join(timeout=10)
    assert b"".join(read) == b"".join(bytes([n]) * 1000 for n in range(50))
    assert blob.digest() == "sha256:abc"
    blob.close()


def test_a_broken_writer_stops_the_follower(tmp_path: Path) -> None:
    path = tmp_path / "blob"
    path.write_bytes(b"x" * 10)
    blob = GrowingBlob(str(path))
    blob.grew(10)
    chunks = blob.chunks()
    assert next(chunks) == b"x" * 10
    blob.broke()
    with pytest.raises(BlobBroken):
        next(chunks)
    with pytest.raises(BlobBroken):
        blob.digest()
    blob.close()


def test_a_stage_failure_reaches_the_caller() -> None:
    def work(chunk: bytes | bytearray) -> None:
        raise OSError(28, "No space left on device")

    stage = archive._Stage(work)
    stage.put(b"first")
    with pytest.raises(OSError, match="No space left"):
        for _ in range(100):  # raised at a later put, never blocking on a full queue
            stage.put(b"more")
    with pytest.raises(OSError, match="No space left"):
        stage.close()


def test_a_staged_layer_has_the_same_bytes_as_an_unstaged_one(tmp_path: Path) -> None:
    source = tmp_path / "tree"
    (source / "d").mkdir(parents=True)
    (source / "d" / "big").write_bytes(os.urandom(3 << 20))
    entries = archive.dir_plan(source, 0, 0, lambda path, why: None).entries
    plain = archive.write_layer(entries, tmp_path, True)
    followed: list[bytes] = []
    threads: list[threading.Thread] = []

    def stage(blob: GrowingBlob) -> None:
        def follow() -> None:
            followed.extend(blob.chunks())
            blob.close()
        threads.append(threading.Thread(target=follow))
        threads[-1].start()

    staged = archive.write_layer(entries, tmp_path / ".." / tmp_path.name, True, stage)
    threads[0].join(timeout=10)
    assert staged.digest == plain.digest
    assert staged.source is not None
    with staged.source.open_blob(staged.digest) as stored:
        assert b"".join(followed) == stored.read()
