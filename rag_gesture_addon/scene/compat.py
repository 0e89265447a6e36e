"""The only module that knows Blender versions (4.2 LTS .. 5.3).

Everything version-specific the add-on needs goes through here, so the rest of the code reads
the same on every supported Blender:

* **VSE** (renamed in 4.4): ``SequenceEditor.sequences`` -> ``strips``; 5.0 removed the old
  names. ``new_effect`` takes ``frame_end, seq1, seq2`` (4.2), ``frame_end, input1, input2``
  (4.4/4.5) or ``length, input1, input2`` (5.0).
* **Actions** (slotted in 4.4): 4.2 only has the legacy ``action.fcurves``; 4.4/4.5 have slots,
  layers and channelbags (``action.fcurves`` is a proxy for the first slot); 5.0 removed
  ``action.fcurves``/``groups``/``id_root`` and added
  ``bpy_extras.anim_utils.action_ensure_channelbag_for_slot`` and ``fcurves.new(group_name=)``.
  Blender 4.4+ picks a slot on assignment only by heuristics, so the slot is always set
  explicitly here.
* **Strip timing** (renamed after 5.0; 5.3 warns on the old names "expected to be removed
  in Blender 6.0"): ``frame_start`` -> ``content_start``, ``frame_final_start``/``_end`` ->
  ``left_handle``/``right_handle``, ``frame_offset_start`` -> ``left_handle_offset``.
  ``sound_offset`` (the sound shifted inside its strip) exists from 4.5 on.
* **Audio**: the PyPI ``bpy`` 4.2 wheel is built without Audaspace; `has_audio` says so.

Callers deal in plain "containers": whatever object has ``.fcurves.new()`` for one animated
datablock (the legacy action in 4.2, a channelbag in 4.4+), and create F-curves through
`new_fcurve` so groups are handled per version too.
"""

from __future__ import annotations

from typing import Any

import bpy

VERSION: tuple[int, ...] = tuple(bpy.app.version)
SLOTTED_ACTIONS: bool = VERSION >= (4, 4, 0)  # Action.slots / layers / channelbags
LEGACY_ACTION_API: bool = VERSION < (5, 0, 0)  # Action.fcurves still exists
STRIPS_API: bool = VERSION >= (4, 4, 0)  # SequenceEditor.strips (Sequence* -> Strip*)
# The SequenceEditor collection of every strip, by name (for UILayout.prop_search).
STRIPS_ALL_PROP: str = "strips_all" if STRIPS_API else "sequences_all"
EFFECT_LENGTH_ARG: bool = VERSION >= (5, 0, 0)  # new_effect(..., length=) instead of frame_end
# Strip.content_start / left_handle / right_handle / left_handle_offset (not in 5.0, in 5.3).
# Read from the RNA rather than a version number: the old names still work there, only warn.
_STRIP_TYPE = getattr(bpy.types, "Strip", None) or getattr(bpy.types, "Sequence", None)
HANDLE_NAMES: bool = _STRIP_TYPE is not None and "left_handle" in _STRIP_TYPE.bl_rna.properties


# ------------------------------------------------------------------------------ sequencer
def has_audio() -> bool:
    """True when this Blender can create sound strips (the PyPI 4.2 wheel cannot)."""
    return bool(getattr(bpy.app.build_options, "audaspace", True))


def strip_collection(se: Any) -> Any:
    """The top-level strip collection of a SequenceEditor (``strips`` or ``sequences``)."""
    return se.strips if STRIPS_API else se.sequences


def strips(scene: Any) -> Any:
    """Top-level strips of the scene's sequencer, or an empty tuple without a sequencer."""
    se = scene.sequence_editor
    return () if se is None else strip_collection(se)


def strips_all(scene: Any) -> Any:
    """All strips, including those inside meta strips, or an empty tuple without a sequencer."""
    se = scene.sequence_editor
    if se is None:
        return ()
    return getattr(se, STRIPS_ALL_PROP)


def content_start(strip: Any) -> float:
    """Timeline frame where the strip's content (the sound's first sample) begins, before any
    trimming by the handles."""
    return float(strip.content_start if HANDLE_NAMES else strip.frame_start)


def strip_left(strip: Any) -> int:
    """First frame the strip shows (its left handle)."""
    return strip.left_handle if HANDLE_NAMES else strip.frame_final_start


def strip_right(strip: Any) -> int:
    """First frame after the strip (its right handle; exclusive)."""
    return strip.right_handle if HANDLE_NAMES else strip.frame_final_end


def set_left_handle_offset(strip: Any, frames: int) -> None:
    """Trim `frames` off the strip's start (the content stays where it is)."""
    if HANDLE_NAMES:
        strip.left_handle_offset = frames
    else:
        strip.frame_offset_start = frames


def sound_offset(strip: Any) -> float:
    """Seconds the sound is shifted inside its strip (4.5+), else 0."""
    return float(getattr(strip, "sound_offset", 0.0) or 0.0)


def new_text_strip(
    se: Any, name: str, text: str, channel: int, frame_start: int, length: int
) -> Any:
    """Add a text strip covering [frame_start, frame_start + length) and set its text."""
    coll = strip_collection(se)
    if EFFECT_LENGTH_ARG:
        strip = coll.new_effect(
            name=name, type="TEXT", channel=channel, frame_start=frame_start, length=length
        )
    else:
        strip = coll.new_effect(
            name=name,
            type="TEXT",
            channel=channel,
            frame_start=frame_start,
            frame_end=frame_start + length,
        )
    strip.text = text
    return strip


def new_sound_strip(se: Any, name: str, filepath: str, channel: int, frame_start: int) -> Any:
    """Add a sound strip; raises RuntimeError with a clear sentence when audio is missing."""
    if not has_audio():
        raise RuntimeError(
            "This Blender build has no audio support (Audaspace), so sound strips cannot be "
            "created; the PyPI bpy 4.2 wheel is built that way."
        )
    return strip_collection(se).new_sound(name, filepath, channel, frame_start)


# -------------------------------------------------------------------------------- actions
def id_type_of(id_data: Any) -> str:
    """RNA id type of a datablock ('OBJECT', 'KEY', ...), as slots and id_root spell it."""
    return id_data.id_type


def find_slot(action: Any, id_data: Any, id_type: str | None = None) -> Any:
    """The slot of `action` that animates `id_data`, or None (always None before 4.4).

    Preference: the slot assigned on the datablock itself, then one of the right id type
    named like the datablock, then the first one of the right id type.
    """
    if not SLOTTED_ACTIONS:
        return None
    id_type = id_type or id_type_of(id_data)
    ad = getattr(id_data, "animation_data", None)
    if ad is not None and ad.action == action and ad.action_slot is not None:
        return ad.action_slot
    candidates = [s for s in action.slots if s.target_id_type in (id_type, "UNSPECIFIED")]
    for slot in candidates:
        if slot.name_display == id_data.name:
            return slot
    return candidates[0] if candidates else None


def ensure_slot(action: Any, id_data: Any, id_type: str | None = None) -> Any:
    """`find_slot`, creating a slot named like the datablock when there is none (4.4+)."""
    if not SLOTTED_ACTIONS:
        return None
    id_type = id_type or id_type_of(id_data)
    slot = find_slot(action, id_data, id_type)
    if slot is None:
        slot = action.slots.new(id_type=id_type, name=id_data.name)
    return slot


def fcurve_container(action: Any, id_data: Any, id_type: str | None = None) -> Any:
    """The object whose ``.fcurves`` holds the F-curves of `action` for `id_data`, created
    if needed: the action itself in 4.2, the slot's channelbag in 4.4+."""
    id_type = id_type or id_type_of(id_data)
    if not SLOTTED_ACTIONS:
        # Set, never compared: reading a fresh action's id_root makes 4.2 print a warning.
        action.id_root = id_type  # so the action can be assigned to this kind of ID
        return action
    slot = ensure_slot(action, id_data, id_type)
    if not LEGACY_ACTION_API:
        from bpy_extras.anim_utils import action_ensure_channelbag_for_slot

        return action_ensure_channelbag_for_slot(action, slot)
    layer = action.layers[0] if len(action.layers) else action.layers.new("Layer")
    strip = layer.strips[0] if len(layer.strips) else layer.strips.new(type="KEYFRAME")
    return strip.channelbag(slot, ensure=True)


def existing_container(action: Any, id_data: Any, id_type: str | None = None) -> Any:
    """Like `fcurve_container` but never creates anything; None when there are no curves."""
    if not SLOTTED_ACTIONS:
        return action
    slot = find_slot(action, id_data, id_type)
    if slot is None:
        return None
    from bpy_extras.anim_utils import action_get_channelbag_for_slot

    return action_get_channelbag_for_slot(action, slot)


def new_fcurve(container: Any, data_path: str, index: int, group_name: str) -> Any:
    """Create an F-curve in `container` (see `fcurve_container`) inside group `group_name`."""
    if not SLOTTED_ACTIONS:
        return container.fcurves.new(data_path, index=index, action_group=group_name)
    if not LEGACY_ACTION_API:
        return container.fcurves.new(data_path, index=index, group_name=group_name)
    fc = container.fcurves.new(data_path, index=index)  # 4.4/4.5: no group_name argument
    group = next((g for g in container.groups if g.name == group_name), None)
    fc.group = group if group is not None else container.groups.new(group_name)
    return fc


def find_fcurve(container: Any, data_path: str, index: int) -> Any:
    """The F-curve for (data_path, index) in `container`, or None."""
    return container.fcurves.find(data_path, index=index)


def assign_action(id_data: Any, action: Any) -> Any:
    """Make `action` the active action of `id_data` (None clears it); returns the slot.

    On 4.4+ the slot for this datablock is created if needed and assigned explicitly:
    Blender's automatic choice can leave no slot, and then nothing animates.
    """
    ad = id_data.animation_data_create()
    if action is None:
        ad.action = None
        return None
    if not SLOTTED_ACTIONS:
        action.id_root = id_type_of(id_data)
        ad.action = action
        return None
    slot = ensure_slot(action, id_data)
    ad.action = action
    if ad.action_slot != slot:
        ad.action_slot = slot
    return slot


STASH_TRACK = "[Action Stash]"  # Blender's own name for stash tracks (BKE_nla_action_stash)


def stash_tracks(id_data: Any) -> list[Any]:
    """The NLA stash tracks of `id_data` (named like Blender's: "[Action Stash]", ".001")."""
    ad = getattr(id_data, "animation_data", None)
    if ad is None:
        return []
    return [t for t in ad.nla_tracks if t.name.startswith(STASH_TRACK)]


def stashed_actions(id_data: Any) -> list[Any]:
    """The actions in the stash tracks of `id_data`, oldest first, each once."""
    out: list[Any] = []
    for track in stash_tracks(id_data):
        for strip in track.strips:
            if strip.action is not None and strip.action not in out:
                out.append(strip.action)
    return out


def stash_action(id_data: Any, action: Any) -> Any:
    """Keep `action` in a new muted NLA track, as Blender's Action Editor does when it
    switches away from an action nothing else uses; returns the track.

    The track goes right above the last stash track (Blender's place); the first one goes on
    top of the stack, since the Python API cannot insert below the other tracks. Muted, so it
    never plays; the strip holds a user, so the action survives saving. On 4.4+ the strip
    gets the action's slot for `id_data` explicitly.
    """
    ad = id_data.animation_data_create()
    earlier = stash_tracks(id_data)
    track = ad.nla_tracks.new(prev=earlier[-1]) if earlier else ad.nla_tracks.new()
    track.name = STASH_TRACK
    start = int(action.frame_range[0])
    strip = track.strips.new(action.name, start, action)
    strip.use_sync_length = True  # Blender sets NLASTRIP_FLAG_SYNC_LENGTH on stashed strips
    if SLOTTED_ACTIONS:
        slot = find_slot(action, id_data)
        if slot is not None and strip.action_slot != slot:
            strip.action_slot = slot
    track.mute = True
    return track


def remove_track(id_data: Any, track: Any) -> None:
    """Remove an NLA track of `id_data` (undoing `stash_action`)."""
    id_data.animation_data.nla_tracks.remove(track)


def assigned_slot(id_data: Any) -> Any:
    """The action slot assigned on `id_data` (None before 4.4 or when nothing is assigned)."""
    ad = getattr(id_data, "animation_data", None)
    if not SLOTTED_ACTIONS or ad is None:
        return None
    return ad.action_slot


def action_fcurves(action: Any, id_data: Any) -> list[Any]:
    """The F-curves of `action` that animate `id_data` (for reading); [] when there are none."""
    if action is None:
        return []
    container = existing_container(action, id_data)
    return [] if container is None else list(container.fcurves)
