"""SMPL-X joint table and RAG-Gesture body-part index sets (spec §1.2-1.3).

Plain tuples: the backend's representation, the add-on's armature and bone maps and the
worker protocol's body-part locks all read these same numbers.
"""

from __future__ import annotations

JOINT_NAMES: tuple[str, ...] = (
    "pelvis", "left_hip", "right_hip", "spine1", "left_knee", "right_knee", "spine2",
    "left_ankle", "right_ankle", "spine3", "left_foot", "right_foot", "neck", "left_collar",
    "right_collar", "head", "left_shoulder", "right_shoulder", "left_elbow", "right_elbow",
    "left_wrist", "right_wrist", "jaw", "left_eye_smplhf", "right_eye_smplhf",
    "left_index1", "left_index2", "left_index3", "left_middle1", "left_middle2", "left_middle3",
    "left_pinky1", "left_pinky2", "left_pinky3", "left_ring1", "left_ring2", "left_ring3",
    "left_thumb1", "left_thumb2", "left_thumb3",
    "right_index1", "right_index2", "right_index3", "right_middle1", "right_middle2",
    "right_middle3", "right_pinky1", "right_pinky2", "right_pinky3", "right_ring1",
    "right_ring2", "right_ring3", "right_thumb1", "right_thumb2", "right_thumb3",
)  # fmt: skip

NUM_JOINTS = len(JOINT_NAMES)  # 55

# SMPL-X kinematic tree (kintree_table row 0), -1 for the root.
PARENTS: tuple[int, ...] = (
    -1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 12, 13, 14, 16, 17, 18, 19, 15, 15, 15,
    20, 25, 26, 20, 28, 29, 20, 31, 32, 20, 34, 35, 20, 37, 38,
    21, 40, 41, 21, 43, 44, 21, 46, 47, 21, 49, 50, 21, 52, 53,
)  # fmt: skip

UPPER: tuple[int, ...] = (3, 6, 9, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21)
HANDS: tuple[int, ...] = tuple(range(25, 55))
LOWER: tuple[int, ...] = (0, 1, 2, 4, 5, 7, 8, 10, 11)
FACE: tuple[int, ...] = (22,)
EYES: tuple[int, ...] = (23, 24)

PARTS: dict[str, tuple[int, ...]] = {"upper": UPPER, "hands": HANDS, "lower": LOWER, "face": FACE}

# Body parts a "Regenerate range" can keep as they are (protocol `locks`); "lower" also holds
# the root orientation and the translation, "face" the jaw, the eyes and the expressions.
LOCKABLE_PARTS: tuple[str, ...] = ("upper", "hands", "face", "lower")
# The joints each lock keeps. "hands" is the fingers and thumbs only: the wrists belong to
# "upper" (the model's upper-body part), so a locked hand still turns with its forearm.
LOCKED_JOINTS: dict[str, tuple[int, ...]] = {**PARTS, "face": FACE + EYES}

# Foot joints used for contacts (spec §1.4): left/right ankle, left/right foot.
CONTACT_JOINTS: tuple[int, ...] = (7, 8, 10, 11)
CONTACT_THRESHOLD = 0.01  # metres per frame at 15 fps

NUM_EXPRESSIONS = 100
NUM_BETAS = 300


def dims_of(joints: tuple[int, ...]) -> list[int]:
    """Axis-angle columns (of the 165-d pose) that belong to the given joints."""
    return [3 * j + k for j in joints for k in range(3)]
