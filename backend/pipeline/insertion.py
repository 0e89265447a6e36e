"""Planting retrieved gesture clips into a window (spec §5.8-5.9), as the pipeline's step.

Each retrieved clip is DDIM-inverted under its own conditions; all clips that need it are
inverted as one batch, and inversions are cached per clip and schedule (they depend on
nothing else). The window's start noise carries the last inverted latent in the clip's upper
and hand rows, and every later step replaces those rows by the re-noised inverted trajectory
(the mechanism the official "insertion guidance" reduces to; its gradient loop is a no-op,
docs/fidelity.md). Face and lower-body tokens of a clip are not inserted, as in the paper.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch

from ..diffusion.ddim import NoiseFn, Replacement, ddim_invert
from ..diffusion.guidance import GuidedDenoiser
from ..diffusion.schedule import Schedule
from ..model.config import GuidanceConfig
from ..model.denoiser import RagGestureDenoiser, StyleTable
from ..model.gesture_rep import canvas_slices
from ..progress import StopFn

INSERTED_PARTS = ("upper", "hands")


@dataclass
class InsertedClip:
    """A retrieved window and where its tokens go in the query window (token ranges)."""

    name: str  # database window name: the cache key
    latent: torch.Tensor  # (1, 43, D) clean latent of the retrieved window
    text: np.ndarray  # (150, 768) its frame-aligned BERT features
    audio: np.ndarray  # (499, 768) its wav2vec2 features
    speaker: int
    retr: tuple[int, int]  # tokens [a, b) of the retrieved window
    query: tuple[int, int]  # tokens [a, b) of the query window
    info: dict = field(default_factory=dict)  # e.g. the word or connective it was placed at


class InversionCache:
    """Inverted trajectories per (clip name, schedule); values are lists of (1, 43, D)."""

    def __init__(self) -> None:
        self._store: dict[tuple[str, tuple[int, ...]], list[torch.Tensor]] = {}
        self.computed = 0  # how many clips were actually inverted (for reports and tests)

    def get(self, name: str, schedule: Schedule) -> list[torch.Tensor] | None:
        return self._store.get((name, tuple(schedule.timesteps.tolist())))

    def put(self, name: str, schedule: Schedule, trajectory: list[torch.Tensor]) -> None:
        self._store[(name, tuple(schedule.timesteps.tolist()))] = trajectory


def invert_clips(model: RagGestureDenoiser, guidance: GuidanceConfig, schedule: Schedule,
                 clips: Sequence[InsertedClip], cache: InversionCache,
                 should_stop: StopFn | None = None,
                 styles: Callable[[int], StyleTable] | None = None) -> list[list[torch.Tensor]]:
    """Inverted trajectory of every clip (entry k at noise level k+1), missing ones batched.

    `styles(batch)` may supply a cached StyleTable (the engine keeps one per batch size)."""
    todo = [c for c in clips if cache.get(c.name, schedule) is None]
    unique = list({c.name: c for c in todo}.values())
    if unique:
        device = unique[0].latent.device
        k = len(unique)
        text = torch.from_numpy(np.stack([c.text for c in unique]).astype(np.float32))
        audio = torch.from_numpy(np.stack([c.audio for c in unique]).astype(np.float32))
        spk = torch.tensor([[c.speaker] * text.shape[1] for c in unique], dtype=torch.long)
        with torch.inference_mode():
            xf = model.encode_conditions(text.to(device), audio.to(device), spk.to(device))
            win = model.prepare(xf, cache=True)
            table = styles(k) if styles is not None else StyleTable(
                model, schedule.timesteps.tolist(), k, should_stop)
            den = GuidedDenoiser(model, guidance, schedule, win, table)
            traj = ddim_invert(den, torch.cat([c.latent for c in unique]), schedule,
                               should_stop)
        for i, c in enumerate(unique):
            cache.put(c.name, schedule, [t[i:i + 1] for t in traj])
        cache.computed += len(unique)
    return [cache.get(c.name, schedule) for c in clips]  # type: ignore[misc]


def _rows(tokens: int, clip: InsertedClip) -> list[tuple[int, int]]:
    """(query row, retrieved row) pairs of the inserted parts."""
    sl = canvas_slices(tokens)
    (ra, rb), (qa, qb) = clip.retr, clip.query
    if rb - ra != qb - qa:
        raise ValueError(f"clip {clip.name}: {rb - ra} retrieved tokens for {qb - qa} places")
    return [(sl[p].start + qa + j, sl[p].start + ra + j) for p in INSERTED_PARTS
            for j in range(qb - qa)]


def plant(x_t: torch.Tensor, clips: Sequence[InsertedClip],
          trajectories: Sequence[list[torch.Tensor]], tokens: int,
          noise: NoiseFn) -> tuple[torch.Tensor, Replacement | None]:
    """Start noise with the clips' last inverted latents spliced in (§5.8), and the
    replacement that holds those rows to the inverted trajectory at later steps (§5.9)."""
    if not clips:
        return x_t, None
    steps = len(trajectories[0])
    b = x_t.shape[0]
    rows = torch.zeros(x_t.shape[:2], dtype=torch.bool, device=x_t.device)
    targets = [torch.zeros_like(x_t) for _ in range(steps)]
    x_t = x_t.clone()
    for clip, traj in zip(clips, trajectories, strict=True):
        for q, r in _rows(tokens, clip):
            rows[:, q] = True
            x_t[:, q] = traj[-1][0, r].expand(b, -1)
            for k in range(steps):
                targets[k][:, q] = traj[k][0, r]
    return x_t, Replacement(rows, targets, noise, skip_first=True)
