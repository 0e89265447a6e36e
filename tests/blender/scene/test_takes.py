"""The keyframe path of Generate with the motion given directly (no worker, every version):
all takes written as new actions in one go, numbered after the existing ones, all or nothing.

This is also what covers the add-on's writing on the PyPI 4.2 wheel without involving audio.
"""

from __future__ import annotations

import bpy
import numpy as np
import pytest

SLOTTED = bpy.app.version >= (4, 4, 0)


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


def own_action(compat, id_data, name: str, path: str) -> bpy.types.Action:
    """The animator's own action on `id_data` (blocking keys, a lip-sync pass...): no fake
    user, assigned, nothing else uses it."""
    action = bpy.data.actions.new(name)
    container = compat.fcurve_container(action, id_data)
    fc = compat.new_fcurve(container, path, 0, "Mine")
    fc.keyframe_points.insert(1, 0.25)
    fc.keyframe_points.insert(40, 0.75)
    compat.assign_action(id_data, action)
    assert action.users == 1 and not action.use_fake_user
    return action


def test_generate_keeps_the_animators_actions_through_save_and_reload(takes, rig, keys,
                                                                      compat, tmp_path):
    obj = rig.create_smplx_armature(bpy.context, name="Hero")
    face = rig.expression_mesh(obj).data.shape_keys
    own_action(compat, obj, "blocking", 'pose.bones["left_elbow"].location')
    own_action(compat, face, "lipsync", 'key_blocks["Exp001"].value')
    takes.write_takes("Hero", [motion(seed=1), motion(seed=2)], 24.0, 1, "line")
    takes.write_takes("Hero", [motion(seed=3)], 24.0, 1, "line")  # takes are never stashed
    path = tmp_path / "scene.blend"
    bpy.ops.wm.save_as_mainfile(filepath=str(path))
    bpy.ops.wm.open_mainfile(filepath=str(path))

    obj = bpy.data.objects["Hero"]
    face = rig.expression_mesh(obj).data.shape_keys
    for owner, name in ((obj, "blocking"), (face, "lipsync")):
        assert name in bpy.data.actions, f"'{name}' was lost on saving"
        tracks = compat.stash_tracks(owner)
        assert [t.name for t in tracks] == ["[Action Stash]"]
        assert tracks[0].mute and [s.action.name for s in tracks[0].strips] == [name]
    assert obj.animation_data.action.name == "line take 3"
    assert keys.earlier_actions(obj) == ["blocking"]
    # one click away: the Takes list offers it, with its face
    bpy.context.scene.rag_gesture.armature = obj
    assert bpy.ops.rag_gesture.use_take(take="blocking") == {"FINISHED"}
    assert obj.animation_data.action.name == "blocking"
    assert face.animation_data.action.name == "lipsync"
    if SLOTTED:
        assert compat.assigned_slot(obj) == bpy.data.actions["blocking"].slots[0]
    keys.use_take(obj, "line take 1")  # and back: nothing stashed twice
    assert face.animation_data.action.name == "line take 1_expressions"
    assert len(compat.stash_tracks(obj)) == 1 and len(compat.stash_tracks(face)) == 1


def test_an_action_with_other_users_is_not_stashed(takes, rig, compat):
    obj = rig.create_smplx_armature(bpy.context, name="Hero")
    mine = own_action(compat, obj, "mocap", 'pose.bones["pelvis"].location')
    mine.use_fake_user = True  # kept by its fake user, as Blender's Action Editor decides
    takes.write_takes("Hero", [motion()], 24.0, 1, "line")
    assert compat.stash_tracks(obj) == [] and "mocap" in bpy.data.actions


def test_failed_generate_takes_the_stash_back(takes, rig, compat):
    obj = rig.create_smplx_armature(bpy.context, name="Hero")
    mine = own_action(compat, obj, "blocking", 'pose.bones["pelvis"].location')
    broken = motion(seed=2)
    broken["trans"] = broken["trans"][:5]
    with pytest.raises(ValueError):
        takes.write_takes("Hero", [motion(seed=1), broken], 24.0, 1, "line")
    assert obj.animation_data.action == mine and compat.stash_tracks(obj) == []
    assert mine.users == 1


def test_takes_sort_naturally(takes, rig, keys):
    obj = rig.create_smplx_armature(bpy.context, name="Hero", body=False, expressions=False)
    takes.write_takes("Hero", [motion(n=2, seed=i) for i in range(11)], 24.0, 1, "line")
    assert keys.list_takes(obj) == [f"line take {i}" for i in range(1, 12)]
    assert keys.natural_key("Take 2") < keys.natural_key("take 10")


def test_writers_find_the_armature_and_take_again_by_session_uid(takes, rig, keys):
    obj = rig.create_smplx_armature(bpy.context, name="Hero")
    target = takes.IdRef.of(obj)
    takes.write_takes(target, [motion(n=30, seed=1), motion(n=30, seed=2)], 24.0, 1, "line")
    take = takes.IdRef.of(bpy.data.actions["line take 1"])
    obj.name, bpy.data.actions["line take 1"].name = "Renamed", "blocking pass"
    keys.use_take(obj, "line take 2")
    new = motion(n=30, seed=5)
    name, active = takes.replace_motion_range(target, new, 24.0, 1, 10, 20, take=take)
    assert (name, active) == ("blocking pass", False)
    keys.use_take(obj, "blocking pass")
    back = keys.read_motion(obj, 24.0)
    np.testing.assert_allclose(back["trans"][9:19], new["trans"][9:19], atol=1e-6)
    bpy.data.actions.remove(bpy.data.actions["blocking pass"])
    with pytest.raises(RuntimeError, match="take 'line take 1' was deleted while"):
        takes.replace_motion_range(target, new, 24.0, 1, 10, 20, take=take)
    bpy.data.objects.remove(obj)
    with pytest.raises(RuntimeError, match="armature 'Hero' was deleted while"):
        takes.write_takes(target, [motion()], 24.0, 1, "line")
