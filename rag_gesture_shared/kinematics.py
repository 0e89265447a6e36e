"""Forward kinematics of the SMPL-X joint chain in numpy (rest joints in, world joints out).

SMPL-X's own rigid chain (``batch_rigid_transform``) without the mesh: the backend uses it
on the default rest skeleton for foot contacts, the add-on for retargeting and for checking
what it wrote.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from .rest_skeleton import DEFAULT_REST_JOINTS
from .rotations import as_poses, axis_angle_to_matrix
from .skeleton import PARENTS


def kinematic_chain(
    poses: npt.ArrayLike,
    trans: npt.ArrayLike,
    rest_joints: npt.ArrayLike = DEFAULT_REST_JOINTS,
    parents: tuple[int, ...] = PARENTS,
) -> tuple[np.ndarray, np.ndarray]:
    """Global rotations (N, J, 3, 3) and joint positions (N, J, 3) of SMPL-X's rigid chain.

    Global rotation = parent's global rotation @ local rotation; a joint sits at its parent's
    position plus the parent's global rotation applied to the rest offset; the root is the
    rest pelvis moved by `trans`. float64 throughout (long chains to the fingertips add no
    error), SMPL-X frame, metres.
    """
    pose = as_poses(poses)
    n = pose.shape[0]
    shift = np.asarray(trans, dtype=np.float64)
    if shift.shape != (n, 3):
        raise ValueError(f"trans must be ({n}, 3) to match poses, got {shift.shape}.")
    rest = np.asarray(rest_joints, dtype=np.float64)
    if rest.shape != (len(parents), 3):
        raise ValueError(f"rest_joints must be ({len(parents)}, 3), got {rest.shape}.")
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
    poses: npt.ArrayLike,
    trans: npt.ArrayLike,
    rest_joints: npt.ArrayLike = DEFAULT_REST_JOINTS,
    parents: tuple[int, ...] = PARENTS,
) -> np.ndarray:
    """(N, 55, 3) axis-angle + (N, 3) trans -> (N, 55, 3) joint positions (SMPL-X frame)."""
    return kinematic_chain(poses, trans, rest_joints, parents)[1]
