"""Forward kinematics in numpy (rag_gesture_shared.kinematics) on the default skeleton."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from rag_gesture_shared import rest_skeleton as ds
from rag_gesture_shared.kinematics import forward_kinematics
from rag_gesture_shared.skeleton import JOINT_NAMES, NUM_JOINTS, PARENTS
from tests.support.synthetic_motion import descendants, random_poses

REST = ds.DEFAULT_REST_JOINTS


def test_fk_zero_pose_is_rest_plus_trans():
    trans = np.array([[0.0, 0.0, 0.0], [0.3, -0.1, 2.0]])
    out = forward_kinematics(np.zeros((2, 55, 3)), trans)
    assert out.shape == (2, 55, 3) and out.dtype == np.float64
    np.testing.assert_allclose(out, REST[None] + trans[:, None], atol=1e-6)


def test_fk_accepts_flat_poses_and_tensors():
    poses = random_poses(3)
    trans = np.zeros((3, 3))
    ref = forward_kinematics(poses, trans)
    flat = forward_kinematics(torch.from_numpy(poses.reshape(3, 165)), torch.zeros(3, 3))
    np.testing.assert_array_equal(ref, flat)
    with pytest.raises(ValueError, match="poses"):
        forward_kinematics(np.zeros((3, 54, 3)), trans)
    with pytest.raises(ValueError, match="trans"):
        forward_kinematics(poses, np.zeros((2, 3)))


def test_fk_pelvis_rotation_rotates_whole_body():
    poses = np.zeros((1, 55, 3))
    poses[0, 0] = [0.0, math.pi / 2, 0.0]
    trans = np.array([[0.5, 0.2, -0.3]])
    out = forward_kinematics(poses, trans)[0]
    rot_y90 = np.array([[0.0, 0.0, 1.0], [0.0, 1.0, 0.0], [-1.0, 0.0, 0.0]])
    expected = (REST - REST[0]) @ rot_y90.T + REST[0] + trans[0]
    np.testing.assert_allclose(out, expected, atol=1e-6)
    # the left hand (+X) ends up behind the body (-Z) after a left turn about +Y
    assert out[JOINT_NAMES.index("left_wrist"), 2] < trans[0, 2] - 0.5


def test_fk_left_elbow_moves_only_forearm_and_hand():
    elbow = JOINT_NAMES.index("left_elbow")
    poses = np.zeros((1, 55, 3))
    poses[0, elbow] = [0.0, 1.2, 0.0]
    out = forward_kinematics(poses, np.zeros((1, 3)))[0]
    moved = set(np.flatnonzero(np.linalg.norm(out - REST, axis=1) > 1e-6).tolist())
    expected = {JOINT_NAMES.index("left_wrist")} | set(range(25, 40))
    assert moved == expected == descendants(elbow)
    # the wrist stays a forearm's length from the elbow
    wrist = JOINT_NAMES.index("left_wrist")
    assert math.isclose(
        np.linalg.norm(out[wrist] - out[elbow]),
        np.linalg.norm(REST[wrist] - REST[elbow]),
        abs_tol=1e-6,
    )


def test_fk_preserves_bone_lengths():
    poses = random_poses(16, scale=1.5, seed=3)
    trans = np.random.default_rng(4).normal(0, 1, (16, 3))
    out = forward_kinematics(poses, trans)
    for j in range(1, NUM_JOINTS):
        lengths = np.linalg.norm(out[:, j] - out[:, PARENTS[j]], axis=-1)
        np.testing.assert_allclose(lengths, np.linalg.norm(ds.DEFAULT_OFFSETS[j]), atol=1e-6)
    np.testing.assert_allclose(out[:, 0], REST[0] + trans, atol=1e-6)


def test_fk_custom_rest_joints():
    rest = REST * 1.1
    out = forward_kinematics(np.zeros((1, 55, 3)), np.zeros((1, 3)), rest)
    np.testing.assert_allclose(out[0], rest, atol=1e-6)
    with pytest.raises(ValueError, match="rest_joints"):
        forward_kinematics(np.zeros((1, 55, 3)), np.zeros((1, 3)), REST[:54])
