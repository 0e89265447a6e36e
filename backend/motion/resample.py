"""The reference's own 15 -> 30 fps step (spec §7), in torch.

It blends rotations in 6D and re-orthonormalises, which is not a true geodesic
interpolation, but it is what the released results were produced with, so the model's
outputs must go through exactly this. Every other rate change (a 24-fps Blender scene, AMASS
clips at 60/120 fps) uses slerp: `rag_gesture_shared.resample.resample_motion`.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .rotations import axis_angle_to_6d, matrix_to_axis_angle, rotation_6d_to_matrix


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
