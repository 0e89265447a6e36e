"""Which motion layout an armature gets: the native SMPL-X one, or a retarget through a bone map.

* **Native**: an armature made by Create SMPL-X Armature (all 55 SMPL-X bones whose rest frames
  are the SMPL-X frame, see `rig`): SMPL-X rotations are keyed unchanged, plus the face.
* **Retargeted**: any other armature. Its bone map is the per-bone table the animator filled in
  the panel (``Object.rag_gesture_bones``: items ``joint``, ``bone``) when it is not empty,
  otherwise the preset detected from the bone names (`bone_maps.detect_preset`). The transfer
  itself is `retarget.Retargeter`.

`profile(obj)` returns a `RigProfile` or raises ValueError with one sentence that says what
is missing and how to fix it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..core import bone_maps
from ..core.bone_maps import BoneMap
from ..core.retarget import Retargeter, TargetRig
from ..shared.skeleton import JOINT_NAMES, PARENTS
from . import compat
from .rig import missing_bones, rest_frame_error

BONE_TABLE_PROP = "rag_gesture_bones"  # Object CollectionProperty registered in `props`
NATIVE_TOLERANCE = 1e-4  # rest-frame deviation below which an SMPL-X-named rig is native
FOLLOW_TOLERANCE = 1e-4  # probe: a bone "follows" another when their rotations move alike

# Custom properties that switch a rig's controls into plain forward kinematics, by preset:
# Rigify limbs in FK (IK_FK 1) that inherit the torso's rotation (FK_limb_follow 1), neck and
# head following the chest (neck_follow / head_follow 1). A retargeted take keys them once, so
# the take plays back in FK whatever the rig was set to; other takes are not affected.
RIG_SWITCHES: dict[str, dict[str, float]] = {
    "rigify": {"IK_FK": 1.0, "FK_limb_follow": 1.0, "neck_follow": 1.0, "head_follow": 1.0},
}


@dataclass(frozen=True)
class RigProfile:
    """How motion goes onto one armature: ``retargeter`` is None for the native layout."""

    kind: str  # "native" | "retarget"
    source: str  # "SMPL-X armature", "table", or the detected preset's name
    retargeter: Retargeter | None = None
    switches: tuple[tuple[str, str, float], ...] = ()  # (bone, property, value) keyed per take

    @property
    def bone_map(self) -> BoneMap | None:
        return None if self.retargeter is None else self.retargeter.bone_map


def is_native(obj: Any) -> bool:
    """All 55 SMPL-X bones, each with the SMPL-X rest frame (an armature made by `rig`)."""
    return not missing_bones(obj) and rest_frame_error(obj) < NATIVE_TOLERANCE


def table_mapping(obj: Any) -> dict[str, str]:
    """The animator's per-bone table of `obj` (joint -> bone, rows with a bone only)."""
    rows = getattr(obj, BONE_TABLE_PROP, None)
    if rows is None:
        return {}
    return {row.joint: row.bone for row in rows if row.joint and row.bone}


def set_table(obj: Any, mapping: dict[str, Any]) -> None:
    """Replace the table with `mapping` (one row per SMPL-X joint, in SMPL-X order)."""
    rows = getattr(obj, BONE_TABLE_PROP)
    rows.clear()
    for joint in JOINT_NAMES:
        row = rows.add()
        row.joint = joint
        value = mapping.get(joint, "")
        row.bone = value if isinstance(value, str) else (value[0] if value else "")


def resolve(obj: Any) -> tuple[BoneMap, str]:
    """The bone map in force for `obj` and where it came from ("table" or a preset name).

    Raises ValueError when the names match no preset well enough and there is no table."""
    names = [b.name for b in obj.data.bones]
    table = table_mapping(obj)
    if table:
        return bone_maps.resolve_map(table, names), "table"
    preset, fraction = bone_maps.detect_preset(names)
    if preset is None:
        raise ValueError(
            f"The armature '{obj.name}' matches no bone-map preset (best: {fraction:.0%} of "
            "the core bones): fill in its bone table in the Gesture panel's Rig section.")
    return bone_maps.resolve_map(preset, names), preset


def switches(obj: Any) -> tuple[tuple[str, str, float], ...]:
    """(pose bone, property, value) of every `RIG_SWITCHES` property the rig carries."""
    wanted: dict[str, float] = {}
    for table in RIG_SWITCHES.values():
        wanted.update(table)
    out = []
    for pb in obj.pose.bones:
        for prop, value in wanted.items():
            if prop in pb.keys() and isinstance(pb[prop], int | float):
                out.append((pb.name, prop, float(value)))
    return tuple(out)


def switch_path(bone: str, prop: str) -> str:
    """Data path of a pose bone's custom property (what a take keys)."""
    return f'pose.bones["{bone}"]["{prop}"]'


def _rotation(m: Any) -> np.ndarray:
    return np.array([list(row) for row in m.to_3x3()], dtype=np.float64)


def _probe(obj: Any, bone_map: BoneMap) -> tuple[np.ndarray, np.ndarray, dict[int, int]]:
    """Evaluated rest pose (rotations, heads) of every bone and who each mapped bone follows.

    The rig is evaluated with its action detached, every pose bone at identity and the
    `switches` applied; then each mapped bone's SMPL-X ancestors' bones are turned one at a
    time (nearest first) until one turns it by the same rotation: that is the bone it
    inherits from through parents *and* constraints. Everything is put back afterwards.
    """
    import bpy
    from mathutils import Matrix, Quaternion

    bones = list(obj.data.bones)
    index = {b.name: i for i, b in enumerate(bones)}
    pose = obj.pose.bones
    ad = obj.animation_data
    action = ad.action if ad is not None else None
    saved_basis = {pb.name: pb.matrix_basis.copy() for pb in pose}
    sw = switches(obj)
    saved_props = {(name, prop): pose[name][prop] for name, prop, _ in sw}
    test = Quaternion((0.9, 0.3, -0.25, 0.2)).normalized().to_matrix().to_4x4()
    layer = getattr(bpy.context, "view_layer", None)

    def update() -> None:
        if layer is not None:
            layer.update()

    try:
        if action is not None:
            compat.assign_action(obj, None)
        for pb in pose:
            pb.matrix_basis = Matrix.Identity(4)
        for name, prop, value in sw:
            pose[name][prop] = value
        update()
        rest = [np.array([list(r) for r in pose[b.name].matrix]) for b in bones]
        rot = np.array([m[:3, :3] for m in rest])
        heads = np.array([m[:3, 3] for m in rest])
        follows: dict[int, int] = {}
        for joint, bone in bone_map.mapped.items():
            b = index[bone]
            anc = PARENTS[JOINT_NAMES.index(joint)]
            follows[b] = -1
            while anc >= 0:
                a_bone = bone_map.mapped.get(JOINT_NAMES[anc])
                if a_bone is not None:
                    pose[a_bone].matrix_basis = test
                    update()
                    da = _rotation(pose[a_bone].matrix) @ rot[index[a_bone]].T
                    db = _rotation(pose[bone].matrix) @ rot[b].T
                    pose[a_bone].matrix_basis = Matrix.Identity(4)
                    if np.abs(da - db).max() < FOLLOW_TOLERANCE:
                        follows[b] = index[a_bone]
                        break
                anc = PARENTS[anc]
        return rot, heads, follows
    finally:
        for name, basis in saved_basis.items():
            pose[name].matrix_basis = basis
        for (name, key), value in saved_props.items():
            pose[name][key] = value
        if action is not None:
            compat.assign_action(obj, action)
        update()


def target_rig(obj: Any, bone_map: BoneMap | None = None) -> TargetRig:
    """The rest pose, hierarchy, object transform and rotation modes `retarget` needs.

    With a bone map, the rest pose is Blender's evaluation and ``follows`` comes from probing
    (`_probe`), so rigs wired through constraints transfer correctly; without one, the bones'
    own rest matrices and parents."""
    bones = list(obj.data.bones)
    index = {b.name: i for i, b in enumerate(bones)}
    pose_bones = obj.pose.bones
    if bone_map is not None:
        rot, heads, follows = _probe(obj, bone_map)
    else:
        rest = np.array([[list(row) for row in b.matrix_local] for b in bones], dtype=np.float64)
        rot, heads, follows = rest[:, :3, :3].copy(), rest[:, :3, 3].copy(), None
    return TargetRig(
        bones=tuple(b.name for b in bones),
        parents=tuple(index[b.parent.name] if b.parent is not None else -1 for b in bones),
        rest_rot=rot,
        rest_head=heads,
        world=np.array([list(row) for row in obj.matrix_world], dtype=np.float64),
        modes=tuple(pose_bones[b.name].rotation_mode for b in bones),
        follows=follows,
    )


def check_mode(obj: Any) -> None:
    """ValueError when `obj` is in Edit Mode: its bones then live in edit bones that the
    armature data does not have yet, and Blender does not evaluate the pose, so neither the
    rest pose nor the probe (`_probe`) can be read correctly."""
    if getattr(obj, "mode", "OBJECT") == "EDIT":
        raise ValueError(f"The armature '{obj.name}' is in Edit Mode: leave Edit Mode (Tab) "
                         "and try again.")


def summary(obj: Any) -> tuple[str, str, BoneMap | None]:
    """(kind, source, bone map) of `profile` without probing or touching the rig, so panels
    can call it while drawing; ValueError as `profile`."""
    if obj is None or getattr(obj, "type", None) != "ARMATURE":
        raise ValueError(f"'{getattr(obj, 'name', obj)}' is not an armature.")
    check_mode(obj)
    if not table_mapping(obj) and is_native(obj):
        return "native", "SMPL-X armature", None
    bone_map, source = resolve(obj)
    problem = bone_map.problem()
    if problem:
        raise ValueError(f"'{obj.name}': {problem}")
    return "retarget", source, bone_map


def profile(obj: Any) -> RigProfile:
    """The layout for `obj`; ValueError (one sentence, what to do) when it cannot take motion.

    Retargeted rigs are probed (`_probe`): the rig is briefly re-posed and evaluated, so call
    this from operators, never while drawing (use `summary` there)."""
    kind, source, bone_map = summary(obj)
    if bone_map is None:
        return RigProfile(kind, source)
    return RigProfile(kind, source, Retargeter(bone_map, target_rig(obj, bone_map)),
                      switches(obj))
