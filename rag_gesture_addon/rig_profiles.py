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

from . import bone_maps
from .bone_maps import BoneMap
from .retarget import Retargeter, TargetRig
from .rig import missing_bones, rest_frame_error

BONE_TABLE_PROP = "rag_gesture_bones"  # Object CollectionProperty registered in `props`
NATIVE_TOLERANCE = 1e-4  # rest-frame deviation below which an SMPL-X-named rig is native


@dataclass(frozen=True)
class RigProfile:
    """How motion goes onto one armature: ``retargeter`` is None for the native layout."""

    kind: str  # "native" | "retarget"
    source: str  # "SMPL-X armature", "table", or the detected preset's name
    retargeter: Retargeter | None = None

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
    from .skeleton_data import JOINT_NAMES

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


def target_rig(obj: Any) -> TargetRig:
    """The rest pose, hierarchy, object transform and rotation modes `retarget` needs."""
    bones = list(obj.data.bones)
    index = {b.name: i for i, b in enumerate(bones)}
    rest = np.array([[list(row) for row in b.matrix_local] for b in bones], dtype=np.float64)
    pose_bones = obj.pose.bones
    return TargetRig(
        bones=tuple(b.name for b in bones),
        parents=tuple(index[b.parent.name] if b.parent is not None else -1 for b in bones),
        rest_rot=rest[:, :3, :3].copy(),
        rest_head=rest[:, :3, 3].copy(),
        world=np.array([list(row) for row in obj.matrix_world], dtype=np.float64),
        modes=tuple(pose_bones[b.name].rotation_mode for b in bones),
    )


def profile(obj: Any) -> RigProfile:
    """The layout for `obj`; ValueError (one sentence, what to do) when it cannot take motion."""
    if obj is None or getattr(obj, "type", None) != "ARMATURE":
        raise ValueError(f"'{getattr(obj, 'name', obj)}' is not an armature.")
    if not table_mapping(obj) and is_native(obj):
        return RigProfile("native", "SMPL-X armature")
    bone_map, source = resolve(obj)
    problem = bone_map.problem()
    if problem:
        raise ValueError(f"'{obj.name}': {problem}")
    return RigProfile("retarget", source, Retargeter(bone_map, target_rig(obj)))
