"""rag_gesture_addon/core/retarget.py and rotation_modes.py on procedural rigs (numpy only).

The rigs of `synthetic_rigs` differ from the SMPL-X armature in names, proportions, rest pose
(A-pose), bone rolls, object transform (a Mixamo FBX import's 90-degree turn and 0.01 scale),
rotation modes and extra unmapped bones. A motion is retargeted, the rig is posed with
Blender's pose rule, and the world direction of every mapped bone (its head to the head of the
next mapped bone along the limb) is compared with the SMPL-X skeleton's.
"""

from __future__ import annotations

import numpy as np
import pytest

from rag_gesture_addon.core import bone_maps as bm
from rag_gesture_addon.core import retarget as rt
from rag_gesture_addon.core import rotation_modes as rm
from rag_gesture_shared import rotations as ma
from rag_gesture_shared.kinematics import forward_kinematics
from rag_gesture_shared.rest_skeleton import DEFAULT_REST_JOINTS
from rag_gesture_shared.skeleton import JOINT_NAMES
from tests.support.synthetic_rigs import C, build_rig, mixamo_world, pose_heads

JOINTS = JOINT_NAMES
TARGET_DEG = 2.0


def first(spec) -> str:
    return spec if isinstance(spec, str) else spec[0]


def preset_names(preset: str, drop: tuple[str, ...] = ()) -> dict[str, str]:
    return {j: first(b) for j, b in bm.PRESETS[preset].items() if j not in drop}


def smooth_motion(n: int = 40, seed: int = 0, amplitude: float = 0.6):
    rng = np.random.default_rng(seed)
    axis = rng.normal(size=(55, 3))
    axis /= np.linalg.norm(axis, axis=-1, keepdims=True)
    t = np.linspace(0, 1, n)[:, None, None]
    phase = rng.uniform(0, 3, (1, 55, 1))
    poses = axis[None] * amplitude * np.sin(3 * t + phase)
    trans = np.cumsum(rng.normal(0, 0.01, (n, 3)), axis=0)
    return poses, trans


def to_spec(spec) -> object:
    return rt.TargetRig(tuple(spec.bones), tuple(spec.parents), spec.rest_rot, spec.heads,
                        spec.world, tuple(spec.modes))


def apply(spec, ret, values, n):
    """Basis rotations / root location per bone from a take's channel values."""
    rot, loc = {}, {}
    row = 0
    for j in ret.joints:
        b = ret.bone_of[j]
        mode = spec.modes[b]
        k = rm.channel_count(mode)
        rot[spec.bones[b]] = rm.channels_to_matrices(values[row:row + k].T, mode)
        row += k
    loc[spec.bones[ret.root_bone]] = values[row:row + 3].T
    return pose_heads(spec, rot, loc, n)


def smplx_world_joints(poses, trans):
    pos = forward_kinematics(poses, trans, DEFAULT_REST_JOINTS)
    return pos @ C.T


def direction_errors(ret, heads, ref, by_joint=False):
    """Degrees between rig and SMPL-X directions, per mapped joint with a reference joint.

    heads: (N, B, 3) rig bone heads, or (N, 55, 3) SMPL-X joints when `by_joint`."""
    out = {}
    for j in ret.joints:
        d = ret.reference[j]
        if d is None:
            continue
        ia, ib = (j, d) if by_joint else (ret.bone_of[j], ret.bone_of[d])
        a = heads[:, ib] - heads[:, ia]
        s = ref[:, d] - ref[:, j]
        cos = np.sum(a * s, -1) / np.linalg.norm(a, axis=-1) / np.linalg.norm(s, axis=-1)
        out[JOINTS[j]] = float(np.degrees(np.arccos(np.clip(cos, -1, 1))).max())
    return out


RIGS = {
    "mixamo A-pose, rolls, FBX transform": dict(
        names=preset_names("mixamo"), a_pose_deg=45, roll_seed=1, world=mixamo_world(),
        scale=1.1),
    "rigify-named, long legs, euler bones, intermediate": dict(
        names=preset_names("rigify"), a_pose_deg=30, roll_seed=2, leg_scale=1.25,
        intermediate="MCH-neck_parent", extra_leaf="prop",
        modes={"upper_arm_fk.L": "XYZ", "forearm_fk.R": "ZXY", "head": "AXIS_ANGLE",
               "thigh_fk.L": "YZX"}),
    "unreal root bone, folded spine and fingers": dict(
        names=preset_names("unreal", drop=("spine2", "left_index2", "right_pinky2",
                                            "left_eye_smplhf", "right_eye_smplhf")),
        roll_seed=3, root_bone="root", scale=0.9),
}


@pytest.mark.parametrize("label", list(RIGS))
def test_mapped_bone_directions_follow_smplx(label):
    kwargs = RIGS[label]
    spec = build_rig(**kwargs)
    bone_map = bm.resolve_map(kwargs["names"], spec.bones)
    ret = rt.Retargeter(bone_map, to_spec(spec))
    poses, trans = smooth_motion()
    values = ret.to_rig(poses, trans)
    assert values.shape == (len(ret.channels()), poses.shape[0])
    heads = apply(spec, ret, values, poses.shape[0])
    errors = direction_errors(ret, heads, smplx_world_joints(poses, trans))
    print(label, "max angle error (deg):", max(errors.values()))
    assert len(errors) >= 30
    assert max(errors.values()) <= TARGET_DEG, errors


def test_root_translation_is_scaled_by_hip_height():
    names = preset_names("mixamo")
    spec = build_rig(names, scale=1.3, leg_scale=1.2, world=mixamo_world())
    ret = rt.Retargeter(bm.resolve_map(names, spec.bones), to_spec(spec))
    poses, trans = smooth_motion(seed=4)
    trans += [0.3, 0.05, -0.2]
    heads = apply(spec, ret, ret.to_rig(poses, trans), poses.shape[0])
    hips = spec.bones.index(names["pelvis"])
    rest = pose_heads(spec, {}, {}, 1)[0, hips]
    rest_j = np.array(DEFAULT_REST_JOINTS)
    smplx_h = rest_j[0, 1] - rest_j[[7, 8], 1].mean()
    ankles = [spec.bones.index(names[a]) for a in ("left_ankle", "right_ankle")]
    rig_h = rest[2] - pose_heads(spec, {}, {}, 1)[0, ankles, 2].mean()
    assert ret.scale == pytest.approx(rig_h / smplx_h)
    np.testing.assert_allclose(heads[:, hips] - rest, ret.scale * trans @ C.T, atol=1e-9)


@pytest.mark.parametrize("label", list(RIGS))
def test_reading_back_recovers_the_mapped_joints(label):
    kwargs = RIGS[label]
    spec = build_rig(**kwargs)
    ret = rt.Retargeter(bm.resolve_map(kwargs["names"], spec.bones), to_spec(spec))
    poses, trans = smooth_motion(seed=5)
    back_poses, back_trans = ret.from_rig(ret.to_rig(poses, trans))
    np.testing.assert_allclose(back_trans, trans, atol=1e-9)
    before = smplx_world_joints(poses, trans)
    after = smplx_world_joints(back_poses, back_trans)
    errors = direction_errors(ret, after, before, by_joint=True)
    assert max(errors.values()) < 1e-4
    folded = [j for j in range(55) if j not in ret.bone_of]
    np.testing.assert_allclose(back_poses[:, folded], 0.0, atol=1e-9)  # unmapped -> identity
    if not folded:
        g0 = ma.axis_angle_to_matrix(poses)
        g1 = ma.axis_angle_to_matrix(back_poses)
        np.testing.assert_allclose(g1, g0, atol=1e-9)


def test_fully_mapped_smplx_names_round_trip_exactly():
    names = {j: j for j in JOINTS}
    spec = build_rig(names, roll_seed=7, a_pose_deg=20)
    ret = rt.Retargeter(bm.resolve_map("smplx", spec.bones), to_spec(spec))
    poses, trans = smooth_motion(seed=6, amplitude=1.2)
    back, back_t = ret.from_rig(ret.to_rig(poses, trans))
    np.testing.assert_allclose(ma.axis_angle_to_matrix(back), ma.axis_angle_to_matrix(poses),
                               atol=1e-9)
    np.testing.assert_allclose(back_t, trans, atol=1e-9)


def test_t_posed_smplx_layout_is_the_identity_transfer():
    """A rig built like the add-on's own SMPL-X armature gets the SMPL-X rotations as keys."""
    names = {j: j for j in JOINTS}
    spec = build_rig(names)
    spec.rest_rot[:] = C  # every bone's frame = the SMPL-X frame, as in rig.py
    ret = rt.Retargeter(bm.resolve_map("smplx", spec.bones), to_spec(spec))
    poses, trans = smooth_motion(seed=8)
    values = ret.to_rig(poses, trans)
    q = values[: 4 * 55].reshape(55, 4, -1).transpose(2, 0, 1)
    expected = ma.hemisphere_continuous(ma.axis_angle_to_quaternion(poses), axis=0)
    expected *= np.sign(np.sum(expected * q, -1, keepdims=True))
    np.testing.assert_allclose(q, expected, atol=1e-9)
    np.testing.assert_allclose(values[-3:].T, trans @ C.T @ C, atol=1e-9)


def test_missing_core_bones_are_named():
    names = preset_names("mixamo", drop=("left_elbow", "right_knee", "neck"))
    spec = build_rig(names)
    with pytest.raises(ValueError, match="3 of 16 core") as err:
        rt.Retargeter(bm.resolve_map("mixamo", spec.bones), to_spec(spec))
    for joint in ("left_elbow", "right_knee", "neck"):
        assert joint in str(err.value)


def test_channels_use_each_bones_rotation_mode():
    kwargs = RIGS["rigify-named, long legs, euler bones, intermediate"]
    spec = build_rig(**kwargs)
    ret = rt.Retargeter(bm.resolve_map(kwargs["names"], spec.bones), to_spec(spec))
    paths = {(c.path, c.index) for c in ret.channels()}
    assert ('pose.bones["upper_arm_fk.L"].rotation_euler', 2) in paths
    assert ('pose.bones["head"].rotation_axis_angle', 3) in paths
    assert ('pose.bones["torso"].location', 0) in paths
    assert not any("prop" in p or "MCH" in p for p, _ in paths)  # unmapped bones never keyed


# --------------------------------------------------------------------- rotation_modes
@pytest.mark.parametrize("order", rm.EULER_ORDERS)
def test_euler_round_trip_every_order(order):
    rng = np.random.default_rng(0)
    e = rng.uniform(-np.pi, np.pi, (500, 3))
    e[:, 1] = rng.uniform(-1.5, 1.5, 500)
    m = rm.euler_to_matrix(e, order)
    np.testing.assert_allclose(rm.euler_to_matrix(rm.matrix_to_euler(m, order), order), m,
                               atol=1e-9)
    lock = rm.euler_to_matrix(np.array([[0.3, np.pi / 2, 0.2]]), "XYZ")
    np.testing.assert_allclose(rm.euler_to_matrix(rm.matrix_to_euler(lock, "XYZ"), "XYZ"),
                               lock, atol=1e-9)


def test_euler_order_is_first_axis_first():
    e = np.array([0.3, -0.5, 1.1])
    rx = rm.euler_to_matrix(np.array([0.3, 0, 0]), "XYZ")
    ry = rm.euler_to_matrix(np.array([0, -0.5, 0]), "XYZ")
    rz = rm.euler_to_matrix(np.array([0, 0, 1.1]), "XYZ")
    np.testing.assert_allclose(rm.euler_to_matrix(e, "XYZ"), rz @ ry @ rx, atol=1e-12)
    np.testing.assert_allclose(rm.euler_to_matrix(e, "ZYX"), rx @ ry @ rz, atol=1e-12)


def test_matrix_quaternion_round_trip_near_180_degrees():
    rng = np.random.default_rng(1)
    axis = rng.normal(size=(300, 3))
    axis /= np.linalg.norm(axis, axis=-1, keepdims=True)
    angle = np.concatenate([rng.uniform(0, np.pi, 200), np.pi - 10.0 ** -rng.uniform(3, 9, 100)])
    q = ma.axis_angle_to_quaternion(axis * angle[:, None])
    back = rm.matrix_to_quaternion(ma.quaternion_to_matrix(q))
    np.testing.assert_allclose(np.abs(np.sum(back * q, -1)), 1.0, atol=1e-12)


@pytest.mark.parametrize("mode", rm.ROTATION_MODES)
def test_channels_continuous_and_invertible(mode):
    t = np.linspace(0, 4 * np.pi, 1000)
    aa = np.stack([np.sin(t), 0.5 * np.cos(t), t], -1)  # winds past +-pi repeatedly
    m = ma.axis_angle_to_matrix(aa)
    values = rm.matrices_to_channels(m, mode)
    np.testing.assert_allclose(rm.channels_to_matrices(values, mode), m, atol=1e-9)
    step = np.abs(np.diff(values, axis=0)).max()
    assert step < 0.5, step  # no sign flips or 2-pi wraps between neighbouring frames


def test_rotation_between_handles_opposite_and_zero():
    a = np.array([[1.0, 0, 0], [0, 2.0, 0], [0, 0, 0]])
    b = np.array([[-3.0, 0, 0], [0, 0, 1.0], [1.0, 0, 0]])
    r = rm.rotation_between(a, b)
    np.testing.assert_allclose(r[0] @ [1, 0, 0], [-1, 0, 0], atol=1e-12)
    np.testing.assert_allclose(r[1] @ [0, 1, 0], [0, 0, 1], atol=1e-12)
    np.testing.assert_allclose(r[2], np.eye(3))
