"""Comparison helper and model views shared by the parity tests."""

from __future__ import annotations

import torch

TOL = 1e-5


def assert_close(actual: torch.Tensor, expected: torch.Tensor, name: str,
                 relative: bool = False) -> None:
    """max |a - e| <= 1e-5, scaled by max(1, max|e|) when `relative` (inversion grows ~200x)."""
    assert actual.shape == expected.shape, f"{name}: shape {actual.shape} != {expected.shape}"
    err = (actual.double() - expected.double()).abs().max().item()
    scale = max(1.0, expected.double().abs().max().item()) if relative else 1.0
    assert err <= TOL * scale, f"{name}: max abs error {err:.3g} > {TOL * scale:.3g}"
