"""Takes: each generation is new actions on the armature, named '<audio> take N'.

Writing is all or nothing, so a failed take leaves the armature (and its face) with the
actions they had before.
"""

from __future__ import annotations

from typing import Any

import bpy

from . import compat, keys, rig


def next_take_number(prefix: str) -> int:
    """1 + the highest N of existing actions named '<prefix> take N'."""
    best = 0
    head = f"{prefix} take "
    for action in bpy.data.actions:
        if action.name.startswith(head):
            tail = action.name[len(head):].split(".")[0]
            if tail.isdigit():
                best = max(best, int(tail))
    return best + 1


def write_takes(obj_name: str, motions: list[dict], scene_fps: float, start_frame: int,
                audio_name: str, lay: keys.Layout | None = None) -> list[str]:
    """Every take as a new action on the armature; the first take ends up assigned.

    All or nothing: if one take fails, the actions made so far (and their face actions) are
    removed and the armature's and face's previous actions are put back.
    """
    obj = bpy.data.objects.get(obj_name)
    if obj is None:
        raise RuntimeError(f"the armature '{obj_name}' was deleted or renamed")
    before = obj.animation_data.action if obj.animation_data else None
    mesh = rig.expression_mesh(obj)
    face = mesh.data.shape_keys if mesh is not None else None
    face_before = face.animation_data.action if face and face.animation_data else None
    first = next_take_number(audio_name)
    lay = lay or keys.layout(obj)
    made: list[Any] = []
    try:
        for i, m in enumerate(motions):
            made.append(keys.write_motion(
                obj, m["poses"], m["trans"], m.get("expressions"), src_fps=m["fps"],
                scene_fps=scene_fps, start_frame=start_frame,
                action_name=f"{audio_name} take {first + i}", lay=lay))
        keys.use_take(obj, made[0].name)
    except Exception:
        compat.assign_action(obj, before)
        if face is not None:
            compat.assign_action(face, face_before)
        for action in made:
            key_action = action.get(keys.EXPRESSION_ACTION_PROP)
            if key_action is not None:
                bpy.data.actions.remove(key_action)
            bpy.data.actions.remove(action)
        raise
    return [a.name for a in made]


def replace_motion_range(obj_name: str, motion: dict, scene_fps: float, start_frame: int,
                         lo: int, hi: int, lay: keys.Layout | None = None) -> None:
    """Rewrite the keys in timeline frames [lo, hi) of the active take."""
    obj = bpy.data.objects.get(obj_name)
    if obj is None:
        raise RuntimeError(f"the armature '{obj_name}' was deleted or renamed")
    keys.replace_range(obj, motion["poses"], motion["trans"], motion.get("expressions"),
                       motion["fps"], scene_fps, start_frame, lo, hi, lay=lay)
