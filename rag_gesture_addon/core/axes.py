"""SMPL-X's axes (Y up, +Z forward) against Blender's (Z up, -Y forward).

+X is the body's left in both. The change of frame is a +90 degree rotation about X:
(x, y, z) -> (x, -z, y).
"""

from __future__ import annotations

import math

import numpy as np

# Rotation taking SMPL-X (Y-up) coordinates to Blender (Z-up) coordinates: +90 deg about X.
YUP_TO_ZUP: np.ndarray = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, -1.0], [0.0, 1.0, 0.0]])
YUP_TO_ZUP.setflags(write=False)
# The same rotation as a quaternion (w, x, y, z): cos 45 deg, sin 45 deg about X.
YUP_TO_ZUP_QUAT: np.ndarray = np.array([math.sqrt(0.5), math.sqrt(0.5), 0.0, 0.0])
YUP_TO_ZUP_QUAT.setflags(write=False)


def yup_to_zup(v: np.ndarray) -> np.ndarray:
    """(..., 3) SMPL-X (Y-up) points or vectors -> Blender (Z-up): (x, y, z) -> (x, -z, y)."""
    v = np.asarray(v, dtype=np.float64)
    return np.stack([v[..., 0], -v[..., 2], v[..., 1]], axis=-1)


def zup_to_yup(v: np.ndarray) -> np.ndarray:
    """Inverse of `yup_to_zup`: (x, y, z) -> (x, z, -y)."""
    v = np.asarray(v, dtype=np.float64)
    return np.stack([v[..., 0], v[..., 2], -v[..., 1]], axis=-1)
