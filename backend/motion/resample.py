"""Frame-rate conversion of SMPL-X motion.

Two paths on purpose:

* `upsample_15_to_30` is the reference's own 15->30 fps step (spec §7). It blends rotations in
  6D and re-orthonormalises, which is not a true geodesic interpolation, but it is what the
  released results were produced with, so outputs must go through exactly this.
* `resample_motion` is the general converter for anything else (e.g. a 24-fps Blender scene or
  AMASS clips at 60/120 fps). It uses quaternion slerp, which is the correct interpolation of
  rotations, and copies source frames verbatim wherever an output time hits one, so 30->15 is
  exactly the dataset's `[::2]` decimation (spec §1.1).
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

from .rotations import (
    axis_angle_to_6d,
    axis_angle_to_quaternion,
    matrix_to_axis_angle,
    quaternion_slerp,
    quaternion_to_axis_angle,
    rotation_6d_to_matrix,
)

# Snapping tolerance for output times that land on a source frame up to float rounding.
_TIME_EPS = 1e-9


def _upsample_time(x: torch.Tensor) -> torch.Tensor:
    """(B, T, C) -> (B, 2T, C) with the half-pixel linear rule of the reference (VIS:264-291)."""
    y = F.interpolate(x.transpose(1, 2), scale_factor=2, mode="linear", align_corners=False)
    return y.transpose(1, 2)


def upsample_15_to_30(
    poses_aa: torch.Tensor, expressions: torch.Tensor, trans: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Double the frame rate exactly as the reference's output step does (spec §7).

    Args:
        poses_aa: (B, T, 165) axis-angle for the 55 SMPL-X joints.
        expressions: (B, T, 100) FLAME coefficients.
        trans: (B, T, 3) translation in metres.

    Returns:
        (poses (B, 2T, 165), expressions (B, 2T, 100), trans (B, 2T, 3)). With
        align_corners=False, out[0] = in[0], out[1] = 0.75 in[0] + 0.25 in[1], ...,
        out[2T-1] = in[T-1]. All joints are treated alike, so zero (eye) rotations stay
        exactly zero.
    """
    if poses_aa.ndim != 3 or poses_aa.shape[-1] % 3 != 0:
        raise ValueError(f"poses_aa must be (B, T, 3*J), got {tuple(poses_aa.shape)}")
    b, t, c = poses_aa.shape
    if expressions.shape[:2] != (b, t) or trans.shape[:2] != (b, t):
        raise ValueError(
            f"batch/time shapes disagree: poses {tuple(poses_aa.shape)}, "
            f"expressions {tuple(expressions.shape)}, trans {tuple(trans.shape)}"
        )
    joints = c // 3
    d6 = axis_angle_to_6d(poses_aa.reshape(b, t, joints, 3)).reshape(b, t, joints * 6)
    d6 = _upsample_time(d6).reshape(b, 2 * t, joints, 6)
    poses_up = matrix_to_axis_angle(rotation_6d_to_matrix(d6), reference=True).reshape(b, 2 * t, c)
    return poses_up, _upsample_time(expressions), _upsample_time(trans)


def _source_positions(n: int, src_fps: float, dst_fps: float) -> tuple[np.ndarray, np.ndarray]:
    """Left source index and blend weight for every output frame.

    Convention: output frame k sits at time k / dst_fps (the first frames coincide) for
    k = 0 .. floor((n - 1) * dst_fps / src_fps), i.e. the output never extrapolates past the
    last source frame. Times within _TIME_EPS of a source frame snap onto it (weight 0).
    """
    count = math.floor((n - 1) * dst_fps / src_fps + _TIME_EPS) + 1
    pos = np.arange(count, dtype=np.float64) * (src_fps / dst_fps)
    i0 = np.floor(pos + _TIME_EPS).astype(np.int64)
    w = pos - i0
    w[np.abs(w) < _TIME_EPS] = 0.0
    i0 = np.clip(i0, 0, n - 1)
    w = np.clip(w, 0.0, 1.0)
    return i0, w


def resample_motion(
    poses: np.ndarray,
    trans: np.ndarray,
    expressions: np.ndarray,
    src_fps: float,
    dst_fps: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Resample (N, J, 3) axis-angle poses, (N, 3) trans and (N, E) expressions to dst_fps.

    Rotations: quaternion slerp between the two neighbouring source frames (shorter arc).
    Translation and expressions: linear. Output frames that coincide with a source frame are
    copied unchanged, and src_fps == dst_fps returns copies of the inputs. See
    `_source_positions` for the frame-time convention. Returns float32 arrays.
    """
    for name, fps in (("src_fps", src_fps), ("dst_fps", dst_fps)):
        if not (math.isfinite(fps) and fps > 0):
            raise ValueError(f"{name} must be a positive finite number, got {fps!r}")
    poses = np.asarray(poses, dtype=np.float32)
    trans = np.asarray(trans, dtype=np.float32)
    expressions = np.asarray(expressions, dtype=np.float32)
    n = poses.shape[0]
    if poses.ndim != 3 or poses.shape[-1] != 3 or n == 0:
        raise ValueError(f"poses must be (N>0, J, 3), got {poses.shape}")
    if trans.shape != (n, 3) or expressions.ndim != 2 or expressions.shape[0] != n:
        raise ValueError(
            f"frame counts disagree: poses {poses.shape}, trans {trans.shape}, "
            f"expressions {expressions.shape}"
        )
    if src_fps == dst_fps:
        return poses.copy(), trans.copy(), expressions.copy()

    i0_np, w_np = _source_positions(n, float(src_fps), float(dst_fps))
    i1_np = np.minimum(i0_np + 1, n - 1)
    i0, i1 = torch.from_numpy(i0_np), torch.from_numpy(i1_np)
    exact = torch.from_numpy(w_np == 0.0)

    # float64 inside so the float32 result is limited by the input, not by the arithmetic.
    q = axis_angle_to_quaternion(torch.from_numpy(poses).double())
    w = torch.from_numpy(w_np)[:, None, None]
    q_out = quaternion_slerp(q[i0], q[i1], w)
    q_out = torch.where(q_out[..., :1] < 0, -q_out, q_out)  # angle in [0, pi]
    aa = quaternion_to_axis_angle(q_out).float()
    src = torch.from_numpy(poses)
    poses_out = torch.where(exact[:, None, None], src[i0], aa)

    def lerp(x: np.ndarray) -> np.ndarray:
        xt = torch.from_numpy(x).double()
        wl = torch.from_numpy(w_np)[:, None]
        return ((1.0 - wl) * xt[i0] + wl * xt[i1]).float().numpy()

    return poses_out.numpy(), lerp(trans), lerp(expressions)
