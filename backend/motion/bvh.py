"""BVH export of SMPL-X motion: the 55-joint skeleton, any frame rate, one file per take.

The SMPL-X rest pose has every joint frame aligned with the world (the model's pose vector
holds each joint's rotation relative to its parent in that common frame), which is exactly
BVH's convention: a joint is an OFFSET from its parent and a local rotation, with no rest
orientation. So each BVH joint's rotation is the SMPL-X axis-angle as Euler angles, the
offsets come from the project's default skeleton (`rag_gesture_shared.rest_skeleton`, metres, Y up,
facing +Z), and the root carries `trans`. Units are centimetres by default (the usual BVH
unit in motion-capture tools; Blender: import with Scale 0.01).

Channel order ZXY (R = Rz Rx Ry), the common mocap order; per frame the Euler solution
closest to the previous frame is chosen and angles are unwrapped, so curves do not jump by
360 degrees. Pure numpy: no torch, no bpy.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np

from rag_gesture_shared.rest_skeleton import DEFAULT_REST_JOINTS
from rag_gesture_shared.skeleton import JOINT_NAMES, NUM_JOINTS, PARENTS

ORDER = ("Z", "X", "Y")


def axis_angle_to_matrix(aa: np.ndarray) -> np.ndarray:
    """(..., 3) axis-angle -> (..., 3, 3) rotation matrices (Rodrigues, float64)."""
    aa = np.asarray(aa, np.float64)
    angle = np.linalg.norm(aa, axis=-1, keepdims=True)
    axis = np.divide(aa, angle, out=np.zeros_like(aa), where=angle > 1e-12)
    x, y, z = axis[..., 0], axis[..., 1], axis[..., 2]
    c, s = np.cos(angle[..., 0]), np.sin(angle[..., 0])
    t = 1.0 - c
    return np.stack([
        np.stack([c + x * x * t, x * y * t - z * s, x * z * t + y * s], -1),
        np.stack([y * x * t + z * s, c + y * y * t, y * z * t - x * s], -1),
        np.stack([z * x * t - y * s, z * y * t + x * s, c + z * z * t], -1),
    ], -2)


def matrix_to_euler_zxy(m: np.ndarray) -> np.ndarray:
    """(N, J, 3, 3) -> (N, J, 3) radians (z, x, y) with R = Rz(z) Rx(x) Ry(y), continuous in N.

    Both Euler solutions are computed for every frame; each frame takes the one nearer to
    the previous frame (after unwrapping by whole turns).
    """
    x = np.arcsin(np.clip(m[..., 2, 1], -1.0, 1.0))
    cx = np.cos(x)
    gimbal = np.abs(cx) < 1e-6
    z = np.where(gimbal, np.arctan2(m[..., 1, 0], m[..., 0, 0]),
                 np.arctan2(-m[..., 0, 1], m[..., 1, 1]))
    y = np.where(gimbal, 0.0, np.arctan2(-m[..., 2, 0], m[..., 2, 2]))
    first = np.stack([z, x, y], -1)
    second = np.stack([z + np.pi, np.pi - x, y + np.pi], -1)
    out = np.empty_like(first)
    prev = None
    turn = 2 * np.pi
    for n in range(first.shape[0]):
        cands = []
        for sol in (first[n], second[n]):
            if prev is not None:
                sol = sol - turn * np.round((sol - prev) / turn)
            cands.append(sol)
        if prev is None:
            pick = cands[0]
        else:
            d0 = np.abs(cands[0] - prev).sum(-1, keepdims=True)
            d1 = np.abs(cands[1] - prev).sum(-1, keepdims=True)
            pick = np.where(d1 < d0, cands[1], cands[0])
        out[n] = prev = pick
    return out


def _children(parents: Sequence[int]) -> list[list[int]]:
    kids: list[list[int]] = [[] for _ in parents]
    for j, p in enumerate(parents):
        if p >= 0:
            kids[p].append(j)
    return kids


def bvh_text(poses: np.ndarray, trans: np.ndarray, fps: float,
             rest_joints: np.ndarray | None = None, scale: float = 100.0) -> str:
    """The whole BVH file for (N, 55, 3) axis-angle poses and (N, 3) trans (metres).

    `rest_joints`: (55, 3) joint positions of the skeleton (default: the project's own);
    `scale`: output units per metre (100 = centimetres).
    """
    poses = np.asarray(poses, np.float64).reshape(-1, NUM_JOINTS, 3)
    trans = np.asarray(trans, np.float64).reshape(-1, 3)
    if poses.shape[0] != trans.shape[0] or poses.shape[0] == 0:
        raise ValueError(f"poses ({poses.shape[0]} frames) and trans ({trans.shape[0]}) must "
                         "have the same, non-zero number of frames")
    if not fps > 0:
        raise ValueError(f"fps must be positive, got {fps}")
    rest = np.asarray(DEFAULT_REST_JOINTS if rest_joints is None else rest_joints, np.float64)
    kids = _children(PARENTS)
    lines = ["HIERARCHY"]
    order: list[int] = []
    rot = " ".join(f"{a}rotation" for a in ORDER)

    def emit(j: int, depth: int) -> None:
        pad = "\t" * depth
        p = PARENTS[j]
        off = (rest[j] - rest[p]) * scale if p >= 0 else np.zeros(3)
        lines.append(f"{pad}{'ROOT' if p < 0 else 'JOINT'} {JOINT_NAMES[j]}")
        lines.append(f"{pad}{{")
        lines.append(f"{pad}\tOFFSET {off[0]:.6f} {off[1]:.6f} {off[2]:.6f}")
        lines.append(f"{pad}\tCHANNELS 6 Xposition Yposition Zposition {rot}" if p < 0
                     else f"{pad}\tCHANNELS 3 {rot}")
        order.append(j)
        for k in kids[j]:
            emit(k, depth + 1)
        if not kids[j]:  # a leaf: the end site continues the bone by half its length
            end = (rest[j] - rest[p]) * 0.5 * scale
            lines.extend([f"{pad}\tEnd Site", f"{pad}\t{{",
                          f"{pad}\t\tOFFSET {end[0]:.6f} {end[1]:.6f} {end[2]:.6f}",
                          f"{pad}\t}}"])
        lines.append(f"{pad}}}")

    emit(0, 0)
    euler = np.degrees(matrix_to_euler_zxy(axis_angle_to_matrix(poses[:, order])))
    root = (rest[0] + trans) * scale
    values = np.concatenate([root, euler.reshape(len(euler), -1)], axis=1)
    lines += ["MOTION", f"Frames: {len(values)}", f"Frame Time: {1.0 / fps:.12g}"]
    row = " ".join(["%.6f"] * values.shape[1])
    lines += [row % tuple(v) for v in values.tolist()]
    return "\n".join(lines) + "\n"


def write_bvh(path: str | os.PathLike[str], poses: np.ndarray, trans: np.ndarray, fps: float,
              rest_joints: np.ndarray | None = None, scale: float = 100.0) -> None:
    """Write `bvh_text` to `path` atomically."""
    from rag_gesture_shared.atomic_file import write_text

    write_text(path, bvh_text(poses, trans, fps, rest_joints, scale))
