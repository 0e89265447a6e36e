"""Generate and Regenerate range refuse a scene they cannot handle with one sentence, before
any worker starts, and leave the scene as it was (no worker needed: every check here runs
before the first request)."""

from __future__ import annotations

import bpy
import numpy as np
import pytest

from tests.support.synthetic_rigs import build_rig, mixamo_world


@pytest.fixture
def takes(addon_module):
    return addon_module("scene.takes")


def mixamo_spec(addon_module):
    preset = addon_module("core.bone_maps").PRESETS["mixamo"]
    names = {j: (b if isinstance(b, str) else b[0]) for j, b in preset.items()}
    return build_rig(names, a_pose_deg=40, roll_seed=5, world=mixamo_world())


def test_a_rig_in_edit_mode_is_asked_to_leave_it(addon_module):
    from tests.support.bpy_rigs import make_armature

    spec = mixamo_spec(addon_module)
    settings = bpy.context.scene.rag_gesture
    for obj in (make_armature(spec, "Built", stay_in_edit_mode=True),
                make_armature(spec, "Entered")):
        if obj.mode != "EDIT":
            bpy.context.view_layer.objects.active = obj
            bpy.ops.object.mode_set(mode="EDIT")
        settings.armature = obj
        for op in (bpy.ops.rag_gesture.generate, bpy.ops.rag_gesture.regenerate):
            with pytest.raises(RuntimeError) as err:
                op()
            text = str(err.value)
            assert f"The armature '{obj.name}' is in Edit Mode: leave Edit Mode (Tab) and " \
                   "try again." in text
            assert "lying down" not in text and "preset" not in text
        bpy.ops.object.mode_set(mode="OBJECT")
    # out of Edit Mode the same rig is read correctly
    assert addon_module("scene.keys").layout(bpy.data.objects["Built"]).retargeter is not None


def test_regenerate_with_the_preview_range_off_rewrites_nothing(takes, addon_module):
    rig = addon_module("scene.rig")
    keys = addon_module("scene.keys")
    obj = rig.create_smplx_armature(bpy.context, name="Hero")
    rng = np.random.default_rng(0)
    motion = {"poses": rng.normal(0, 0.3, (60, 55, 3)), "trans": rng.normal(0, 0.1, (60, 3)),
              "expressions": rng.normal(0, 1, (60, 100)), "fps": 24.0}
    takes.write_takes("Hero", [motion], 24.0, 11, "line")
    scene = bpy.context.scene
    settings = scene.rag_gesture
    settings.armature = obj
    settings.range_mode = "PREVIEW"
    scene.use_preview_range = False
    before = keys.read_motion(obj, 24.0)
    with pytest.raises(RuntimeError, match="The preview range is off: turn it on"):
        bpy.ops.rag_gesture.regenerate()
    after = keys.read_motion(obj, 24.0)
    np.testing.assert_array_equal(after["poses"], before["poses"])
    assert bpy.context.window_manager.rag_gesture.level == "ERROR"
