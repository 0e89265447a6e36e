"""Takes: each generation is new actions on the armature, named '<audio> take N'.

Writing is all or nothing, so a failed take leaves the armature (and its face) with the
actions they had before. The animator's own action that a take replaces is stashed in the
NLA (`keys.keep_previous`), as Blender's Action Editor does.

A job's result arrives many modal calls after the operator read the scene, so the writers
take `IdRef`s, not datablocks: Python references to IDs may dangle after an undo step or a
deletion, and a name can change; the session uid survives renames and undo.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import bpy

from . import compat, keys, rig


@dataclass(frozen=True)
class IdRef:
    """A datablock found again later: its name when it was read and its session uid."""

    name: str
    uid: int

    @classmethod
    def of(cls, id_data: Any) -> IdRef:
        return cls(id_data.name, int(id_data.session_uid))

    def find(self, collection: Any) -> Any:
        """The datablock in `collection` (e.g. ``bpy.data.actions``), or None when deleted."""
        found = collection.get(self.name)
        if found is not None and found.session_uid == self.uid:
            return found
        return next((d for d in collection if d.session_uid == self.uid), None)


def find_armature(target: str | IdRef) -> Any:
    """The armature object a writer was given (a name or an `IdRef`); RuntimeError when it
    is gone."""
    ref = target if isinstance(target, IdRef) else None
    obj = ref.find(bpy.data.objects) if ref else bpy.data.objects.get(target)
    if obj is None:
        how = "was deleted while its motion was being made" if ref else "was deleted or renamed"
        raise RuntimeError(f"the armature '{ref.name if ref else target}' {how}")
    return obj


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


def write_takes(target: str | IdRef, motions: list[dict], scene_fps: float, start_frame: int,
                audio_name: str, lay: keys.Layout | None = None) -> list[str]:
    """Every take as a new action on the armature `target`; the first take ends up assigned.

    All or nothing: if one take fails, the actions made so far (and their face actions) are
    removed, the armature's and face's previous actions are put back and the stash tracks
    made for them are removed again.
    """
    obj = find_armature(target)
    before = obj.animation_data.action if obj.animation_data else None
    mesh = rig.expression_mesh(obj)
    face = mesh.data.shape_keys if mesh is not None else None
    face_before = face.animation_data.action if face and face.animation_data else None
    owners = [obj] + ([face] if face is not None else [])
    tracks_before = {id(o): {t.name for t in compat.stash_tracks(o)} for o in owners}
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
        for owner in owners:
            for track in compat.stash_tracks(owner):
                if track.name not in tracks_before[id(owner)]:
                    compat.remove_track(owner, track)
        for action in made:
            key_action = action.get(keys.EXPRESSION_ACTION_PROP)
            if key_action is not None:
                bpy.data.actions.remove(key_action)
            bpy.data.actions.remove(action)
        raise
    return [a.name for a in made]


def replace_motion_range(target: str | IdRef, motion: dict, scene_fps: float,
                         start_frame: int, lo: int, hi: int, lay: keys.Layout | None = None,
                         take: IdRef | None = None, locks: tuple[str, ...] = ()
                         ) -> tuple[str, bool]:
    """Rewrite the keys in timeline frames [lo, hi) of `take` (default: the active take),
    leaving the locked parts' F-curves untouched; returns the take's name and whether it
    is the active one (the animator may have switched takes meanwhile)."""
    obj = find_armature(target)
    action = None
    if take is not None:
        action = take.find(bpy.data.actions)
        if action is None:
            raise RuntimeError(f"the take '{take.name}' was deleted while it was being "
                               "regenerated")
    action = keys.replace_range(obj, motion["poses"], motion["trans"], motion.get("expressions"),
                                motion["fps"], scene_fps, start_frame, lo, hi, lay=lay,
                                action=action, locks=locks)
    return action.name, obj.animation_data.action == action
