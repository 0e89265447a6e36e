"""The SMPL-X armature: topology, rest frames, the axis-angle -> pose-bone convention, meshes."""

from __future__ import annotations

from pathlib import Path

import bpy
import numpy as np
import pytest


def world_joints(obj, names) -> np.ndarray:
    """(55, 3) posed joint positions (bone heads) in world space, in `names` order."""
    from mathutils import Vector

    mw = obj.matrix_world
    return np.array([tuple(mw @ Vector(obj.pose.bones[n].head)) for n in names])


def test_armature_topology_and_rest_frames(rig, sk, axes, rest) -> None:
    obj = rig.create_smplx_armature(bpy.context, name="SMPLX")
    assert obj.type == "ARMATURE" and obj.name == "SMPLX"
    bones = obj.data.bones
    assert len(bones) == 55
    # bones iterate in hierarchy order, so compare as sets; parents are checked below
    assert sorted(b.name for b in bones) == sorted(sk.JOINT_NAMES)
    for j, name in enumerate(sk.JOINT_NAMES):
        parent = bones[name].parent
        expected = sk.PARENTS[j]
        assert (parent.name if parent else None) == (
            sk.JOINT_NAMES[expected] if expected >= 0 else None
        )
    # Every bone's rest frame is the SMPL-X frame expressed Z-up (a +90 deg turn about X).
    for bone in bones:
        m = np.array([list(r) for r in bone.matrix_local.to_3x3()])
        np.testing.assert_allclose(m, axes.YUP_TO_ZUP, atol=1e-6)
    assert rig.rest_frame_error(obj) < 1e-6
    heads = np.array([tuple(bones[n].head_local) for n in sk.JOINT_NAMES])
    np.testing.assert_allclose(heads, axes.yup_to_zup(np.array(rest)), atol=1e-6)
    np.testing.assert_allclose(rig.rest_joints(obj), np.array(rest), atol=1e-6)
    assert all(pb.rotation_mode == "QUATERNION" for pb in obj.pose.bones)
    assert np.allclose(np.array(obj.matrix_world), np.eye(4))
    assert rig.is_smplx_rig(obj) and rig.missing_bones(obj) == []
    assert bpy.context.view_layer.objects.active == obj and obj.mode == "OBJECT"


def test_axis_angle_maps_straight_to_pose_bones(rig, sk, rot, axes, kin, rest) -> None:
    """SMPL-X axis-angle -> rotation_quaternion, trans -> pelvis location: the world joints
    equal SMPL-X forward kinematics on the same rest joints, seen Z-up."""
    obj = rig.create_smplx_armature(bpy.context, body=False, expressions=False)
    rng = np.random.default_rng(0)
    aa = rng.normal(0.0, 0.5, (55, 3))
    trans = rng.normal(0.0, 0.3, 3)
    q = rot.axis_angle_to_quaternion(aa)
    for j, name in enumerate(sk.JOINT_NAMES):
        obj.pose.bones[name].rotation_quaternion = tuple(q[j])
    obj.pose.bones["pelvis"].location = tuple(trans)
    bpy.context.view_layer.update()
    expected = axes.yup_to_zup(
        kin.forward_kinematics(aa[None], trans[None], np.array(rest))[0]
    )
    np.testing.assert_allclose(world_joints(obj, sk.JOINT_NAMES), expected, atol=1e-5)


def test_default_body_mesh_and_expression_keys(rig, sk) -> None:
    obj = rig.create_smplx_armature(bpy.context, name="Body")
    meshes = [c for c in obj.children if c.type == "MESH"]
    assert len(meshes) == 1
    mesh = meshes[0]
    assert rig.expression_mesh(obj) == mesh
    mods = [m for m in mesh.modifiers if m.type == "ARMATURE"]
    assert len(mods) == 1 and mods[0].object == obj
    assert {g.name for g in mesh.vertex_groups} == set(sk.JOINT_NAMES)
    blocks = mesh.data.shape_keys.key_blocks
    assert [b.name for b in blocks] == ["Basis"] + [f"Exp{i:03d}" for i in range(100)]
    for block in list(blocks)[1:]:
        assert (block.slider_min, block.slider_max) == (-10.0, 10.0)


def test_expressions_without_body_get_a_small_carrier_mesh(rig) -> None:
    obj = rig.create_smplx_armature(bpy.context, body=False, expressions=True)
    mesh = rig.expression_mesh(obj)
    assert mesh is not None and len(mesh.data.shape_keys.key_blocks) == 101
    bare = rig.create_smplx_armature(bpy.context, name="Bare", body=False, expressions=False)
    assert list(bare.children) == []
    assert rig.expression_mesh(bare) is None


def test_not_a_rig(rig) -> None:
    cube = bpy.data.objects["Cube"]
    assert not rig.is_smplx_rig(cube)
    assert len(rig.missing_bones(cube)) == 55
    arm = bpy.data.objects.new("Other", bpy.data.armatures.new("Other"))
    assert not rig.is_smplx_rig(arm)


# ------------------------------------------------------------------ user SMPL-X model file
def _synthetic_model(path: Path, sk, rest_joints, with_parents: tuple[int, ...] | None = None
                     ) -> dict:
    """A tiny SMPL-X-format model: joint j = mean of 3 vertices, each vertex skinned to one
    joint, random expression directions (shapedirs[..., 300:400])."""
    rng = np.random.default_rng(3)
    rest = np.array(rest_joints) * 1.1 + [0.0, 0.2, 0.0]
    v_per = 4
    owner = np.repeat(np.arange(55), v_per)
    verts = rest[owner] + rng.normal(0.0, 0.01, (55 * v_per, 3))
    regressor = np.zeros((55, len(verts)))
    for j in range(55):
        regressor[j, j * v_per : j * v_per + 3] = 1.0 / 3.0
    weights = np.zeros((len(verts), 55))
    weights[np.arange(len(verts)), owner] = 1.0
    faces = np.array([[j * v_per, j * v_per + 1, j * v_per + 2] for j in range(55)])
    shapedirs = np.zeros((len(verts), 3, 400))
    shapedirs[:, :, 300:] = rng.normal(0.0, 0.01, (len(verts), 3, 100))
    parents = np.array(with_parents or sk.PARENTS, dtype=np.int64)
    kintree = np.stack([parents, np.arange(55)]).astype(np.int64)
    kintree[0, 0] = 4294967295
    np.savez(
        path,
        v_template=verts,
        J_regressor=regressor,
        f=faces,
        weights=weights,
        shapedirs=shapedirs,
        kintree_table=kintree,
    )
    return {"verts": verts, "joints": regressor @ verts, "shapedirs": shapedirs, "owner": owner}


def test_rig_from_model_file(rig, sk, rot, axes, kin, rest, tmp_path: Path) -> None:
    model = _synthetic_model(tmp_path / "SMPLX_NEUTRAL.npz", sk, rest)
    obj = rig.create_smplx_armature(bpy.context, model_path=tmp_path / "SMPLX_NEUTRAL.npz")
    np.testing.assert_allclose(rig.rest_joints(obj), model["joints"], atol=1e-6)
    assert rig.rest_frame_error(obj) < 1e-6
    mesh = rig.expression_mesh(obj)
    assert len(mesh.data.vertices) == len(model["verts"])
    blocks = mesh.data.shape_keys.key_blocks
    basis = np.array([tuple(v.co) for v in blocks["Basis"].data])
    exp7 = np.array([tuple(v.co) for v in blocks["Exp007"].data])
    np.testing.assert_allclose(basis, axes.yup_to_zup(model["verts"]), atol=1e-6)
    offsets = axes.yup_to_zup(model["shapedirs"][:, :, 307])
    np.testing.assert_allclose(exp7 - basis, offsets, atol=1e-6)
    assert blocks["Exp007"].slider_min == -10.0

    # Skinning follows the bones: a posed vertex moves rigidly with its joint (SMPL-X LBS).
    rng = np.random.default_rng(5)
    aa = rng.normal(0.0, 0.4, (55, 3))
    trans = np.array([0.1, -0.2, 0.3])
    q = rot.axis_angle_to_quaternion(aa)
    for j, name in enumerate(sk.JOINT_NAMES):
        obj.pose.bones[name].rotation_quaternion = tuple(q[j])
    obj.pose.bones["pelvis"].location = tuple(trans)
    for block in list(blocks)[1:]:
        block.value = 0.0
    bpy.context.view_layer.update()
    evaluated = mesh.evaluated_get(bpy.context.evaluated_depsgraph_get()).to_mesh()
    posed = np.array([tuple(mesh.matrix_world @ v.co) for v in evaluated.vertices])
    mesh.evaluated_get(bpy.context.evaluated_depsgraph_get()).to_mesh_clear()
    joints = kin.forward_kinematics(aa[None], trans[None], model["joints"])[0]
    glob = np.empty((55, 3, 3))
    local = rot.axis_angle_to_matrix(aa)
    for j, p in enumerate(sk.PARENTS):
        glob[j] = local[j] if p < 0 else glob[p] @ local[j]
    owner = model["owner"]
    expected = joints[owner] + np.einsum(
        "vij,vj->vi", glob[owner], model["verts"] - model["joints"][owner]
    )
    np.testing.assert_allclose(posed, axes.yup_to_zup(expected), atol=1e-5)


def test_model_file_errors(rig, sk, rest, tmp_path: Path) -> None:
    wrong = list(sk.PARENTS)
    wrong[5] = 1
    _synthetic_model(tmp_path / "bad_tree.npz", sk, rest, with_parents=tuple(wrong))
    with pytest.raises(ValueError, match="kinematic tree"):
        rig.create_smplx_armature(bpy.context, model_path=tmp_path / "bad_tree.npz")
    np.savez(tmp_path / "no_regressor.npz", v_template=np.zeros((10, 3)))
    with pytest.raises(ValueError, match="J_regressor"):
        rig.create_smplx_armature(bpy.context, model_path=tmp_path / "no_regressor.npz")
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    with pytest.raises(ValueError, match="not a readable"):
        rig.create_smplx_armature(bpy.context, model_path=tmp_path / "junk.npz")
    assert "SMPLX" not in bpy.data.objects  # nothing half-built is left behind
