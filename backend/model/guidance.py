"""Two-branch guidance of the released model (spec §4.4) and the `denoise(x, k)` wrapper.

The official code carries ReMoDiffuse's four-branch coefficients but runs only two branches
(conditional C and null U), so both random branch choices give the same numbers:
t > 100: x0 = w*J*C + (1-w)*U/J with w = (1-(1000-t)/1000)*coarse_scale + 1;
t <= 100: x0 = both*J*C + text*J*C + retr*U/J + none*U/J, none = 1-both-text-retr.
J is the per-token `per_joint_scale` mask. The Python random coin flip is dropped.

The mix belongs to the released network (its coefficients and mask come from the model's
config), so it lives beside it; the samplers in `backend.diffusion` only see the resulting
`denoise(x, k) -> x0` callable and never import the model.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from ..diffusion.schedule import Schedule
from .config import PART_SCALE_KEYS, GuidanceConfig
from .denoiser import RagGestureDenoiser, StyleTable, WindowConditions


def joint_scale_mask(tokens: int, per_joint_scale: dict[str, float]) -> torch.Tensor:
    """(4*tokens+3,) float32: the part's scale on its tokens, 1.0 on separators."""
    mask = torch.ones(4 * tokens + 3)
    for i, key in enumerate(PART_SCALE_KEYS):
        start = i * (tokens + 1)
        mask[start:start + tokens] = per_joint_scale[key]
    return mask


def guidance_coefficients(t: int, cfg: GuidanceConfig) -> tuple[float, float, float, float]:
    """(both, text, retr, none) for original-scale timestep t, as Python floats."""
    if t > 100:
        w = (1 - (1000 - t) / 1000) * cfg.coarse_scale + 1
        return 0.0, w, 0.0, 1 - w
    none = 1 - cfg.both_coef - cfg.text_coef - cfg.retr_coef
    return cfg.both_coef, cfg.text_coef, cfg.retr_coef, none


def mix_branches(raw: torch.Tensor, t: int, cfg: GuidanceConfig,
                 scale: torch.Tensor) -> torch.Tensor:
    """raw (2B,43,D) = [C; U] -> mixed x0 (B,43,D), float32 ops in the official order."""
    b = raw.shape[0] // 2
    cond, null = raw[:b], raw[b:]
    j = scale.view(1, -1, 1).to(raw)
    inv = 1 / j
    both, text, retr, none = guidance_coefficients(t, cfg)
    if t > 100:
        return cond * text * j + null * none * inv
    return cond * both * j + cond * text * j + null * retr * inv + null * none * inv


class GuidedDenoiser:
    """`denoise(x, k) -> x0` for one window: network call at spaced step k plus the mix.

    A window prepared with `cache=True` plus a shared StyleTable for the schedule's timesteps
    runs the fast layers (backend.model.fast_layer); without them, the official per-call
    path.
    """

    def __init__(self, model: RagGestureDenoiser, guidance: GuidanceConfig, schedule: Schedule,
                 win: WindowConditions, styles: StyleTable | None = None) -> None:
        self.model = model
        self.guidance = guidance
        self.schedule = schedule
        self.win = win
        self.styles = styles
        self.scale = joint_scale_mask(model.tokens, guidance.per_joint_scale)
        self._scale_on: dict[tuple[torch.device, torch.dtype], torch.Tensor] = {}
        self.calls = 0

    def raw(self, x: torch.Tensor, timesteps: torch.Tensor) -> torch.Tensor:
        return self.model(x, timesteps, self.win, self.styles)

    def scale_like(self, x: torch.Tensor) -> torch.Tensor:
        """The per-token scale on x's device and dtype, copied there once."""
        key = (x.device, x.dtype)
        if key not in self._scale_on:
            self._scale_on[key] = self.scale.to(device=x.device, dtype=x.dtype)
        return self._scale_on[key]

    def at_timesteps(self, x: torch.Tensor, timesteps: torch.Tensor,
                     t: int | None = None) -> torch.Tensor:
        """Mixed x0 for original-scale timesteps (B,); the batch uses the mix of `t`, which
        is timesteps[0] (read back from the device when not given)."""
        self.calls += 1
        t = int(timesteps[0]) if t is None else t
        return mix_branches(self.raw(x, timesteps), t, self.guidance, self.scale_like(x))

    def __call__(self, x: torch.Tensor, k: int) -> torch.Tensor:
        t = int(self.schedule.timesteps[k])  # from the host's schedule: no device read-back
        ts = torch.full((x.shape[0],), t, dtype=torch.long, device=x.device)
        return self.at_timesteps(x, ts, t)


Denoise = Callable[[torch.Tensor, int], torch.Tensor]
