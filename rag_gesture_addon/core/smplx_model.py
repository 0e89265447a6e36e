"""Read what the armature needs from a licensed SMPL-X model file (.npz, never unpickled)."""

from __future__ import annotations

import os
import zipfile

import numpy as np

from ..shared.skeleton import NUM_EXPRESSIONS, NUM_JOINTS, PARENTS


def load_smplx_model(path: str | os.PathLike[str]) -> dict[str, np.ndarray | None]:
    """Read what the rig needs from a SMPL-X model .npz (never unpickling).

    Returns dict(joints (55, 3) = J_regressor @ v_template, vertices (V, 3), faces (F, 3) or
    None, weights (V, 55) or None, expression_dirs (V, 3, 100) or None), all in the SMPL-X
    frame. Expression directions are shapedirs[..., 300:400] for the 400-component files
    (SMPL-X 2020) and shapedirs[..., 10:20] zero-padded for the old 20-component ones.
    """
    where = os.fspath(path)
    try:
        data = np.load(where, allow_pickle=False)
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        raise ValueError(f"{where}: not a readable SMPL-X .npz model ({exc}).") from None
    if not isinstance(data, np.lib.npyio.NpzFile):
        raise ValueError(f"{where}: is a single .npy array, not a SMPL-X .npz model.")
    with data:
        keys = set(data.files)
        for key in ("v_template", "J_regressor"):
            if key not in keys:
                raise ValueError(f"{where}: '{key}' is missing; is this a SMPL-X model file?")
        verts = np.asarray(data["v_template"], dtype=np.float64)
        regressor = np.asarray(data["J_regressor"], dtype=np.float64)
        if verts.ndim != 2 or verts.shape[1] != 3:
            raise ValueError(f"{where}: 'v_template' must be (V, 3), got {verts.shape}.")
        if regressor.shape != (NUM_JOINTS, verts.shape[0]):
            raise ValueError(
                f"{where}: 'J_regressor' must be (55, {verts.shape[0]}) for SMPL-X, "
                f"got {regressor.shape}."
            )
        if "kintree_table" in keys:
            parents = np.asarray(data["kintree_table"]).astype(np.int64)[0].copy()
            parents[0] = -1  # files store 2**32 - 1 or -1 for the root
            if tuple(int(p) for p in parents) != PARENTS:
                raise ValueError(f"{where}: its kinematic tree is not the SMPL-X one.")
        faces = np.asarray(data["f"], dtype=np.int64) if "f" in keys else None
        weights = np.asarray(data["weights"], dtype=np.float64) if "weights" in keys else None
        if weights is not None and weights.shape != (verts.shape[0], NUM_JOINTS):
            weights = None
        exp_dirs = None
        if "shapedirs" in keys:
            sd = np.asarray(data["shapedirs"], dtype=np.float64)
            if sd.ndim == 3 and sd.shape[:2] == verts.shape:
                exp_dirs = np.zeros(verts.shape + (NUM_EXPRESSIONS,))
                if sd.shape[2] >= 300 + NUM_EXPRESSIONS:
                    exp_dirs[:] = sd[:, :, 300 : 300 + NUM_EXPRESSIONS]
                elif sd.shape[2] == 20:
                    exp_dirs[:, :, :10] = sd[:, :, 10:20]
        return {
            "joints": regressor @ verts,
            "vertices": verts,
            "faces": faces,
            "weights": weights,
            "expression_dirs": exp_dirs,
        }
