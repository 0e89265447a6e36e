"""A studio take for `rag-gesture add-clip`: random motion and timed words on disk."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

USER_CLIP_TEXT = "look at this huge circle because it matters"


def studio_take(folder: Path, seconds: float = 12.0) -> tuple[Path, Path]:
    """(motion .npz, words .json) of a `seconds`-long take at 30 fps whose words include the
    connective `because` and the iconic word `circle` (at 2.2-3.0 s)."""
    from backend.motion.motion import Motion

    rng = np.random.default_rng(0)
    n = int(seconds * 30)
    motion = folder / "studio_take.npz"
    Motion(poses=(0.1 * rng.standard_normal((n, 55, 3))).astype(np.float32),
           trans=np.zeros((n, 3), np.float32), expressions=np.zeros((n, 100), np.float32),
           fps=30.0).save_npz(motion)
    words = [{"word": w, "start": 1.0 + 0.4 * i, "end": 1.3 + 0.4 * i}
             for i, w in enumerate(USER_CLIP_TEXT.split())]
    (folder / "words.json").write_text(json.dumps(words))
    return motion, folder / "words.json"
