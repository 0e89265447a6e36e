"""SMPL-X motion <-> the keys of an animator's own rig (Mixamo, Rigify, Unreal, custom).

numpy only; the bpy side (reading a rig into a `TargetRig`, writing F-curves) is in `keys`
and `rig_profiles`. World space is Blender's (Z up); the SMPL-X armature of `rig` shows the same
motion with every bone's local frame equal to the SMPL-X frame, turned Z-up by ``C =
YUP_TO_ZUP``.

How a pose is transferred, per mapped joint j and its target bone b:

1. SMPL-X world rotation change from the SMPL-X rest (T-pose): ``D_j = C G_j C^T``, where
   ``G_j`` is the joint's global rotation (product of the local rotations down the chain).
2. Rest alignment ``A_j``: the shortest rotation taking the target's rest vector from b to the
   bone of j's next mapped joint along the limb (shoulder -> elbow, wrist -> middle1, ...)
   onto the SMPL-X rest vector between the same joints. It is the identity for a T-posed
   target and lifts the arms of an A-posed one; leaves take their parent's.
3. Posed world rotation of b: ``P_b = S_j D_j A_j W_b`` with ``W_b`` the bone's world rest
   rotation (its rest orientation and roll), so b turns by exactly the world-space change of
   j. ``S_j`` only differs from the identity when SMPL-X joints between j and its next mapped
   joint are missing from the rig (folded joints, e.g. spine2 on a two-bone spine): it swings
   b so that it still points where the SMPL-X chain ends up.
4. Local key: ``X_b = R_b^T R_a P_a^T P_b`` with a the nearest mapped ancestor of b in the
   *target* hierarchy (``R`` = armature-space rest rotations), or ``R_b^T O^T P_b`` for a
   bone without one (``O`` = the armature object's rotation). Bones between them that are not
   mapped are assumed to stay at rest (they are never keyed).
5. Root translation: the hips bone moves by ``s * C @ trans`` in world space, ``s`` = target
   hip height / SMPL-X hip height (pelvis above the ankles), written as the bone's location.

`Retargeter.from_rig` inverts this (steps 4 -> 1) for Regenerate range: mapped joints get the
rig's rotations, SMPL-X joints the rig lacks read as the identity, so the context the model
continues from is what the animator sees.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..shared.kinematics import kinematic_chain
from ..shared.rest_skeleton import DEFAULT_REST_JOINTS
from ..shared.rotations import as_poses, quaternion_to_axis_angle
from ..shared.skeleton import JOINT_NAMES, NUM_JOINTS, PARENTS
from .axes import YUP_TO_ZUP
from .bone_maps import BoneMap
from .rotation_modes import (
    ROTATION_MODES,
    channel_count,
    channel_path,
    channels_to_matrices,
    matrices_to_channels,
    matrix_to_quaternion,
    rotation_between,
)

C = np.asarray(YUP_TO_ZUP)
_J = {name: i for i, name in enumerate(JOINT_NAMES)}

# The child that continues each SMPL-X joint's limb: its rest direction defines the bone's
# direction for the rest alignment (joints with several children pick the limb's main one).
PRIMARY_CHILD: dict[str, str] = {
    "pelvis": "spine1", "spine1": "spine2", "spine2": "spine3", "spine3": "neck",
    "neck": "head",
    **{f"{s}_{a}": f"{s}_{b}" for s in ("left", "right") for a, b in (
        ("collar", "shoulder"), ("shoulder", "elbow"), ("elbow", "wrist"), ("wrist", "middle1"),
        ("hip", "knee"), ("knee", "ankle"), ("ankle", "foot"))},
    **{f"{s}_{f}{k}": f"{s}_{f}{k + 1}" for s in ("left", "right")
       for f in ("index", "middle", "pinky", "ring", "thumb") for k in (1, 2)},
}  # fmt: skip


@dataclass(frozen=True)
class TargetRig:
    """What the transfer needs to know about an armature (read from bpy by `rig_profiles`).

    bones: every bone name; parents: index of each bone's parent (-1 for roots); rest_rot:
    (B, 3, 3) and rest_head: (B, 3), armature-space ``bone.matrix_local``; world: (4, 4) the
    object's ``matrix_world``; modes: each pose bone's ``rotation_mode``. follows: for rigs
    whose controls are wired through constraints (Rigify), the mapped bone whose rotation each
    mapped bone really inherits (-1: none), found by probing Blender's evaluation
    (`rig_profiles.target_rig`); rest_rot / rest_head are then the evaluated rest pose. None:
    the parent hierarchy decides.
    """

    bones: tuple[str, ...]
    parents: tuple[int, ...]
    rest_rot: np.ndarray
    rest_head: np.ndarray
    world: np.ndarray
    modes: tuple[str, ...]
    follows: dict[int, int] | None = None

    def index(self, bone: str) -> int:
        return self.bones.index(bone)


@dataclass(frozen=True)
class Channel:
    """One F-curve of a retargeted take: data path, array index, group (the bone's name)."""

    path: str
    index: int
    group: str


def _object_rotation(world: np.ndarray) -> np.ndarray:
    """Nearest rotation to the object's 3x3 part (drops scale, e.g. FBX imports at 0.01)."""
    u, _, vt = np.linalg.svd(np.asarray(world, dtype=np.float64)[:3, :3])
    r = u @ vt
    if np.linalg.det(r) < 0:
        u[:, -1] *= -1
        r = u @ vt
    return r


class Retargeter:
    """Transfers SMPL-X motion onto one rig through one bone map, and back.

    Raises ValueError with `BoneMap.problem()` when the map misses core joints, and when a
    mapped bone is not in the rig or has an unknown rotation mode.
    """

    def __init__(self, bone_map: BoneMap, rig: TargetRig,
                 smplx_rest: np.ndarray | None = None):
        problem = bone_map.problem()
        if problem:
            raise ValueError(problem)
        self.rig = rig
        self.bone_map = bone_map
        rest = np.asarray(DEFAULT_REST_JOINTS if smplx_rest is None else smplx_rest, float)
        self.smplx_rest = rest
        self.joints: list[int] = [_J[j] for j in bone_map.mapped]
        missing = [b for b in bone_map.mapped.values() if b not in rig.bones]
        if missing:
            raise ValueError(f"bones not in the armature: {', '.join(missing)}")
        self.bone_of: dict[int, int] = {_J[j]: rig.index(b) for j, b in bone_map.mapped.items()}
        for b in self.bone_of.values():
            if rig.modes[b] not in ROTATION_MODES:
                raise ValueError(f"bone '{rig.bones[b]}' has an unknown rotation mode "
                                 f"{rig.modes[b]!r}")
        self.obj_rot = _object_rotation(rig.world)
        self.obj_lin = np.asarray(rig.world, float)[:3, :3]
        rest_world_rot = self.obj_rot @ np.asarray(rig.rest_rot, float)
        heads = np.asarray(rig.rest_head, float) @ self.obj_lin.T + np.asarray(rig.world)[:3, 3]
        self.world_rest_rot = rest_world_rot  # (B, 3, 3)
        self.world_heads = heads  # (B, 3)

        self.reference: dict[int, int | None] = {j: self._reference(j) for j in self.joints}
        self.align: dict[int, np.ndarray] = {}
        for j in self.joints:  # SMPL-X order: parents first, so leaves can inherit
            d = self.reference[j]
            if d is not None:
                u_t = heads[self.bone_of[d]] - heads[self.bone_of[j]]
                u_s = C @ (rest[d] - rest[j])
                self.align[j] = rotation_between(u_t, u_s)
            else:
                anc = self._mapped_ancestor(j)
                self.align[j] = self.align[anc] if anc is not None else np.eye(3)
        # bones in target-hierarchy order, each with its nearest mapped target ancestor
        mapped_bones = set(self.bone_of.values())
        self.joint_of_bone: dict[int, int] = {b: j for j, b in self.bone_of.items()}
        self.order: list[tuple[int, int, int | None]] = []  # (joint, bone, ancestor bone)
        if rig.follows is not None:  # probed: always an SMPL-X ancestor's bone, joint order
            for j in self.joints:
                a = rig.follows.get(self.bone_of[j], -1)
                self.order.append((j, self.bone_of[j], a if a >= 0 else None))
        else:
            for b in sorted(mapped_bones, key=self._depth):
                a = rig.parents[b]
                while a >= 0 and a not in mapped_bones:
                    a = rig.parents[a]
                self.order.append((self.joint_of_bone[b], b, a if a >= 0 else None))
        self.root_bone = self.bone_of[0]
        self.scale = self._hip_scale()
        # (joint, rows in `channels`, rotation mode) of every mapped bone, in channel order
        self.groups: list[tuple[int, slice, str]] = []
        row = 0
        for j in self.joints:
            mode = rig.modes[self.bone_of[j]]
            self.groups.append((j, slice(row, row + channel_count(mode)), mode))
            row += channel_count(mode)

    # ------------------------------------------------------------------ construction helpers
    def _depth(self, b: int) -> int:
        depth = 0
        while self.rig.parents[b] >= 0:
            b = self.rig.parents[b]
            depth += 1
        return depth

    def _mapped_ancestor(self, j: int) -> int | None:
        p = PARENTS[j]
        while p >= 0 and p not in self.bone_of:
            p = PARENTS[p]
        return p if p >= 0 else None

    def _reference(self, j: int) -> int | None:
        """Next mapped joint along j's limb (PRIMARY_CHILD chain), None at a leaf."""
        name = JOINT_NAMES[j]
        while name in PRIMARY_CHILD:
            name = PRIMARY_CHILD[name]
            if _J[name] in self.bone_of:
                return _J[name]
        return None

    def _hip_scale(self) -> float:
        """Target hip height over SMPL-X hip height (pelvis above the mean of the ankles)."""
        ankles = [_J["left_ankle"], _J["right_ankle"]]
        smplx = self.smplx_rest[0, 1] - np.mean(self.smplx_rest[ankles, 1])
        target = self.world_heads[self.root_bone, 2] - np.mean(
            [self.world_heads[self.bone_of[a], 2] for a in ankles])
        if smplx <= 1e-6 or target <= 1e-6:
            raise ValueError("cannot scale the root motion: the rig's hips are not above its "
                             "ankles in the rest pose (is the armature lying down?)")
        return float(target / smplx)

    # ---------------------------------------------------------------------------- channels
    def channels(self) -> list[Channel]:
        """F-curves a take writes: each mapped bone's rotation (its own mode), then the root
        bone's location."""
        out = []
        for j, rows, mode in self.groups:
            name = self.rig.bones[self.bone_of[j]]
            out += [Channel(channel_path(name, mode), i, name)
                    for i in range(rows.stop - rows.start)]
        root = self.rig.bones[self.root_bone]
        out += [Channel(f'pose.bones["{root}"].location', i, root) for i in range(3)]
        return out

    # ---------------------------------------------------------------------------- transfer
    def world_rotations(self, poses: np.ndarray, trans: np.ndarray) -> dict[int, np.ndarray]:
        """Posed world rotation of every mapped bone: joint -> (N, 3, 3) (step 3)."""
        rot, pos = kinematic_chain(poses, trans, self.smplx_rest)
        out = {}
        for j in self.joints:
            b = self.bone_of[j]
            d_world = C @ rot[:, j] @ C.T
            p = d_world @ self.align[j] @ self.world_rest_rot[b]
            d = self.reference[j]
            if d is not None and PARENTS[d] != j:  # folded joints in between: swing onto chain
                rest_vec = d_world @ (C @ (self.smplx_rest[d] - self.smplx_rest[j]))
                posed_vec = (pos[:, d] - pos[:, j]) @ C.T
                p = rotation_between(rest_vec, posed_vec) @ p
            out[j] = p
        return out

    def to_rig(self, poses: np.ndarray, trans: np.ndarray) -> np.ndarray:
        """(N, 55, 3) axis-angle + (N, 3) trans -> (C, N) values in `channels` order."""
        pose = as_poses(poses)
        tr = np.asarray(trans, dtype=np.float64).reshape(pose.shape[0], 3)
        world = self.world_rotations(pose, tr)
        rest = np.asarray(self.rig.rest_rot, float)
        local: dict[int, np.ndarray] = {}
        for j, b, a in self.order:
            if a is None:
                local[j] = rest[b].T @ self.obj_rot.T @ world[j]
            else:
                parent = world[self.joint_of_bone[a]]
                local[j] = rest[b].T @ rest[a] @ np.swapaxes(parent, -1, -2) @ world[j]
        rows = [matrices_to_channels(local[j], mode).T for j, _, mode in self.groups]
        shift = self.scale * (tr @ C.T)  # world-space displacement of the hips
        loc = shift @ np.linalg.inv(self.obj_lin).T @ rest[self.root_bone]
        rows.append(loc.T)
        return np.concatenate(rows, axis=0)

    def from_rig(self, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(C, N) values in `channels` order -> (N, 55, 3) axis-angle and (N, 3) trans."""
        values = np.asarray(values, dtype=np.float64)
        n = values.shape[1]
        rest = np.asarray(self.rig.rest_rot, float)
        local = {j: channels_to_matrices(values[rows].T, mode) for j, rows, mode in self.groups}
        world: dict[int, np.ndarray] = {}
        for j, b, a in self.order:
            if a is None:
                world[j] = self.obj_rot @ rest[b] @ local[j]
            else:
                world[j] = world[self.joint_of_bone[a]] @ rest[a].T @ rest[b] @ local[j]
        glob = np.empty((n, NUM_JOINTS, 3, 3))
        for j in range(NUM_JOINTS):
            if j in self.bone_of:
                d = world[j] @ self.world_rest_rot[self.bone_of[j]].T @ self.align[j].T
                glob[:, j] = C.T @ d @ C
            else:
                glob[:, j] = glob[:, PARENTS[j]] if PARENTS[j] >= 0 else np.eye(3)
        loc_rot = np.empty_like(glob)
        loc_rot[:, 0] = glob[:, 0]
        par = np.array(PARENTS[1:])
        loc_rot[:, 1:] = np.swapaxes(glob[:, par], -1, -2) @ glob[:, 1:]
        poses = _matrix_to_axis_angle(loc_rot)
        loc = values[-3:].T
        shift = loc @ rest[self.root_bone].T @ self.obj_lin.T
        trans = (shift @ C) / self.scale
        return poses, trans


def _matrix_to_axis_angle(m: np.ndarray) -> np.ndarray:
    return quaternion_to_axis_angle(matrix_to_quaternion(m))

