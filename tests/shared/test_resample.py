"""Slerp resampling in numpy (rag_gesture_shared.resample), checked against the backend's
torch rotations: exact frames copied, midpoints on the shorter arc, the frame-time rule."""

import math

import numpy as np
import pytest
import torch

from backend.motion import rotations as rot
from rag_gesture_shared.resample import resample_motion


def _np_motion(n: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    axis = rng.normal(size=(n, 55, 3))
    axis /= np.linalg.norm(axis, axis=-1, keepdims=True)
    poses = (axis * rng.uniform(0, 3.0, size=(n, 55, 1))).astype(np.float32)
    return (
        poses,
        rng.normal(size=(n, 3)).astype(np.float32),
        rng.normal(size=(n, 100)).astype(np.float32),
    )


def test_same_fps_is_identity_copy():
    poses, trans, expr = _np_motion(9)
    p, t, e = resample_motion(poses, trans, expr, 30, 30)
    assert np.array_equal(p, poses) and np.array_equal(t, trans) and np.array_equal(e, expr)
    p[0] = 7.0
    assert poses[0, 0, 0] != 7.0


def test_30_to_60_doubles_frames_and_slerps_midpoints():
    n = 9
    poses, trans, expr = _np_motion(n)
    p, t, e = resample_motion(poses, trans, expr, 30, 60)
    assert p.shape == (2 * n - 1, 55, 3) and t.shape == (2 * n - 1, 3)
    assert e.shape == (2 * n - 1, 100) and p.dtype == np.float64
    assert np.array_equal(p[::2], poses)  # coinciding frames are copied
    assert np.array_equal(t[::2], trans) and np.array_equal(e[::2], expr)
    q = rot.axis_angle_to_quaternion(torch.from_numpy(poses).double())
    mid = rot.quaternion_slerp(q[:-1], q[1:], torch.tensor(0.5, dtype=torch.float64))
    got = rot.axis_angle_to_matrix(torch.from_numpy(p[1::2]).double())
    assert torch.allclose(got, rot.quaternion_to_matrix(mid), atol=1e-5)
    assert np.allclose(t[1::2], 0.5 * (trans[:-1] + trans[1:]), atol=1e-6)
    assert np.allclose(e[1::2], 0.5 * (expr[:-1] + expr[1:]), atol=1e-6)


def test_midpoint_takes_shorter_arc_across_pi():
    poses, trans, expr = _np_motion(2)
    a = math.radians(170)
    poses[0, 0] = [0.0, 0.0, a]
    poses[1, 0] = [0.0, 0.0, -a]  # 20 degrees away through 180, not 340 through 0
    p, _, _ = resample_motion(poses, trans, expr, 30, 60)
    assert np.linalg.norm(p[1, 0]) == pytest.approx(math.pi, abs=1e-4)
    assert np.allclose(np.abs(p[1, 0] / np.linalg.norm(p[1, 0])), [0, 0, 1], atol=1e-4)


def test_30_to_24_keeps_first_frame_and_convention():
    n = 31
    poses, trans, expr = _np_motion(n)
    p, t, e = resample_motion(poses, trans, expr, 30, 24)
    assert p.shape[0] == 25  # k = 0 .. floor(30 * 24 / 30)
    assert np.array_equal(p[0], poses[0]) and np.array_equal(t[0], trans[0])
    assert np.array_equal(e[0], expr[0])
    # 24-fps frame 4 is at 1/6 s = 30-fps frame 5 exactly; frame 24 is the last source frame
    assert np.array_equal(p[4], poses[5]) and np.array_equal(p[24], poses[30])
    # 24-fps frame 1 is at 1.25 source frames
    assert np.allclose(t[1], 0.75 * trans[1] + 0.25 * trans[2], atol=1e-6)


def test_30_to_15_is_plain_decimation():
    poses, trans, expr = _np_motion(10)
    p, t, e = resample_motion(poses, trans, expr, 30, 15)
    assert np.array_equal(p, poses[::2])
    assert np.array_equal(t, trans[::2]) and np.array_equal(e, expr[::2])


def test_non_integer_ratio_frame_count():
    poses, trans, expr = _np_motion(100)
    p, _, _ = resample_motion(poses, trans, expr, 29.97, 30)
    assert p.shape[0] == math.floor(99 * 30 / 29.97) + 1
    assert np.all(np.isfinite(p))


def test_resample_rejects_bad_fps_and_shapes():
    poses, trans, expr = _np_motion(4)
    with pytest.raises(ValueError, match="dst_fps"):
        resample_motion(poses, trans, expr, 30, 0)
    with pytest.raises(ValueError, match="frame counts disagree"):
        resample_motion(poses, trans[:3], expr, 30, 60)
