"""Joint positions of SMPL-X motion, for foot contacts (spec §1.4).

The lower-body VAE needs foot contacts, which the reference derives from SMPL-X joint
positions. Two ways to get them:

* `SmplxJoints` runs the official `smplx` layer on a user-supplied SMPL-X model file (the
  licensed SMPLX_NEUTRAL_2020.npz the reference uses). This reproduces the reference exactly.
* `rag_gesture_shared.kinematics.forward_kinematics` on the project's own default skeleton
  (`rag_gesture_shared.rest_skeleton`), which needs no licensed data. Its proportions differ
  slightly from SMPL-X, but contacts only depend on per-frame foot speed against a 1 cm
  threshold, so they agree in practice.

`joint_positions` / `motion_contacts` pick the first when a model path is configured.
`smplx` is imported lazily so importing this module stays cheap.
"""

from __future__ import annotations

import os
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import torch

from rag_gesture_shared.kinematics import forward_kinematics
from rag_gesture_shared.skeleton import NUM_BETAS, NUM_EXPRESSIONS, NUM_JOINTS

from .contacts import foot_contacts
from .motion import Motion

# Arrays `smplx` 0.1.28 reads from an .npz with use_pca=False and use_face_contour=False.
REQUIRED_MODEL_KEYS: tuple[str, ...] = (
    "v_template", "f", "shapedirs", "posedirs", "J_regressor", "weights", "kintree_table",
    "hands_componentsl", "hands_componentsr", "hands_meanl", "hands_meanr",
    "lmk_faces_idx", "lmk_bary_coords",
)  # fmt: skip
# smplx indexes fixed keypoint vertices (up to 9929), so smaller meshes fail deep inside it.
MIN_MODEL_VERTICES = 9930
# File names tried, in order, inside a model folder (and its `smplx/` subfolder).
_MODEL_FILE_NAMES = ("SMPLX_NEUTRAL_2020.npz", "SMPLX_NEUTRAL.npz")


# ---------------------------------------------------------------------------------- inputs
def _pose_tensor(poses: npt.ArrayLike | torch.Tensor) -> torch.Tensor:
    """(N, 55, 3) or (N, 165) axis-angle -> (N, 55, 3) float64 tensor."""
    t = torch.as_tensor(poses, dtype=torch.float64)
    if t.ndim == 2 and t.shape[1] == 3 * NUM_JOINTS:
        t = t.reshape(-1, NUM_JOINTS, 3)
    if t.ndim != 3 or t.shape[1:] != (NUM_JOINTS, 3):
        raise ValueError(f"poses must be (N, 55, 3) or (N, 165), got {tuple(t.shape)}.")
    return t


def _trans_tensor(trans: npt.ArrayLike | torch.Tensor, n: int) -> torch.Tensor:
    t = torch.as_tensor(trans, dtype=torch.float64)
    if t.shape != (n, 3):
        raise ValueError(f"trans must be ({n}, 3) to match poses, got {tuple(t.shape)}.")
    return t


def _fit_columns(values: npt.ArrayLike | None, n: int, rows: int | None) -> np.ndarray:
    """Zero-pad or truncate the last axis to n columns (betas: 1-D; expressions: (rows, k))."""
    shape = (n,) if rows is None else (rows, n)
    out = np.zeros(shape, dtype=np.float32)
    if values is None:
        return out
    arr = np.asarray(values, dtype=np.float32)
    if rows is not None and (arr.ndim != 2 or arr.shape[0] != rows):
        raise ValueError(f"expressions must be ({rows}, K), got {arr.shape}.")
    if rows is None and arr.ndim != 1:
        raise ValueError(f"betas must be 1-D, got shape {arr.shape}.")
    k = min(n, arr.shape[-1])
    out[..., :k] = arr[..., :k]
    return out


# ------------------------------------------------------------------------------- SMPL-X file
def find_smplx_model_file(model_path: str | os.PathLike[str]) -> Path:
    """Resolve a SMPL-X .npz file, or a folder holding one (directly or in `smplx/`).

    Folders are searched for SMPLX_NEUTRAL_2020.npz (the reference's model) first, then
    SMPLX_NEUTRAL.npz, then any SMPLX_NEUTRAL*.npz. Only the neutral model is looked for
    because the reference computes contacts with it regardless of the speaker.
    """
    path = Path(model_path).expanduser()
    if path.is_dir():
        folders = (path, path / "smplx")
        for name in _MODEL_FILE_NAMES:
            for folder in folders:
                if (folder / name).is_file():
                    return folder / name
        for folder in folders:
            found = sorted(folder.glob("SMPLX_NEUTRAL*.npz")) if folder.is_dir() else []
            if found:
                return found[0]
        raise ValueError(
            f"No SMPLX_NEUTRAL*.npz model file was found in {path} or {path / 'smplx'}."
        )
    if not path.is_file():
        raise ValueError(f"SMPL-X model file {path} does not exist.")
    if path.suffix.lower() != ".npz":
        raise ValueError(
            f"SMPL-X model file {path} must be the .npz version (the .pkl needs chumpy, "
            f"which does not work on Python 3.11)."
        )
    return path


def check_smplx_model_file(path: Path) -> None:
    """Raise a one-sentence ValueError unless `path` has every array smplx needs.

    smplx itself fails with an assert or an index error deep inside torch, which tells a
    user nothing, and it unpickles any object array in the file; this reads only the archive
    directory, every member's header and two small arrays.
    """
    try:
        data = np.load(path, allow_pickle=False)
        if not isinstance(data, np.lib.npyio.NpzFile):
            raise ValueError("a single .npy array")
        with data:
            keys = set(data.files)
            v_shape = data["v_template"].shape if "v_template" in keys else None
            j_shape = data["J_regressor"].shape if "J_regressor" in keys else None
        pickled = _pickled_members(path)
    except (OSError, EOFError, ValueError, zipfile.BadZipFile) as exc:
        raise ValueError(
            f"SMPL-X model file {path} is not a readable .npz archive "
            f"({str(exc).split('. ')[0].rstrip('.')})."  # numpy 2 explains in sentences
        ) from None
    if pickled:
        raise ValueError(
            f"SMPL-X model file {path} holds Python objects ({', '.join(pickled[:3])}), which "
            "could run code when read; use the official numeric .npz model file."
        )
    missing = [k for k in REQUIRED_MODEL_KEYS if k not in keys]
    if missing or v_shape is None or j_shape is None:  # (the last two imply missing)
        raise ValueError(
            f"SMPL-X model file {path} lacks the required array(s) "
            f"{', '.join(missing)}, so it is not a complete SMPL-X .npz model."
        )
    if len(v_shape) != 2 or v_shape[1] != 3 or v_shape[0] < MIN_MODEL_VERTICES:
        raise ValueError(
            f"SMPL-X model file {path} has v_template of shape {v_shape}, but a SMPL-X mesh "
            f"needs (V, 3) with V >= {MIN_MODEL_VERTICES} (10475 for SMPL-X)."
        )
    if tuple(j_shape) != (NUM_JOINTS, v_shape[0]):
        raise ValueError(
            f"SMPL-X model file {path} has J_regressor of shape {j_shape}, but SMPL-X needs "
            f"({NUM_JOINTS}, {v_shape[0]})."
        )


def _pickled_members(path: Path) -> list[str]:
    """Members numpy would unpickle (object dtypes), read from their headers only.

    smplx itself loads the file with `allow_pickle=True` and reads every member, so a file
    is handed to it only when no member holds Python objects. A member whose header cannot
    be read counts as one: nothing unreadable reaches smplx.
    """
    out = []
    with zipfile.ZipFile(path) as zf:
        for info in zf.infolist():
            with zf.open(info) as fh:
                if fh.read(len(np.lib.format.MAGIC_PREFIX)) != np.lib.format.MAGIC_PREFIX:
                    continue  # numpy returns such a member as raw bytes, never unpickled
                try:
                    major = fh.read(2)[0]
                    read = (np.lib.format.read_array_header_1_0 if major == 1
                            else np.lib.format.read_array_header_2_0)
                    dtype = read(fh)[2]
                except (ValueError, IndexError, SyntaxError):
                    out.append(info.filename)
                    continue
                if dtype.hasobject:
                    out.append(info.filename.removesuffix(".npy"))
    return out


class SmplxJoints:
    """SMPL-X joint positions from a user's model file, as the reference computes them.

    Mirrors the reference's `smplx.create(..., num_betas=300, num_expression_coeffs=100,
    use_pca=False, use_face_contour=False, ext='npz')` (spec §7), including smplx's default
    `flat_hand_mean=False` (the file's mean hand pose is added to the hand rotations; this
    moves finger joints only). `smplx.SMPLX` is instantiated directly, which is what
    `smplx.create` dispatches to, so model files with any name work. smplx fixes the batch
    size at construction, so frames run in chunks of `chunk_size` on one model, the last
    chunk padded by repeating its final frame; one model is kept per batch size used.
    """

    def __init__(self, model_path: str | os.PathLike[str], chunk_size: int = 128) -> None:
        if chunk_size < 1:
            raise ValueError(f"chunk_size must be at least 1, got {chunk_size}.")
        self.model_file = find_smplx_model_file(model_path)
        check_smplx_model_file(self.model_file)
        self.chunk_size = int(chunk_size)
        self._models: dict[int, Any] = {}

    def _model(self, batch_size: int) -> Any:
        """smplx SMPLX module for exactly `batch_size` frames (created on first use)."""
        model = self._models.get(batch_size)
        if model is None:
            import smplx  # lazy: heavy, and only needed when a model file is configured

            model = smplx.SMPLX(
                str(self.model_file),
                gender="neutral",
                num_betas=NUM_BETAS,
                num_expression_coeffs=NUM_EXPRESSIONS,
                use_pca=False,
                use_face_contour=False,
                ext="npz",
                batch_size=batch_size,
            ).eval()
            if len(self._models) >= 2:  # short clips of many lengths: keep memory bounded
                self._models.pop(next(iter(self._models)))
            self._models[batch_size] = model
        return model

    def __call__(
        self,
        poses: npt.ArrayLike | torch.Tensor,
        trans: npt.ArrayLike | torch.Tensor,
        betas: npt.ArrayLike | None = None,
        expressions: npt.ArrayLike | None = None,
    ) -> np.ndarray:
        """(N, 55, 3)/(N, 165) poses, (N, 3) trans -> (N, 55, 3) float32 joints in metres.

        `betas` (any length, e.g. 300 or AMASS's 16) and `expressions` (N, K) are zero-padded
        or truncated to what the model file supports; both default to zeros.
        """
        pose = _pose_tensor(poses).to(torch.float32)
        n = pose.shape[0]
        shift = _trans_tensor(trans, n).to(torch.float32)
        if n == 0:
            return np.zeros((0, NUM_JOINTS, 3), np.float32)
        batch = min(self.chunk_size, n)
        model = self._model(batch)
        beta_row = torch.from_numpy(_fit_columns(betas, model.num_betas, None))
        expr = torch.from_numpy(_fit_columns(expressions, NUM_EXPRESSIONS, n))
        expr = expr[:, : model.num_expression_coeffs]
        out = np.empty((n, NUM_JOINTS, 3), dtype=np.float32)
        with torch.inference_mode():
            for start in range(0, n, batch):
                idx = torch.arange(start, start + batch).clamp(max=n - 1)  # pad: repeat last
                p = pose[idx]
                result = model(
                    betas=beta_row.expand(batch, -1),
                    global_orient=p[:, 0],
                    body_pose=p[:, 1:22].reshape(batch, -1),
                    jaw_pose=p[:, 22],
                    leye_pose=p[:, 23],
                    reye_pose=p[:, 24],
                    left_hand_pose=p[:, 25:40].reshape(batch, -1),
                    right_hand_pose=p[:, 40:55].reshape(batch, -1),
                    transl=shift[idx],
                    expression=expr[idx],
                    return_verts=False,
                    return_shaped=False,
                )
                stop = min(start + batch, n)
                out[start:stop] = result.joints[: stop - start, :NUM_JOINTS].numpy()
        return out


_SMPLX_CACHE: dict[tuple[str, int], SmplxJoints] = {}


def _smplx_joints_for(model_path: str | os.PathLike[str]) -> SmplxJoints:
    """One SmplxJoints per model file (reloaded if the file changes): loading takes ~1 s."""
    file = find_smplx_model_file(model_path).resolve()
    key = (str(file), file.stat().st_mtime_ns)
    joints = _SMPLX_CACHE.get(key)
    if joints is None:
        joints = SmplxJoints(file)
        _SMPLX_CACHE.clear()
        _SMPLX_CACHE[key] = joints
    return joints


# ------------------------------------------------------------------------------ public entry
MotionArrays = Motion | Sequence[Any]


def _unpack(motion_or_arrays: MotionArrays) -> tuple[Any, Any, Any, Any]:
    """Motion -> (poses, trans, betas, expressions); or a (poses, trans[, betas[, expr]])."""
    if isinstance(motion_or_arrays, Motion):
        m = motion_or_arrays
        return m.poses, m.trans, m.betas, m.expressions
    items = list(motion_or_arrays)
    if not 2 <= len(items) <= 4:
        raise ValueError("Pass a Motion or a (poses, trans[, betas[, expressions]]) tuple.")
    items += [None] * (4 - len(items))
    return items[0], items[1], items[2], items[3]


def joint_positions(
    motion_or_arrays: MotionArrays, model_path: str | os.PathLike[str] | None = None
) -> np.ndarray:
    """(N, 55, 3) float32 joint positions: SMPL-X if `model_path` is set, else default FK.

    The default skeleton has fixed proportions, so betas and expressions only matter when a
    SMPL-X model file is used.
    """
    poses, trans, betas, expressions = _unpack(motion_or_arrays)
    if model_path is not None:
        return _smplx_joints_for(model_path)(poses, trans, betas, expressions)
    return forward_kinematics(poses, trans).astype(np.float32)


def motion_contacts(
    poses: npt.ArrayLike | torch.Tensor,
    trans: npt.ArrayLike | torch.Tensor,
    model_path: str | os.PathLike[str] | None = None,
    betas: npt.ArrayLike | None = None,
    expressions: npt.ArrayLike | None = None,
) -> np.ndarray:
    """(N, 4) float32 foot contacts (left/right ankle, left/right foot) of 15-fps motion.

    Callers must pass 15-fps frames: the 1 cm threshold is a distance per 1/15 s (spec §1.4),
    so a 30-fps clip would report contact while walking. Resample first
    (`Motion.resample(15)`).
    """
    joints = joint_positions((poses, trans, betas, expressions), model_path)
    return foot_contacts(joints)
