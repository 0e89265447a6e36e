"""The project's default rest skeleton (rag_gesture_shared.rest_skeleton): shape, proportions,
symmetry."""

from __future__ import annotations

import math

import numpy as np

from rag_gesture_shared import rest_skeleton as ds
from rag_gesture_shared.skeleton import JOINT_NAMES, NUM_JOINTS, PARENTS

REST = ds.DEFAULT_REST_JOINTS


def test_default_skeleton_shapes_and_offsets():
    assert REST.shape == (55, 3) and REST.dtype == np.float64
    assert ds.DEFAULT_OFFSETS.shape == (55, 3) and ds.DEFAULT_OFFSETS.dtype == np.float64
    assert np.all(np.isfinite(REST))
    np.testing.assert_array_equal(REST[0], 0.0)  # documented: pelvis at the origin
    np.testing.assert_array_equal(ds.DEFAULT_OFFSETS[0], REST[0])
    for j in range(1, NUM_JOINTS):
        np.testing.assert_allclose(ds.DEFAULT_OFFSETS[j], REST[j] - REST[PARENTS[j]])
        assert np.linalg.norm(ds.DEFAULT_OFFSETS[j]) > 0.01, JOINT_NAMES[j]
    assert not REST.flags.writeable and not ds.DEFAULT_OFFSETS.flags.writeable


def test_default_skeleton_proportions():
    assert 1.6 <= ds.STATURE <= 1.8
    assert math.isclose(ds.STATURE, ds.HEAD_TOP_Y - ds.SOLE_Y)
    assert ds.SOLE_Y < REST[:, 1].min() and REST[:, 1].max() < ds.HEAD_TOP_Y
    assert 1.4 <= np.ptp(REST[:, 1]) <= 1.7  # joint centres span most of the stature
    feet = [JOINT_NAMES.index("left_foot"), JOINT_NAMES.index("right_foot")]
    others = [j for j in range(NUM_JOINTS) if j not in feet]
    assert REST[feet, 1].max() < REST[others, 1].min()  # feet lowest
    head, pelvis = JOINT_NAMES.index("head"), 0
    assert REST[head, 1] > REST[JOINT_NAMES.index("neck"), 1] > REST[pelvis, 1]
    for side in ("left", "right"):  # eyes and jaw in front of the head (+Z forward)
        assert REST[JOINT_NAMES.index(f"{side}_eye_smplhf"), 2] > REST[head, 2]
    assert REST[22, 2] > REST[head, 2] and REST[22, 1] < REST[head, 1]
    # T-pose: the wrist is straight out from the shoulder along X
    sh, wr = REST[JOINT_NAMES.index("left_shoulder")], REST[JOINT_NAMES.index("left_wrist")]
    np.testing.assert_allclose((wr - sh)[1:], 0.0)
    assert 0.45 <= (wr - sh)[0] <= 0.6
    span = 2 * (REST[JOINT_NAMES.index("left_middle3"), 0] + 0.02)  # + distal phalanx
    assert abs(span - ds.STATURE) < 0.1


def test_default_skeleton_left_right_symmetry():
    for j, name in enumerate(JOINT_NAMES):
        if name.startswith("left_"):
            assert REST[j, 0] > 0, name
            mirror = JOINT_NAMES.index("right_" + name[5:])
            np.testing.assert_allclose(REST[mirror], REST[j] * [-1, 1, 1], rtol=0, atol=1e-9)
        elif not name.startswith("right_"):
            assert REST[j, 0] == 0.0, name
