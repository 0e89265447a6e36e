"""The official `guidance_iters` presets (spec §5.9), indexed by spaced step k (49 = noisiest).

They only parameterise the official insertion-guidance gradient loop, which is a verified
no-op (docs/fidelity.md), so sampling never uses them; they are kept so that requests and
reports can name the schedule the reference used.
"""

from __future__ import annotations


def guidance_iters(name: str, steps: int = 50) -> list[int]:
    half = steps // 2
    presets = {
        "all_one": [1] * steps,
        "all_zero": [0] * steps,
        "all_10": [10] * steps,
        "decreasing": list(range(steps)),
        "increasing": [steps - 1 - k for k in range(steps)],
        "drop_decreasing_till_25": [0 if k < half else k for k in range(steps)],
        "step_increasing_from_25": [steps - 1 - k if k < half else 0 for k in range(steps)],
        "decreasing_till_25": [0 if k < half else k - half for k in range(steps)],
        "increasing_from_25": [half - 1 - k if k < half else 0 for k in range(steps)],
    }
    if name not in presets:
        raise ValueError(f"unknown guidance schedule {name!r}; choose one of {sorted(presets)}")
    return presets[name]
