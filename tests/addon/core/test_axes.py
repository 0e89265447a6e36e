"""SMPL-X (Y up, +Z forward) to Blender (Z up, -Y forward) axes (rag_gesture_addon.core.axes)."""

from __future__ import annotations

import numpy as np

from rag_gesture_addon.core import axes
from rag_gesture_shared import rotations as rot


def test_frame_change_is_plus_90_degrees_about_x() -> None:
    np.testing.assert_allclose(rot.quaternion_to_matrix(axes.YUP_TO_ZUP_QUAT), axes.YUP_TO_ZUP,
                               atol=1e-15)
    v = np.random.default_rng(2).normal(size=(7, 3))
    np.testing.assert_array_equal(axes.yup_to_zup(v), v @ axes.YUP_TO_ZUP.T)
    np.testing.assert_array_equal(axes.zup_to_yup(axes.yup_to_zup(v)), v)
    up = axes.yup_to_zup(np.array([0.0, 1.0, 0.0]))
    forward = axes.yup_to_zup(np.array([0.0, 0.0, 1.0]))
    assert up.tolist() == [0.0, 0.0, 1.0] and forward.tolist() == [0.0, -1.0, 0.0]
