"""Layer fingerprints: what moves them, when they are withheld, and how they are remembered."""

from __future__ import annotations

import json
import os
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from lifecycle import archive
from lifecycle.archive import RACY_WINDOW_NS, EntryKind, LayerPlan, SourceStamp, TarEntry
from lifecycle.fingerprints import FILE_NAME, LayerFingerprints, Recorded
from lifecycle.record import replace

LATER = 10 * RACY_WINDOW_NS


def no_skips(path: Path, why: str) -> None:
    raise AssertionError(f"unexpected skip of {path}: {why}")


def settled(plan: LayerPlan) -> LayerPlan:
    """The plan as if made well after its files last changed."""
    return replace(plan, planned_at_ns=plan.planned_at_ns + LATER)


def tree(root: Path) -> Path:
    (root / "bin").mkdir(parents=True)
    (root / "bin" / "tool").write_bytes(b"#!/bin/sh\necho one\n")
    (root / "data.txt").write_text("payload\n")
    return root


def fingerprint(root: Path, uid: int = 0) -> str | None:
    return settled(archive.dir_plan(root, uid, 0, no_skips)).fingerprint()


def test_an_unchanged_tree_keeps_its_fingerprint(tmp_path: Path) -> None:
    root = tree(tmp_path / "layer")
    assert fingerprint(root) is not None
    assert fingerprint(root) == fingerprint(root)


def test_a_plan_made_right_after_a_change_has_no_fingerprint(tmp_path: Path) -> None:
    root = tree(tmp_path / "layer")
    assert archive.dir_plan(root, 0, 0, no_skips).fingerprint() is None


def test_a_file_stamped_in_the_future_has_no_fingerprint(tmp_path: Path) -> None:
    root = tree(tmp_path / "layer")
    future = archive.dir_plan(root, 0, 0, no_skips).planned_at_ns + LATER * 10
    os.utime(root / "data.txt", ns=(future, future))
    assert fingerprint(root) is None


def test_one_byte_changed_with_the_same_size_and_mtime_is_noticed(tmp_path: Path) -> None:
    root = tree(tmp_path / "layer")
    before = fingerprint(root)
    status = os.stat(root / "data.txt")
    with (root / "data.txt").open("r+b") as data:
        data.write(b"P")
    os.utime(root / "data.txt", ns=(status.st_atime_ns, status.st_mtime_ns))
    assert os.stat(root / "data.txt").st_mtime_ns == status.st_mtime_ns
    assert fingerprint(root) != before


def test_a_replaced_file_is_noticed(tmp_path: Path) -> None:
    root = tree(tmp_path / "layer")
    before = fingerprint(root)
    status = os.stat(root / "data.txt")
    (root / "new").write_text("payload\n")
    os.replace(root / "new", root / "data.txt")
    os.utime(root / "data.txt", ns=(status.st_atime_ns, status.st_mtime_ns))
    assert fingerprint(root) != before


def test_headers_move_the_fingerprint(tmp_path: Path) -> None:
    root = tree(tmp_path / "layer")
    before = fingerprint(root)
    assert fingerprint(root, uid=1000) != before
    (root / "link").symlink_to("data.txt")
    with_link = fingerprint(root)
    assert with_link != before
    (root / "link").unlink()
    (root / "link").symlink_to("bin/tool")
    assert fingerprint(root) not in (before, with_link)
    (root / "bin" / "tool").chmod(0o700)
    assert len({before, with_link, fingerprint(root)}) == 3


stamps = st.builds(SourceStamp, st.integers(0, 2**32), st.integers(0, 2**40),
                   st.integers(0, 2**40), st.integers(0, 2**62), st.integers(0, 2**62))


@given(st.lists(stamps, max_size=5), st.integers(0, 2**62))
def test_fingerprint_is_withheld_exactly_for_recent_stamps(
        stamp_list: list[SourceStamp], planned_at_ns: int) -> None:
    entries = tuple(TarEntry(f"/f{n}", EntryKind.FILE, 0o644, source=Path(f"/f{n}"),
                             size=stamp.size) for n, stamp in enumerate(stamp_list))
    plan = LayerPlan(entries, tuple(stamp_list), planned_at_ns)
    recent = any(max(s.mtime_ns, s.ctime_ns) >= planned_at_ns - RACY_WINDOW_NS
                 for s in stamp_list)
    assert (plan.fingerprint() is None) == recent


@given(stamps, st.sampled_from(["device", "inode", "size", "mtime_ns", "ctime_ns"]),
       st.integers(1, 2**20))
def test_every_stamp_field_moves_the_fingerprint(stamp: SourceStamp, field: str,
                                                 delta: int) -> None:
    old = replace(stamp, mtime_ns=min(stamp.mtime_ns, 2**60),
                              ctime_ns=min(stamp.ctime_ns, 2**60))
    new = replace(old, **{field: getattr(old, field) + delta})
    entry = (TarEntry("/f", EntryKind.FILE, 0o644, source=Path("/f"), size=1),)
    assert (LayerPlan(entry, (old,), 2**63).fingerprint()
            != LayerPlan(entry, (new,), 2**63).fingerprint())


def test_remembered_fingerprints_round_trip(tmp_path: Path) -> None:
    LayerFingerprints.load(tmp_path).save({"bp:layer": Recorded("sha256:f", "sha256:d")})
    known = LayerFingerprints.load(tmp_path)
    assert known.diff_id("bp:layer", "sha256:f") == "sha256:d"
    assert known.diff_id("bp:layer", "sha256:other") is None
    assert known.diff_id("bp:layer", None) is None
    assert known.diff_id("bp:other", "sha256:f") is None


def test_a_broken_or_foreign_record_is_ignored(tmp_path: Path) -> None:
    for text in ("{not json", '{"format": "other", "layers": {}}', '[]',
                 '{"format": "cnb-lifecycle/layer-fingerprints/v1", "layers": {"x": 1}}'):
        (tmp_path / FILE_NAME).write_text(text)
        assert LayerFingerprints.load(tmp_path).recorded == {}


def test_an_unwritable_record_is_only_a_warning(tmp_path: Path) -> None:
    (tmp_path / FILE_NAME).mkdir()  # a directory where the file should go
    LayerFingerprints.load(tmp_path).save({"bp:layer": Recorded("sha256:f", "sha256:d")})
    assert (tmp_path / FILE_NAME).is_dir()


def test_saved_record_is_plain_json(tmp_path: Path) -> None:
    LayerFingerprints.load(tmp_path).save({"a": Recorded("sha256:1", "sha256:2")})
    document = json.loads((tmp_path / FILE_NAME).read_text())
    assert document["layers"] == {"a": {"fingerprint": "sha256:1", "diff_id": "sha256:2"}}
