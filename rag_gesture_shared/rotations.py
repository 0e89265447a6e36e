"""Rotation maths in numpy: axis-angle, quaternions, matrices, hemisphere continuity, slerp.

float64 throughout and no torch, so the add-on (writing F-curves) and the backend (resampling,
kinematics) compute the same numbers. The model's own rotation code, whose float32 numerics
the released weights were trained with, is torch and lives in ``backend.motion.rotations``.
Conventions:

* quaternions are (w, x, y, z), Hamilton product, the same order as Blender's
  ``rotation_quaternion``;
* axis-angle vectors are (x, y, z) * angle in radians, as in SMPL-X ``poses``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .skeleton import NUM_JOINTS

_SMALL = 1e-8  # below this angle / vector norm, use series expansions


def as_poses(poses: Any) -> np.ndarray:
    """(N, 165) or (N, 55, 3) axis-angle -> (N, 55, 3) float64; anything else is an error."""
    arr = np.asarray(poses, dtype=np.float64)
    if arr.ndim == 2 and arr.shape[1] == 3 * NUM_JOINTS:
        arr = arr.reshape(arr.shape[0], NUM_JOINTS, 3)
    if arr.ndim != 3 or arr.shape[1:] != (NUM_JOINTS, 3):
        raise ValueError(f"poses must be (N, 55, 3) or (N, 165), got shape {arr.shape}.")
    return arr


def axis_angle_to_quaternion(aa: np.ndarray) -> np.ndarray:
    """(..., 3) axis-angle -> (..., 4) unit quaternions (w, x, y, z), w >= 0 for |angle| <= pi."""
    aa = np.asarray(aa, dtype=np.float64)
    angle = np.linalg.norm(aa, axis=-1, keepdims=True)
    half = 0.5 * angle
    small = angle < _SMALL
    safe = np.where(small, 1.0, angle)
    # sin(angle/2)/angle, with its series 1/2 - angle^2/48 near zero.
    k = np.where(small, 0.5 - angle * angle / 48.0, np.sin(half) / safe)
    return np.concatenate([np.cos(half), aa * k], axis=-1)


def quaternion_to_axis_angle(q: np.ndarray) -> np.ndarray:
    """(..., 4) quaternions (any norm, any sign) -> (..., 3) axis-angle with angle in [0, pi]."""
    q = np.asarray(q, dtype=np.float64)
    q = q / np.linalg.norm(q, axis=-1, keepdims=True)
    q = np.where(q[..., :1] < 0.0, -q, q)
    w = q[..., :1]
    xyz = q[..., 1:]
    s = np.linalg.norm(xyz, axis=-1, keepdims=True)
    angle = 2.0 * np.arctan2(s, w)
    small = s < _SMALL
    # angle / s, with its limit 2 / w (w ~ 1) near zero.
    k = np.where(small, 2.0 / np.maximum(w, _SMALL), angle / np.where(small, 1.0, s))
    return xyz * k


def quaternion_to_matrix(q: np.ndarray) -> np.ndarray:
    """(..., 4) (w, x, y, z) -> (..., 3, 3) rotation matrices (the input is normalised)."""
    q = np.asarray(q, dtype=np.float64)
    q = q / np.linalg.norm(q, axis=-1, keepdims=True)
    w, x, y, z = np.moveaxis(q, -1, 0)
    m = np.stack(
        [
            1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y),
            2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x),
            2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y),
        ],
        axis=-1,
    )  # fmt: skip
    return m.reshape(q.shape[:-1] + (3, 3))


def axis_angle_to_matrix(aa: np.ndarray) -> np.ndarray:
    """(..., 3) axis-angle -> (..., 3, 3) rotation matrices."""
    return quaternion_to_matrix(axis_angle_to_quaternion(aa))


def quaternion_multiply(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Hamilton product a * b of (..., 4) quaternions (w, x, y, z)."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    aw, ax, ay, az = np.moveaxis(a, -1, 0)
    bw, bx, by, bz = np.moveaxis(b, -1, 0)
    return np.stack(
        [
            aw * bw - ax * bx - ay * by - az * bz,
            aw * bx + ax * bw + ay * bz - az * by,
            aw * by - ax * bz + ay * bw + az * bx,
            aw * bz + ax * by - ay * bx + az * bw,
        ],
        axis=-1,
    )


def hemisphere_continuous(
    q: np.ndarray, axis: int = 0, reference: np.ndarray | None = None
) -> np.ndarray:
    """Flip signs along `axis` (time) so consecutive quaternions have a non-negative dot.

    q and -q are the same rotation, but F-curves interpolate components linearly, so keys on
    opposite hemispheres would swing the long way round between frames. `reference` (shape of
    one time step) fixes the sign of the first step, e.g. to join an existing key.
    """
    q = np.moveaxis(np.asarray(q, dtype=np.float64), axis, 0)
    if q.shape[0] == 0:
        return np.moveaxis(q.copy(), 0, axis)
    step = np.ones(q.shape[:-1] + (1,))
    if q.shape[0] > 1:
        dots = np.sum(q[1:] * q[:-1], axis=-1, keepdims=True)
        step[1:] = np.where(dots < 0.0, -1.0, 1.0)
    if reference is not None:
        first = np.sum(q[0] * np.asarray(reference, dtype=np.float64), axis=-1, keepdims=True)
        step[0] = np.where(first < 0.0, -1.0, 1.0)
    out = q * np.cumprod(step, axis=0)
    return np.moveaxis(out, 0, axis)


def quaternion_slerp(q0: np.ndarray, q1: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Spherical interpolation (shorter arc) between unit quaternions; w broadcasts (..., 1)."""
    q0 = np.asarray(q0, dtype=np.float64)
    q1 = np.asarray(q1, dtype=np.float64)
    w = np.asarray(w, dtype=np.float64)
    dot = np.sum(q0 * q1, axis=-1, keepdims=True)
    q1 = np.where(dot < 0.0, -q1, q1)
    dot = np.minimum(np.abs(dot), 1.0)
    theta = np.arccos(dot)
    sin_t = np.sin(theta)
    near = sin_t < 1e-6
    safe = np.where(near, 1.0, sin_t)
    a = np.where(near, 1.0 - w, np.sin((1.0 - w) * theta) / safe)
    b = np.where(near, w, np.sin(w * theta) / safe)
    out = a * q0 + b * q1
    return out / np.linalg.norm(out, axis=-1, keepdims=True)
