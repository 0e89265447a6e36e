"""`atomic_write`: the target is the old file or the complete new one, never a fragment."""

from __future__ import annotations

import os
import stat
import sys

import pytest

from rag_gesture_shared import atomic_file
from rag_gesture_shared.atomic_file import AtomicGroup, atomic_write, place_finished
from tests.support.faults import disk_full, folder_files


def test_replaces_the_file_when_the_block_succeeds(tmp_path):
    path = tmp_path / "out.json"
    path.write_text("old")
    with atomic_write(path, "w", encoding="utf-8") as fh:
        fh.write("new")
        assert path.read_text() == "old"  # nothing visible until the block ends
    assert path.read_text() == "new"
    assert folder_files(tmp_path) == {"out.json"}


@pytest.mark.parametrize("error", [OSError, KeyboardInterrupt, ValueError])
def test_a_failure_keeps_the_old_file_and_leaves_no_fragment(tmp_path, error):
    path = tmp_path / "take.npz"
    path.write_bytes(b"the good take")
    with pytest.raises(error), atomic_write(path) as fh:
        fh.write(b"half a ta")
        raise error()
    assert path.read_bytes() == b"the good take"
    assert folder_files(tmp_path) == {"take.npz"}


def test_a_full_disk_keeps_the_old_file(tmp_path, monkeypatch):
    path = tmp_path / "take.npz"
    path.write_bytes(b"x" * 100)
    disk_full(monkeypatch, after=10)
    with pytest.raises(OSError, match="No space"), atomic_write(path) as fh:
        fh.write(b"y" * 50)
    assert path.read_bytes() == b"x" * 100
    assert folder_files(tmp_path) == {"take.npz"}


def test_no_old_file_means_no_file_after_a_failure(tmp_path):
    with pytest.raises(RuntimeError), atomic_write(tmp_path / "new.bin") as fh:
        fh.write(b"abc")
        raise RuntimeError
    assert folder_files(tmp_path) == set()


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX permission bits")
def test_permissions_follow_the_umask_or_the_replaced_file(tmp_path):
    fresh = tmp_path / "fresh.bin"
    old = os.umask(0o022)
    try:
        with atomic_write(fresh) as fh:
            fh.write(b"1")
    finally:
        os.umask(old)
    assert stat.S_IMODE(fresh.stat().st_mode) == 0o644  # not mkstemp's private 0600
    kept = tmp_path / "kept.bin"
    kept.write_bytes(b"0")
    kept.chmod(0o640)
    with atomic_write(kept) as fh:
        fh.write(b"1")
    assert stat.S_IMODE(kept.stat().st_mode) == 0o640


def test_only_whole_file_modes(tmp_path):
    with pytest.raises(ValueError, match="whole files"), atomic_write(tmp_path / "a", "ab"):
        pass


def test_a_group_replaces_all_files_or_none(tmp_path):
    paths = [tmp_path / f"take{i}.npz" for i in (1, 2, 3)]
    for p in paths:
        p.write_bytes(b"old")
    with pytest.raises(OSError), AtomicGroup() as group:
        for i, p in enumerate(paths):
            with group.write(p) as fh:
                if i == 2:
                    raise OSError(28, "No space left on device")
                fh.write(b"new")
    assert [p.read_bytes() for p in paths] == [b"old"] * 3
    assert folder_files(tmp_path) == {p.name for p in paths}
    with AtomicGroup() as group:
        for p in paths:
            with group.write(p) as fh:
                fh.write(b"new")
    assert [p.read_bytes() for p in paths] == [b"new"] * 3
    assert folder_files(tmp_path) == {p.name for p in paths}


def test_a_failed_member_is_never_renamed_even_if_the_caller_goes_on(tmp_path):
    path = tmp_path / "a.txt"
    path.write_text("old")
    with AtomicGroup() as group:
        with pytest.raises(RuntimeError), group.write(path, "w") as fh:
            fh.write("half")
            raise RuntimeError
    assert path.read_text() == "old"
    assert folder_files(tmp_path) == {"a.txt"}


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX permission bits")
def test_a_finished_file_is_placed_with_the_replaced_files_permissions(tmp_path, monkeypatch):
    # a resumable download's partial file: kept across failures, then placed
    target, part = tmp_path / "model.pth", tmp_path / "model.pth.abc.part"
    target.write_bytes(b"old")
    os.chmod(target, 0o640)
    part.write_bytes(b"new bytes")
    synced = []
    monkeypatch.setattr(atomic_file.os, "fsync", lambda fd: synced.append(fd))
    place_finished(part, target)
    assert target.read_bytes() == b"new bytes" and not part.exists()
    assert stat.S_IMODE(target.stat().st_mode) == 0o640
    assert len(synced) == 2  # the file, then its folder
    with pytest.raises(FileNotFoundError):  # nothing to place: the target stays
        place_finished(part, target)
    assert target.read_bytes() == b"new bytes"
