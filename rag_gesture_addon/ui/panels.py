"""The "Gesture" tab of the 3D viewport's sidebar, and the progress in the status bar."""

from __future__ import annotations

from typing import Any

import bpy

from ..core import bone_maps
from ..scene import compat, keys, requests, rig_profiles, timeline
from ..shared.skeleton import JOINT_NAMES
from ..worker import client, jobs
from .bone_table_ops import active_armature
from .labels import LEVEL_ICONS, SIDEBAR_WIDTH, wrapped_label

CATEGORY = "Gesture"


def _job_box(layout: bpy.types.UILayout, context: bpy.types.Context) -> None:
    status = context.window_manager.rag_gesture
    if status.running:
        row = layout.row(align=True)
        row.progress(factor=status.fraction, type="BAR",
                     text=f"{status.kind}: {status.stage} {100 * status.fraction:.0f}%")
        row.operator("rag_gesture.cancel", text="", icon="CANCEL")
    elif status.message:
        # a job that succeeded with warnings: its own line as a success, each warning below
        level = "INFO" if status.notes else status.level
        wrapped_label(layout, status.message, LEVEL_ICONS.get(level, "INFO"),
                      alert=level == "ERROR")
        for note in status.notes.splitlines():
            wrapped_label(layout, note, LEVEL_ICONS["WARNING"])


class _GesturePanel:
    bl_space_type = "VIEW_3D"
    bl_region_type = "UI"
    bl_category = CATEGORY


class RAG_GESTURE_PT_main(_GesturePanel, bpy.types.Panel):
    bl_label = "RAG-Gesture"
    bl_idname = "RAG_GESTURE_PT_main"

    def draw(self, context: bpy.types.Context) -> None:
        layout = self.layout
        settings = context.scene.rag_gesture
        col = layout.column(align=True)
        col.prop(settings, "armature")
        arm = active_armature(context)
        if settings.armature is None:
            col.label(text=f"Using the active object: {arm.name}" if arm else
                      "Select an armature, or:", icon="INFO")
        col.operator("rag_gesture.create_armature", icon="ARMATURE_DATA")
        if arm is not None:  # whether the rig was recognised, in view (the Rig panel is closed)
            _rig_status(layout, arm)

        layout.separator()
        row = layout.row(align=True)
        row.scale_y = 1.4
        row.operator("rag_gesture.generate", icon="PLAY")
        _job_box(layout, context)
        wrapped_label(layout, "Worker: " + client.worker_status(), "CONSOLE")
        device_warning(layout)


def device_warning(layout: bpy.types.UILayout, width: int = SIDEBAR_WIDTH) -> None:
    """The backend's sentence when it runs on the CPU instead of the GPU asked for."""
    note = client.device_warning()
    if note:
        wrapped_label(layout, note, LEVEL_ICONS["WARNING"], width)


class RAG_GESTURE_UL_bones(bpy.types.UIList):
    """Rows of an armature's bone table: the SMPL-X joint, then a search field for its bone."""

    def draw_item(self, context: bpy.types.Context, layout: bpy.types.UILayout, data: Any,
                  item: Any, icon: int, active_data: Any, active_propname: str,
                  index: int = 0, flt_flag: int = 0) -> None:
        # data is the armature object: its bones are the choices of the search field
        if not item.bone:
            icon_name = "BLANK1"  # empty: the joint's rotation folds into its parent
        elif data.data.bones.get(item.bone) is None:
            icon_name = "ERROR"
        else:
            icon_name = "BONE_DATA"
        if self.layout_type == "GRID":
            layout.label(text=item.joint, icon=icon_name)
            return
        split = layout.split(factor=0.42, align=True)
        split.label(text=item.joint, icon=icon_name)
        split.prop_search(item, "bone", data.data, "bones", text="")

    def filter_items(self, context: bpy.types.Context, data: Any,
                     propname: str) -> tuple[list[int], list[int]]:
        """Filter by joint name (the rows have no ``name``, the default filter's key)."""
        rows = getattr(data, propname)
        flags = bpy.types.UI_UL_list.filter_items_by_name(
            self.filter_name, self.bitflag_filter_item, rows, "joint", reverse=False)
        return flags, []


def _rig_status(layout: bpy.types.UILayout, arm: bpy.types.Object) -> None:
    """What `rig_profiles.summary` makes of the armature, or why it cannot take motion."""
    col = layout.column(align=True)
    try:
        kind, source, bone_map = rig_profiles.summary(arm)
    except ValueError as exc:
        wrapped_label(col, jobs.sentence(str(exc)), LEVEL_ICONS["ERROR"], alert=True)
        return
    if kind == "native":
        col.label(text="Native SMPL-X armature: keyed as is", icon="CHECKMARK")
        return
    if source == "table":
        col.label(text="Retargeted via its bone table", icon="CHECKMARK")
    else:
        label = bone_maps.PRESET_LABELS.get(source, source)
        col.label(text=f"Retargeted via {label}", icon="CHECKMARK")
    mapped = len(bone_map.mapped) if bone_map is not None else 0
    col.label(text=f"{mapped} of {len(JOINT_NAMES)} joints have a bone", icon="BLANK1")


class RAG_GESTURE_PT_rig(_GesturePanel, bpy.types.Panel):
    """The armature's per-bone table (SMPL-X joint -> bone); whether the rig was recognised
    shows in the main panel."""

    bl_label = "Rig"
    bl_parent_id = "RAG_GESTURE_PT_main"
    bl_options = {"DEFAULT_CLOSED"}

    def draw(self, context: bpy.types.Context) -> None:
        layout = self.layout
        arm = active_armature(context)
        if arm is None:
            layout.label(text="Select an armature to see its bone map.", icon="INFO")
            return

        row = layout.row(align=True)
        row.operator_menu_enum("rag_gesture.bone_table_fill", "preset",
                               text="Fill from Preset", icon="PRESET")
        row.operator("rag_gesture.bone_table_clear", text="", icon="X")
        if len(arm.rag_gesture_bones) == 0:
            wrapped_label(layout, "Empty table: the preset is detected from the bone names. "
                          "Fill it to fix or extend the mapping.", "INFO")
            return
        layout.template_list("RAG_GESTURE_UL_bones", "", arm, "rag_gesture_bones",
                             arm, "rag_gesture_bones_index", rows=8)
        layout.operator("rag_gesture.bone_table_save", icon="FILE_TICK")


class RAG_GESTURE_PT_dialogue(_GesturePanel, bpy.types.Panel):
    bl_label = "Dialogue"
    bl_parent_id = "RAG_GESTURE_PT_main"

    def draw(self, context: bpy.types.Context) -> None:
        layout = self.layout
        scene = context.scene
        settings = scene.rag_gesture
        layout.prop(settings, "audio_source")
        if settings.audio_source == "NAMED_STRIP":
            if scene.sequence_editor is not None:
                layout.prop_search(settings, "audio_strip", scene.sequence_editor,
                                   compat.STRIPS_ALL_PROP, text="Strip")
            else:
                layout.prop(settings, "audio_strip")
        elif settings.audio_source == "FILE":
            layout.prop(settings, "audio_file", text="")
            layout.prop(settings, "audio_file_frame")
        if settings.audio_source != "FILE":
            name = settings.audio_strip if settings.audio_source == "NAMED_STRIP" else None
            try:
                strip = timeline.find_sound_strip(scene, name)
            except timeline.TimelineError as exc:
                wrapped_label(layout, str(exc), LEVEL_ICONS["ERROR"], alert=True)
            else:
                layout.label(text=f"{strip.name}: frames {compat.strip_left(strip)}-"
                             f"{compat.strip_right(strip)}", icon="SOUND")

        layout.separator()
        layout.prop(settings, "transcript_source")
        src = settings.transcript_source
        if src == "TEXT_STRIPS":
            layout.prop(settings, "transcript_channel")
        elif src == "TEXT_BLOCK":
            layout.prop(settings, "transcript_text")
        elif src == "FILE":
            layout.prop(settings, "transcript_file", text="")
        layout.prop(settings, "allow_mismatch")


class RAG_GESTURE_PT_style(_GesturePanel, bpy.types.Panel):
    bl_label = "Style and Takes"
    bl_parent_id = "RAG_GESTURE_PT_main"

    def draw(self, context: bpy.types.Context) -> None:
        layout = self.layout
        settings = context.scene.rag_gesture
        col = layout.column(align=True)
        col.prop(settings, "speaker")
        col.prop(settings, "seed")
        col.prop(settings, "takes")
        col.prop(settings, "steps")
        col = layout.column(align=True)
        col.prop(settings, "retrieval")
        if settings.retrieval != "NONE" or any(
                timeline.parse_marker(m.name) for m in context.scene.timeline_markers):
            col.prop(settings, "gesture_db")
        retrieved = context.window_manager.rag_gesture.retrieved
        if retrieved:
            box = layout.box()
            box.label(text="Planted gestures:")
            for line in retrieved.splitlines()[:12]:
                box.label(text=line)

        arm = active_armature(context)
        takes = keys.list_takes(arm) if arm is not None else []
        if takes:
            layout.label(text="Takes:")
            current = arm.animation_data.action if arm.animation_data else None
            col = layout.column(align=True)
            # the animator's own actions the takes replaced (kept in the NLA) come first
            for name, icon in [(n, "ACTION_TWEAK") for n in keys.earlier_actions(arm)] + [
                    (n, "ACTION") for n in takes]:
                active = current is not None and current.name == name
                op = col.operator("rag_gesture.use_take", text=name, depress=active,
                                  icon=icon)
                op.take = name


class RAG_GESTURE_PT_regenerate(_GesturePanel, bpy.types.Panel):
    bl_label = "Regenerate Range"
    bl_parent_id = "RAG_GESTURE_PT_main"

    def draw(self, context: bpy.types.Context) -> None:
        layout = self.layout
        scene = context.scene
        settings = scene.rag_gesture
        layout.prop(settings, "range_mode", expand=True)
        if settings.range_mode == "CUSTOM":
            row = layout.row(align=True)
            row.prop(settings, "range_start")
            row.prop(settings, "range_end")
        elif settings.range_mode == "PREVIEW":
            row = layout.row(align=True)
            row.prop(scene, "use_preview_range", text="", icon="PREVIEW_RANGE")
            if scene.use_preview_range:
                row.prop(scene, "frame_preview_start", text="Start")
                row.prop(scene, "frame_preview_end", text="End")
            else:
                row.label(text="Preview range off")
        _rewrite_preview(layout, context)
        layout.label(text="Keep as it is:")
        grid = layout.grid_flow(columns=2, align=True)
        for part in ("upper", "hands", "face", "lower"):
            grid.prop(settings, f"lock_{part}", toggle=True)
        layout.prop(settings, "margin")
        row = layout.row()
        row.scale_y = 1.2
        row.operator("rag_gesture.regenerate", icon="FILE_REFRESH")


def _rewrite_preview(layout: bpy.types.UILayout, context: bpy.types.Context) -> None:
    """Exactly which frames of which take the button will rewrite (what the operator does),
    or why it cannot."""
    arm = active_armature(context)
    take = keys.take_frames(arm) if arm is not None else None
    if take is None:
        wrapped_label(layout, "Generate a take first: Regenerate Range rewrites part of the "
                      "active take.", "INFO")
        return
    scene = context.scene
    try:
        span = requests.regenerate_span(scene, scene.rag_gesture, take)
    except timeline.TimelineError as exc:
        wrapped_label(layout, str(exc), LEVEL_ICONS["WARNING"])
        return
    wrapped_label(layout, f"Rewrites {span.describe()} of '{arm.animation_data.action.name}'.",
                  "FILE_REFRESH")


def draw_status_bar(self: bpy.types.Header, context: bpy.types.Context) -> None:
    status = context.window_manager.rag_gesture
    if not status.running:
        return
    row = self.layout.row(align=True)
    row.progress(factor=status.fraction, type="BAR",
                 text=f"{status.kind}: {status.stage} {100 * status.fraction:.0f}%")
    row.operator("rag_gesture.cancel", text="", icon="CANCEL")


# CLASSES: the panels drawn with only basic layout calls (tests/blender/ui/test_panels.py
# draws each of them with a recording layout); RIG_CLASSES use template_list and
# operator_menu_enum and are drawn in tests/blender/ui/test_bone_table.py.
CLASSES = (RAG_GESTURE_PT_main, RAG_GESTURE_PT_dialogue, RAG_GESTURE_PT_style,
           RAG_GESTURE_PT_regenerate)
RIG_CLASSES = (RAG_GESTURE_UL_bones, RAG_GESTURE_PT_rig)
# Child panels show in registration order: Rig comes first, right under the armature field.
REGISTER_ORDER = (RAG_GESTURE_UL_bones, RAG_GESTURE_PT_main, RAG_GESTURE_PT_rig,
                  *CLASSES[1:])


def attach() -> None:
    """Show the running job in the status bar."""
    bpy.types.STATUSBAR_HT_header.append(draw_status_bar)


def detach() -> None:
    bpy.types.STATUSBAR_HT_header.remove(draw_status_bar)
