"""The extension enables the way Blender does it, and registers what the animator sees."""

from __future__ import annotations

import sys
from pathlib import Path

import addon_utils
import bpy

OPERATORS = ("generate", "regenerate", "cancel", "create_armature", "use_take", "worker_start",
             "worker_stop", "worker_restart", "setup_backend", "check_setup")
PANELS = ("RAG_GESTURE_PT_main", "RAG_GESTURE_PT_dialogue", "RAG_GESTURE_PT_style",
          "RAG_GESTURE_PT_regenerate")


def _registered() -> dict[str, bool]:
    out = {f"op:{name}": hasattr(bpy.types, f"RAG_GESTURE_OT_{name}") for name in OPERATORS}
    out.update({f"panel:{name}": hasattr(bpy.types, name) for name in PANELS})
    out["scene"] = hasattr(bpy.types.Scene, "rag_gesture")
    out["wm"] = hasattr(bpy.types.WindowManager, "rag_gesture")
    return out


def test_enabled_as_an_extension(addon, addon_enable_error, addon_module_name):
    assert addon_enable_error is None
    assert addon.__name__ == addon_module_name and addon.__name__.startswith("bl_ext.")
    assert addon_module_name in bpy.context.preferences.addons
    prefs = bpy.context.preferences.addons[addon_module_name].preferences
    assert type(prefs).__name__ == "RAGGesturePreferences"
    assert prefs.device == "AUTO" and prefs.torch_spec == "torch==2.13.0"
    assert all(_registered().values()), _registered()
    assert "torch" not in dir(addon)


def test_scene_defaults_and_speakers(addon):
    settings = bpy.context.scene.rag_gesture
    assert settings.speaker == "scott" and settings.steps == 50 and settings.takes == 1
    assert settings.transcript_source == "TEXT_STRIPS" and settings.range_mode == "PREVIEW"
    items = {i.identifier: i.value for i in
             settings.bl_rna.properties["speaker"].enum_items}
    assert len(items) == 25
    assert items["wayne"] == 0 and items["scott"] == 1 and items["katya"] == 7
    assert items["tiffnay"] == 13 and items["yingqing"] == 18 and items["miranda"] == 8
    assert sorted(items.values()) == list(range(25))


def test_status_lives_on_the_window_manager(addon):
    status = bpy.context.window_manager.rag_gesture
    assert not status.running and status.fraction == 0.0


def test_disable_and_enable_again(addon, addon_module_name):
    addon_utils.disable(addon_module_name, default_set=True)
    try:
        assert not any(_registered().values()), _registered()
    finally:
        mod = addon_utils.enable(addon_module_name, default_set=True)
    assert mod is not None
    assert all(_registered().values()), _registered()
    bpy.ops.wm.read_homefile(app_template="")
    assert bpy.context.scene.rag_gesture.speaker == "scott"


def test_source_checkout_binds_the_shared_package_and_loads_no_torch(addon, repo_root):
    """The test extension mirrors rag_gesture_addon/ (a source checkout): its ``shared``
    subpackage is the repository's rag_gesture_shared/, bound without a sys.path entry.
    (test_package.py checks the installed zip, which carries its own copy.)"""
    shared = sys.modules[f"{addon.__name__}.shared"]
    assert Path(shared.__file__).resolve() == repo_root / "rag_gesture_shared" / "__init__.py"
    assert sys.modules[f"{addon.__name__}.shared.protocol.generate"].GenerateRequest
    assert not any(Path(p).resolve() == repo_root / "rag_gesture_shared" for p in sys.path)
    assert "torch" not in sys.modules  # the whole add-on is imported by now
