"""The "Gesture" tab of the 3D viewport's sidebar, and the progress in the status bar."""

from __future__ import annotations

import bpy

from . import client, compat, keys, timeline

CATEGORY = "Gesture"


def _armature(context: bpy.types.Context) -> bpy.types.Object | None:
    obj = context.scene.rag_gesture.armature or context.active_object
    return obj if obj is not None and obj.type == "ARMATURE" else None


def _job_box(layout: bpy.types.UILayout, context: bpy.types.Context) -> None:
    status = context.window_manager.rag_gesture
    if status.running:
        row = layout.row(align=True)
        row.progress(factor=status.fraction, type="BAR",
                     text=f"{status.kind}: {status.stage} {100 * status.fraction:.0f}%")
        row.operator("rag_gesture.cancel", text="", icon="CANCEL")
    elif status.message:
        icon = {"ERROR": "ERROR", "WARNING": "ERROR"}.get(status.level, "INFO")
        col = layout.column(align=True)
        for i, line in enumerate(_wrap(status.message, 42)):
            col.label(text=line, icon=icon if i == 0 else "BLANK1")


def _wrap(text: str, width: int) -> list[str]:
    words, lines, line = text.split(), [], ""
    for w in words:
        if line and len(line) + 1 + len(w) > width:
            lines.append(line)
            line = w
        else:
            line = f"{line} {w}".strip()
    return [*lines, line] if line else lines


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
        if settings.armature is None:
            arm = _armature(context)
            col.label(text=f"Using the active object: {arm.name}" if arm else
                      "Select an armature, or:", icon="INFO")
        col.operator("rag_gesture.create_armature", icon="ARMATURE_DATA")

        layout.separator()
        row = layout.row(align=True)
        row.scale_y = 1.4
        row.operator("rag_gesture.generate", icon="PLAY")
        _job_box(layout, context)
        layout.label(text="Worker: " + client.worker_status(), icon="CONSOLE")


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
                attr = "strips_all" if compat.STRIPS_API else "sequences_all"
                layout.prop_search(settings, "audio_strip", scene.sequence_editor, attr,
                                   text="Strip")
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
                for i, line in enumerate(_wrap(str(exc), 42)):
                    layout.label(text=line, icon="ERROR" if i == 0 else "BLANK1")
            else:
                layout.label(text=f"{strip.name}: frames {strip.frame_final_start}-"
                             f"{strip.frame_final_end}", icon="SOUND")

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

        arm = _armature(context)
        takes = keys.list_takes(arm) if arm is not None else []
        if takes:
            layout.label(text="Takes:")
            current = arm.animation_data.action if arm.animation_data else None
            col = layout.column(align=True)
            for name in takes:
                active = current is not None and current.name == name
                op = col.operator("rag_gesture.use_take", text=name, depress=active,
                                  icon="ACTION")
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
        else:
            row = layout.row(align=True)
            row.prop(scene, "use_preview_range", text="", icon="PREVIEW_RANGE")
            if scene.use_preview_range:
                row.prop(scene, "frame_preview_start", text="Start")
                row.prop(scene, "frame_preview_end", text="End")
            else:
                row.label(text=f"Scene range {scene.frame_start}-{scene.frame_end}")
        layout.label(text="Keep as it is:")
        grid = layout.grid_flow(columns=2, align=True)
        for part in ("upper", "hands", "face", "lower"):
            grid.prop(settings, f"lock_{part}", toggle=True)
        layout.prop(settings, "margin")
        row = layout.row()
        row.scale_y = 1.2
        row.operator("rag_gesture.regenerate", icon="FILE_REFRESH")


def draw_status_bar(self: bpy.types.Header, context: bpy.types.Context) -> None:
    status = context.window_manager.rag_gesture
    if not status.running:
        return
    row = self.layout.row(align=True)
    row.progress(factor=status.fraction, type="BAR",
                 text=f"{status.kind}: {status.stage} {100 * status.fraction:.0f}%")
    row.operator("rag_gesture.cancel", text="", icon="CANCEL")


CLASSES = (RAG_GESTURE_PT_main, RAG_GESTURE_PT_dialogue, RAG_GESTURE_PT_style,
           RAG_GESTURE_PT_regenerate)


def register() -> None:
    for cls in CLASSES:
        bpy.utils.register_class(cls)
    bpy.types.STATUSBAR_HT_header.append(draw_status_bar)


def unregister() -> None:
    bpy.types.STATUSBAR_HT_header.remove(draw_status_bar)
    for cls in reversed(CLASSES):
        bpy.utils.unregister_class(cls)
