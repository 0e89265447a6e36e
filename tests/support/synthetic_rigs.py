"""Procedural stand-ins for animators' rigs, in numpy (the Blender tests build them with bpy).

A `RigSpec` is an armature described the way Blender stores it: bone names, parents, rest
heads and rest rotations in armature space (``bone.matrix_local``), lengths, the object's
``matrix_world`` and each pose bone's rotation mode. `build_rig` derives one from the SMPL-X
default skeleton with other names, proportions, rest pose (T or A), bone rolls, object
transform and extra unmapped bones; `pose_heads` evaluates a pose with Blender's rule
``pose(b) = pose(parent) @ rest(parent)^-1 @ rest(b) @ basis(b)``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from rag_gesture_shared.rest_skeleton import DEFAULT_REST_JOINTS
from rag_gesture_shared.skeleton import JOINT_NAMES, PARENTS

C = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, -1.0], [0.0, 1.0, 0.0]])  # SMPL-X Y-up -> Z-up

_ARM = ("shoulder", "elbow", "wrist", "index", "middle", "ring", "pinky", "thumb")
_LEG = ("hip", "knee", "ankle", "foot")


@dataclass
class RigSpec:
    bones: list[str]
    parents: list[int]
    heads: np.ndarray  # (B, 3) armature space
    rest_rot: np.ndarray  # (B, 3, 3) armature space
    lengths: np.ndarray  # (B,)
    world: np.ndarray  # (4, 4)
    modes: list[str]
    joint_of: dict[str, str] = field(default_factory=dict)  # bone -> SMPL-X joint

    def bone(self, joint: str) -> str:
        return next(b for b, j in self.joint_of.items() if j == joint)

    def rest_matrix(self, b: int) -> np.ndarray:
        m = np.eye(4)
        m[:3, :3] = self.rest_rot[b]
        m[:3, 3] = self.heads[b]
        return m


def rotation_about(axis: np.ndarray, angle: float) -> np.ndarray:
    axis = np.asarray(axis, float) / np.linalg.norm(axis)
    k = np.array([[0, -axis[2], axis[1]], [axis[2], 0, -axis[0]], [-axis[1], axis[0], 0]])
    return np.eye(3) + np.sin(angle) * k + (1 - np.cos(angle)) * k @ k


def _frame(direction: np.ndarray, roll: float) -> np.ndarray:
    """Rotation whose Y axis is `direction`, twisted by `roll` about it."""
    y = direction / np.linalg.norm(direction)
    helper = np.array([0.0, 0.0, 1.0]) if abs(y[2]) < 0.9 else np.array([1.0, 0.0, 0.0])
    x = np.cross(y, helper)
    x /= np.linalg.norm(x)
    z = np.cross(x, y)
    base = np.stack([x, y, z], axis=1)
    return rotation_about(y, roll) @ base


def _side(joint: str) -> float:
    return 1.0 if joint.startswith("left") else -1.0


def build_rig(
    names: dict[str, str],
    *,
    a_pose_deg: float = 0.0,
    scale: float = 1.0,
    leg_scale: float = 1.0,
    roll_seed: int | None = None,
    world: np.ndarray | None = None,
    root_bone: str | None = None,
    intermediate: str | None = None,
    extra_leaf: str | None = None,
    modes: dict[str, str] | None = None,
) -> RigSpec:
    """A rig with a bone ``names[j]`` for every SMPL-X joint j in `names`.

    a_pose_deg: arms lowered by this angle about the forward axis (0 = T-pose). scale /
    leg_scale: overall size and extra leg length. roll_seed: random bone rolls (None: roll 0).
    world: the object's matrix_world (armature space = its inverse applied to the world rig).
    root_bone: an unmapped root above the hips at the floor (as Unreal's ``root``).
    intermediate: an unmapped bone between the top spine bone and the neck, tilted forward.
    extra_leaf: an unmapped child of the right hand (a prop bone).
    modes: rotation mode per bone name (default QUATERNION).
    """
    rest = np.array(DEFAULT_REST_JOINTS, dtype=float) @ C.T * scale
    pelvis = rest[0].copy()
    for j, name in enumerate(JOINT_NAMES):
        if any(name.endswith(f"_{k}") for k in _LEG):
            rest[j, 2] = pelvis[2] + (rest[j, 2] - pelvis[2]) * leg_scale
    if a_pose_deg:
        for j, name in enumerate(JOINT_NAMES):
            if any(name.startswith(f"{s}_{k}") for s in ("left", "right") for k in _ARM):
                side = "left" if name.startswith("left") else "right"
                pivot = rest[JOINT_NAMES.index(f"{side}_shoulder")]
                r = rotation_about([0, 1, 0], _side(name) * np.radians(a_pose_deg))
                rest[j] = pivot + r @ (rest[j] - pivot)
    rng = np.random.default_rng(roll_seed)
    included = [j for j, name in enumerate(JOINT_NAMES) if name in names]
    bones, parents, heads, rots, lengths, joint_of = [], [], [], [], [], {}

    def add(name: str, parent: int, head: np.ndarray, direction: np.ndarray, length: float
            ) -> int:
        roll = 0.0 if roll_seed is None else float(rng.uniform(-np.pi, np.pi))
        bones.append(name)
        parents.append(parent)
        heads.append(head)
        rots.append(_frame(direction, roll))
        lengths.append(length)
        return len(bones) - 1

    index: dict[int, int] = {}
    top = -1
    if root_bone:
        top = add(root_bone, -1, np.array([pelvis[0], pelvis[1], rest[7, 2] - 0.08]),
                  np.array([0.0, 1.0, 0.0]), 0.2)
    for j in included:
        kids = [c for c in included if PARENTS[c] == j]
        if kids:
            direction = np.mean([rest[c] for c in kids], axis=0) - rest[j]
        else:
            anc = PARENTS[j]
            direction = rest[j] - rest[anc] if anc >= 0 else np.array([0.0, 0.0, 1.0])
        if np.linalg.norm(direction) < 1e-6:
            direction = np.array([0.0, 0.0, 1.0])
        anc = PARENTS[j]
        while anc >= 0 and anc not in index:
            anc = PARENTS[anc]
        parent = index[anc] if anc >= 0 else top
        if intermediate and JOINT_NAMES[j] == "neck" and parent >= 0:
            parent = add(intermediate, parent, 0.5 * (rest[j] + heads[parent]),
                         np.array([0.0, -0.6, 1.0]), 0.05)
        index[j] = add(names[JOINT_NAMES[j]], parent, rest[j], direction,
                       max(0.3 * float(np.linalg.norm(direction)), 0.01))
        joint_of[names[JOINT_NAMES[j]]] = JOINT_NAMES[j]
    if extra_leaf:
        hand = index[JOINT_NAMES.index("right_wrist")]
        add(extra_leaf, hand, heads[hand] + [-0.05, 0.0, -0.05], np.array([-1.0, 0, 0]), 0.1)

    w = np.eye(4) if world is None else np.asarray(world, float)
    inv = np.linalg.inv(w)
    lin = inv[:3, :3]
    heads_arm = np.array(heads) @ lin.T + inv[:3, 3]
    rot_w = _orthonormal(lin)
    rest_rot = np.array([rot_w @ r for r in rots])
    scale_arm = float(np.cbrt(abs(np.linalg.det(lin))))
    modes = modes or {}
    return RigSpec(bones, parents, heads_arm, rest_rot, np.array(lengths) * scale_arm, w,
                   [modes.get(b, "QUATERNION") for b in bones], joint_of)


def _orthonormal(m: np.ndarray) -> np.ndarray:
    u, _, vt = np.linalg.svd(m)
    return u @ vt


def mixamo_world() -> np.ndarray:
    """matrix_world of a Mixamo FBX import: +90 deg about X, scale 0.01 (centimetres)."""
    w = np.eye(4)
    w[:3, :3] = rotation_about([1, 0, 0], np.pi / 2) * 0.01
    return w


def pose_heads(spec: RigSpec, basis_rot: dict[str, np.ndarray], basis_loc: dict[str, np.ndarray],
               n: int) -> np.ndarray:
    """(n, B, 3) world positions of every bone head for per-bone basis rotations (n, 3, 3)
    and locations (n, 3); bones not given stay at rest."""
    pose = np.empty((n, len(spec.bones), 4, 4))
    for b, name in enumerate(spec.bones):
        basis = np.tile(np.eye(4), (n, 1, 1))
        if name in basis_rot:
            basis[:, :3, :3] = basis_rot[name]
        if name in basis_loc:
            basis[:, :3, 3] = basis_loc[name]
        rest_b = spec.rest_matrix(b)
        p = spec.parents[b]
        if p < 0:
            pose[:, b] = rest_b @ basis
        else:
            rel = np.linalg.inv(spec.rest_matrix(p)) @ rest_b
            pose[:, b] = pose[:, p] @ rel @ basis
    world = spec.world @ pose
    return world[:, :, :3, 3]
