"""Rotation matrices <-> the values of a pose bone's rotation channels, in every rotation mode.

A retargeted rig keeps its own pose bones' ``rotation_mode``: quaternion bones get
``rotation_quaternion`` keys, Euler bones ``rotation_euler`` keys in their own axis order and
axis-angle bones ``rotation_axis_angle`` keys, so the animator edits the curves they expect.

numpy only. Conventions match Blender: quaternions (w, x, y, z); an Euler order "XYZ" applies X
first, then Y, then Z about fixed axes (matrix = Rz @ Ry @ Rx); axis-angle channels are
(angle, x, y, z).
"""

from __future__ import annotations

import numpy as np

from ..shared.rotations import hemisphere_continuous, quaternion_to_matrix

EULER_ORDERS: tuple[str, ...] = ("XYZ", "XZY", "YXZ", "YZX", "ZXY", "ZYX")
ROTATION_MODES: tuple[str, ...] = ("QUATERNION", "AXIS_ANGLE", *EULER_ORDERS)
_AXIS = {"X": 0, "Y": 1, "Z": 2}


def channel_count(mode: str) -> int:
    """Number of F-curve channels of a rotation mode (4 or 3)."""
    return 3 if mode in EULER_ORDERS else 4


def channel_path(bone: str, mode: str) -> str:
    """Data path of a pose bone's rotation channels in `mode`."""
    if mode == "QUATERNION":
        attr = "rotation_quaternion"
    elif mode == "AXIS_ANGLE":
        attr = "rotation_axis_angle"
    elif mode in EULER_ORDERS:
        attr = "rotation_euler"
    else:
        raise ValueError(f"unknown rotation mode {mode!r}")
    return f'pose.bones["{bone}"].{attr}'


def identity_channels(mode: str) -> np.ndarray:
    """Channel values of the identity rotation (an unkeyed channel's default)."""
    if mode == "QUATERNION":
        return np.array([1.0, 0.0, 0.0, 0.0])
    if mode == "AXIS_ANGLE":
        return np.array([0.0, 0.0, 1.0, 0.0])  # Blender's default axis is +Y
    return np.zeros(3)


# ------------------------------------------------------------------------------ matrices
def matrix_to_quaternion(m: np.ndarray) -> np.ndarray:
    """(..., 3, 3) rotation matrices -> (..., 4) unit quaternions (w >= 0).

    Takes the largest of the four candidate denominators per matrix, so it is accurate for
    every rotation (no loss near 180 degrees)."""
    m = np.asarray(m, dtype=np.float64)
    m00, m11, m22 = m[..., 0, 0], m[..., 1, 1], m[..., 2, 2]
    cand = np.stack([1 + m00 + m11 + m22, 1 + m00 - m11 - m22,
                     1 - m00 + m11 - m22, 1 - m00 - m11 + m22], axis=-1)
    pick = np.argmax(cand, axis=-1)
    s = np.sqrt(np.maximum(np.take_along_axis(cand, pick[..., None], -1)[..., 0], 1e-300)) * 2
    a21, a12 = m[..., 2, 1], m[..., 1, 2]
    a02, a20 = m[..., 0, 2], m[..., 2, 0]
    a10, a01 = m[..., 1, 0], m[..., 0, 1]
    d21, d02, d10 = a21 - a12, a02 - a20, a10 - a01
    s21, s02, s10 = a21 + a12, a02 + a20, a10 + a01
    q = np.stack([
        np.stack([s / 4, d21 / s, d02 / s, d10 / s], -1),
        np.stack([d21 / s, s / 4, s10 / s, s02 / s], -1),
        np.stack([d02 / s, s10 / s, s / 4, s21 / s], -1),
        np.stack([d10 / s, s02 / s, s21 / s, s / 4], -1),
    ], axis=-2)  # fmt: skip
    out = np.take_along_axis(q, pick[..., None, None], -2)[..., 0, :]
    out = np.where(out[..., :1] < 0, -out, out)
    return out / np.linalg.norm(out, axis=-1, keepdims=True)


def _elemental(axis: int, angle: np.ndarray) -> np.ndarray:
    c, s = np.cos(angle), np.sin(angle)
    one, zero = np.ones_like(angle), np.zeros_like(angle)
    i, j = (axis + 1) % 3, (axis + 2) % 3
    rows = [[zero] * 3 for _ in range(3)]
    rows[axis][axis] = one
    rows[i][i], rows[i][j], rows[j][i], rows[j][j] = c, -s, s, c
    return np.stack([np.stack(r, -1) for r in rows], -2)


def euler_to_matrix(e: np.ndarray, order: str) -> np.ndarray:
    """(..., 3) Euler angles (x, y, z components) in Blender order `order` -> (..., 3, 3)."""
    e = np.asarray(e, dtype=np.float64)
    out = None
    for axis in (_AXIS[a] for a in order):
        r = _elemental(axis, e[..., axis])
        out = r if out is None else r @ out
    return out


def matrix_to_euler(m: np.ndarray, order: str) -> np.ndarray:
    """(..., 3, 3) rotations -> (..., 3) Euler angles (x, y, z components) for `order`."""
    m = np.asarray(m, dtype=np.float64)
    i, j, k = (_AXIS[a] for a in order)
    sign = 1.0 if (j - i) % 3 == 1 else -1.0  # even permutation of XYZ
    cy = np.hypot(m[..., i, i], m[..., j, i])
    a = np.arctan2(sign * m[..., k, j], m[..., k, k])
    b = np.arctan2(-sign * m[..., k, i], cy)
    c = np.arctan2(sign * m[..., j, i], m[..., i, i])
    locked = cy < 1e-9  # gimbal lock: put all of the remaining rotation on the first axis
    a = np.where(locked, np.arctan2(-sign * m[..., j, k], m[..., j, j]), a)
    c = np.where(locked, 0.0, c)
    out = np.empty(m.shape[:-2] + (3,))
    out[..., i], out[..., j], out[..., k] = a, b, c
    return out


# ------------------------------------------------------------------------------ channels
def matrices_to_channels(m: np.ndarray, mode: str) -> np.ndarray:
    """(M, 3, 3) rotations over time -> (M, C) channel values, continuous along time.

    Quaternions are kept on one hemisphere frame to frame and Euler angles are unwrapped, so
    linear interpolation between keys never takes the long way round."""
    if mode == "QUATERNION":
        return hemisphere_continuous(matrix_to_quaternion(m), axis=0)
    if mode == "AXIS_ANGLE":
        q = hemisphere_continuous(matrix_to_quaternion(m), axis=0)
        s = np.linalg.norm(q[:, 1:], axis=-1)
        angle = 2.0 * np.arctan2(s, q[:, 0])
        axis = np.where(s[:, None] > 1e-12, q[:, 1:] / np.maximum(s, 1e-300)[:, None],
                        [0.0, 1.0, 0.0])
        # passing through angle 0 flips the axis: keep it and negate the angle instead
        sign = np.ones(len(axis))
        if len(axis) > 1:
            sign[1:] = np.where(np.sum(axis[1:] * axis[:-1], -1) < 0, -1.0, 1.0)
        sign = np.cumprod(sign)
        angle = np.unwrap(angle * sign)  # a turn of 2 pi more is the same rotation
        return np.concatenate([angle[:, None], axis * sign[:, None]], axis=1)
    if mode in EULER_ORDERS:
        return np.unwrap(matrix_to_euler(m, mode), axis=0)
    raise ValueError(f"unknown rotation mode {mode!r}")


def channels_to_matrices(values: np.ndarray, mode: str) -> np.ndarray:
    """(M, C) channel values -> (M, 3, 3) rotations (quaternions of any norm are normalised)."""
    v = np.asarray(values, dtype=np.float64)
    if mode == "QUATERNION":
        norm = np.linalg.norm(v, axis=-1, keepdims=True)
        v = np.where(norm > 1e-12, v, [1.0, 0.0, 0.0, 0.0])
        return quaternion_to_matrix(v)
    if mode == "AXIS_ANGLE":
        axis = v[:, 1:]
        norm = np.linalg.norm(axis, axis=-1, keepdims=True)
        axis = np.where(norm > 1e-12, axis / np.maximum(norm, 1e-300), [0.0, 1.0, 0.0])
        half = 0.5 * v[:, :1]
        return quaternion_to_matrix(np.concatenate([np.cos(half), np.sin(half) * axis], 1))
    if mode in EULER_ORDERS:
        return euler_to_matrix(v, mode)
    raise ValueError(f"unknown rotation mode {mode!r}")


def rotation_between(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(..., 3, 3) shortest-arc rotations taking direction(s) `a` onto `b` (any lengths).

    Opposite directions turn 180 degrees about an axis perpendicular to `a`; a zero vector
    gives the identity."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    shape = np.broadcast_shapes(a.shape, b.shape)
    a = np.broadcast_to(a, shape)
    b = np.broadcast_to(b, shape)
    na, nb = np.linalg.norm(a, axis=-1, keepdims=True), np.linalg.norm(b, axis=-1, keepdims=True)
    ok = (na[..., 0] > 1e-12) & (nb[..., 0] > 1e-12)
    ua = a / np.where(na > 1e-12, na, 1.0)
    ub = b / np.where(nb > 1e-12, nb, 1.0)
    w = 1.0 + np.sum(ua * ub, axis=-1, keepdims=True)
    xyz = np.cross(ua, ub)
    flip = w[..., 0] < 1e-9
    # perpendicular axis for the 180-degree case: a x (the least-aligned basis vector)
    helper = np.eye(3)[np.argmin(np.abs(ua), axis=-1)]
    perp = np.cross(ua, helper)
    perp /= np.maximum(np.linalg.norm(perp, axis=-1, keepdims=True), 1e-300)
    q = np.concatenate([w, xyz], axis=-1)
    q = np.where(flip[..., None], np.concatenate([np.zeros_like(w), perp], -1), q)
    q = np.where(ok[..., None], q, [1.0, 0.0, 0.0, 0.0])
    return quaternion_to_matrix(q)


def join_previous(values: np.ndarray, mode: str, previous: np.ndarray | None) -> np.ndarray:
    """(M, C) channel values moved onto the branch nearest `previous` (the key before them).

    The same rotations, re-expressed so the interpolation from the previous key takes the
    short way: quaternions flip sign, Euler angles shift by whole turns, axis-angle flips
    axis and angle and shifts by whole turns. `previous` None or with NaN: unchanged."""
    v = np.array(values, dtype=np.float64)
    if previous is None or len(v) == 0 or not np.all(np.isfinite(previous)):
        return v
    prev = np.asarray(previous, dtype=np.float64)
    if mode == "QUATERNION":
        return -v if float(v[0] @ prev) < 0.0 else v
    if mode == "AXIS_ANGLE":
        if float(v[0, 1:] @ prev[1:]) < 0.0:
            v = -v
        v[:, 0] -= 2 * np.pi * np.round((v[0, 0] - prev[0]) / (2 * np.pi))
        return v
    if mode in EULER_ORDERS:
        return v - 2 * np.pi * np.round((v[0] - prev) / (2 * np.pi))
    raise ValueError(f"unknown rotation mode {mode!r}")
