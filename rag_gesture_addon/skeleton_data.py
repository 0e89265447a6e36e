"""SMPL-X joint table and the project's default rest skeleton, as plain Python literals.

The add-on cannot import ``backend.motion`` (its package imports torch, and the extension zip
does not contain the backend), so this module holds a copy of the facts it needs:

* ``JOINT_NAMES`` / ``PARENTS`` / body-part index sets: ``backend/motion/skeleton.py``;
* ``DEFAULT_REST_JOINTS``: ``backend/motion/default_skeleton.py`` (metres, SMPL-X frame:
  Y up, +Z forward, +X = the body's left; pelvis at the origin).

``tests/test_addon_skeleton_sync.py`` asserts that every value here equals the backend's
exactly, so edit both places together. No bpy and no numpy at import time: plain tuples.
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

NUM_EXPRESSIONS = 100
JAW_INDEX = JOINT_NAMES.index("jaw")

# Shape-key names the expression coefficients are keyed on: Exp000 .. Exp099.
EXPRESSION_KEY_NAMES: tuple[str, ...] = tuple(f"Exp{i:03d}" for i in range(NUM_EXPRESSIONS))

# Rest joint positions (metres, SMPL-X frame), JOINT_NAMES order. Exact copy of
# backend.motion.default_skeleton.DEFAULT_REST_JOINTS (floats written with repr()).
DEFAULT_REST_JOINTS: tuple[tuple[float, float, float], ...] = (
    (0.0, 0.0, 0.0),  # pelvis
    (0.09, -0.08, 0.0),  # left_hip
    (-0.09, -0.08, 0.0),  # right_hip
    (0.0, 0.1, -0.015),  # spine1
    (0.1, -0.48, 0.01),  # left_knee
    (-0.1, -0.48, 0.01),  # right_knee
    (0.0, 0.235, -0.005),  # spine2
    (0.11, -0.88, -0.03),  # left_ankle
    (-0.11, -0.88, -0.03),  # right_ankle
    (0.0, 0.29, 0.005),  # spine3
    (0.12, -0.925, 0.11),  # left_foot
    (-0.12, -0.925, 0.11),  # right_foot
    (0.0, 0.5, -0.015),  # neck
    (0.075, 0.42, -0.01),  # left_collar
    (-0.075, 0.42, -0.01),  # right_collar
    (0.0, 0.6, 0.02),  # head
    (0.175, 0.43, -0.03),  # left_shoulder
    (-0.175, 0.43, -0.03),  # right_shoulder
    (0.445, 0.43, -0.03),  # left_elbow
    (-0.445, 0.43, -0.03),  # right_elbow
    (0.685, 0.43, -0.03),  # left_wrist
    (-0.685, 0.43, -0.03),  # right_wrist
    (0.0, 0.585, 0.045),  # jaw
    (0.032, 0.645, 0.085),  # left_eye_smplhf
    (-0.032, 0.645, 0.085),  # right_eye_smplhf
    (0.78, 0.425, -0.0049999999999999975),  # left_index1
    (0.8200000000000001, 0.425, -0.0049999999999999975),  # left_index2
    (0.8450000000000001, 0.425, -0.0049999999999999975),  # left_index3
    (0.782, 0.425, -0.024999999999999998),  # left_middle1
    (0.8270000000000001, 0.425, -0.024999999999999998),  # left_middle2
    (0.8550000000000001, 0.425, -0.024999999999999998),  # left_middle3
    (0.767, 0.425, -0.062),  # left_pinky1
    (0.799, 0.425, -0.062),  # left_pinky2
    (0.8190000000000001, 0.425, -0.062),  # left_pinky3
    (0.775, 0.425, -0.044),  # left_ring1
    (0.8170000000000001, 0.425, -0.044),  # left_ring2
    (0.8430000000000001, 0.425, -0.044),  # left_ring3
    (0.7100000000000001, 0.418, -0.0019999999999999983),  # left_thumb1
    (0.7400000000000001, 0.412, 0.022000000000000002),  # left_thumb2
    (0.7700000000000001, 0.409, 0.034),  # left_thumb3
    (-0.78, 0.425, -0.0049999999999999975),  # right_index1
    (-0.8200000000000001, 0.425, -0.0049999999999999975),  # right_index2
    (-0.8450000000000001, 0.425, -0.0049999999999999975),  # right_index3
    (-0.782, 0.425, -0.024999999999999998),  # right_middle1
    (-0.8270000000000001, 0.425, -0.024999999999999998),  # right_middle2
    (-0.8550000000000001, 0.425, -0.024999999999999998),  # right_middle3
    (-0.767, 0.425, -0.062),  # right_pinky1
    (-0.799, 0.425, -0.062),  # right_pinky2
    (-0.8190000000000001, 0.425, -0.062),  # right_pinky3
    (-0.775, 0.425, -0.044),  # right_ring1
    (-0.8170000000000001, 0.425, -0.044),  # right_ring2
    (-0.8430000000000001, 0.425, -0.044),  # right_ring3
    (-0.7100000000000001, 0.418, -0.0019999999999999983),  # right_thumb1
    (-0.7400000000000001, 0.412, 0.022000000000000002),  # right_thumb2
    (-0.7700000000000001, 0.409, 0.034),  # right_thumb3
)
