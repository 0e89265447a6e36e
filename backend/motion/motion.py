"""The `Motion` container and its npz I/O (BEAT2 / AMASS layout, spec §1.1 and §7).

One validated type moves between the model output, the Blender add-on and files on disk, so
shape or NaN problems surface once, at the boundary, with a message a user can act on,
instead of deep inside the model or as a silently broken armature.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import BinaryIO

import numpy as np

from rag_gesture_shared.motion_file import (
    DEFAULT_GENDER,
    DEFAULT_MODEL,
    POSE_COLUMNS,
    MotionFormatError,
    check_motion,
    read_motion_npz,
    write_motion_npz,
)
from rag_gesture_shared.resample import resample_motion
from rag_gesture_shared.skeleton import NUM_BETAS

__all__ = ["POSE_COLUMNS", "Motion", "MotionFormatError"]


@dataclass
class Motion:
    """SMPL-X motion: per-frame axis-angle poses, translation and FLAME expressions."""

    poses: np.ndarray  # (N, 55, 3) float32 axis-angle
    trans: np.ndarray  # (N, 3) float32 metres
    expressions: np.ndarray  # (N, 100) float32 FLAME coefficients
    fps: float
    betas: np.ndarray = field(default_factory=lambda: np.zeros(NUM_BETAS, np.float32))
    gender: str = DEFAULT_GENDER
    model: str = DEFAULT_MODEL

    def __post_init__(self) -> None:
        checked = check_motion(self.poses, self.trans, self.expressions, self.fps, self.betas,
                               self.gender, self.model)
        for name, value in checked.items():
            setattr(self, name, value)

    # ------------------------------------------------------------------ basic views
    @property
    def num_frames(self) -> int:
        return int(self.poses.shape[0])

    @property
    def duration(self) -> float:
        """Seconds covered, num_frames / fps (each frame lasts 1/fps)."""
        return self.num_frames / self.fps

    @property
    def poses_flat(self) -> np.ndarray:
        """(N, 165) view, the layout of the npz files and of the model output."""
        return self.poses.reshape(self.num_frames, POSE_COLUMNS)

    def slice(self, start: int | None = None, stop: int | None = None) -> Motion:
        """Frames [start:stop) (Python slice semantics) as a new, independent Motion."""
        sl = slice(start, stop)
        return replace(
            self, poses=self.poses[sl], trans=self.trans[sl], expressions=self.expressions[sl]
        )

    @classmethod
    def concatenate(cls, motions: Sequence[Motion]) -> Motion:
        """Join clips in time; all must share fps. Body shape/gender/model come from the first."""
        if not motions:
            raise MotionFormatError("Cannot concatenate an empty list of motions.")
        first = motions[0]
        if any(m.fps != first.fps for m in motions):
            raise MotionFormatError(
                f"Cannot concatenate motions with different fps: {[m.fps for m in motions]}."
            )
        return replace(
            first,
            poses=np.concatenate([m.poses for m in motions]),
            trans=np.concatenate([m.trans for m in motions]),
            expressions=np.concatenate([m.expressions for m in motions]),
        )

    def with_zero_translation(self) -> Motion:
        """Copy with trans = 0, the reference's `pred_motion_notrans.npz` variant (spec §7)."""
        return replace(self, trans=np.zeros_like(self.trans))

    def resample(self, fps: float) -> Motion:
        """Same motion at another frame rate (slerp; rag_gesture_shared.resample)."""

        poses, trans, expressions = resample_motion(
            self.poses, self.trans, self.expressions, self.fps, float(fps)
        )
        return replace(self, poses=poses, trans=trans, expressions=expressions, fps=float(fps))

    # ------------------------------------------------------------------ npz I/O
    def save_npz(self, path: str | os.PathLike[str] | BinaryIO) -> None:
        """Write the BEAT2 `smplxflame_30` / reference `pred_motion.npz` layout to exactly
        `path`, atomically, or into an open binary file (rag_gesture_shared.motion_file)."""
        write_motion_npz(path, self.poses, self.trans, self.expressions, self.fps, self.betas,
                         self.gender, self.model)

    @classmethod
    def load_npz(cls, path: str | os.PathLike[str]) -> Motion:
        """Read a BEAT2 or AMASS SMPL-X npz; every problem becomes a MotionFormatError."""
        return cls(**read_motion_npz(path))
