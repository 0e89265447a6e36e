"""Writing, reading and splicing SMPL-X motion as keyframes; takes; the compat layer.

Runs on every bpy wheel (4.2 legacy actions, 5.0 slotted actions).
"""

from __future__ import annotations

import wave
from pathlib import Path

import bpy
import numpy as np
import pytest

from tests.support.synthetic_motion import make_motion

SLOTTED = bpy.app.version >= (4, 4, 0)
AUTO_TYPES = (1, 4)  # Keyframe handle type enum values of 'AUTO' and 'AUTO_CLAMPED'







def pose_quaternions(obj, names) -> np.ndarray:
    return np.array([tuple(obj.pose.bones[n].rotation_quaternion) for n in names])


def world_joints(obj, names) -> np.ndarray:
    from mathutils import Vector

    return np.array([tuple(obj.matrix_world @ Vector(obj.pose.bones[n].head)) for n in names])


def all_fcurves(compat, obj) -> list:
    return compat.action_fcurves(obj.animation_data.action, obj)


def key_fcurves(compat, obj, rig) -> list:
    key = rig.expression_mesh(obj).data.shape_keys
    return compat.action_fcurves(key.animation_data.action, key)


def snapshot(fcurves) -> dict:
    """Every key attribute of every curve, keyed by (data_path, index)."""
    out = {}
    for fc in fcurves:
        kp = fc.keyframe_points
        n = len(kp)
        rec = {}
        for name, dtype, width in (
            ("co", np.float32, 2), ("handle_left", np.float32, 2),
            ("handle_right", np.float32, 2), ("interpolation", np.int32, 1),
            ("handle_left_type", np.int32, 1), ("handle_right_type", np.int32, 1),
            ("type", np.int32, 1), ("easing", np.int32, 1), ("back", np.float32, 1),
            ("amplitude", np.float32, 1), ("period", np.float32, 1),
        ):  # fmt: skip
            buf = np.empty(n * width, dtype=dtype)
            kp.foreach_get(name, buf)
            rec[name] = buf.reshape(n, width) if width > 1 else buf
        out[(fc.data_path, fc.array_index)] = rec
    return out


# ------------------------------------------------------------------------------ writing
def test_write_then_frame_set_matches_motion_and_forward_kinematics(keys, rig, sk, rot, axes,
                                                                   kin, rest) -> None:
    obj = rig.create_smplx_armature(bpy.context)
    m = make_motion(40)
    keys.write_motion(obj, m["poses"], m["trans"], m["expressions"], 30.0, 30.0, 10, "Take")
    rest = np.array(rest)
    names = list(sk.JOINT_NAMES)
    key = rig.expression_mesh(obj).data.shape_keys
    for k in (0, 1, 17, 39):
        bpy.context.scene.frame_set(10 + k)
        q = pose_quaternions(obj, names)
        expected_q = rot.axis_angle_to_quaternion(m["poses"][k])
        dots = np.abs(np.sum(q * expected_q, axis=-1))
        np.testing.assert_allclose(dots, 1.0, atol=1e-6)  # equal up to sign
        fk = kin.forward_kinematics(m["poses"][k][None], m["trans"][k][None], rest)[0]
        np.testing.assert_allclose(world_joints(obj, names), axes.yup_to_zup(fk), atol=1e-4)
        values = np.array([key.key_blocks[f"Exp{i:03d}"].value for i in range(100)])
        np.testing.assert_allclose(values, m["expressions"][k], atol=1e-6)  # not clamped
        assert np.abs(values).max() > 1.0


def test_keys_are_linear_one_per_frame_and_hemisphere_continuous(keys, rig, compat) -> None:
    obj = rig.create_smplx_armature(bpy.context)
    m = make_motion(30, seed=1)
    # Flip the input's quaternion hemisphere by using the equivalent axis-angle 2*pi - angle.
    angle = np.linalg.norm(m["poses"], axis=-1, keepdims=True)
    flipped = m["poses"] - 2 * np.pi * m["poses"] / angle
    m["poses"][::2] = flipped[::2]
    keys.write_motion(obj, m["poses"], m["trans"], m["expressions"], 30.0, 30.0, 1, "Take")
    curves = all_fcurves(compat, obj)
    assert len(curves) == 55 * 4 + 3
    snap = snapshot(curves)
    for rec in snap.values():
        np.testing.assert_array_equal(rec["co"][:, 0], np.arange(1, 31))
        assert (rec["interpolation"] == 1).all()  # LINEAR
    for joint in ("left_elbow", "jaw", "right_thumb3"):
        q = np.stack(
            [snap[(keys.rotation_path(joint), i)]["co"][:, 1] for i in range(4)], axis=1
        )
        assert (np.sum(q[1:] * q[:-1], axis=1) >= 0).all()
    assert len(key_fcurves(compat, obj, rig)) == 100


def test_each_write_is_a_new_take_and_takes_switch(keys, rig, compat) -> None:
    obj = rig.create_smplx_armature(bpy.context)
    key = rig.expression_mesh(obj).data.shape_keys
    m1, m2 = make_motion(10, seed=1), make_motion(12, seed=2)
    a1 = keys.write_motion(obj, m1["poses"], m1["trans"], m1["expressions"], 30, 30, 1, "Take")
    a2 = keys.write_motion(obj, m2["poses"], m2["trans"], m2["expressions"], 30, 30, 1, "Take")
    assert a1 != a2 and a1.name == "Take" and a2.name.startswith("Take.")
    assert a1.use_fake_user and a2.use_fake_user
    assert keys.list_takes(obj) == sorted([a1.name, a2.name])
    assert obj.animation_data.action == a2 and keys.current_take(obj) == a2.name
    assert key.animation_data.action == a2[keys.EXPRESSION_ACTION_PROP]
    keys.use_take(obj, a1.name)
    assert obj.animation_data.action == a1
    assert key.animation_data.action == a1[keys.EXPRESSION_ACTION_PROP]
    bpy.context.scene.frame_set(3)
    assert key.key_blocks["Exp004"].value == pytest.approx(m1["expressions"][2, 4], abs=1e-6)
    # A take without expressions takes the previous take's face off.
    a3 = keys.write_motion(obj, m1["poses"], m1["trans"], None, 30, 30, 1, "NoFace")
    assert keys.EXPRESSION_ACTION_PROP not in a3 and key.animation_data.action is None
    # Takes belong to their armature, through renames.
    other = rig.create_smplx_armature(bpy.context, name="Other")
    assert keys.list_takes(other) == []
    obj.name = "Renamed"
    assert len(keys.list_takes(obj)) == 3
    with pytest.raises(ValueError, match="no take named"):
        keys.use_take(other, a1.name)
    if SLOTTED:
        assert obj.animation_data.action_slot == a3.slots[0]


def test_action_slots_or_legacy_api(keys, rig, compat) -> None:
    obj = rig.create_smplx_armature(bpy.context)
    m = make_motion(5)
    action = keys.write_motion(obj, m["poses"], m["trans"], m["expressions"], 30, 30, 1, "T")
    key = rig.expression_mesh(obj).data.shape_keys
    key_action = action[keys.EXPRESSION_ACTION_PROP]
    if SLOTTED:
        assert len(action.slots) == 1 and action.slots[0].target_id_type == "OBJECT"
        assert obj.animation_data.action_slot == action.slots[0]
        assert len(key_action.slots) == 1 and key_action.slots[0].target_id_type == "KEY"
        assert key.animation_data.action_slot == key_action.slots[0]
        bag = compat.existing_container(action, obj)
        assert len(bag.fcurves) == 223 and len(bag.groups) == 55
        if bpy.app.version >= (5, 0, 0):
            assert not hasattr(action, "fcurves")
    else:
        assert not hasattr(action, "slots")
        assert action.id_root == "OBJECT" and key_action.id_root == "KEY"
        assert len(action.fcurves) == 223 and len(action.groups) == 55
    assert compat.assigned_slot(obj) == (action.slots[0] if SLOTTED else None)


def test_resample_30_to_24_places_keys_from_start_frame(keys, rig, sk, compat, rot) -> None:
    obj = rig.create_smplx_armature(bpy.context)
    m = make_motion(31, seed=4)  # 1 s at 30 fps -> 25 frames at 24 fps
    keys.write_motion(obj, m["poses"], m["trans"], m["expressions"], 30.0, 24.0, 7, "T")
    for rec in snapshot(all_fcurves(compat, obj)).values():
        np.testing.assert_array_equal(rec["co"][:, 0], np.arange(7, 32))
    names = list(sk.JOINT_NAMES)
    src_q = rot.axis_angle_to_quaternion(m["poses"])
    for k in (0, 4, 9, 24):  # 24 fps frame k is 30 fps frame 1.25 k
        bpy.context.scene.frame_set(7 + k)
        pos = 1.25 * k
        i0 = int(np.floor(pos))
        w = pos - i0
        i1 = min(i0 + 1, 30)
        expected = rot.quaternion_slerp(src_q[i0], src_q[i1], np.full((55, 1), w))
        dots = np.abs(np.sum(pose_quaternions(obj, names) * expected, axis=-1))
        np.testing.assert_allclose(dots, 1.0, atol=1e-6)
        exp_trans = (1 - w) * m["trans"][i0] + w * m["trans"][i1]
        got = np.array(tuple(obj.pose.bones["pelvis"].location))
        np.testing.assert_allclose(got, exp_trans, atol=1e-6)


def test_write_rejects_other_objects_and_bad_shapes(keys, rig) -> None:
    m = make_motion(4)
    with pytest.raises(ValueError, match="'Cube' is not an armature"):
        keys.write_motion(bpy.data.objects["Cube"], m["poses"], m["trans"], None, 30, 30, 1, "T")
    obj = rig.create_smplx_armature(bpy.context)
    with pytest.raises(ValueError, match="trans must be"):
        keys.write_motion(obj, m["poses"], m["trans"][:3], None, 30, 30, 1, "T")
    with pytest.raises(ValueError, match="poses must be"):
        keys.write_motion(obj, m["poses"][:, :50], m["trans"], None, 30, 30, 1, "T")
    assert len(bpy.data.actions) == 0


# ------------------------------------------------------------------------------ reading
def test_read_motion_round_trips(keys, rig) -> None:
    obj = rig.create_smplx_armature(bpy.context)
    m = make_motion(50, seed=7)
    m["poses"] = m["poses"][:, :, :]
    keys.write_motion(obj, m["poses"].reshape(50, 165), m["trans"], m["expressions"], 30, 30, -3)
    out = keys.read_motion(obj, 30.0)
    assert out["start_frame"] == -3 and out["fps"] == 30.0
    assert out["poses"].shape == (50, 55, 3)
    # Compare rotations (axis-angle is unique for angles below pi, which make_motion keeps).
    np.testing.assert_allclose(out["poses"], m["poses"], atol=1e-5)
    np.testing.assert_allclose(out["trans"], m["trans"], atol=1e-5)
    np.testing.assert_allclose(out["expressions"], m["expressions"], atol=1e-5)


def test_read_motion_sees_hand_edits(keys, rig, compat) -> None:
    obj = rig.create_smplx_armature(bpy.context)
    m = make_motion(20, seed=8)
    keys.write_motion(obj, m["poses"], m["trans"], m["expressions"], 30, 30, 1)
    curves = {(fc.data_path, fc.array_index): fc for fc in all_fcurves(compat, obj)}
    fc = curves[(keys.LOCATION_PATH, 1)]
    # The animator deletes frames 5..9 of the pelvis height and raises frame 12 by 0.5 m.
    for point in [p for p in fc.keyframe_points if 5 <= p.co[0] <= 9][::-1]:
        fc.keyframe_points.remove(point)
    point = next(p for p in fc.keyframe_points if p.co[0] == 12)
    point.co[1] += 0.5
    fc.update()
    out = keys.read_motion(obj, 30.0)
    y = m["trans"][:, 1].copy()
    y[11] += 0.5
    y[4:9] = np.interp(np.arange(5, 10), [4, 10], [y[3], y[9]])  # linear between the keys
    np.testing.assert_allclose(out["trans"][:, 1], y, atol=1e-5)
    np.testing.assert_allclose(out["trans"][:, 0], m["trans"][:, 0], atol=1e-5)


# ----------------------------------------------------------------------- replace a range
def test_replace_range_changes_only_keys_inside(keys, rig, compat, rot) -> None:
    obj = rig.create_smplx_armature(bpy.context)
    m = make_motion(60, seed=9)
    keys.write_motion(obj, m["poses"], m["trans"], m["expressions"], 30, 30, 1, "Take")
    # An animator's edit outside the range: a FREE handle and a BEZIER key on frame 5.
    curves = {(fc.data_path, fc.array_index): fc for fc in all_fcurves(compat, obj)}
    fc = curves[(keys.rotation_path("left_elbow"), 2)]
    point = next(p for p in fc.keyframe_points if p.co[0] == 5)
    point.handle_left_type = point.handle_right_type = "FREE"
    point.handle_left = (4.6, 0.3)
    point.interpolation = "BEZIER"
    fc.update()
    # Auto handles are derived data: with the default 'CONT_ACCEL' smoothing Blender solves
    # them along the whole curve, so they may move anywhere after any edit. On curves set to
    # no smoothing, only the handles next to the range may move.
    local = {(keys.rotation_path("spine2"), i) for i in range(4)} | {(keys.LOCATION_PATH, 0)}
    for channel in local:
        curves[channel].auto_smoothing = "NONE"
        curves[channel].update()
    before = snapshot(all_fcurves(compat, obj) + key_fcurves(compat, obj, rig))

    lo, hi = 21, 36
    new = make_motion(30, seed=10)  # covers frames 11..40
    action = keys.replace_range(
        obj, new["poses"], new["trans"], new["expressions"], 30, 30, 11, lo, hi
    )
    assert action == obj.animation_data.action
    after = snapshot(all_fcurves(compat, obj) + key_fcurves(compat, obj, rig))
    assert before.keys() == after.keys() and len(after) == 223 + 100
    for channel, old in before.items():
        cur = after[channel]
        x = old["co"][:, 0]
        outside = (x < lo) | (x >= hi)
        np.testing.assert_array_equal(cur["co"][:, 0], x)  # same key frames
        for name in ("co", "interpolation", "handle_left_type", "handle_right_type", "type"):
            # bit-identical: compare the raw bytes of every key outside the range
            assert cur[name][outside].tobytes() == old[name][outside].tobytes(), (channel, name)
        auto = np.isin(old["handle_left_type"], AUTO_TYPES)
        auto |= np.isin(old["handle_right_type"], AUTO_TYPES)
        user_handles = outside & ~auto  # FREE / ALIGNED / VECTOR handles are the user's data
        far = outside & (x != lo - 1) & (x != hi) if channel in local else user_handles
        for name in ("handle_left", "handle_right"):
            assert cur[name][far].tobytes() == old[name][far].tobytes(), (channel, name)
        assert (cur["interpolation"][~outside] == 1).all()
    # Inside: the new motion (sample k sits at frame 11 + k), on the old keys' hemisphere.
    for k in range(lo, hi):
        bpy.context.scene.frame_set(k)
        q = pose_quaternions(obj, ["left_elbow", "head"])
        exp = rot.axis_angle_to_quaternion(new["poses"][k - 11][[18, 15]])
        np.testing.assert_allclose(np.abs(np.sum(q * exp, axis=-1)), 1.0, atol=1e-6)
    out = keys.read_motion(obj, 30)
    inside, source = slice(lo - 1, hi - 1), slice(lo - 11, hi - 11)  # rows of frames lo..hi-1
    np.testing.assert_allclose(out["trans"][inside], new["trans"][source], atol=1e-6)
    np.testing.assert_allclose(out["expressions"][inside], new["expressions"][source], atol=1e-6)
    np.testing.assert_allclose(out["trans"][: lo - 1], m["trans"][: lo - 1], atol=1e-6)
    assert fc.keyframe_points[4].handle_left_type == "FREE"
    assert tuple(fc.keyframe_points[4].handle_left) == pytest.approx((4.6, 0.3))
    # Hemisphere: the first new key continues the key before the range.
    q_curves = [after[(keys.rotation_path("neck"), i)]["co"][:, 1] for i in range(4)]
    q = np.stack(q_curves, axis=1)
    assert np.dot(q[lo - 1], q[lo - 2]) >= 0


def thin_to_bezier(fc, frames: tuple[int, ...]) -> None:
    """An animator's cleanup: only the keys at `frames` stay, as AUTO_CLAMPED Bezier keys."""
    for point in reversed(list(fc.keyframe_points)):
        if int(point.co[0]) not in frames:
            fc.keyframe_points.remove(point)
    for point in fc.keyframe_points:
        point.interpolation = "BEZIER"
        point.handle_left_type = point.handle_right_type = "AUTO_CLAMPED"
    fc.update()


def test_replace_range_never_touches_locked_parts(keys, rig, compat, sk) -> None:
    obj = rig.create_smplx_armature(bpy.context)
    m = make_motion(60, seed=9)
    keys.write_motion(obj, m["poses"], m["trans"], m["expressions"], 30, 30, 1, "Take")
    curves = {(fc.data_path, fc.array_index): fc for fc in all_fcurves(compat, obj)}
    thin_to_bezier(curves[(keys.rotation_path("left_index2"), 1)], (1, 28, 60))
    thin_to_bezier(curves[(keys.rotation_path("left_eye_smplhf"), 2)], (1, 30))
    before = snapshot(all_fcurves(compat, obj) + key_fcurves(compat, obj, rig))
    new = make_motion(30, seed=10)  # covers frames 11..40
    keys.replace_range(obj, new["poses"], new["trans"], new["expressions"], 30, 30, 11, 21, 36,
                       locks=("hands", "face"))
    after = snapshot(all_fcurves(compat, obj) + key_fcurves(compat, obj, rig))
    assert after.keys() == before.keys()
    locked_joints = [sk.JOINT_NAMES[j] for j in (*sk.HANDS, *sk.FACE, *sk.EYES)]
    locked = {keys.rotation_path(j) for j in locked_joints}
    changed = set()
    for (path, index), old in before.items():
        cur = after[(path, index)]
        if path in locked or path.startswith("key_blocks"):
            for name in old:  # every keyframe attribute, bit for bit
                assert cur[name].tobytes() == old[name].tobytes(), (path, index, name)
        elif cur["co"].tobytes() != old["co"].tobytes():
            changed.add(path)
    assert len(after[(keys.rotation_path("left_index2"), 1)]["co"]) == 3
    # the wrists are Upper Body: they move with the arms; so do the other unlocked parts
    assert keys.rotation_path("left_wrist") in changed and keys.LOCATION_PATH in changed
    assert len(changed) == 1 + len(sk.UPPER) + len(sk.LOWER)


def test_replace_range_on_a_retargeted_rig_keeps_locked_fingers(keys, compat, addon_module,
                                                                sk) -> None:
    from tests.support.bpy_rigs import make_armature
    from tests.support.synthetic_rigs import build_rig, mixamo_world

    preset = addon_module("core.bone_maps").PRESETS["mixamo"]
    names = {j: (b if isinstance(b, str) else b[0]) for j, b in preset.items()}
    obj = make_armature(build_rig(names, a_pose_deg=40, roll_seed=5, world=mixamo_world()), "M")
    m = make_motion(60, seed=3)
    keys.write_motion(obj, m["poses"], m["trans"], None, 30, 30, 1, "Take")
    before = snapshot(all_fcurves(compat, obj))
    new = make_motion(30, seed=4)
    keys.replace_range(obj, new["poses"], new["trans"], None, 30, 30, 11, 21, 36,
                       locks=("hands",))
    after = snapshot(all_fcurves(compat, obj))
    fingers = {f'pose.bones["{names[sk.JOINT_NAMES[j]]}"]' for j in sk.HANDS
               if sk.JOINT_NAMES[j] in names}
    assert fingers
    kept = {k for k in before if before[k]["co"].tobytes() == after[k]["co"].tobytes()}
    assert {k for k in before if k[0].split(".rotation")[0] in fingers} == kept


def test_take_frames_follows_key_edits(keys, rig, compat) -> None:
    obj = rig.create_smplx_armature(bpy.context, body=False, expressions=False)
    m = make_motion(40, seed=2)
    keys.write_motion(obj, m["poses"], m["trans"], None, 30, 30, 5, "Take")
    assert keys.take_frames(obj) == (5, 44) == (keys.read_motion(obj, 30)["start_frame"], 44)
    for fc in all_fcurves(compat, obj):  # the animator trims the take's last ten frames
        for point in reversed(list(fc.keyframe_points)[-10:]):
            fc.keyframe_points.remove(point)
        fc.update()
    assert keys.take_frames(obj) == (5, 34)
    fc = all_fcurves(compat, obj)[0]
    fc.keyframe_points.insert(60, 0.5)  # and keys one channel further on
    assert keys.take_frames(obj) == (5, 60)


def test_replace_range_rejects_motion_that_does_not_cover_it(keys, rig) -> None:
    obj = rig.create_smplx_armature(bpy.context)
    m = make_motion(20)
    keys.write_motion(obj, m["poses"], m["trans"], m["expressions"], 30, 30, 1)
    with pytest.raises(ValueError, match="does not include the whole range"):
        keys.replace_range(obj, m["poses"][:5], m["trans"][:5], None, 30, 30, 1, 3, 10)
    with pytest.raises(ValueError, match="empty frame range"):
        keys.replace_range(obj, m["poses"], m["trans"], None, 30, 30, 1, 10, 10)


# ------------------------------------------------------------------------------ compat
def test_text_strips_per_version(compat) -> None:
    scene = bpy.context.scene
    assert list(compat.strips(scene)) == []
    se = scene.sequence_editor_create()
    strip = compat.new_text_strip(se, "w1", "hello", channel=2, frame_start=10, length=15)
    assert strip.text == "hello"
    assert (compat.strip_left(strip), compat.strip_right(strip)) == (10, 25)
    assert compat.content_start(strip) == 10.0
    assert [s.name for s in compat.strips(scene)] == ["w1"]
    assert [s.name for s in compat.strips_all(scene)] == ["w1"]


def _write_wav(path: Path, seconds: float, rate: int = 16000) -> None:
    t = np.arange(int(seconds * rate)) / rate
    data = (0.3 * np.sin(2 * np.pi * 220 * t) * 32767).astype("<i2")
    with wave.open(str(path), "wb") as fh:
        fh.setnchannels(1)
        fh.setsampwidth(2)
        fh.setframerate(rate)
        fh.writeframes(data.tobytes())


def test_sound_strips_or_the_documented_4_2_limitation(compat, tmp_path: Path) -> None:
    wav = tmp_path / "a.wav"
    _write_wav(wav, 2.0)
    se = bpy.context.scene.sequence_editor_create()
    if bpy.app.version < (4, 4, 0):
        # The PyPI bpy 4.2 wheel has no Audaspace: sound strips cannot be created at all.
        assert compat.has_audio() is False
        with pytest.raises(RuntimeError, match="no audio support"):
            compat.new_sound_strip(se, "voice", str(wav), channel=1, frame_start=1)
        return
    assert compat.has_audio()
    strip = compat.new_sound_strip(se, "voice", str(wav), channel=1, frame_start=5)
    fps = bpy.context.scene.render.fps / bpy.context.scene.render.fps_base
    assert compat.strip_left(strip) == 5
    assert compat.strip_right(strip) == 5 + round(2.0 * fps)
    compat.set_left_handle_offset(strip, 6)  # trimmed: the content stays where it was
    assert (compat.strip_left(strip), compat.content_start(strip)) == (11, 5.0)
    assert strip in list(compat.strips(bpy.context.scene))


def test_strip_timing_uses_the_names_of_this_version(compat) -> None:
    """Blender 5.x renamed the strip timing properties (5.0 has only the old names, 5.3 warns
    on them: removed in 6.0); compat reads the RNA to know which ones to use."""
    if bpy.app.version < (5, 1, 0):
        assert compat.HANDLE_NAMES is False
    elif bpy.app.version >= (5, 3, 0):
        assert compat.HANDLE_NAMES is True
