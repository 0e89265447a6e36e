"""The project's own neutral rest skeleton for the 55 SMPL-X joints (no SMPL-X data used).

Without a licensed SMPL-X model file we still need joint positions: for foot contacts of
hand-edited motion (spec §1.4, via `kinematics.forward_kinematics`) and for the Blender
add-on's default armature. Both read this one module, so what the user sees in Blender is
what the contact rule measured.

Convention (the SMPL-X frame, metres):
  * Y up, +Z forward (the body faces +Z), +X towards the body's LEFT;
  * the pelvis joint is at the origin (0, 0, 0); `trans` moves it, as in SMPL-X;
  * T-pose: legs straight down, arms straight out along +X (left) / -X (right) with palms
    down, fingers straight along the arm, thumbs pointing forward (+Z);
  * the body is exactly mirror-symmetric: right joints are the left ones with x negated,
    centre-line joints have x = 0.

The proportions are ordinary adult values for a stature of about 1.70 m: soles at
SOLE_Y = -0.95 (the foot joints sit a little above them), crown at HEAD_TOP_Y = +0.75, the
head joint (skull base) at +0.60, shoulder joints at +0.43, arm span about 1.73 m. Joint
centres never reach the skin, so the stature is HEAD_TOP_Y - SOLE_Y, not the joint extent.

Only the pelvis has a zero offset (it is its own position, the origin); every other joint is
a non-zero offset from its parent.
"""

from __future__ import annotations

import numpy as np

from .skeleton import JOINT_NAMES, NUM_JOINTS, PARENTS

HEAD_TOP_Y = 0.75  # crown of the head, metres above the pelvis joint
SOLE_Y = -0.95  # soles of the feet (the floor in the rest pose)
STATURE = HEAD_TOP_Y - SOLE_Y  # 1.70 m

_SHOULDER_Y = 0.43
_ARM_Z = -0.03  # shoulders, elbows and wrists sit slightly behind the pelvis line
_WRIST_X = 0.685  # 0.175 shoulder + 0.27 upper arm + 0.24 forearm
_HAND_Y = _SHOULDER_Y - 0.005  # knuckles a little below the wrist axis (palm down)

# Left-side and centre-line joints; the right side is mirrored below.
_LEFT_AND_CENTRE: dict[str, tuple[float, float, float]] = {
    # --- trunk and head (x = 0)
    "pelvis": (0.0, 0.0, 0.0),
    "spine1": (0.0, 0.100, -0.015),
    "spine2": (0.0, 0.235, -0.005),
    "spine3": (0.0, 0.290, 0.005),
    "neck": (0.0, 0.500, -0.015),
    "head": (0.0, 0.600, 0.020),
    "jaw": (0.0, 0.585, 0.045),  # temporomandibular hinge: a bit below and forward of head
    "left_eye_smplhf": (0.032, 0.645, 0.085),  # interpupillary distance 64 mm
    # --- left leg: thigh 0.40, shank 0.40, foot joint at the ball of the foot
    "left_hip": (0.090, -0.080, 0.0),
    "left_knee": (0.100, -0.480, 0.010),
    "left_ankle": (0.110, -0.880, -0.030),
    "left_foot": (0.120, -0.925, 0.110),
    # --- left shoulder girdle and arm (T-pose along +X)
    "left_collar": (0.075, 0.420, -0.010),
    "left_shoulder": (0.175, _SHOULDER_Y, _ARM_Z),
    "left_elbow": (0.445, _SHOULDER_Y, _ARM_Z),
    "left_wrist": (_WRIST_X, _SHOULDER_Y, _ARM_Z),
}

# Fingers: knuckle (MCP) position relative to the wrist, then the two phalanx lengths along
# +X. Palm down with the thumb forward, so the index is the most forward (+Z) finger.
_FINGERS: dict[str, tuple[float, float, float, float]] = {
    # name: (knuckle dx, knuckle dz, proximal phalanx, middle phalanx)
    "index": (0.095, 0.025, 0.040, 0.025),
    "middle": (0.097, 0.005, 0.045, 0.028),
    "ring": (0.090, -0.014, 0.042, 0.026),
    "pinky": (0.082, -0.032, 0.032, 0.020),
}
# Thumb: carpometacarpal, metacarpophalangeal and interphalangeal joints, each relative to
# the previous one (starting at the wrist), pointing forward and out along the arm.
_THUMB_STEPS: tuple[tuple[float, float, float], ...] = (
    (0.025, -0.012, 0.028),
    (0.030, -0.006, 0.024),
    (0.030, -0.003, 0.012),
)


def _left_hand(wrist: tuple[float, float, float]) -> dict[str, tuple[float, float, float]]:
    """Left finger joints for a T-pose hand at `wrist`."""
    wx, _, wz = wrist
    out: dict[str, tuple[float, float, float]] = {}
    for name, (dx, dz, proximal, middle) in _FINGERS.items():
        x = wx + dx
        for k, step in enumerate((0.0, proximal, middle), start=1):
            x += step
            out[f"left_{name}{k}"] = (x, _HAND_Y, wz + dz)
    pos = np.asarray(wrist, dtype=np.float64)
    for k, step in enumerate(_THUMB_STEPS, start=1):
        pos = pos + np.asarray(step)
        out[f"left_thumb{k}"] = (float(pos[0]), float(pos[1]), float(pos[2]))
    return out


def _mirror_name(name: str) -> str:
    if name.startswith("left_"):
        return "right_" + name[len("left_") :]
    if name.startswith("right_"):
        return "left_" + name[len("right_") :]
    return name


def _build_rest_joints() -> np.ndarray:
    """(55, 3) rest positions in JOINT_NAMES order; right side = left side with x negated."""
    table = dict(_LEFT_AND_CENTRE)
    table.update(_left_hand(table["left_wrist"]))
    rest = np.full((NUM_JOINTS, 3), np.nan, dtype=np.float64)
    for j, name in enumerate(JOINT_NAMES):
        if name in table:
            rest[j] = table[name]
        else:
            x, y, z = table[_mirror_name(name)]
            rest[j] = (-x, y, z)
    if np.isnan(rest).any():  # pragma: no cover - guards edits of the tables above
        raise RuntimeError("default skeleton table is missing joints")
    return rest


def _offsets(rest: np.ndarray) -> np.ndarray:
    """Child minus parent; the root keeps its own position."""
    out = rest.copy()
    for j, parent in enumerate(PARENTS):
        if parent >= 0:
            out[j] = rest[j] - rest[parent]
    return out


DEFAULT_REST_JOINTS: np.ndarray = _build_rest_joints()
DEFAULT_REST_JOINTS.setflags(write=False)

DEFAULT_OFFSETS: np.ndarray = _offsets(DEFAULT_REST_JOINTS)
DEFAULT_OFFSETS.setflags(write=False)

__all__ = ["DEFAULT_OFFSETS", "DEFAULT_REST_JOINTS", "HEAD_TOP_Y", "SOLE_Y", "STATURE"]
