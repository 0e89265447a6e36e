"""`atomic_write`: the target is the old file or the complete new one, never a fragment."""

from __future__ import annotations

import os
import stat
import sys

import pytest

from rag_gesture_shared.atomic_file import atomic_write
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
