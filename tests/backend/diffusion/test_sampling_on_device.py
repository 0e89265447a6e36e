"""A DDIM step reads nothing back from the device and copies nothing to it.

On a GPU each `.tolist()`, `int(tensor)` or host-to-device scalar copy waits for all queued
work, so a sampler with one per step stalls every step. The CPU cannot show a stall, so the
test records, with a torch function mode, every call that would be one on a GPU, and the
numbers stay exactly those of the per-step arithmetic the parity tests were written against.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.overrides import TorchFunctionMode

from backend.diffusion.ddim import Replacement, ddim_sample, gaussian_noise
from backend.diffusion.schedule import Schedule
from backend.model import fast_layer
from backend.model.denoiser import StyleTable
from backend.model.guidance import GuidedDenoiser

READS_BACK = {"item", "tolist", "__int__", "__float__", "__bool__", "__index__", "numpy", "cpu"}
FROM_HOST = {"tensor", "as_tensor", "from_numpy"}


class HostTraffic(TorchFunctionMode):
    """Names of the torch calls that would synchronise with (or copy from) the host."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[str] = []

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        name = getattr(func, "__name__", str(func))
        if name in READS_BACK or name in FROM_HOST:
            self.calls.append(name)
        elif name in ("to", "copy_") and (any(isinstance(a, str | torch.device) for a in args)
                                          or "device" in kwargs):
            self.calls.append(name)
        return func(*args, **kwargs)


@pytest.fixture(scope="module")
def schedule(small):
    d = small.config.diffusion
    return Schedule.create("3,3,2,1,1", d.diffusion_steps, d.beta_scheduler)


def _denoiser(small, schedule, seed: int = 0) -> GuidedDenoiser:
    m = small.model
    gen = torch.Generator().manual_seed(seed)
    text, audio = torch.randn(2, 150, 768, generator=gen), torch.randn(2, 499, 768, generator=gen)
    spk = torch.full((2, 150), 3, dtype=torch.long)
    with torch.inference_mode():
        win = m.prepare(m.encode_conditions(text, audio, spk), cache=True)
    return GuidedDenoiser(m, small.config.guidance, schedule, win,
                          StyleTable(m, schedule.timesteps.tolist()))


def test_the_detector_sees_what_would_stall_a_gpu():
    t = torch.arange(3)
    with HostTraffic() as seen:
        int(t[0])
        t.tolist()
        torch.tensor([1.0]).to("cpu")
    assert seen.calls == ["__int__", "tolist", "tensor", "to"]


def test_ddim_steps_with_replacement_have_no_host_traffic(small, schedule):
    den = _denoiser(small, schedule)
    x = torch.randn(2, 4 * small.model.tokens + 3, small.model.cfg.latent_dim,
                    generator=torch.Generator().manual_seed(1))
    rows = torch.zeros(x.shape[:2], dtype=torch.bool)
    rows[:, :3] = True
    noise = torch.randn_like(x)
    rep = Replacement(rows, torch.zeros_like(x), lambda k, like: noise)
    with torch.inference_mode():
        first = ddim_sample(den, x, schedule, [rep])  # makes the per-device caches
        with HostTraffic() as seen:
            again = ddim_sample(den, x, schedule, [rep])
    assert seen.calls == [], f"per-step host traffic in {len(schedule)} steps: {seen.calls}"
    assert torch.equal(first, again)


def test_device_coefficients_are_the_float64_values_cast_per_step(schedule):
    on = schedule.on("cpu")
    assert schedule.on(torch.device("cpu")) is on  # made once per device
    for name in on.__dataclass_fields__:
        table = getattr(on, name)
        assert table.dtype == torch.float32
        for k in range(len(schedule)):
            per_step = torch.tensor(getattr(schedule, name)[k], dtype=torch.float64).float()
            assert torch.equal(table[k], per_step), (name, k)


def test_style_table_rows_are_found_on_the_device(small):
    steps = [999, 14, 0, 500, 71]  # any order
    table = StyleTable(small.model, steps)
    ts = torch.tensor([71, 999, 0, 71, 14])
    assert table.rows(ts).tolist() == [steps.index(int(t)) for t in ts]
    with pytest.raises(KeyError, match=r"\[15\]"):
        table.rows(torch.tensor([14, 15]))


def test_fast_layers_without_onednn_packing_compute_the_same(small, schedule, monkeypatch):
    """The path every other device (CUDA, MPS) takes: plain F.linear on the folded weights."""
    x = torch.randn(2, 4 * small.model.tokens + 3, small.model.cfg.latent_dim,
                    generator=torch.Generator().manual_seed(2))
    with torch.inference_mode():
        packed = ddim_sample(_denoiser(small, schedule), x, schedule)
        monkeypatch.setattr(fast_layer, "_packable", lambda weight: False)
        small.model._fast_key = None  # rebuild the fast layers without packing
        plain_den = _denoiser(small, schedule)
        assert all(m.packed is None for f in small.model.fast_layers()
                   for m in vars(f).values() if isinstance(m, fast_layer.Matmul))
        plain = ddim_sample(plain_den, x, schedule)
    small.model._fast_key = None  # the next user rebuilds with packing again
    scale = packed.abs().max().item()
    assert 0 < (plain - packed).abs().max().item() <= 1e-5 * max(1.0, scale) or \
        torch.equal(plain, packed)


def test_cpu_noise_is_the_same_for_every_device_request():
    """Noise drawn on the CPU generator: what a GPU run gets is what the CPU run gets."""
    draw = gaussian_noise(torch.Generator().manual_seed(5))
    like = torch.zeros(2, 3)
    a = draw(0, like)
    b = torch.randn((2, 3), generator=torch.Generator().manual_seed(5))
    assert torch.equal(a, b) and a.device.type == "cpu"
    assert np.isfinite(a.numpy()).all()
