"""The `Motion` container and its npz I/O (BEAT2 / AMASS layout, spec §1.1 and §7).

One validated type moves between the model output, the Blender add-on and files on disk, so
shape or NaN problems surface once, at the boundary, with a message a user can act on,
instead of deep inside the model or as a silently broken armature.
"""

from __future__ import annotations

import math
import os
import pickle
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from .skeleton import NUM_BETAS, NUM_EXPRESSIONS, NUM_JOINTS

POSE_COLUMNS = 3 * NUM_JOINTS  # 165
_KNOWN_COLUMNS = {156: "SMPL-H (52 joints)", 72: "SMPL (24 joints)", 63: "SMPL body only"}
_FPS_KEYS = ("mocap_frame_rate", "mocap_framerate")


class MotionFormatError(ValueError):
    """Motion data (in memory or in a file) does not have the SMPL-X layout we need."""


def _as_float32(name: str, value: Any, shape: tuple[int | None, ...]) -> np.ndarray:
    """Coerce a real-valued array to float32 and check its shape (None = any) and finiteness.

    Float64/int inputs are accepted and converted because callers hold all kinds of arrays;
    non-numeric data is rejected rather than guessed at. Always copies, so a Motion never
    shares memory with the caller or with another Motion.
    """
    arr = np.asarray(value)
    if not (np.issubdtype(arr.dtype, np.floating) or np.issubdtype(arr.dtype, np.integer)):
        raise MotionFormatError(f"'{name}' must hold real numbers, got dtype {arr.dtype}.")
    want = "(" + ", ".join("N" if s is None else str(s) for s in shape) + ")"
    if arr.ndim != len(shape) or any(
        s is not None and s != a for s, a in zip(shape, arr.shape, strict=True)
    ):
        raise MotionFormatError(f"'{name}' must have shape {want}, got {arr.shape}.")
    arr = np.array(arr, dtype=np.float32, order="C")  # own copy: no aliasing with callers
    if not np.isfinite(arr).all():
        raise MotionFormatError(f"'{name}' contains NaN or Inf values.")
    return arr


@dataclass
class Motion:
    """SMPL-X motion: per-frame axis-angle poses, translation and FLAME expressions."""

    poses: np.ndarray  # (N, 55, 3) float32 axis-angle
    trans: np.ndarray  # (N, 3) float32 metres
    expressions: np.ndarray  # (N, 100) float32 FLAME coefficients
    fps: float
    betas: np.ndarray = field(default_factory=lambda: np.zeros(NUM_BETAS, np.float32))
    gender: str = "neutral"
    model: str = "smplx2020"

    def __post_init__(self) -> None:
        self.poses = _as_float32("poses", self.poses, (None, NUM_JOINTS, 3))
        n = self.poses.shape[0]
        if n == 0:
            raise MotionFormatError("Motion has zero frames.")
        self.trans = _as_float32("trans", self.trans, (None, 3))
        self.expressions = _as_float32("expressions", self.expressions, (None, NUM_EXPRESSIONS))
        for name, arr in (("trans", self.trans), ("expressions", self.expressions)):
            if arr.shape[0] != n:
                raise MotionFormatError(f"'{name}' has {arr.shape[0]} frames but 'poses' has {n}.")
        self.betas = _as_float32("betas", self.betas, (NUM_BETAS,))
        try:
            fps = float(self.fps)
        except (TypeError, ValueError):
            raise MotionFormatError(f"fps must be a number, got {self.fps!r}.") from None
        if not (math.isfinite(fps) and fps > 0):
            raise MotionFormatError(f"fps must be a positive finite number, got {self.fps!r}.")
        self.fps = fps
        if not isinstance(self.gender, str) or not isinstance(self.model, str):
            raise MotionFormatError("gender and model must be strings.")

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
        """Same motion at another frame rate (slerp; see resample.resample_motion)."""
        from .resample import resample_motion  # lazy: keeps this module importable without torch

        poses, trans, expressions = resample_motion(
            self.poses, self.trans, self.expressions, self.fps, float(fps)
        )
        return replace(self, poses=poses, trans=trans, expressions=expressions, fps=float(fps))

    # ------------------------------------------------------------------ npz I/O
    def save_npz(self, path: str | os.PathLike[str]) -> None:
        """Write the BEAT2 `smplxflame_30` / reference `pred_motion.npz` layout to exactly `path`.

        An open file handle is used so numpy does not append '.npz' to other suffixes.
        """
        with open(path, "wb") as fh:
            np.savez(
                fh,
                betas=self.betas,
                poses=self.poses_flat,
                expressions=self.expressions,
                trans=self.trans,
                model=np.array(self.model),
                gender=np.array(self.gender),
                mocap_frame_rate=np.array(self.fps, dtype=np.float64),
            )

    @classmethod
    def load_npz(cls, path: str | os.PathLike[str]) -> Motion:
        """Read a BEAT2 or AMASS SMPL-X npz; every problem becomes a MotionFormatError.

        AMASS files have no expressions (-> zeros), spell the rate `mocap_framerate` and carry
        16 betas (zero-padded to 300, which is the same body shape).
        """
        where = os.fspath(path)
        try:
            data = np.load(path, allow_pickle=False)
        except FileNotFoundError:
            raise
        except (OSError, ValueError, EOFError, zipfile.BadZipFile, pickle.UnpicklingError):
            raise MotionFormatError(f"{where}: not a readable .npz (zip) archive.") from None
        if not isinstance(data, np.lib.npyio.NpzFile):
            raise MotionFormatError(f"{where}: is a single .npy array, not an .npz archive.")
        with data:
            return cls._from_npz(data, where)

    @classmethod
    def _from_npz(cls, data: np.lib.npyio.NpzFile, where: str) -> Motion:
        def get(key: str) -> np.ndarray:
            try:
                return data[key]
            except (ValueError, OSError, zipfile.BadZipFile, EOFError) as exc:
                raise MotionFormatError(f"{where}: entry '{key}' cannot be read ({exc}).") from None

        keys = set(data.files)
        for key in ("poses", "trans"):
            if key not in keys:
                raise MotionFormatError(f"{where}: required array '{key}' is missing.")
        poses = get("poses")
        if poses.ndim == 3 and poses.shape[1:] == (NUM_JOINTS, 3):
            poses = poses.reshape(poses.shape[0], POSE_COLUMNS)
        if poses.ndim != 2:
            raise MotionFormatError(
                f"{where}: 'poses' must be (N, {POSE_COLUMNS}), got shape {poses.shape}."
            )
        cols = poses.shape[1]
        if cols != POSE_COLUMNS:
            kind = f" ({_KNOWN_COLUMNS[cols]} layout)" if cols in _KNOWN_COLUMNS else ""
            raise MotionFormatError(
                f"{where}: 'poses' has {cols} columns{kind}, but SMPL-X needs {POSE_COLUMNS} "
                f"columns (55 joints x 3 axis-angle values)."
            )
        n = poses.shape[0]
        if n == 0:
            raise MotionFormatError(f"{where}: 'poses' has zero frames.")
        fps_key = next((k for k in _FPS_KEYS if k in keys), None)
        if fps_key is None:
            raise MotionFormatError(
                f"{where}: frame rate is missing (no 'mocap_frame_rate' or 'mocap_framerate')."
            )
        fps_arr = get(fps_key)
        if fps_arr.size != 1 or not np.issubdtype(fps_arr.dtype, np.number):
            raise MotionFormatError(f"{where}: '{fps_key}' must be a single number.")
        expressions = (
            get("expressions")
            if "expressions" in keys
            else np.zeros((n, NUM_EXPRESSIONS), np.float32)
        )
        try:
            return cls(
                poses=poses.reshape(n, NUM_JOINTS, 3),
                trans=get("trans"),
                expressions=expressions,
                fps=float(fps_arr.reshape(())),
                betas=_padded_betas(get("betas") if "betas" in keys else None, where),
                gender=_text(get("gender"), "neutral") if "gender" in keys else "neutral",
                model=_text(get("model"), "smplx2020") if "model" in keys else "smplx2020",
            )
        except MotionFormatError as exc:
            raise MotionFormatError(f"{where}: {exc}") from None


def _padded_betas(betas: np.ndarray | None, where: str) -> np.ndarray:
    """Shape coefficients as (300,): AMASS's 10/16 are the leading ones, the rest are zero."""
    out = np.zeros(NUM_BETAS, np.float32)
    if betas is None:
        return out
    flat = betas.reshape(-1) if betas.ndim == 2 and betas.shape[0] == 1 else betas
    numeric = np.issubdtype(flat.dtype, np.floating) or np.issubdtype(flat.dtype, np.integer)
    if not numeric or flat.ndim != 1 or flat.shape[0] > NUM_BETAS:
        raise MotionFormatError(
            f"{where}: 'betas' must be a vector of at most {NUM_BETAS} values, got {betas.shape}."
        )
    out[: flat.shape[0]] = flat
    return out


def _text(value: np.ndarray, default: str) -> str:
    """0-d string/bytes array (how numpy stores Python strings in npz) -> str."""
    item = value.reshape(-1)[0] if value.size == 1 else default
    return item.decode("utf-8", "replace") if isinstance(item, bytes) else str(item)
