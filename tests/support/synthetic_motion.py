"""Random SMPL-X motion and joint-tree helpers for the tests (numpy only)."""

from __future__ import annotations

import numpy as np

from rag_gesture_shared.skeleton import NUM_JOINTS, PARENTS


def random_poses(n: int, scale: float = 0.6, seed: int = 0) -> np.ndarray:
    """(n, 55, 3) axis-angle, normal with the given scale (radians)."""
    return np.random.default_rng(seed).normal(0.0, scale, (n, NUM_JOINTS, 3))


def descendants(joint: int) -> set[int]:
    """Every joint below `joint` in the SMPL-X tree."""
    out: set[int] = set()
    for j in range(NUM_JOINTS):
        k = j
        while k > 0:
            k = PARENTS[k]
            if k == joint:
                out.add(j)
                break
    return out


def make_motion(n: int, seed: int = 0) -> dict[str, np.ndarray]:
    """Random SMPL-X motion: smooth-ish rotations below pi, translation, expressions in +-3."""
    rng = np.random.default_rng(seed)
    axis = rng.normal(size=(55, 3))
    axis /= np.linalg.norm(axis, axis=-1, keepdims=True)
    t = np.linspace(0.0, 1.0, n)[:, None, None]
    angle = 0.9 * np.pi * np.abs(np.sin(2.0 * t + rng.uniform(0, 3, (1, 55, 1))))
    poses = axis[None] * angle + rng.normal(0.0, 0.05, (n, 55, 3))
    trans = np.cumsum(rng.normal(0.0, 0.01, (n, 3)), axis=0) + [0.0, 0.9, 0.0]
    expressions = rng.uniform(-3.0, 3.0, (n, 100))
    return {"poses": poses, "trans": trans, "expressions": expressions}
