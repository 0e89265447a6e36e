"""The .npz motion file both halves exchange (rag_gesture_shared.motion_file): what the add-on
writes the backend's Motion reads, and the other way round, value for value."""

from __future__ import annotations

import numpy as np
import pytest

from backend.motion.motion import Motion
from rag_gesture_shared.motion_file import MotionFormatError, read_motion_npz, write_motion_npz


def _arrays(n: int, seed: int = 5) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.normal(0, 0.8, (n, 55, 3)), rng.normal(0, 0.3, (n, 3)), rng.normal(0, 1.5, (n, 100))


def test_both_sides_read_what_the_other_writes(tmp_path) -> None:
    poses, trans, exp = _arrays(12)
    write_motion_npz(tmp_path / "addon.npz", poses, trans, exp, 30.0)
    motion = Motion.load_npz(tmp_path / "addon.npz")
    np.testing.assert_array_equal(motion.poses, poses.astype(np.float32))
    assert motion.fps == 30.0 and motion.expressions.shape == (12, 100)
    motion.save_npz(tmp_path / "backend.npz")
    loaded = read_motion_npz(tmp_path / "backend.npz")
    for key in ("poses", "trans", "expressions", "betas"):
        np.testing.assert_array_equal(loaded[key], getattr(motion, key))
    assert (loaded["fps"], loaded["model"], loaded["gender"]) == (30.0, "smplx2020", "neutral")
    with np.load(tmp_path / "backend.npz") as data:  # the BEAT2 layout on disk
        assert data["poses"].shape == (12, 165) and data["poses"].dtype == np.float32
        assert float(data["mocap_frame_rate"]) == 30.0 and data["betas"].shape == (300,)


def test_missing_expressions_are_zeros_and_bad_files_are_one_sentence(tmp_path) -> None:
    poses, trans, _ = _arrays(3)
    write_motion_npz(tmp_path / "no_face.npz", poses, trans, None, 24.0)
    assert not read_motion_npz(tmp_path / "no_face.npz")["expressions"].any()
    (tmp_path / "bad.npz").write_bytes(b"junk")
    with pytest.raises(MotionFormatError, match="not a readable"):
        read_motion_npz(tmp_path / "bad.npz")
    np.savez(tmp_path / "amass.npz", poses=np.zeros((3, 156)), trans=np.zeros((3, 3)),
             mocap_framerate=120.0)
    with pytest.raises(MotionFormatError, match=r"156 columns \(SMPL-H"):
        read_motion_npz(tmp_path / "amass.npz")
    with pytest.raises(MotionFormatError, match="'trans' contains NaN"):
        write_motion_npz(tmp_path / "nan.npz", poses, np.full((3, 3), np.nan), None, 30.0)
    assert not (tmp_path / "nan.npz").exists()


# nothing half-written is left for the garbage collector to complain about later
@pytest.mark.filterwarnings("error::pytest.PytestUnraisableExceptionWarning")
def test_a_failed_write_keeps_the_previous_motion_file(tmp_path, monkeypatch) -> None:
    """Disk full while re-writing a take: the good file stays, no fragment is left."""
    from tests.support.faults import collect_failed_writers, disk_full, folder_files

    path = tmp_path / "line.npz"
    poses, trans, exp = _arrays(40, seed=1)
    write_motion_npz(path, poses, trans, exp, 30.0)
    before = path.read_bytes()
    disk_full(monkeypatch, after=4096)
    with pytest.raises(OSError, match="No space"):
        write_motion_npz(path, *_arrays(40, seed=2), 30.0)
    monkeypatch.undo()
    collect_failed_writers()
    assert path.read_bytes() == before
    assert folder_files(tmp_path) == {"line.npz"}
    np.testing.assert_array_equal(read_motion_npz(path)["poses"].reshape(40, -1),
                                  poses.reshape(40, -1).astype(np.float32))
