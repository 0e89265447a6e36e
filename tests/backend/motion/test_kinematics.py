"""The smplx wrapper, joint positions and foot contacts (spec §1.4).

The SMPL-X path is tested on a synthetic, full-size SMPL-X-format .npz whose J_regressor puts
every rest joint exactly on the default skeleton, so `SmplxJoints` and the shared
`forward_kinematics` must agree; no licensed model data is needed. The default skeleton and
the numpy kinematics themselves are tested in tests/shared.
"""

from __future__ import annotations

import ast
import inspect
import re
from pathlib import Path

import numpy as np
import pytest

from backend.motion import kinematics as kin
from backend.motion.motion import Motion
from rag_gesture_shared.kinematics import forward_kinematics
from rag_gesture_shared.rest_skeleton import DEFAULT_REST_JOINTS
from rag_gesture_shared.skeleton import JOINT_NAMES
from tests.support.smplx_synthetic import write_synthetic_smplx
from tests.support.synthetic_motion import random_poses

REST = DEFAULT_REST_JOINTS
V = 10475


# ------------------------------------------------------------------------------ helpers
def one_sentence(msg: str) -> bool:
    return "\n" not in msg and msg.endswith(".") and re.search(r"\.\s", msg[:-1]) is None


@pytest.fixture(scope="session")
def smplx_dir(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("smplx_models")
    (root / "smplx").mkdir()
    write_synthetic_smplx(root / "smplx" / "SMPLX_NEUTRAL_2020.npz", 0.0)
    write_synthetic_smplx(root / "shaped_model.npz", 0.01)
    return root


@pytest.fixture(scope="session")
def flat_model(smplx_dir) -> Path:
    return smplx_dir / "smplx" / "SMPLX_NEUTRAL_2020.npz"


@pytest.fixture(scope="session")
def smplx_joints(flat_model) -> kin.SmplxJoints:
    return kin.SmplxJoints(flat_model, chunk_size=32)


def test_kinematics_does_not_import_smplx_eagerly():
    tree = ast.parse(inspect.getsource(kin))
    top_level = [n for n in tree.body if isinstance(n, ast.Import | ast.ImportFrom)]
    names = {a.name for n in top_level for a in n.names} | {
        n.module for n in top_level if isinstance(n, ast.ImportFrom) and n.module
    }
    assert "smplx" not in names


# --------------------------------------------------------------------------- SMPL-X path
def test_smplx_matches_default_fk(smplx_joints):
    poses = random_poses(40, scale=0.5, seed=5).astype(np.float32)
    trans = np.random.default_rng(6).normal(0, 0.5, (40, 3)).astype(np.float32)
    got = smplx_joints(poses, trans)
    assert got.shape == (40, 55, 3) and got.dtype == np.float32
    np.testing.assert_allclose(got, forward_kinematics(poses, trans), atol=1e-4)


def test_smplx_chunking_matches_one_batch(smplx_joints, flat_model):
    poses = random_poses(45, scale=0.5, seed=7)  # 45 = 32 + 13: the last chunk is padded
    trans = np.random.default_rng(8).normal(0, 0.5, (45, 3))
    whole = kin.SmplxJoints(flat_model, chunk_size=64)(poses, trans)
    chunked = smplx_joints(poses, trans)
    np.testing.assert_allclose(chunked, whole, atol=1e-6)
    np.testing.assert_allclose(smplx_joints(poses[:5], trans[:5]), whole[:5], atol=1e-6)
    assert smplx_joints(poses[:0], trans[:0]).shape == (0, 55, 3)


def test_smplx_betas_change_joints(smplx_dir):
    shaped = kin.SmplxJoints(smplx_dir / "shaped_model.npz", chunk_size=8)
    poses = random_poses(4, scale=0.4, seed=9)
    trans = np.zeros((4, 3))
    neutral = shaped(poses, trans, betas=np.zeros(300))
    np.testing.assert_allclose(neutral, forward_kinematics(poses, trans), atol=1e-4)
    betas = np.zeros(300)
    betas[:3] = [2.0, -1.5, 1.0]
    moved = shaped(poses, trans, betas=betas)
    assert np.abs(moved - neutral).max() > 1e-3
    # AMASS-style 16 betas are zero-padded: the same shape as the 300-vector
    np.testing.assert_allclose(shaped(poses, trans, betas=betas[:16]), moved, atol=1e-6)


def test_find_model_file_in_folder(smplx_dir, flat_model):
    assert kin.find_smplx_model_file(smplx_dir) == flat_model
    assert kin.find_smplx_model_file(flat_model.parent) == flat_model
    assert kin.find_smplx_model_file(flat_model) == flat_model


def test_missing_file_is_one_sentence(tmp_path):
    for bad in (tmp_path / "nope.npz", tmp_path):
        with pytest.raises(ValueError) as err:
            kin.SmplxJoints(bad)
        assert one_sentence(str(err.value)), str(err.value)
    pkl = tmp_path / "SMPLX_NEUTRAL.pkl"
    pkl.write_bytes(b"x")
    with pytest.raises(ValueError, match=r"\.npz") as err:
        kin.SmplxJoints(pkl)
    assert one_sentence(str(err.value))


def test_missing_key_is_one_sentence(tmp_path):
    path = tmp_path / "SMPLX_NEUTRAL.npz"
    arrays = {k: np.zeros(1) for k in kin.REQUIRED_MODEL_KEYS if k != "weights"}
    np.savez(path, **arrays)
    with pytest.raises(ValueError, match="weights") as err:
        kin.SmplxJoints(path)
    assert one_sentence(str(err.value)), str(err.value)
    np.savez(path, **{k: np.zeros((300, 3)) for k in kin.REQUIRED_MODEL_KEYS})
    with pytest.raises(ValueError, match="v_template") as err:
        kin.SmplxJoints(path)
    assert one_sentence(str(err.value)), str(err.value)
    path.write_bytes(b"not a zip")
    with pytest.raises(ValueError) as err:
        kin.SmplxJoints(path)
    assert one_sentence(str(err.value)), str(err.value)


def test_joint_positions_dispatch(flat_model):
    poses = random_poses(6, scale=0.4, seed=10)
    trans = np.random.default_rng(11).normal(0, 0.3, (6, 3))
    motion = Motion(poses=poses, trans=trans, expressions=np.zeros((6, 100)), fps=15)
    fk = kin.joint_positions(motion)
    np.testing.assert_allclose(fk, forward_kinematics(motion.poses, motion.trans))
    np.testing.assert_allclose(kin.joint_positions((poses, trans)), fk, atol=1e-6)
    via_smplx = kin.joint_positions(motion, model_path=flat_model)
    np.testing.assert_allclose(via_smplx, fk, atol=1e-4)
    with pytest.raises(ValueError, match="Motion"):
        kin.joint_positions((poses,))


# ------------------------------------------------------------------------------ contacts
def walking_in_place() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Left hip flexes in steps of ~2 cm of ankle travel, holds, and comes back."""
    angles = np.array([0, 0.025, 0.05, 0.075, 0.1, 0.1, 0.1, 0.075, 0.05, 0.025, 0, 0, 0])
    poses = np.zeros((len(angles), 55, 3))
    poses[:, JOINT_NAMES.index("left_hip"), 0] = -angles  # flexion: the foot swings forward
    trans = np.tile([0.1, 0.0, 0.4], (len(angles), 1))
    moving = np.append(angles[1:] != angles[:-1], False)
    return poses, trans, moving


@pytest.mark.parametrize("use_smplx", [False, True])
def test_contacts_standing_all_one(use_smplx, flat_model):
    n = 10
    poses = np.zeros((n, 55, 3))
    poses[:, 16] = [0.0, 0.0, -1.2]  # arm down: the upper body may do anything
    trans = np.tile([0.0, 0.9, 0.0], (n, 1))
    contacts = kin.motion_contacts(poses, trans, flat_model if use_smplx else None)
    assert contacts.shape == (n, 4) and contacts.dtype == np.float32
    np.testing.assert_array_equal(contacts, 1.0)


@pytest.mark.parametrize("use_smplx", [False, True])
def test_contacts_walking_in_place(use_smplx, flat_model):
    poses, trans, moving = walking_in_place()
    model = flat_model if use_smplx else None
    ankle = kin.joint_positions((poses, trans), model)[:, JOINT_NAMES.index("left_ankle")]
    step = np.linalg.norm(np.diff(ankle, axis=0), axis=-1)
    np.testing.assert_allclose(step[moving[:-1]], 0.02, atol=0.002)  # ~2 cm per frame
    contacts = kin.motion_contacts(poses, trans, model)
    expected_left = np.where(moving, 0.0, 1.0)
    np.testing.assert_array_equal(contacts[:, 0], expected_left)  # left ankle
    np.testing.assert_array_equal(contacts[:, 2], expected_left)  # left foot
    np.testing.assert_array_equal(contacts[:, [1, 3]], 1.0)  # right leg planted
    assert contacts[-1].tolist() == [1.0, 1.0, 1.0, 1.0]


class _Exploit:
    """Unpickling this creates a marker file: proof that the file was unpickled."""

    def __init__(self, marker: Path) -> None:
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_a_model_file_with_python_objects_is_never_unpickled(flat_model, tmp_path):
    marker = tmp_path / "exploited"
    planted = tmp_path / "SMPLX_NEUTRAL.npz"
    with np.load(flat_model) as data:
        arrays = {k: data[k] for k in data.files}
    np.savez(planted, **arrays, extra=np.array([_Exploit(marker)], dtype=object))
    with pytest.raises(ValueError) as err:
        kin.SmplxJoints(planted)(np.zeros((2, 55, 3)), np.zeros((2, 3)))
    assert str(err.value) == (f"SMPL-X model file {planted} holds Python objects (extra), which "
                              "could run code when read; use the official numeric .npz model "
                              "file.")
    assert one_sentence(str(err.value))
    assert not marker.exists()
