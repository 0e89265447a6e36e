"""Rotation conversions (spec §1.5) and the quaternion helpers used for resampling."""

import math

import pytest
import torch

from backend.motion import rotations as rot


def _random_aa(n: int, max_angle: float = math.pi - 1e-3, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    axis = torch.nn.functional.normalize(
        torch.randn(n, 3, generator=g, dtype=torch.float64), dim=-1
    )
    angle = torch.rand(n, 1, generator=g, dtype=torch.float64) * max_angle
    return axis * angle


def _same_rotation(q0: torch.Tensor, q1: torch.Tensor) -> torch.Tensor:
    return torch.allclose(rot.quaternion_to_matrix(q0), rot.quaternion_to_matrix(q1), atol=1e-10)


@pytest.mark.parametrize(
    "aa",
    [
        _random_aa(500),
        _random_aa(50, max_angle=1e-7, seed=1),  # near zero (Taylor branch)
        torch.nn.functional.normalize(_random_aa(50, seed=2), dim=-1) * (math.pi - 1e-4),  # ~pi
        torch.zeros(3, 3, dtype=torch.float64),
    ],
    ids=["random", "near_zero", "near_pi", "zero"],
)
def test_axis_angle_matrix_round_trip(aa):
    m = rot.axis_angle_to_matrix(aa)
    back = rot.matrix_to_axis_angle(m)
    assert back.shape == aa.shape
    assert torch.allclose(back, aa, atol=1e-8)


def test_matrices_are_proper_rotations():
    m = rot.axis_angle_to_matrix(_random_aa(200))
    eye = torch.eye(3, dtype=torch.float64).expand_as(m)
    assert torch.allclose(m @ m.transpose(-1, -2), eye, atol=1e-12)
    assert torch.allclose(torch.linalg.det(m), torch.ones(200, dtype=torch.float64), atol=1e-12)


def test_axis_angle_matches_rodrigues_about_z():
    m = rot.axis_angle_to_matrix(torch.tensor([0.0, 0.0, 0.5], dtype=torch.float64))
    c, s = math.cos(0.5), math.sin(0.5)
    expected = torch.tensor([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]], dtype=torch.float64)
    assert torch.allclose(m, expected, atol=1e-12)


def test_6d_is_first_two_rows_and_inverts():
    m = rot.axis_angle_to_matrix(_random_aa(100).reshape(10, 10, 3))
    d6 = rot.matrix_to_6d(m)
    assert d6.shape == (10, 10, 6)
    assert torch.equal(d6[..., :3], m[..., 0, :])
    assert torch.equal(d6[..., 3:], m[..., 1, :])
    assert torch.allclose(rot.rotation_6d_to_matrix(d6), m, atol=1e-12)


def test_6d_gram_schmidt_orthonormalises_non_orthogonal_input():
    d6 = torch.tensor([2.0, 0.0, 0.0, 1.0, 3.0, 0.0], dtype=torch.float64)
    assert torch.allclose(rot.rotation_6d_to_matrix(d6), torch.eye(3, dtype=torch.float64))


def test_quaternion_matrix_consistency():
    aa = _random_aa(200)
    q = rot.axis_angle_to_quaternion(aa)
    assert torch.allclose(q.norm(dim=-1), torch.ones(200, dtype=torch.float64))
    m = rot.quaternion_to_matrix(q)
    assert torch.allclose(m, rot.axis_angle_to_matrix(aa), atol=1e-12)
    q_back = rot.matrix_to_quaternion(m)
    assert torch.all(q_back[:, 0] >= 0)
    # q and -q are the same rotation; matrix_to_quaternion picks w >= 0
    sign = torch.where(q[:, :1] < 0, -1.0, 1.0).to(q)
    assert torch.allclose(q_back, q * sign, atol=1e-10)
    assert torch.allclose(rot.quaternion_to_matrix(-q), m, atol=1e-12)
    assert torch.allclose(rot.quaternion_to_axis_angle(q), aa, atol=1e-8)


def _z_quat(angle: float) -> torch.Tensor:
    return torch.tensor([math.cos(angle / 2), 0.0, 0.0, math.sin(angle / 2)], dtype=torch.float64)


def test_slerp_endpoints_and_midpoint():
    q0, q1 = _z_quat(0.2), _z_quat(1.4)
    w = torch.tensor([0.0, 0.5, 1.0, 0.25], dtype=torch.float64)[:, None]
    out = rot.quaternion_slerp(q0.expand(4, 4), q1.expand(4, 4), w)
    assert torch.allclose(out[0], q0, atol=1e-12)
    assert torch.allclose(out[2], q1, atol=1e-12)
    assert torch.allclose(out[1], _z_quat(0.8), atol=1e-12)
    assert torch.allclose(out[3], _z_quat(0.5), atol=1e-12)


def test_slerp_takes_the_shorter_arc():
    # -q1 is the same rotation as q1: the midpoint must still be the 0.8 rad rotation
    q0, q1 = _z_quat(0.2), _z_quat(1.4)
    mid = rot.quaternion_slerp(q0, -q1, torch.tensor([0.5], dtype=torch.float64))
    assert _same_rotation(mid, _z_quat(0.8))
    # across the pi boundary: +170 deg and -170 deg meet at 180 deg, not at 0
    a = math.radians(170)
    mid = rot.quaternion_slerp(_z_quat(a), _z_quat(-a), torch.tensor([0.5], dtype=torch.float64))
    angle = 2 * torch.atan2(mid[1:].norm(), mid[0].abs())
    assert angle.item() == pytest.approx(math.pi, abs=1e-9)


def test_slerp_identical_inputs_is_stable():
    q = _z_quat(0.3)
    out = rot.quaternion_slerp(q, q.clone(), torch.tensor([0.3], dtype=torch.float64))
    assert torch.all(torch.isfinite(out))
    assert torch.allclose(out, q, atol=1e-12)


def test_hemisphere_continuity():
    q = rot.axis_angle_to_quaternion(_random_aa(40).reshape(20, 2, 3))
    g = torch.Generator().manual_seed(3)
    signs = torch.where(torch.rand(20, 2, 1, generator=g) < 0.5, -1.0, 1.0).to(q)
    flipped = q * signs
    out = rot.quaternion_hemisphere_continuous(flipped, dim=0)
    assert out.shape == flipped.shape
    dots = (out[1:] * out[:-1]).sum(-1)
    assert torch.all(dots >= 0)
    assert _same_rotation(out, q)
    assert torch.equal(out[0], flipped[0])  # the first frame is the reference
    assert torch.allclose(out.abs(), q.abs())


def test_hemisphere_continuity_along_other_dim():
    q = _z_quat(0.5).expand(1, 3, 4).clone()
    q[0, 1] *= -1
    out = rot.quaternion_hemisphere_continuous(q, dim=1)
    assert torch.allclose(out[0], _z_quat(0.5).expand(3, 4))
