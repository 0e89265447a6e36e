"""Comparison helper and model views shared by the parity tests."""

from __future__ import annotations

import torch

TOL = 1e-5
# The fast forward (backend.model.fast_layer) differs from the official arithmetic by a few
# float32 ulps (~1e-6 of the raw output); 50 guided steps and the VAE decoder grow that to
# ~1e-4 of a decoded tensor's scale (0.006 degrees on a pose), the same order as moving the
# start noise by one ulp (test_fast_path_is_at_the_float32_noise_floor).
DECODED_FOLDED_TOL = 2e-4


def assert_close(actual: torch.Tensor, expected: torch.Tensor, name: str,
                 relative: bool = False, tol: float = TOL) -> None:
    """max |a - e| <= tol, scaled by max(1, max|e|) when `relative` (inversion grows ~200x)."""
    assert actual.shape == expected.shape, f"{name}: shape {actual.shape} != {expected.shape}"
    err = (actual.double() - expected.double()).abs().max().item()
    scale = max(1.0, expected.double().abs().max().item()) if relative else 1.0
    assert err <= tol * scale, f"{name}: max abs error {err:.3g} > {tol * scale:.3g}"


def assert_decoded_close(actual: torch.Tensor, expected: torch.Tensor, name: str,
                         folded: bool) -> None:
    """A decoded motion tensor after a full sampling run: 1e-5 absolute for the official
    arithmetic, DECODED_FOLDED_TOL of its scale for the folded path."""
    if folded:
        assert_close(actual, expected, name, relative=True, tol=DECODED_FOLDED_TOL)
    else:
        assert_close(actual, expected, name)
