"""Numpy rotations (rag_gesture_shared.rotations) against the backend's torch rotations, which
carry the numerics the released weights were trained with; both must describe the same
rotations, including the small-angle series and quaternion sign continuity."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from backend.motion import rotations as ref
from rag_gesture_shared import rotations as rot


def _poses(n: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(0.0, 0.8, (n, 55, 3))


def test_axis_angle_and_quaternions_match_torch() -> None:
    poses = _poses(20)
    q = rot.axis_angle_to_quaternion(poses)
    np.testing.assert_allclose(q, ref.axis_angle_to_quaternion(torch.from_numpy(poses)).numpy(),
                               atol=1e-12)
    aa = rot.quaternion_to_axis_angle(q)
    aa_ref = ref.quaternion_to_axis_angle(torch.from_numpy(np.where(q[..., :1] < 0, -q, q)))
    np.testing.assert_allclose(aa, aa_ref.numpy(), atol=1e-10)
    np.testing.assert_allclose(rot.axis_angle_to_matrix(poses),
                               ref.axis_angle_to_matrix(torch.from_numpy(poses)).numpy(),
                               atol=1e-12)


def test_small_angles_round_trip_through_the_series_branches() -> None:
    small = np.array([[1e-12, 0.0, 0.0], [0.0, 3e-9, -1e-9], [0.0, 0.0, 0.0]])
    back = rot.quaternion_to_axis_angle(rot.axis_angle_to_quaternion(small))
    np.testing.assert_allclose(back, small, atol=1e-15)
    mats = rot.axis_angle_to_matrix(_poses(5))
    np.testing.assert_allclose(mats @ np.swapaxes(mats, -1, -2),
                               np.broadcast_to(np.eye(3), mats.shape), atol=1e-12)


def test_hemisphere_continuity_matches_torch() -> None:
    q = rot.axis_angle_to_quaternion(_poses(20))
    flipped = q * np.where(np.random.default_rng(1).random((20, 55, 1)) < 0.5, -1.0, 1.0)
    ours = rot.hemisphere_continuous(flipped, axis=0)
    theirs = ref.quaternion_hemisphere_continuous(torch.from_numpy(flipped), dim=0).numpy()
    np.testing.assert_array_equal(ours, theirs)
    assert (np.sum(ours[1:] * ours[:-1], axis=-1) >= 0).all()


def test_quaternion_product_is_matrix_product() -> None:
    a = rot.axis_angle_to_quaternion(np.array([0.3, -0.2, 0.9]))
    b = rot.axis_angle_to_quaternion(np.array([-1.1, 0.4, 0.2]))
    np.testing.assert_allclose(rot.quaternion_to_matrix(rot.quaternion_multiply(a, b)),
                               rot.quaternion_to_matrix(a) @ rot.quaternion_to_matrix(b),
                               atol=1e-12)


def test_poses_must_be_smplx() -> None:
    assert rot.as_poses(np.zeros((4, 165))).shape == (4, 55, 3)
    with pytest.raises(ValueError, match=r"poses must be \(N, 55, 3\) or \(N, 165\)"):
        rot.as_poses(np.zeros((4, 156)))
