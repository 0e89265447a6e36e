"""Where the official RAG-Gesture weights are looked for (spec §10 layout).

Search order: an explicit folder, `$RAG_GESTURE_HOME`, then the user cache
(`~/.cache/rag-gesture`). A weights root is a folder that contains `experiments/`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

HF_REPO = "m-hamza-mughal/rag-gesture-weights"
DEFAULT_RUN = "base_beatx_len150fps15_finalweights"


def default_home() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "rag-gesture"


def candidate_roots(explicit: str | Path | None = None) -> list[Path]:
    roots = []
    if explicit:
        roots.append(Path(explicit).expanduser())
    if os.environ.get("RAG_GESTURE_HOME"):
        roots.append(Path(os.environ["RAG_GESTURE_HOME"]).expanduser())
    roots.append(default_home())
    return roots


@dataclass
class WeightsLocation:
    root: Path
    checkpoint: Path


def find_checkpoint(root: Path) -> Path | None:
    """`experiments/diffusion/<run>/epoch_*.pth`, preferring the released run and epoch."""
    diffusion = root / "experiments" / "diffusion"
    if not diffusion.is_dir():
        return None
    found = sorted(diffusion.glob("*/epoch_*.pth"))
    if not found:
        return None
    preferred = [p for p in found if p.parent.name == DEFAULT_RUN and p.name == "epoch_64.pth"]
    return (preferred or found)[-1] if not preferred else preferred[0]


def locate(explicit: str | Path | None = None) -> WeightsLocation | None:
    for root in candidate_roots(explicit):
        ckpt = find_checkpoint(root)
        if ckpt is not None:
            return WeightsLocation(root=root, checkpoint=ckpt)
    return None


def missing_weights_message(explicit: str | Path | None = None) -> str:
    where = ", ".join(str(r) for r in candidate_roots(explicit))
    return (f"No RAG-Gesture weights found (looked in {where}); fetch them with "
            f"`hf download {HF_REPO} --include 'vae/*' 'diffusion/*' --local-dir "
            "DIR/experiments` and pass `--weights DIR` or set RAG_GESTURE_HOME=DIR.")
