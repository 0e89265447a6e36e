"""The sidebar panels, the status bar and the preferences draw without errors, and every
property and operator they show exists (headless Blender has no real UI, so the draw
functions get a layout that records and checks each call)."""

from __future__ import annotations

from types import SimpleNamespace

import bpy
import numpy as np
import pytest

from tests.support.recording_layout import RecordingLayout


def draw(cls, context, owner=None) -> list:
    log: list = []
    fake = SimpleNamespace(layout=RecordingLayout(log))
    if owner is not None:  # preferences: methods and properties of the real instance
        class Proxy:
            layout = fake.layout

            def __getattr__(self, name):
                return getattr(owner, name)

        fake = Proxy()
    cls.draw(fake, context)
    return log


@pytest.fixture
def panels(addon_module):
    return addon_module("ui.panels")


def test_panels_draw_in_every_mode(panels, addon_module):
    settings = bpy.context.scene.rag_gesture
    bpy.context.scene.sequence_editor_create()
    rig = addon_module("scene.rig")
    rig.create_smplx_armature(bpy.context, name="SMPLX")
    for audio in ("ACTIVE_STRIP", "NAMED_STRIP", "FILE"):
        for words in ("TEXT_STRIPS", "TEXT_BLOCK", "FILE", "NONE"):
            for rng in ("PREVIEW", "CUSTOM"):
                settings.audio_source, settings.transcript_source = audio, words
                settings.range_mode = rng
                for cls in panels.CLASSES:
                    draw(cls, bpy.context)
    settings.audio_source = "ACTIVE_STRIP"
    log = draw(panels.RAG_GESTURE_PT_dialogue, bpy.context)
    shown = " ".join(e[1] for e in log if e[0] == "label")
    assert "There is no sound strip in the Sequencer" in shown


def test_main_panel_shows_progress_while_running(panels):
    status = bpy.context.window_manager.rag_gesture
    status.running, status.kind, status.stage, status.fraction = True, "Generate", "x", 0.4
    try:
        log = draw(panels.RAG_GESTURE_PT_main, bpy.context)
        assert ("progress", "Generate: x 40%") in log
        assert ("operator", "rag_gesture.cancel") in log
        header = SimpleNamespace(layout=RecordingLayout(log := []))
        panels.draw_status_bar(header, bpy.context)
        assert ("progress", "Generate: x 40%") in log
    finally:
        status.running = False


def test_preferences_draw(addon, addon_module_name):
    prefs = bpy.context.preferences.addons[addon_module_name].preferences
    prefs.show_advanced = True
    log = draw(type(prefs), bpy.context, owner=prefs)
    labels = [e[1] for e in log if e[0] == "label"]
    assert any(" -m venv " in text or "pip install torch" in text for text in labels)
    assert any(text.startswith("Worker: ") for text in labels)
    assert ("operator", "rag_gesture.setup_backend") in log
    assert ("operator", "rag_gesture.check_setup") in log


def labels_of(log: list) -> list[tuple[str, str]]:
    return [(e[1], e[2]) for e in log if e[0] == "label"]


def test_worker_status_after_a_crash_wraps(panels, addon_module):
    client = addon_module("worker.client")
    tail = "Traceback (most recent call last):\nRuntimeError: CUDA error: out of memory while " \
           "allocating 2.00 GiB on device 0"
    crash = client.describe_exit(-9, tail, before_hello=False)
    assert len(crash) > 120
    saved = client._last_exit
    client._last_exit = crash
    try:
        shown = labels_of(draw(panels.RAG_GESTURE_PT_main, bpy.context))
    finally:
        client._last_exit = saved
    worker = [text for text, _ in shown[next(i for i, (t, _) in enumerate(shown)
                                             if t.startswith("Worker: ")):]]
    assert " ".join(worker) == "Worker: " + crash
    assert max(len(t) for t in worker) <= 42 and shown[-len(worker)][1] == "CONSOLE"


def finish_generate(addon_module, warnings: list[str], allow_mismatch: bool = True):
    """A Generate whose job succeeded with `warnings`, finished as the modal operator does."""
    ops = addon_module("ui.operators")
    jobs = addon_module("worker.jobs")

    class Op(ops.GenerateLogic):
        def report(self, level, message):
            self.reported = (next(iter(level)), message)

    op = Op()
    op.cursor_progress, op._made, op._timer = False, ["line take 1"], None
    speech = SimpleNamespace(allow_mismatch=allow_mismatch)
    op._job = SimpleNamespace(state=jobs.JobState(status=jobs.DONE), warnings=warnings,
                              request=SimpleNamespace(speech=speech), info={})
    assert op.finish(bpy.context) == {"FINISHED"}
    return op


def test_a_generate_with_a_warning_is_a_success_with_a_warning(panels, addon_module):
    status = bpy.context.window_manager.rag_gesture
    mismatch = ("the transcript does not seem to match the audio (alignment confidence 0.05, "
                "expected at least 0.20)")
    op = finish_generate(addon_module, [mismatch])  # Ignore Transcript Mismatch is ticked
    assert (status.level, status.notes) == ("INFO", "")
    assert op.reported == ("INFO", "Wrote 1 take (line take 1).")

    op = finish_generate(addon_module, [mismatch, "no transcript given: words were "
                                        "transcribed from the audio"], allow_mismatch=False)
    assert status.level == "WARNING" and op.reported[0] == "WARNING"
    assert status.notes.splitlines() == [mismatch[0].upper() + mismatch[1:] + ".",
                                         "No transcript given: words were transcribed from "
                                         "the audio."]
    shown = labels_of(draw(panels.RAG_GESTURE_PT_main, bpy.context))
    first = next(i for i, (t, _) in enumerate(shown) if t.startswith("Wrote 1 take"))
    assert shown[first][1] == "INFO"  # the take was written: not drawn as a failure
    icons = [icon for _, icon in shown[first + 1:] if icon not in ("BLANK1", "CONSOLE")]
    assert icons == ["ERROR", "ERROR"]  # Blender's warning triangle, once per warning

    status.message, status.level, status.notes = "The backend stopped.", "ERROR", ""
    shown = labels_of(draw(panels.RAG_GESTURE_PT_main, bpy.context))
    assert ("The backend stopped.", "CANCEL") in shown  # Blender's error icon


def test_regenerate_panel_shows_the_frames_it_will_rewrite(panels, addon_module):
    scene = bpy.context.scene
    settings = scene.rag_gesture
    scene.render.fps, scene.render.fps_base = 24, 1.0
    obj = addon_module("scene.rig").create_smplx_armature(bpy.context, name="Hero")
    settings.armature = obj

    def shown() -> str:
        return " ".join(t for t, _ in labels_of(draw(panels.RAG_GESTURE_PT_regenerate,
                                                     bpy.context)))

    assert "Generate a take first" in shown()
    rng = np.random.default_rng(0)
    motion = {"poses": rng.normal(0, 0.3, (60, 55, 3)), "trans": np.zeros((60, 3)),
              "expressions": None, "fps": 24.0}
    addon_module("scene.takes").write_takes("Hero", [motion], 24.0, 11, "line")
    settings.range_mode, settings.margin = "PREVIEW", 0.25
    scene.use_preview_range = True
    scene.frame_preview_start, scene.frame_preview_end = 40, 55
    assert ("Rewrites frames 34-61 (range 40-55, 6 blend frames before and 6 after) of 'line "
            "take 1'.") in shown()
    scene.frame_preview_start = 14  # the margin stops at the take's first frame, 11
    assert "Rewrites frames 11-61 (range 14-55, 3 blend frames before and 6 after)" in shown()
    scene.use_preview_range = False
    assert "The preview range is off: turn it on" in shown()
    assert "Rewrites" not in shown()
    settings.range_mode = "WHOLE"
    assert "Rewrites frames 11-70 of 'line take 1'." in shown()


def test_lock_tooltips_say_where_the_wrists_are(addon_module):
    props = bpy.types.Scene.bl_rna.properties["rag_gesture"].fixed_type.bl_rna.properties
    assert "wrists belong to Upper Body" in props["lock_hands"].description
    assert "wrists" in props["lock_upper"].description


def test_main_panel_says_leave_edit_mode(panels, addon_module):
    obj = addon_module("scene.rig").create_smplx_armature(bpy.context, name="Hero")
    bpy.context.view_layer.objects.active = obj
    bpy.ops.object.mode_set(mode="EDIT")
    text = " ".join(t for t, _ in labels_of(draw(panels.RAG_GESTURE_PT_main, bpy.context)))
    bpy.ops.object.mode_set(mode="OBJECT")
    assert "The armature 'Hero' is in Edit Mode: leave Edit Mode (Tab) and try again." in text
