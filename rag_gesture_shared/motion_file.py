"""The motion file both halves exchange: SMPL-X arrays in the BEAT2 / AMASS .npz layout.

Layout (spec §1.1 and §7; the BEAT2 ``smplxflame_30`` files and the reference's
``pred_motion.npz``): ``poses`` (N, 165) axis-angle of the 55 joints, ``trans`` (N, 3) metres,
``expressions`` (N, 100) FLAME coefficients, ``betas`` (300,), ``model``, ``gender`` and
``mocap_frame_rate``. AMASS files spell the rate ``mocap_framerate``, carry no expressions
(read as zeros) and 10 or 16 betas (zero-padded to 300, which is the same body shape).

The worker writes its results with `write_motion_npz` and reads a regenerate request's
motion with `read_motion_npz`; the add-on does the opposite. Both go through `check_motion`,
so a shape or NaN problem is one sentence at the boundary, never a broken armature or a
failure deep inside the model. Files are never unpickled.
"""

from __future__ import annotations

import io
import math
import os
import pickle
import zipfile
from collections.abc import Mapping
from typing import Any, BinaryIO

import numpy as np

from .atomic_file import atomic_write
from .skeleton import NUM_BETAS, NUM_EXPRESSIONS, NUM_JOINTS

POSE_COLUMNS = 3 * NUM_JOINTS  # 165
FPS_KEYS = ("mocap_frame_rate", "mocap_framerate")
DEFAULT_MODEL = "smplx2020"
DEFAULT_GENDER = "neutral"
_KNOWN_COLUMNS = {156: "SMPL-H (52 joints)", 72: "SMPL (24 joints)", 63: "SMPL body only"}


class MotionFormatError(ValueError):
    """Motion data (in memory or in a file) does not have the SMPL-X layout we need."""


def _as_float32(name: str, value: Any, shape: tuple[int | None, ...]) -> np.ndarray:
    """Coerce a real-valued array to float32 and check its shape (None = any) and finiteness.

    Float64/int inputs are accepted and converted because callers hold all kinds of arrays;
    non-numeric data is rejected rather than guessed at. Always copies, so the result never
    shares memory with the caller.
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


def check_motion(poses: Any, trans: Any, expressions: Any, fps: Any, betas: Any = None,
                 gender: Any = DEFAULT_GENDER, model: Any = DEFAULT_MODEL) -> dict[str, Any]:
    """Validated copies: poses (N, 55, 3), trans (N, 3), expressions (N, 100) and betas
    (300,) as float32, fps a positive float, gender and model strings; else
    MotionFormatError naming the field. `expressions` and `betas` may be None (zeros)."""
    poses = _as_float32("poses", poses, (None, NUM_JOINTS, 3))
    n = poses.shape[0]
    if n == 0:
        raise MotionFormatError("Motion has zero frames.")
    trans = _as_float32("trans", trans, (None, 3))
    expressions = _as_float32("expressions", np.zeros((n, NUM_EXPRESSIONS)) if expressions is None
                              else expressions, (None, NUM_EXPRESSIONS))
    for name, arr in (("trans", trans), ("expressions", expressions)):
        if arr.shape[0] != n:
            raise MotionFormatError(f"'{name}' has {arr.shape[0]} frames but 'poses' has {n}.")
    betas = _as_float32("betas", np.zeros(NUM_BETAS) if betas is None else betas, (NUM_BETAS,))
    try:
        rate = float(fps)
    except (TypeError, ValueError):
        raise MotionFormatError(f"fps must be a number, got {fps!r}.") from None
    if not (math.isfinite(rate) and rate > 0):
        raise MotionFormatError(f"fps must be a positive finite number, got {fps!r}.")
    if not isinstance(gender, str) or not isinstance(model, str):
        raise MotionFormatError("gender and model must be strings.")
    return {"poses": poses, "trans": trans, "expressions": expressions, "fps": rate,
            "betas": betas, "gender": gender, "model": model}


def write_motion_npz(path: str | os.PathLike[str] | BinaryIO, poses: Any, trans: Any,
                     expressions: Any, fps: float, betas: Any = None,
                     gender: str = DEFAULT_GENDER, model: str = DEFAULT_MODEL) -> None:
    """Write the layout above to exactly `path` (float32 arrays, after `check_motion`).

    Atomic (`atomic_file`): a failure leaves an earlier file at `path` untouched. `path` may
    also be an open binary file (e.g. one of an `AtomicGroup`). An open file handle is used
    so numpy does not append '.npz' to other suffixes.
    """
    m = check_motion(poses, trans, expressions, fps, betas, gender, model)
    if hasattr(path, "write"):
        _savez(path, m)
    else:
        with atomic_write(path) as fh:
            _savez(fh, m)


def _savez(fh: BinaryIO, m: dict[str, Any]) -> None:
    """The arrays of a `check_motion` dict into an open binary file."""
    n = m["poses"].shape[0]
    fh.write(npz_bytes({
        "betas": m["betas"],
        "poses": m["poses"].reshape(n, POSE_COLUMNS),
        "expressions": m["expressions"],
        "trans": m["trans"],
        "model": np.array(m["model"]),
        "gender": np.array(m["gender"]),
        "mocap_frame_rate": np.array(m["fps"], dtype=np.float64),
    }))


def npz_bytes(arrays: Mapping[str, np.ndarray]) -> bytes:
    """An uncompressed .npz archive in memory, written to a file in one call: `np.savez`
    straight into a file that fails half-way (a full disk) leaves its ZipFile for the
    garbage collector, which later prints a traceback of its own."""
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


def read_motion_npz(path: str | os.PathLike[str]) -> dict[str, Any]:
    """A BEAT2 or AMASS SMPL-X .npz as the dict `check_motion` returns.

    A missing file raises FileNotFoundError; every other problem a MotionFormatError whose
    one sentence starts with the path.
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
        return _from_npz(data, where)


def _from_npz(data: np.lib.npyio.NpzFile, where: str) -> dict[str, Any]:
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
    fps_key = next((k for k in FPS_KEYS if k in keys), None)
    if fps_key is None:
        raise MotionFormatError(
            f"{where}: frame rate is missing (no 'mocap_frame_rate' or 'mocap_framerate')."
        )
    fps_arr = get(fps_key)
    if fps_arr.size != 1 or not np.issubdtype(fps_arr.dtype, np.number):
        raise MotionFormatError(f"{where}: '{fps_key}' must be a single number.")
    try:
        return check_motion(
            poses=poses.reshape(n, NUM_JOINTS, 3),
            trans=get("trans"),
            expressions=get("expressions") if "expressions" in keys else None,
            fps=float(fps_arr.reshape(())),
            betas=_padded_betas(get("betas") if "betas" in keys else None, where),
            gender=_text(get("gender"), DEFAULT_GENDER) if "gender" in keys else DEFAULT_GENDER,
            model=_text(get("model"), DEFAULT_MODEL) if "model" in keys else DEFAULT_MODEL,
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
