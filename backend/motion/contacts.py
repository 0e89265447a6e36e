"""Foot contacts for the lower-body VAE input (spec §1.4).

The lower+translation VAE expects 4 contact columns. The reference derives them from SMPL-X
joint positions at 15 fps with a fixed speed threshold; reproducing that rule exactly keeps
encoded retrieval clips in the distribution the VAE was trained on.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from rag_gesture_shared.skeleton import CONTACT_JOINTS, CONTACT_THRESHOLD


def foot_contacts(joints: npt.ArrayLike) -> np.ndarray:
    """(T, J>=12, 3) joint positions in metres at 15 fps -> (T, 4) float32 contacts.

    Columns follow CONTACT_JOINTS (left/right ankle, left/right foot). Frame t is in contact
    when ||j(t+1) - j(t)|| < CONTACT_THRESHOLD; the last frame has no successor, so its
    displacement counts as 0 and it is always in contact (as in the reference).
    """
    pos = np.asarray(joints)
    if not np.issubdtype(pos.dtype, np.floating):
        pos = pos.astype(np.float64)  # float inputs keep their precision, like the reference
    if pos.ndim != 3 or pos.shape[1] <= max(CONTACT_JOINTS) or pos.shape[2] != 3:
        raise ValueError(f"joints must be (T, J>={max(CONTACT_JOINTS) + 1}, 3), got {pos.shape}")
    feet = pos[:, list(CONTACT_JOINTS)]
    disp = np.zeros(feet.shape[:2], dtype=pos.dtype)
    disp[:-1] = np.linalg.norm(feet[1:] - feet[:-1], axis=-1)
    return (disp < CONTACT_THRESHOLD).astype(np.float32)
