"""Frame-rate conversion: the reference 15->30 step (spec §7) and general slerp resampling."""

import math

import numpy as np
import pytest
import torch

from backend.motion import rotations as rot
from backend.motion.resample import resample_motion, upsample_15_to_30


def _random_inputs(b: int = 2, t: int = 6, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    aa = torch.nn.functional.normalize(torch.randn(b, t, 55, 3, generator=g), dim=-1)
    aa = aa * torch.rand(b, t, 55, 1, generator=g) * 2.5
    aa[:, :, 23:25] = 0.0  # eyes are never modelled
    expr = torch.randn(b, t, 100, generator=g)
    trans = torch.randn(b, t, 3, generator=g)
    return aa.reshape(b, t, 165), expr, trans


def _mats(aa165: torch.Tensor) -> torch.Tensor:
    return rot.axis_angle_to_matrix(aa165.reshape(*aa165.shape[:-1], 55, 3))


# ------------------------------------------------------------------ upsample_15_to_30


def test_upsample_shapes_and_dtype():
    poses, expr, trans = _random_inputs(2, 6)
    p, e, tr = upsample_15_to_30(poses, expr, trans)
    assert p.shape == (2, 12, 165) and e.shape == (2, 12, 100) and tr.shape == (2, 12, 3)
    assert p.dtype == torch.float32


def test_upsample_constant_motion_stays_constant():
    poses, expr, trans = _random_inputs(1, 1)
    t = 5
    const = (poses.expand(1, t, 165), expr.expand(1, t, 100), trans.expand(1, t, 3))
    p, e, tr = upsample_15_to_30(*const)
    assert torch.allclose(p, poses.expand(1, 2 * t, 165), atol=1e-5)
    assert torch.equal(e, expr.expand(1, 2 * t, 100))
    assert torch.equal(tr, trans.expand(1, 2 * t, 3))


def test_upsample_endpoints_equal_input_endpoints():
    poses, expr, trans = _random_inputs(2, 6)
    p, e, tr = upsample_15_to_30(poses, expr, trans)
    # The official matrix->axis-angle conversion (kept for parity) is accurate to ~3e-4 rad.
    assert torch.allclose(p[:, 0], poses[:, 0], atol=1e-3)
    assert torch.allclose(p[:, -1], poses[:, -1], atol=1e-3)
    assert torch.equal(e[:, 0], expr[:, 0]) and torch.equal(e[:, -1], expr[:, -1])
    assert torch.equal(tr[:, 0], trans[:, 0]) and torch.equal(tr[:, -1], trans[:, -1])


def test_upsample_half_pixel_weights_in_6d():
    poses, expr, trans = _random_inputs(2, 6)
    p, e, tr = upsample_15_to_30(poses, expr, trans)
    d6 = rot.matrix_to_6d(_mats(poses))
    got = _mats(p)
    for out_idx, (i, j, wi) in {
        1: (0, 1, 0.75),
        2: (0, 1, 0.25),
        4: (1, 2, 0.25),
        5: (2, 3, 0.75),
    }.items():
        want = rot.rotation_6d_to_matrix(wi * d6[:, i] + (1 - wi) * d6[:, j])
        assert torch.allclose(got[:, out_idx], want, atol=1e-3), out_idx
        assert torch.allclose(e[:, out_idx], wi * expr[:, i] + (1 - wi) * expr[:, j], atol=1e-6)
        assert torch.allclose(tr[:, out_idx], wi * trans[:, i] + (1 - wi) * trans[:, j], atol=1e-6)
    # the 6D blend is not a slerp: it differs from the geodesic midpoint in general
    q = rot.matrix_to_quaternion(_mats(poses))
    slerp = rot.quaternion_to_matrix(rot.quaternion_slerp(q[:, 0], q[:, 1], torch.tensor(0.25)))
    assert not torch.allclose(got[:, 1], slerp, atol=1e-5)


def test_upsample_uses_the_official_conversion_bit_for_bit():
    poses, expr, trans = _random_inputs(2, 6)
    p, _, _ = upsample_15_to_30(poses, expr, trans)
    d6 = rot.axis_angle_to_6d(poses.reshape(2, 6, 55, 3)).reshape(2, 6, -1)
    d6_up = torch.nn.functional.interpolate(d6.permute(0, 2, 1), scale_factor=2, mode="linear",
                                            align_corners=False).permute(0, 2, 1)
    want = rot.rotation_6d_to_axis_angle(d6_up.reshape(2, 12, 55, 6), reference=True)
    assert torch.equal(p, want.reshape(2, 12, 165))
    robust = rot.rotation_6d_to_axis_angle(d6_up.reshape(2, 12, 55, 6))
    assert not torch.equal(p, robust.reshape(2, 12, 165))


def test_upsample_keeps_zero_eyes_exactly_zero():
    poses, expr, trans = _random_inputs(2, 6)
    p, _, _ = upsample_15_to_30(poses, expr, trans)
    assert torch.equal(p.reshape(2, 12, 55, 3)[:, :, 23:25], torch.zeros(2, 12, 2, 3))


def test_upsample_rejects_mismatched_shapes():
    poses, expr, trans = _random_inputs(2, 6)
    with pytest.raises(ValueError, match="disagree"):
        upsample_15_to_30(poses, expr[:, :5], trans)


# ------------------------------------------------------------------ resample_motion


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
    assert e.shape == (2 * n - 1, 100) and p.dtype == np.float32
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
