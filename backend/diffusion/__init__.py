"""Noise schedule, guidance mix and DDIM samplers (spec §4, §5.8-5.10).

Samplers are plain functions over a `denoise(x, k) -> x0` callable (k = spaced step index),
so none of them knows the network.
"""

from .ddim import Replacement, ddim_invert, ddim_sample, ddim_step, splice_rows
from .guidance import GuidedDenoiser, guidance_coefficients, joint_scale_mask, mix_branches
from .schedule import Schedule, scaled_linear_betas, space_timesteps

__all__ = [
    "GuidedDenoiser", "Replacement", "Schedule", "ddim_invert", "ddim_sample", "ddim_step",
    "guidance_coefficients", "joint_scale_mask", "mix_branches", "scaled_linear_betas",
    "space_timesteps", "splice_rows",
]
