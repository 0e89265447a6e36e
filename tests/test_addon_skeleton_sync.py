"""The add-on's copies of the SMPL-X facts and maths agree with the backend (no bpy needed).

The add-on cannot import ``backend.motion`` (torch), so ``rag_gesture_addon/skeleton_data.py``
holds a literal copy of the joint table and the default rest skeleton, and
``motion_arrays.py`` re-implements the rotation / resampling / kinematics maths in numpy.
These tests pin both to the backend exactly. The add-on modules are loaded under a stand-in
package so the add-on's ``__init__`` (which may need bpy) is never executed.
"""

from __future__ import annotations

import ast
import types
from pathlib import Path

import numpy as np
import pytest
import torch
from addon_loader import ADDON_DIR, load_addon_module

from backend.motion import default_skeleton, skeleton
from backend.motion.kinematics import forward_kinematics
from backend.motion.motion import Motion
from backend.motion.resample import resample_motion
from backend.motion.rotations import (
    axis_angle_to_quaternion,
    quaternion_hemisphere_continuous,
    quaternion_to_axis_angle,
)


def _addon(name: str) -> types.ModuleType:
    """Import rag_gesture_addon.<name> without running the package's __init__.py."""
    return load_addon_module(name)


@pytest.fixture(scope="module")
def sd() -> types.ModuleType:
    return _addon("skeleton_data")


@pytest.fixture(scope="module")
def ma() -> types.ModuleType:
    return _addon("motion_arrays")


def _motion(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    poses = rng.normal(0.0, 0.8, (n, 55, 3))
    trans = rng.normal(0.0, 0.3, (n, 3))
    exp = rng.normal(0.0, 1.5, (n, 100))
    return poses, trans, exp


# ---------------------------------------------------------------------------- the tables
def test_joint_tables_equal_backend(sd) -> None:
    assert sd.JOINT_NAMES == skeleton.JOINT_NAMES
    assert sd.PARENTS == skeleton.PARENTS
    assert sd.NUM_JOINTS == skeleton.NUM_JOINTS == 55
    for name in ("UPPER", "HANDS", "LOWER", "FACE", "EYES", "PARTS", "NUM_EXPRESSIONS"):
        assert getattr(sd, name) == getattr(skeleton, name), name
    assert sd.EXPRESSION_KEY_NAMES == tuple(f"Exp{i:03d}" for i in range(100))
    assert sd.JOINT_NAMES[sd.JAW_INDEX] == "jaw"


def test_default_rest_joints_equal_backend_exactly(sd) -> None:
    copy = np.array(sd.DEFAULT_REST_JOINTS, dtype=np.float64)
    backend = np.asarray(default_skeleton.DEFAULT_REST_JOINTS, dtype=np.float64)
    assert copy.shape == backend.shape == (55, 3)
    assert copy.tobytes() == backend.tobytes()  # bit for bit, not just close


# ---------------------------------------------------------------------------- the maths
def test_rotations_match_backend(ma) -> None:
    poses, _, _ = _motion(20)
    q = ma.axis_angle_to_quaternion(poses)
    q_ref = axis_angle_to_quaternion(torch.from_numpy(poses)).numpy()
    np.testing.assert_allclose(q, q_ref, atol=1e-12)
    aa = ma.quaternion_to_axis_angle(q)
    aa_ref = quaternion_to_axis_angle(torch.from_numpy(np.where(q[..., :1] < 0, -q, q))).numpy()
    np.testing.assert_allclose(aa, aa_ref, atol=1e-10)
    # Round trip for angles below pi; tiny angles use the series branches.
    small = np.array([[1e-12, 0.0, 0.0], [0.0, 3e-9, -1e-9], [0.0, 0.0, 0.0]])
    back = ma.quaternion_to_axis_angle(ma.axis_angle_to_quaternion(small))
    np.testing.assert_allclose(back, small, atol=1e-15)
    mats = ma.axis_angle_to_matrix(poses)
    eye = np.broadcast_to(np.eye(3), mats.shape)
    np.testing.assert_allclose(mats @ np.swapaxes(mats, -1, -2), eye, atol=1e-12)
    flipped = q * np.where(np.random.default_rng(1).random((20, 55, 1)) < 0.5, -1.0, 1.0)
    ours = ma.hemisphere_continuous(flipped, axis=0)
    ref = quaternion_hemisphere_continuous(torch.from_numpy(flipped), dim=0).numpy()
    np.testing.assert_allclose(ours, ref, atol=0)


def test_quaternion_product_and_frame_change(ma) -> None:
    a = ma.axis_angle_to_quaternion(np.array([0.3, -0.2, 0.9]))
    b = ma.axis_angle_to_quaternion(np.array([-1.1, 0.4, 0.2]))
    np.testing.assert_allclose(
        ma.quaternion_to_matrix(ma.quaternion_multiply(a, b)),
        ma.quaternion_to_matrix(a) @ ma.quaternion_to_matrix(b),
        atol=1e-12,
    )
    turn = ma.quaternion_to_matrix(ma.YUP_TO_ZUP_QUAT)
    np.testing.assert_allclose(turn, ma.YUP_TO_ZUP, atol=1e-15)
    v = np.random.default_rng(2).normal(size=(7, 3))
    np.testing.assert_array_equal(ma.yup_to_zup(v), v @ ma.YUP_TO_ZUP.T)
    np.testing.assert_array_equal(ma.zup_to_yup(ma.yup_to_zup(v)), v)
    up = ma.yup_to_zup(np.array([0.0, 1.0, 0.0]))
    forward = ma.yup_to_zup(np.array([0.0, 0.0, 1.0]))
    assert up.tolist() == [0.0, 0.0, 1.0] and forward.tolist() == [0.0, -1.0, 0.0]


def test_forward_kinematics_matches_backend(ma, sd) -> None:
    poses, trans, _ = _motion(6, seed=3)
    rest = np.array(sd.DEFAULT_REST_JOINTS)
    ours = ma.forward_kinematics(poses, trans, rest)
    ref = forward_kinematics(poses, trans)  # backend default = the same rest skeleton
    np.testing.assert_allclose(ours, ref, atol=2e-6)  # backend returns float32


@pytest.mark.parametrize(("src", "dst"), [(30.0, 24.0), (15.0, 30.0), (30.0, 29.97), (30, 30)])
def test_resampling_matches_backend(ma, src: float, dst: float) -> None:
    poses, trans, exp = _motion(31, seed=4)
    poses *= 0.5  # keep angles below pi so axis-angle is unique
    ours = ma.resample_motion(poses, trans, exp, src, dst)
    ref = resample_motion(poses, trans, exp, src, dst)
    assert ours[0].shape == ref[0].shape
    q_ours = ma.axis_angle_to_quaternion(ours[0])
    q_ref = ma.axis_angle_to_quaternion(ref[0].astype(np.float64))
    np.testing.assert_allclose(np.abs(np.sum(q_ours * q_ref, -1)), 1.0, atol=1e-6)
    np.testing.assert_allclose(ours[1], ref[1], atol=1e-6)
    np.testing.assert_allclose(ours[2], ref[2], atol=1e-5)
    i0, w = ma.resample_positions(31, src, dst)
    assert len(i0) == ref[0].shape[0] and i0[0] == 0 and w[0] == 0.0


def test_npz_layout_is_shared_with_backend(ma, tmp_path: Path) -> None:
    poses, trans, exp = _motion(12, seed=5)
    path = tmp_path / "motion.npz"
    ma.save_motion_npz(path, poses, trans, exp, 30.0)
    motion = Motion.load_npz(path)
    np.testing.assert_allclose(motion.poses, poses.astype(np.float32))
    assert motion.fps == 30.0 and motion.expressions.shape == (12, 100)
    back = tmp_path / "backend.npz"
    motion.save_npz(back)
    loaded = ma.load_motion_npz(back)
    np.testing.assert_array_equal(loaded["poses"], motion.poses.astype(np.float64))
    np.testing.assert_array_equal(loaded["trans"], motion.trans.astype(np.float64))
    assert loaded["fps"] == 30.0 and loaded["model"] == motion.model
    (tmp_path / "bad.npz").write_bytes(b"junk")
    with pytest.raises(ValueError, match="not a readable"):
        ma.load_motion_npz(tmp_path / "bad.npz")
    smplh = {"poses": np.zeros((3, 156)), "trans": np.zeros((3, 3)), "mocap_framerate": 120.0}
    np.savez(tmp_path / "amass.npz", **smplh)
    with pytest.raises(ValueError, match="poses must be"):
        ma.load_motion_npz(tmp_path / "amass.npz")


# ------------------------------------------------------------------------- import rules
def _imports(path: Path) -> set[str]:
    """Top-level package names imported anywhere in a module (functions included)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def test_addon_never_imports_torch_or_the_backend() -> None:
    for path in sorted(ADDON_DIR.glob("*.py")):
        bad = _imports(path) & {"torch", "backend", "rag_gesture_addon"}
        assert not bad, f"{path.name} imports {sorted(bad)} (relative imports only, no torch)"
    for name in ("skeleton_data.py", "motion_arrays.py"):
        assert not _imports(ADDON_DIR / name) & {"bpy", "mathutils"}, name


def test_version_checks_live_in_compat_only() -> None:
    for name in ("rig.py", "keys.py", "motion_arrays.py", "skeleton_data.py"):
        text = (ADDON_DIR / name).read_text()
        assert "bpy.app.version" not in text, name
        assert ".channelbag(" not in text and "sequences" not in text, name
