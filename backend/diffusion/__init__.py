"""Noise schedule, respacing and DDIM samplers (spec §4, §5.8-5.10).

Samplers are plain functions over a `denoise(x, k) -> x0` callable (k = spaced step index),
so none of them knows the network: nothing here imports `backend.model` (the guidance mix of
the released network is `backend.model.guidance`). Import from the submodules.
"""
