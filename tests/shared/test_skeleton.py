"""Skeleton tables (spec §1.2-1.3) and foot contacts (spec §1.4)."""

import numpy as np
import pytest

from backend.motion.contacts import foot_contacts
from rag_gesture_shared import skeleton as sk


def test_joint_names():
    assert len(sk.JOINT_NAMES) == sk.NUM_JOINTS == 55
    assert len(set(sk.JOINT_NAMES)) == 55
    assert sk.JOINT_NAMES[0] == "pelvis"
    assert sk.JOINT_NAMES[22] == "jaw"
    assert sk.JOINT_NAMES[23:25] == ("left_eye_smplhf", "right_eye_smplhf")
    assert sk.JOINT_NAMES[54] == "right_thumb3"


def test_parents_form_tree_rooted_at_pelvis():
    assert len(sk.PARENTS) == 55
    assert sk.PARENTS[0] == -1
    assert [j for j, p in enumerate(sk.PARENTS) if p < 0] == [0]
    for child, parent in enumerate(sk.PARENTS[1:], start=1):
        assert 0 <= parent < child
    # every joint reaches the pelvis
    for j in range(55):
        seen = 0
        while j != 0:
            j = sk.PARENTS[j]
            seen += 1
            assert seen < 55
    assert sk.JOINT_NAMES[sk.PARENTS[sk.JOINT_NAMES.index("left_wrist")]] == "left_elbow"


def test_part_sets_partition_all_but_eyes():
    parts = [sk.UPPER, sk.HANDS, sk.LOWER, sk.FACE]
    assert [len(p) for p in parts] == [13, 30, 9, 1]
    union = [j for p in parts for j in p]
    assert len(union) == len(set(union)), "part sets overlap"
    assert sorted(union + list(sk.EYES)) == list(range(55))
    assert set(sk.EYES) == {23, 24}
    assert all(list(p) == sorted(p) for p in parts)
    assert sk.PARTS == {"upper": sk.UPPER, "hands": sk.HANDS, "lower": sk.LOWER, "face": sk.FACE}


def test_dims_of():
    assert [len(sk.dims_of(p)) for p in (sk.UPPER, sk.HANDS, sk.LOWER, sk.FACE)] == [
        39,
        90,
        27,
        3,
    ]
    assert sk.dims_of(sk.FACE) == [66, 67, 68]
    assert sk.dims_of(sk.LOWER)[:6] == [0, 1, 2, 3, 4, 5]


# ---------------------------------------------------------------------------- contacts


def _joints(t: int, foot_step: float, moving=sk.CONTACT_JOINTS) -> np.ndarray:
    rng = np.random.default_rng(0)
    base = rng.normal(size=(1, 22, 3)).astype(np.float32)
    pos = np.repeat(base, t, axis=0)
    steps = np.arange(t, dtype=np.float32)[:, None] * foot_step
    for j in moving:
        pos[:, j, 0] += steps[:, 0]
    return pos


def test_still_feet_are_in_contact():
    c = foot_contacts(_joints(6, 0.0))
    assert c.shape == (6, 4)
    assert c.dtype == np.float32
    assert np.all(c == 1.0)


def test_moving_feet_are_not_in_contact_except_last_frame():
    c = foot_contacts(_joints(6, 0.02))
    assert np.all(c[:-1] == 0.0)
    assert np.all(c[-1] == 1.0)


def test_contacts_are_per_joint_and_use_threshold():
    # only the right foot (joint 11, column 3) moves; 0.009 m/frame is still contact
    c = foot_contacts(_joints(5, 0.02, moving=(11,)))
    assert np.all(c[:-1, :3] == 1.0)
    assert np.all(c[:-1, 3] == 0.0)
    assert np.all(foot_contacts(_joints(5, 0.009)) == 1.0)
    # non-foot joints moving fast do not matter
    assert np.all(foot_contacts(_joints(5, 0.5, moving=(0, 15, 20))) == 1.0)


def test_contacts_reject_short_skeleton():
    with pytest.raises(ValueError, match="J>=12"):
        foot_contacts(np.zeros((4, 11, 3)))
