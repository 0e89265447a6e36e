"""DDIM sampling (eta = 0), DDIM inversion and token replacement (spec §4.5-4.6, §5.8-5.10).

Every coefficient is taken from the float64 schedule at the step index and cast to float32
before use, and the update is written in the official operation order, so the sampler
reproduces the reference trajectories bit for bit on the same CPU and torch (elsewhere
within the float32 noise floor, backend/parity). The coefficients come from
`Schedule.on(device)`: a step reads nothing back from the device and copies nothing to it,
so a GPU never waits for the host between steps.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch

from ..progress import check
from .schedule import Schedule

Denoise = Callable[[torch.Tensor, int], torch.Tensor]
NoiseFn = Callable[[int, torch.Tensor], torch.Tensor]
StepCallback = Callable[[int, torch.Tensor, torch.Tensor, torch.Tensor], None]


def predict_eps(x: torch.Tensor, x0: torch.Tensor, k: int, s: Schedule) -> torch.Tensor:
    c = s.on(x.device)
    return (c.sqrt_recip_alphas_cumprod[k] * x - x0) / c.sqrt_recipm1_alphas_cumprod[k]


def ddim_step(x: torch.Tensor, x0: torch.Tensor, k: int, s: Schedule) -> torch.Tensor:
    """x at spaced step k -> step k-1 (eta = 0); at k = 0 this returns x0."""
    eps = predict_eps(x, x0, k, s)
    a_prev = s.on(x.device).alphas_cumprod_prev[k]
    return x0 * torch.sqrt(a_prev) + torch.sqrt(1 - a_prev) * eps


def ddim_invert_step(x: torch.Tensor, x0: torch.Tensor, k: int, s: Schedule) -> torch.Tensor:
    """x at level k -> level k+1; at the last step (next alpha = 0) this returns eps."""
    eps = predict_eps(x, x0, k, s)
    a_next = s.on(x.device).alphas_cumprod_next[k]
    return x0 * torch.sqrt(a_next) + torch.sqrt(1 - a_next) * eps


def q_sample(x0: torch.Tensor, k: int, s: Schedule, noise: torch.Tensor) -> torch.Tensor:
    """Noise a clean (or inverted) latent to spaced level k."""
    c = s.on(x0.device)
    return c.sqrt_alphas_cumprod[k] * x0 + c.sqrt_one_minus_alphas_cumprod[k] * noise


def cpu_randn(shape: Sequence[int], generator: torch.Generator | None,
              device: torch.device | str, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """N(0, I) drawn on the CPU from `generator` (a CPU generator, or torch's global CPU RNG),
    then moved to `device`. CUDA generators draw other numbers for the same seed; drawing
    here makes the same seed give the same noise, hence the same motion up to float rounding,
    on every device. To a CUDA device the copy goes from pinned memory without waiting, so
    per-step noise does not stall the GPU queue."""
    noise = torch.randn(tuple(shape), generator=generator, dtype=dtype)
    if torch.device(device).type == "cuda":
        return noise.pin_memory().to(device, non_blocking=True)
    return noise.to(device)


def gaussian_noise(generator: torch.Generator | None = None) -> NoiseFn:
    """Fresh N(0, I) per call, from the CPU `generator` (see `cpu_randn`)."""
    def draw(_k: int, like: torch.Tensor) -> torch.Tensor:
        return cpu_randn(like.shape, generator, like.device, like.dtype)
    return draw


@dataclass
class Replacement:
    """Hold some latent rows to a target by replacement before each network call.

    `target` is one tensor (B,43,D) used at every step (inpainting from clean latents,
    previous-window tokens) or a sequence indexed by spaced step (insertion from an inverted
    trajectory: entry k is used at step k). `rows` (B,43) bool marks the replaced rows.
    `skip_first` leaves the first (noisiest) step alone, as insertion guidance does: its start
    noise already carries the inverted rows.
    """

    rows: torch.Tensor
    target: torch.Tensor | Sequence[torch.Tensor]
    noise: NoiseFn
    skip_first: bool = False

    def target_at(self, k: int) -> torch.Tensor:
        return self.target if isinstance(self.target, torch.Tensor) else self.target[k]

    def apply(self, x: torch.Tensor, k: int, s: Schedule) -> torch.Tensor:
        target = self.target_at(k)
        noisy = q_sample(target, k, s, self.noise(k, target))
        return torch.where(self.rows[..., None], noisy, x)


def ddim_sample(denoise: Denoise, x_t: torch.Tensor, s: Schedule,
                replacements: Sequence[Replacement] = (),
                on_step: StepCallback | None = None,
                should_stop: Callable[[], bool] | None = None) -> torch.Tensor:
    """Run k = K-1 ... 0 from x_t; returns the final clean latent.

    `on_step(k, x_in, x0, x_out)` sees each step's (replaced) input, x0 prediction and result;
    `should_stop()` is checked between steps and raises `Cancelled`.
    """
    x = x_t
    last = len(s) - 1
    for k in range(last, -1, -1):
        check(should_stop, "sampling")
        for rep in replacements:
            if not (rep.skip_first and k == last):
                x = rep.apply(x, k, s)
        x0 = denoise(x, k)
        x_out = ddim_step(x, x0, k, s)
        if on_step is not None:
            on_step(k, x, x0, x_out)
        x = x_out
    return x


def ddim_invert(denoise: Denoise, x0: torch.Tensor, s: Schedule,
                should_stop: Callable[[], bool] | None = None) -> list[torch.Tensor]:
    """Deterministic inversion of a clean latent: entry k is at noise level k+1 (spec §4.6).

    Several clips invert as one batch when `denoise` is built for their stacked conditions.
    """
    x, out = x0, []
    for k in range(len(s)):
        check(should_stop, "inversion")
        x = ddim_invert_step(x, denoise(x, k), k, s)
        out.append(x)
    return out


def splice_rows(dst: torch.Tensor, src: torch.Tensor, dst_rows: slice,
                src_rows: slice) -> torch.Tensor:
    """Copy of `dst` (B,43,D) with rows `dst_rows` taken from `src` rows `src_rows`."""
    out = dst.clone()
    out[:, dst_rows] = src[:, src_rows]
    return out
