"""Motion layer: SMPL-X skeleton facts, rotations, the Motion container, resampling, contacts.

Rotation functions are torch-based and stay in `backend.motion.rotations`; this package root
re-exports only the names most callers need.
"""

from .contacts import foot_contacts
from .motion import POSE_COLUMNS, Motion, MotionFormatError
from .resample import resample_motion, upsample_15_to_30
from .skeleton import (
    CONTACT_JOINTS,
    CONTACT_THRESHOLD,
    EYES,
    FACE,
    HANDS,
    JOINT_NAMES,
    LOWER,
    NUM_BETAS,
    NUM_EXPRESSIONS,
    NUM_JOINTS,
    PARENTS,
    PARTS,
    UPPER,
    dims_of,
)

__all__ = [
    "CONTACT_JOINTS",
    "CONTACT_THRESHOLD",
    "EYES",
    "FACE",
    "HANDS",
    "JOINT_NAMES",
    "LOWER",
    "NUM_BETAS",
    "NUM_EXPRESSIONS",
    "NUM_JOINTS",
    "PARENTS",
    "PARTS",
    "POSE_COLUMNS",
    "UPPER",
    "Motion",
    "MotionFormatError",
    "dims_of",
    "foot_contacts",
    "resample_motion",
    "upsample_15_to_30",
]
