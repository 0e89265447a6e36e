"""The keyframe path of Generate with the motion given directly (no worker, every version):
all takes written as new actions in one go, numbered after the existing ones, all or nothing.

This is also what covers the add-on's writing on the PyPI 4.2 wheel without involving audio.
"""

from __future__ import annotations

import bpy
import numpy as np
import pytest


@pytest.fixture
def takes(addon_module):
    return addon_module("scene.takes")


def motion(n: int = 12, seed: int = 0, fps: float = 24.0) -> dict:
    rng = np.random.default_rng(seed)
    return {"poses": rng.normal(0, 0.3, (n, 55, 3)), "trans": rng.normal(0, 0.1, (n, 3)),
            "expressions": rng.normal(0, 1, (n, 100)), "fps": fps}


def test_write_takes_numbers_and_assigns(takes, rig, keys):
    obj = rig.create_smplx_armature(bpy.context, name="Hero")
    names = takes.write_takes("Hero", [motion(seed=1), motion(seed=2)], 24.0, 5, "line04")
    assert names == ["line04 take 1", "line04 take 2"]
    assert obj.animation_data.action.name == "line04 take 1"
    names = takes.write_takes("Hero", [motion(seed=3)], 24.0, 5, "line04")
    assert names == ["line04 take 3"]
    assert keys.list_takes(obj) == ["line04 take 1", "line04 take 2", "line04 take 3"]
    back = keys.read_motion(obj, 24.0)
    assert back["start_frame"] == 5 and back["poses"].shape == (12, 55, 3)
    np.testing.assert_allclose(back["trans"], motion(seed=3)["trans"], atol=1e-6)
    assert all(bpy.data.actions[n].use_fake_user for n in keys.list_takes(obj))


def test_write_takes_is_all_or_nothing(takes, rig, keys):
    obj = rig.create_smplx_armature(bpy.context, name="Hero")
    takes.write_takes("Hero", [motion(seed=1)], 24.0, 1, "line")
    before_actions = sorted(a.name for a in bpy.data.actions)
    broken = motion(seed=2)
    broken["trans"] = broken["trans"][:5]  # wrong length: the second take fails
    with pytest.raises(ValueError):
        takes.write_takes("Hero", [motion(seed=4), broken], 24.0, 1, "line")
    assert sorted(a.name for a in bpy.data.actions) == before_actions
    assert obj.animation_data.action.name == "line take 1"
    face = rig.expression_mesh(obj).data.shape_keys
    assert face.animation_data.action.name == "line take 1_expressions"


def test_write_takes_on_a_deleted_armature(takes):
    with pytest.raises(RuntimeError, match="deleted or renamed"):
        takes.write_takes("Nobody", [motion()], 24.0, 1, "line")


def test_use_take_operator(takes, rig):
    obj = rig.create_smplx_armature(bpy.context, name="Hero")
    takes.write_takes("Hero", [motion(seed=1), motion(seed=2)], 24.0, 1, "line")
    bpy.context.scene.rag_gesture.armature = obj
    assert bpy.ops.rag_gesture.use_take(take="line take 2") == {"FINISHED"}
    assert obj.animation_data.action.name == "line take 2"
    with pytest.raises(RuntimeError, match="no take named 'nope'"):
        bpy.ops.rag_gesture.use_take(take="nope")


def test_create_armature_operator(rig):
    assert bpy.ops.rag_gesture.create_armature() == {"FINISHED"}
    obj = bpy.context.scene.rag_gesture.armature
    assert obj is not None and rig.is_smplx_rig(obj)
    assert bpy.context.active_object == obj
