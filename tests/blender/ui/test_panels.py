"""The sidebar panels, the status bar and the preferences draw without errors, and every
property and operator they show exists (headless Blender has no real UI, so the draw
functions get a layout that records and checks each call)."""

from __future__ import annotations

from types import SimpleNamespace

import bpy
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
