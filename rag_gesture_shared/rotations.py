"""SMPL-X motion arrays for the add-on: .npz I/O, rotations, resampling, axis conventions.

numpy only (Blender ships numpy; the add-on never imports torch or bpy here), so everything in
this module is testable in any Python. Conventions:

* quaternions are (w, x, y, z), Hamilton product, the same order as Blender's
  ``rotation_quaternion``;
* axis-angle vectors are (x, y, z) * angle in radians, as in SMPL-X ``poses``;
* SMPL-X data is Y up, +Z forward, +X = the body's left; Blender is Z up, -Y forward. The
  change of frame is a +90 degree rotation about X: (x, y, z) -> (x, -z, y) (``YUP_TO_ZUP``);
* resampling places output frame k at time k / dst_fps (the first frames coincide) and never
  extrapolates past the last source frame, the same rule as ``backend.motion.resample``.
"""

from __future__ import annotations

import math
import os
import zipfile
from typing import Any

import numpy as np

from .skeleton_data import NUM_EXPRESSIONS, NUM_JOINTS, PARENTS

_TIME_EPS = 1e-9  # output times this close to a source frame snap onto it
_SMALL = 1e-8  # below this angle / vector norm, use series expansions

# Rotation taking SMPL-X (Y-up) coordinates to Blender (Z-up) coordinates: +90 deg about X.
YUP_TO_ZUP: np.ndarray = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, -1.0], [0.0, 1.0, 0.0]])
YUP_TO_ZUP.setflags(write=False)
# The same rotation as a quaternion (w, x, y, z): cos 45 deg, sin 45 deg about X.
YUP_TO_ZUP_QUAT: np.ndarray = np.array([math.sqrt(0.5), math.sqrt(0.5), 0.0, 0.0])
YUP_TO_ZUP_QUAT.setflags(write=False)


# ------------------------------------------------------------------------------- frames
def yup_to_zup(v: np.ndarray) -> np.ndarray:
    """(..., 3) SMPL-X (Y-up) points or vectors -> Blender (Z-up): (x, y, z) -> (x, -z, y)."""
    v = np.asarray(v, dtype=np.float64)
    return np.stack([v[..., 0], -v[..., 2], v[..., 1]], axis=-1)


def zup_to_yup(v: np.ndarray) -> np.ndarray:
    """Inverse of `yup_to_zup`: (x, y, z) -> (x, z, -y)."""
    v = np.asarray(v, dtype=np.float64)
    return np.stack([v[..., 0], v[..., 2], -v[..., 1]], axis=-1)


# ---------------------------------------------------------------------------- rotations
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


# ---------------------------------------------------------------------------- resampling
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
    """Axis-angle poses (slerp), trans and expressions (linear) resampled to dst_fps (float64).

    Mirrors ``backend.motion.resample.resample_motion`` without torch.
    """
    pose = as_poses(poses)
    if src_fps == dst_fps:
        exp = None if expressions is None else np.array(expressions, dtype=np.float64)
        return pose.copy(), np.array(trans, dtype=np.float64), exp
    q = resample_quaternions(axis_angle_to_quaternion(pose), src_fps, dst_fps)
    out_exp = None if expressions is None else resample_linear(expressions, src_fps, dst_fps)
    return quaternion_to_axis_angle(q), resample_linear(trans, src_fps, dst_fps), out_exp


# ----------------------------------------------------------------------------- kinematics
def kinematic_chain(
    poses: np.ndarray,
    trans: np.ndarray,
    rest_joints: np.ndarray,
    parents: tuple[int, ...] = PARENTS,
) -> tuple[np.ndarray, np.ndarray]:
    """Global rotations (N, J, 3, 3) and joint positions (N, J, 3) of SMPL-X's rigid chain.

    Global rotation = parent's global rotation @ local rotation; a joint sits at its parent's
    position plus the parent's global rotation applied to the rest offset; the root is the
    rest pelvis moved by `trans`. float64 throughout, SMPL-X frame.
    """
    pose = as_poses(poses)
    n = pose.shape[0]
    shift = np.asarray(trans, dtype=np.float64).reshape(n, 3)
    rest = np.asarray(rest_joints, dtype=np.float64)
    local = axis_angle_to_matrix(pose)
    rot = np.empty_like(local)
    pos = np.empty((n, len(parents), 3))
    rot[:, 0] = local[:, 0]
    pos[:, 0] = rest[0] + shift
    for j in range(1, len(parents)):
        p = parents[j]
        rot[:, j] = rot[:, p] @ local[:, j]
        pos[:, j] = pos[:, p] + rot[:, p] @ (rest[j] - rest[p])
    return rot, pos


def forward_kinematics(
    poses: np.ndarray,
    trans: np.ndarray,
    rest_joints: np.ndarray,
    parents: tuple[int, ...] = PARENTS,
) -> np.ndarray:
    """(N, 55, 3) axis-angle + (N, 3) trans -> (N, 55, 3) joint positions (SMPL-X frame)."""
    return kinematic_chain(poses, trans, rest_joints, parents)[1]


# ------------------------------------------------------------------------------ .npz I/O
_FPS_KEYS = ("mocap_frame_rate", "mocap_framerate")


def _text(value: np.ndarray, default: str) -> str:
    """0-d string/bytes array (how numpy stores Python strings in npz) -> str."""
    item = value.reshape(-1)[0] if value.size == 1 else default
    return item.decode("utf-8", "replace") if isinstance(item, bytes) else str(item)


def load_motion_npz(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a BEAT2/AMASS SMPL-X .npz (never unpickling) into plain arrays.

    Returns dict(poses (N, 55, 3), trans (N, 3), expressions (N, 100), fps, betas, model,
    gender). Missing expressions become zeros; fewer than 100 columns are zero-padded. Every
    problem raises ValueError with one sentence naming the file.
    """
    where = os.fspath(path)
    try:
        data = np.load(where, allow_pickle=False)
    except FileNotFoundError:
        raise ValueError(f"{where}: file not found.") from None
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        raise ValueError(f"{where}: not a readable .npz archive ({exc}).") from None
    if not isinstance(data, np.lib.npyio.NpzFile):
        raise ValueError(f"{where}: is a single .npy array, not an .npz archive.")
    with data:
        keys = set(data.files)
        for key in ("poses", "trans"):
            if key not in keys:
                raise ValueError(f"{where}: required array '{key}' is missing.")
        try:
            poses = as_poses(data["poses"])
        except ValueError as exc:
            raise ValueError(f"{where}: {exc}") from None
        n = poses.shape[0]
        if n == 0:
            raise ValueError(f"{where}: 'poses' has zero frames.")
        trans = np.asarray(data["trans"], dtype=np.float64)
        if trans.shape != (n, 3):
            raise ValueError(f"{where}: 'trans' must be ({n}, 3), got {trans.shape}.")
        fps_key = next((k for k in _FPS_KEYS if k in keys), None)
        if fps_key is None:
            raise ValueError(f"{where}: frame rate is missing ('mocap_frame_rate').")
        fps = float(np.asarray(data[fps_key]).reshape(-1)[0])
        if not (math.isfinite(fps) and fps > 0):
            raise ValueError(f"{where}: frame rate must be positive, got {fps}.")
        expressions = np.zeros((n, NUM_EXPRESSIONS))
        if "expressions" in keys:
            exp = np.asarray(data["expressions"], dtype=np.float64)
            if exp.ndim != 2 or exp.shape[0] != n:
                raise ValueError(f"{where}: 'expressions' must be ({n}, K), got {exp.shape}.")
            k = min(NUM_EXPRESSIONS, exp.shape[1])
            expressions[:, :k] = exp[:, :k]
        betas = np.asarray(data["betas"], dtype=np.float64).reshape(-1) if "betas" in keys else (
            np.zeros(0)
        )
        return {
            "poses": poses,
            "trans": trans,
            "expressions": expressions,
            "fps": fps,
            "betas": betas,
            "model": _text(data["model"], "smplx2020") if "model" in keys else "smplx2020",
            "gender": _text(data["gender"], "neutral") if "gender" in keys else "neutral",
        }


def save_motion_npz(
    path: str | os.PathLike[str],
    poses: np.ndarray,
    trans: np.ndarray,
    expressions: np.ndarray | None,
    fps: float,
    betas: np.ndarray | None = None,
    model: str = "smplx2020",
    gender: str = "neutral",
) -> None:
    """Write the BEAT2 layout (poses N x 165 float32, ...) to exactly `path`.

    An open file handle is used so numpy does not append '.npz' to other suffixes.
    """
    pose = as_poses(poses)
    n = pose.shape[0]
    exp = np.zeros((n, NUM_EXPRESSIONS)) if expressions is None else np.asarray(expressions)
    with open(path, "wb") as fh:
        np.savez(
            fh,
            betas=np.zeros(300, np.float32) if betas is None else np.asarray(betas, np.float32),
            poses=pose.reshape(n, 3 * NUM_JOINTS).astype(np.float32),
            expressions=exp.astype(np.float32),
            trans=np.asarray(trans, dtype=np.float32),
            model=np.array(model),
            gender=np.array(gender),
            mocap_frame_rate=np.array(fps, dtype=np.float64),
        )


# ---------------------------------------------------------------------- SMPL-X model file
def load_smplx_model(path: str | os.PathLike[str]) -> dict[str, np.ndarray | None]:
    """Read what the rig needs from a SMPL-X model .npz (never unpickling).

    Returns dict(joints (55, 3) = J_regressor @ v_template, vertices (V, 3), faces (F, 3) or
    None, weights (V, 55) or None, expression_dirs (V, 3, 100) or None), all in the SMPL-X
    frame. Expression directions are shapedirs[..., 300:400] for the 400-component files
    (SMPL-X 2020) and shapedirs[..., 10:20] zero-padded for the old 20-component ones.
    """
    where = os.fspath(path)
    try:
        data = np.load(where, allow_pickle=False)
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        raise ValueError(f"{where}: not a readable SMPL-X .npz model ({exc}).") from None
    if not isinstance(data, np.lib.npyio.NpzFile):
        raise ValueError(f"{where}: is a single .npy array, not a SMPL-X .npz model.")
    with data:
        keys = set(data.files)
        for key in ("v_template", "J_regressor"):
            if key not in keys:
                raise ValueError(f"{where}: '{key}' is missing; is this a SMPL-X model file?")
        verts = np.asarray(data["v_template"], dtype=np.float64)
        regressor = np.asarray(data["J_regressor"], dtype=np.float64)
        if verts.ndim != 2 or verts.shape[1] != 3:
            raise ValueError(f"{where}: 'v_template' must be (V, 3), got {verts.shape}.")
        if regressor.shape != (NUM_JOINTS, verts.shape[0]):
            raise ValueError(
                f"{where}: 'J_regressor' must be (55, {verts.shape[0]}) for SMPL-X, "
                f"got {regressor.shape}."
            )
        if "kintree_table" in keys:
            parents = np.asarray(data["kintree_table"]).astype(np.int64)[0].copy()
            parents[0] = -1  # files store 2**32 - 1 or -1 for the root
            if tuple(int(p) for p in parents) != PARENTS:
                raise ValueError(f"{where}: its kinematic tree is not the SMPL-X one.")
        faces = np.asarray(data["f"], dtype=np.int64) if "f" in keys else None
        weights = np.asarray(data["weights"], dtype=np.float64) if "weights" in keys else None
        if weights is not None and weights.shape != (verts.shape[0], NUM_JOINTS):
            weights = None
        exp_dirs = None
        if "shapedirs" in keys:
            sd = np.asarray(data["shapedirs"], dtype=np.float64)
            if sd.ndim == 3 and sd.shape[:2] == verts.shape:
                exp_dirs = np.zeros(verts.shape + (NUM_EXPRESSIONS,))
                if sd.shape[2] >= 300 + NUM_EXPRESSIONS:
                    exp_dirs[:] = sd[:, :, 300 : 300 + NUM_EXPRESSIONS]
                elif sd.shape[2] == 20:
                    exp_dirs[:, :, :10] = sd[:, :, 10:20]
        return {
            "joints": regressor @ verts,
            "vertices": verts,
            "faces": faces,
            "weights": weights,
            "expression_dirs": exp_dirs,
        }
