"""A synthetic, full-size SMPL-X-format model file for tests (no licensed data needed)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from rag_gesture_shared.rest_skeleton import DEFAULT_REST_JOINTS as REST
from rag_gesture_shared.skeleton import NUM_JOINTS, PARENTS

V = 10475


def write_synthetic_smplx(path: Path, shape_scale: float) -> Path:
    """SMPL-X-format npz with V = 10475 whose rest joints equal the default skeleton.

    Joint j is regressed as the mean of vertices 3j, 3j+1, 3j+2, placed symmetrically around
    REST[j]; all other vertices scatter around a joint and are skinned to it. With
    shape_scale > 0 the first ten beta columns of shapedirs are random, so betas move joints.
    """
    rng = np.random.default_rng(1)
    v_template = np.empty((V, 3))
    owner = np.arange(V) % NUM_JOINTS
    v_template[:] = REST[owner] + rng.normal(0, 0.03, (V, 3))
    j_regressor = np.zeros((NUM_JOINTS, V))
    d = np.array([0.01, -0.004, 0.006])
    for j in range(NUM_JOINTS):
        idx = [3 * j, 3 * j + 1, 3 * j + 2]
        v_template[idx] = REST[j] + np.stack([d, -d, 0 * d])
        owner[idx] = j
        j_regressor[j, idx] = 1.0 / 3.0
    weights = np.zeros((V, NUM_JOINTS))
    weights[np.arange(V), owner] = 1.0
    shapedirs = np.zeros((V, 3, 400), np.float32)
    if shape_scale:
        shapedirs[:, :, :10] = rng.normal(0, shape_scale, (V, 3, 10))
    kintree = np.stack([np.array(PARENTS), np.arange(NUM_JOINTS)]).astype(np.int64)
    kintree[0, 0] = 4294967295  # what the released files store for the root's parent
    tri = np.arange(V - 2)
    np.savez(
        path,
        v_template=v_template,
        f=np.stack([tri, tri + 1, tri + 2], axis=1).astype(np.int32),
        shapedirs=shapedirs,
        posedirs=np.zeros((V, 3, 486), np.float32),
        J_regressor=j_regressor,
        weights=weights,
        kintree_table=kintree,
        hands_componentsl=np.eye(45),
        hands_componentsr=np.eye(45),
        hands_meanl=np.zeros(45),
        hands_meanr=np.zeros(45),
        lmk_faces_idx=np.zeros(51, np.int64),
        lmk_bary_coords=np.tile([1.0, 0.0, 0.0], (51, 1)),
    )
    return path
