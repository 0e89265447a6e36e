"""Planting retrieved gesture clips into a window (spec §5.8-5.9), as the pipeline's step.

Each retrieved clip is DDIM-inverted under its own conditions; all clips that need it are
inverted as one batch. An inversion depends only on the clip, the schedule, the guidance and
the weights, never on the query, so it is cached in memory and, for database windows, on disk
beside the database (inversion_store.py); only the rows insertion reads are kept. The
window's start noise carries the last inverted latent in the clip's upper and hand rows, and
every later step replaces those rows by the re-noised inverted trajectory (the mechanism
the official "insertion guidance" reduces to; its gradient loop is a no-op,
docs/fidelity.md). Face and lower-body tokens of a clip are not inserted, as in the paper.
"""

from __future__ import annotations

import hashlib
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch

from ..diffusion.ddim import NoiseFn, Replacement, ddim_invert
from ..diffusion.schedule import Schedule
from ..model.config import GuidanceConfig
from ..model.denoiser import RagGestureDenoiser, StyleTable
from ..model.gesture_rep import canvas_slices
from ..model.guidance import GuidedDenoiser
from ..progress import StopFn
from .inversion_store import InversionStore, model_fingerprint

INSERTED_PARTS = ("upper", "hands")
KEY_VERSION = "inversion-v2"  # v2: the fast layers round differently from v1


@dataclass
class InsertedClip:
    """A retrieved window and where its tokens go in the query window (token ranges)."""

    name: str  # database window name (part of the inversion key)
    latent: torch.Tensor  # (1, 43, D) clean latent of the retrieved window
    text: np.ndarray  # (150, 768) its frame-aligned BERT features
    audio: np.ndarray  # (499, 768) its wav2vec2 features
    speaker: int
    retr: tuple[int, int]  # tokens [a, b) of the retrieved window
    query: tuple[int, int]  # tokens [a, b) of the query window
    info: dict = field(default_factory=dict)  # e.g. the word or connective it was placed at
    store: InversionStore | None = None  # where its inversion persists (its database's)


def inserted_rows(tokens: int) -> list[int]:
    """Canvas rows of the inserted parts: the only rows of a trajectory `plant` reads."""
    sl = canvas_slices(tokens)
    return [r for p in INSERTED_PARTS for r in range(sl[p].start, sl[p].stop)]


def trajectory_key(clip: InsertedClip, schedule: Schedule, guidance: GuidanceConfig,
                   fingerprint: str) -> str:
    """Everything a clip's inverted trajectory depends on, hashed: its name and its inputs
    (latent, features, speaker: a rebuilt database or other speech models change them), the
    schedule, the guidance, the weights, and the device type and torch version (bits)."""
    h = hashlib.sha256()
    lat = clip.latent.detach()
    h.update(repr((KEY_VERSION, clip.name, clip.speaker, tuple(schedule.timesteps.tolist()),
                   repr(guidance), fingerprint, lat.device.type, str(lat.dtype),
                   tuple(lat.shape), torch.__version__)).encode())
    h.update(lat.to("cpu").contiguous().numpy().tobytes())
    for a in (clip.text, clip.audio):
        a = np.ascontiguousarray(a, np.float32)
        h.update(repr(a.shape).encode())
        h.update(a.tobytes())
    return h.hexdigest()


class InversionCache:
    """Inverted trajectories in memory by `trajectory_key`: (steps, inserted rows, D) each.

    Clips that carry a store are looked up there before being inverted, and saved there
    after; the model fingerprint is computed once per model."""

    def __init__(self) -> None:
        self._store: dict[str, torch.Tensor] = {}
        self._fingerprint: tuple[weakref.ref, str] | None = None
        self.computed = 0  # clips actually inverted (for reports, tests and the bench)
        self.loaded = 0  # clips read from a store

    def fingerprint(self, model: torch.nn.Module) -> str:
        if self._fingerprint is None or self._fingerprint[0]() is not model:
            self._fingerprint = (weakref.ref(model), model_fingerprint(model))
        return self._fingerprint[1]

    def get(self, key: str) -> torch.Tensor | None:
        return self._store.get(key)

    def put(self, key: str, trajectory: torch.Tensor) -> None:
        self._store[key] = trajectory

    def clear(self) -> None:
        """Forget the trajectories held in memory (the counters and fingerprint stay)."""
        self._store.clear()


def _from_store(clip: InsertedClip, key: str, shape: tuple[int, ...]) -> torch.Tensor | None:
    if clip.store is None:
        return None
    arr = clip.store.load(key, shape)
    if arr is None:
        return None
    return torch.from_numpy(arr).to(clip.latent.device, clip.latent.dtype)


def invert_clips(model: RagGestureDenoiser, guidance: GuidanceConfig, schedule: Schedule,
                 clips: Sequence[InsertedClip], cache: InversionCache,
                 should_stop: StopFn | None = None,
                 styles: Callable[[], StyleTable] | None = None) -> list[torch.Tensor]:
    """Inverted trajectory of every clip, (steps, inserted rows, D): entry k at noise level
    k+1, rows `inserted_rows`. Found in memory, else in the clip's store, else inverted (all
    missing clips as one batch) and saved to the store.

    `styles()` may supply a cached StyleTable (the engine keeps one per schedule)."""
    rows = inserted_rows(model.tokens)
    fp = cache.fingerprint(model)
    keys = [trajectory_key(c, schedule, guidance, fp) for c in clips]
    todo: dict[str, InsertedClip] = {}
    for c, key in zip(clips, keys, strict=True):
        if cache.get(key) is not None or key in todo:
            continue
        shape = (len(schedule), len(rows), c.latent.shape[-1])
        found = _from_store(c, key, shape)
        if found is not None:
            cache.put(key, found)
            cache.loaded += 1
        else:
            todo[key] = c
    if todo:
        unique = list(todo.values())
        device = unique[0].latent.device
        k = len(unique)
        text = torch.from_numpy(np.stack([c.text for c in unique]).astype(np.float32))
        audio = torch.from_numpy(np.stack([c.audio for c in unique]).astype(np.float32))
        spk = torch.tensor([[c.speaker] * text.shape[1] for c in unique], dtype=torch.long)
        with torch.inference_mode():
            xf = model.encode_conditions(text.to(device), audio.to(device), spk.to(device))
            win = model.prepare(xf, cache=True)
            table = styles() if styles is not None else StyleTable(
                model, schedule.timesteps.tolist(), should_stop)
            den = GuidedDenoiser(model, guidance, schedule, win, table)
            traj = ddim_invert(den, torch.cat([c.latent for c in unique]), schedule,
                               should_stop)
            kept = torch.stack(traj, 1)[:, :, rows]  # (k, steps, rows, D)
        for i, (key, c) in enumerate(todo.items()):
            cache.put(key, kept[i].clone())
            if c.store is not None:
                c.store.save(key, kept[i].to("cpu", torch.float32).numpy())
        cache.computed += k
    return [cache.get(key) for key in keys]  # type: ignore[misc]


def _rows(tokens: int, clip: InsertedClip) -> list[tuple[int, int]]:
    """(query canvas row, trajectory row) pairs of the inserted parts."""
    sl = canvas_slices(tokens)
    (ra, rb), (qa, qb) = clip.retr, clip.query
    if rb - ra != qb - qa:
        raise ValueError(f"clip {clip.name}: {rb - ra} retrieved tokens for {qb - qa} places")
    return [(sl[p].start + qa + j, i * tokens + ra + j) for i, p in enumerate(INSERTED_PARTS)
            for j in range(qb - qa)]


def plant(x_t: torch.Tensor, clips: Sequence[InsertedClip],
          trajectories: Sequence[torch.Tensor], tokens: int,
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
            x_t[:, q] = traj[-1, r].expand(b, -1)
            for k in range(steps):
                targets[k][:, q] = traj[k, r]
    return x_t, Replacement(rows, targets, noise, skip_first=True)
