"""Rotation conversions in torch, with the numerics the released weights were trained on.

The VAEs see rotations as 6D vectors made of the first two *rows* of the rotation matrix
(spec §1.5); matrices go back to axis-angle through quaternions. Small-angle branches use
Taylor expansions so gradients and values stay finite at zero rotation. All functions work
on any leading batch shape.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

_SMALL_ANGLE = 1e-6


def _sinc_half(angle: torch.Tensor) -> torch.Tensor:
    """sin(angle/2)/angle, with its Taylor series near zero."""
    small = angle.abs() < _SMALL_ANGLE
    safe = torch.where(small, torch.ones_like(angle), angle)
    exact = torch.sin(safe * 0.5) / safe
    series = 0.5 - (angle * angle) / 48
    return torch.where(small, series, exact)


def axis_angle_to_quaternion(aa: torch.Tensor) -> torch.Tensor:
    """(..., 3) axis-angle -> (..., 4) quaternion (w, x, y, z)."""
    angle = torch.norm(aa, p=2, dim=-1, keepdim=True)
    half = angle * 0.5
    return torch.cat([torch.cos(half), aa * _sinc_half(angle)], dim=-1)


def quaternion_to_matrix(q: torch.Tensor) -> torch.Tensor:
    """(..., 4) quaternion (w first, any norm) -> (..., 3, 3) rotation matrix."""
    r, i, j, k = torch.unbind(q, -1)
    two_s = 2.0 / (q * q).sum(-1)
    m = torch.stack(
        (
            1 - two_s * (j * j + k * k),
            two_s * (i * j - k * r),
            two_s * (i * k + j * r),
            two_s * (i * j + k * r),
            1 - two_s * (i * i + k * k),
            two_s * (j * k - i * r),
            two_s * (i * k - j * r),
            two_s * (j * k + i * r),
            1 - two_s * (i * i + j * j),
        ),
        -1,
    )
    return m.reshape(q.shape[:-1] + (3, 3))


def axis_angle_to_matrix(aa: torch.Tensor) -> torch.Tensor:
    """(..., 3) axis-angle -> (..., 3, 3), via quaternions as the official code does."""
    return quaternion_to_matrix(axis_angle_to_quaternion(aa))


def _positive_sqrt(x: torch.Tensor) -> torch.Tensor:
    """sqrt(max(0, x)) whose gradient is zero where x <= 0."""
    out = torch.zeros_like(x)
    pos = x > 0
    out[pos] = torch.sqrt(x[pos])
    return out


def matrix_to_quaternion(m: torch.Tensor) -> torch.Tensor:
    """(..., 3, 3) -> (..., 4) unit quaternion with a non-negative real part.

    Uses the best-conditioned of the four closed-form candidates (largest |component|) so
    rotations near pi stay accurate, then flips the sign so w >= 0.
    """
    batch = m.shape[:-2]
    m00, m01, m02, m10, m11, m12, m20, m21, m22 = torch.unbind(m.reshape(batch + (9,)), -1)
    q_abs = _positive_sqrt(
        torch.stack(
            [
                1.0 + m00 + m11 + m22,
                1.0 + m00 - m11 - m22,
                1.0 - m00 + m11 - m22,
                1.0 - m00 - m11 + m22,
            ],
            dim=-1,
        )
    )
    candidates = torch.stack(
        [
            torch.stack([q_abs[..., 0] ** 2, m21 - m12, m02 - m20, m10 - m01], dim=-1),
            torch.stack([m21 - m12, q_abs[..., 1] ** 2, m10 + m01, m02 + m20], dim=-1),
            torch.stack([m02 - m20, m10 + m01, q_abs[..., 2] ** 2, m12 + m21], dim=-1),
            torch.stack([m10 - m01, m20 + m02, m21 + m12, q_abs[..., 3] ** 2], dim=-1),
        ],
        dim=-2,
    )
    floor = torch.tensor(0.1, dtype=q_abs.dtype, device=q_abs.device)
    candidates = candidates / (2.0 * q_abs[..., None].max(floor))
    best = q_abs.argmax(dim=-1)
    q = torch.gather(candidates, -2, best[..., None, None].expand(batch + (1, 4))).squeeze(-2)
    return torch.where(q[..., :1] < 0, -q, q)


def matrix_to_quaternion_reference(m: torch.Tensor) -> torch.Tensor:
    """(..., 3, 3) -> (..., 4) the way the official RAG-Gesture code converts (w >= 0).

    Each component's magnitude comes from the diagonal and its sign from the off-diagonal
    difference. It is less accurate than `matrix_to_quaternion` (errors ~1e-4 rad from the
    square root of rounding noise) but it is what produced the released outputs, so decoding
    uses it to stay bit-compatible with the reference.
    """
    m00, m11, m22 = m[..., 0, 0], m[..., 1, 1], m[..., 2, 2]
    w = 0.5 * _positive_sqrt(1 + m00 + m11 + m22)
    x = 0.5 * _positive_sqrt(1 + m00 - m11 - m22)
    y = 0.5 * _positive_sqrt(1 - m00 + m11 - m22)
    z = 0.5 * _positive_sqrt(1 - m00 - m11 + m22)

    def signed(mag: torch.Tensor, sign_of: torch.Tensor) -> torch.Tensor:
        return torch.where(sign_of < 0, -mag, mag)

    return torch.stack((w, signed(x, m[..., 2, 1] - m[..., 1, 2]),
                        signed(y, m[..., 0, 2] - m[..., 2, 0]),
                        signed(z, m[..., 1, 0] - m[..., 0, 1])), -1)


def quaternion_to_axis_angle(q: torch.Tensor) -> torch.Tensor:
    """(..., 4) quaternion (w first) -> (..., 3) axis-angle."""
    norms = torch.norm(q[..., 1:], p=2, dim=-1, keepdim=True)
    half = torch.atan2(norms, q[..., :1])
    angle = 2 * half
    return q[..., 1:] / _sinc_half(angle)


def matrix_to_axis_angle(m: torch.Tensor, reference: bool = False) -> torch.Tensor:
    """(..., 3, 3) -> (..., 3) axis-angle with angle in [0, pi].

    `reference=True` reproduces the official conversion operation for operation (see
    `matrix_to_quaternion_reference`); the default is the accurate one.
    """
    to_q = matrix_to_quaternion_reference if reference else matrix_to_quaternion
    return quaternion_to_axis_angle(to_q(m))


def matrix_to_6d(m: torch.Tensor) -> torch.Tensor:
    """(..., 3, 3) -> (..., 6): the first two rows, flattened (r11 r12 r13 r21 r22 r23)."""
    return m[..., :2, :].reshape(m.shape[:-2] + (6,))


def rotation_6d_to_matrix(d6: torch.Tensor) -> torch.Tensor:
    """(..., 6) -> (..., 3, 3) by Gram-Schmidt; the result's rows are b1, b2, b1 x b2."""
    a1, a2 = d6[..., :3], d6[..., 3:]
    b1 = F.normalize(a1, dim=-1)
    b2 = a2 - (b1 * a2).sum(-1, keepdim=True) * b1
    b2 = F.normalize(b2, dim=-1)
    b3 = torch.cross(b1, b2, dim=-1)
    return torch.stack((b1, b2, b3), dim=-2)


def axis_angle_to_6d(aa: torch.Tensor) -> torch.Tensor:
    """(..., 3) -> (..., 6)."""
    return matrix_to_6d(axis_angle_to_matrix(aa))


def rotation_6d_to_axis_angle(d6: torch.Tensor, reference: bool = False) -> torch.Tensor:
    """(..., 6) -> (..., 3); see `matrix_to_axis_angle` for `reference`."""
    return matrix_to_axis_angle(rotation_6d_to_matrix(d6), reference)


def quaternion_hemisphere_continuous(q: torch.Tensor, dim: int = 0) -> torch.Tensor:
    """Flip signs along `dim` (time) so consecutive quaternions have a non-negative dot.

    q and -q are the same rotation; keyframe interpolation needs the shorter arc.
    """
    q = q.movedim(dim, 0).clone()
    for t in range(1, q.shape[0]):
        flip = (q[t] * q[t - 1]).sum(-1, keepdim=True) < 0
        q[t] = torch.where(flip, -q[t], q[t])
    return q.movedim(0, dim)


def quaternion_slerp(q0: torch.Tensor, q1: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    """Spherical interpolation between unit quaternions; w broadcasts against (..., 1)."""
    dot = (q0 * q1).sum(-1, keepdim=True)
    q1 = torch.where(dot < 0, -q1, q1)
    dot = dot.abs().clamp(max=1.0)
    theta = torch.acos(dot)
    sin_t = torch.sin(theta)
    near = sin_t < 1e-6
    safe = torch.where(near, torch.ones_like(sin_t), sin_t)
    a = torch.where(near, 1 - w, torch.sin((1 - w) * theta) / safe)
    b = torch.where(near, w, torch.sin(w * theta) / safe)
    out = a * q0 + b * q1
    return out / out.norm(dim=-1, keepdim=True)
