"""Frame-rate conversion of SMPL-X motion in numpy: slerp for rotations, lines for the rest.

Output frame k sits at time k / dst_fps (the first frames coincide), the output never
extrapolates past the last source frame, and output frames that land on a source frame copy
it, so 30 -> 15 fps is exactly the dataset's ``[::2]`` decimation (spec §1.1). The
reference's own 15 -> 30 fps step is different on purpose (``backend.motion.resample``).
"""

from __future__ import annotations

import math

import numpy as np

from .rotations import (
    as_poses,
    axis_angle_to_quaternion,
    quaternion_slerp,
    quaternion_to_axis_angle,
)

_TIME_EPS = 1e-9  # output times this close to a source frame snap onto it


def resample_positions(n: int, src_fps: float, dst_fps: float) -> tuple[np.ndarray, np.ndarray]:
    """Left source index and blend weight of every output frame (frame k at time k/dst_fps).

    Output frames k = 0 .. floor((n - 1) * dst_fps / src_fps); times within 1e-9 of a source
    frame snap onto it (weight 0), so equal rates reproduce the input exactly.
    """
    for name, fps in (("src_fps", src_fps), ("dst_fps", dst_fps)):
        if not (math.isfinite(fps) and fps > 0):
            raise ValueError(f"{name} must be a positive finite number, got {fps!r}.")
    if n <= 0:
        raise ValueError("cannot resample an empty motion.")
    count = math.floor((n - 1) * dst_fps / src_fps + _TIME_EPS) + 1
    pos = np.arange(count, dtype=np.float64) * (src_fps / dst_fps)
    i0 = np.floor(pos + _TIME_EPS).astype(np.int64)
    w = pos - i0
    w[np.abs(w) < _TIME_EPS] = 0.0
    return np.clip(i0, 0, n - 1), np.clip(w, 0.0, 1.0)


def resample_quaternions(q: np.ndarray, src_fps: float, dst_fps: float) -> np.ndarray:
    """(N, ..., 4) quaternions -> (M, ..., 4) at dst_fps by slerp; exact frames are copied."""
    q = np.asarray(q, dtype=np.float64)
    i0, w = resample_positions(q.shape[0], src_fps, dst_fps)
    i1 = np.minimum(i0 + 1, q.shape[0] - 1)
    wb = w.reshape((-1,) + (1,) * (q.ndim - 1))
    out = quaternion_slerp(q[i0], q[i1], wb)
    exact = (w == 0.0).reshape((-1,) + (1,) * (q.ndim - 1))
    return np.where(exact, q[i0], out)


def resample_linear(x: np.ndarray, src_fps: float, dst_fps: float) -> np.ndarray:
    """(N, ...) values -> (M, ...) at dst_fps by linear interpolation (float64)."""
    x = np.asarray(x, dtype=np.float64)
    i0, w = resample_positions(x.shape[0], src_fps, dst_fps)
    i1 = np.minimum(i0 + 1, x.shape[0] - 1)
    wb = w.reshape((-1,) + (1,) * (x.ndim - 1))
    return (1.0 - wb) * x[i0] + wb * x[i1]


def resample_motion(
    poses: np.ndarray,
    trans: np.ndarray,
    expressions: np.ndarray | None,
    src_fps: float,
    dst_fps: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Axis-angle poses (N, 55, 3) by slerp (shorter arc), trans (N, 3) and expressions
    (N, E) linearly, resampled to dst_fps; float64 copies.

    Output frames that land on a source frame copy it exactly, rotations included (so angles
    above pi survive 30 -> 15 fps); interpolated rotations have angles in [0, pi].
    """
    pose = as_poses(poses)
    n = pose.shape[0]
    shift = np.array(trans, dtype=np.float64)
    exp = None if expressions is None else np.array(expressions, dtype=np.float64)
    if shift.shape != (n, 3) or (exp is not None and (exp.ndim != 2 or exp.shape[0] != n)):
        raise ValueError(f"frame counts disagree: poses {pose.shape}, trans {shift.shape}, "
                         f"expressions {None if exp is None else exp.shape}.")
    i0, w = resample_positions(n, src_fps, dst_fps)
    if src_fps == dst_fps:
        return pose.copy(), shift, exp
    i1 = np.minimum(i0 + 1, n - 1)
    q = axis_angle_to_quaternion(pose)
    slerped = quaternion_to_axis_angle(quaternion_slerp(q[i0], q[i1], w[:, None, None]))
    out = np.where((w == 0.0)[:, None, None], pose[i0], slerped)
    out_exp = None if exp is None else resample_linear(exp, src_fps, dst_fps)
    return out, resample_linear(shift, src_fps, dst_fps), out_exp
