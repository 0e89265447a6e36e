"""The reference's 15->30 fps step (spec §7); slerp resampling is tested in tests/shared."""


import pytest
import torch

from backend.motion import rotations as rot
from backend.motion.resample import upsample_15_to_30


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
