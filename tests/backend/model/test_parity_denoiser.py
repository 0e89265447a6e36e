"""Denoiser forward passes (every recorded tag, per-layer outputs) in both compute modes."""

from __future__ import annotations

import pytest
import torch

from backend.model.config import GuidanceConfig
from backend.model.denoiser import StyleTable
from backend.model.guidance import guidance_coefficients
from backend.parity.computations import PATHS, exact_checks, forward_tags


def _guidance(small, pjs: dict) -> GuidanceConfig:
    g = small.config.guidance
    return GuidanceConfig(g.coarse_scale, g.both_coef, g.text_coef, g.retr_coef, dict(pjs))


def test_masks_and_conditions(parity, small):
    exact = {r.name: r for r in exact_checks(parity.fx)}
    for name in ("inputs/motion_mask_latent", "inputs/query_mask_xf", "config/joint_scale_mask"):
        assert exact[name].passed, name
    rs = parity.check("cond", "official")
    assert {r.name for r in rs} == {"cond/xf_text", "cond/xf_audio", "cond/xf_spk"}


@pytest.mark.parametrize("path", PATHS)
def test_forward_every_tag(parity, small, golden_meta, path):
    """Every recorded forward (per-layer outputs, raw branches, mixed output), per path."""
    tags = forward_tags(parity.fx.golden)
    assert tags, "no forward fixtures found"
    for tag in tags:
        rs = parity.check(f"fwd/{tag}", path)
        assert f"fwd/{tag}/out" in {r.name for r in rs}
        meta = golden_meta["entries"][f"fwd/{tag}/out"]
        if "coefficients" in meta:
            c = meta["coefficients"]
            t = int(parity.fx.golden[f"fwd/{tag}/timesteps"][0])
            ours = guidance_coefficients(t, _guidance(small, meta["per_joint_scale"]))
            want = (c["both_coef"], c["text_coef"], c["retr_coef"], c["none_coef"])
            # the official coin flip may put w on "both" instead of "text": same sums
            assert ours[0] + ours[1] == pytest.approx(want[0] + want[1], abs=1e-12)
            assert ours[2] + ours[3] == pytest.approx(want[2] + want[3], abs=1e-12)
    ones = [k for k in parity.fx.golden if k.startswith("fwd_ones/")]
    checked = {r.name for tag in tags for r in parity.results(f"fwd/{tag}")}
    assert set(ones) <= checked


def test_null_branch_cross_attention_is_the_value_bias(small, golden):
    """Spec §3.6: with c = 0 every token's cross-attention output equals b_v."""
    m = small.model
    ca = m.temporal_decoder_blocks[0].ca_blocks["xf_audio"]
    with torch.no_grad():
        xf = m.encode_conditions(golden["inputs/text"], golden["inputs/audio"],
                                 golden["inputs/speaker_ids"])["xf_audio"]
        ctx = ca.context(xf, torch.zeros(xf.shape[0], 1, 1))
        q = torch.softmax(torch.randn(xf.shape[0], 43, ca.num_heads, ctx.shape[-1]), dim=-1)
        y = torch.einsum("bnhd,bhdl->bnhl", q, ctx).reshape(xf.shape[0], 43, -1)
    assert (y - ca.value.bias).abs().max().item() < 1e-5


def test_fast_forward_matches_the_official_one(small, golden):
    """Fast layers + one-batch style table vs the per-call official arithmetic: a few
    float32 ulps on the raw outputs of both branches, query-masked rows included."""
    m = small.model
    x = golden["fwd/x_t"]
    with torch.no_grad():
        xf = m.encode_conditions(golden["inputs/text"], golden["inputs/audio"],
                                 golden["inputs/speaker_ids"])
        official, folded = m.prepare(xf, cache=False), m.prepare(xf, cache=True)
        table = StyleTable(m, [3, 40, 101, 700, 999])
        for ts in ([999, 999], [700, 40], [101, 3]):
            t = torch.tensor(ts)
            ref = m(x, t, official)
            got = m(x, t, folded, table)
            err = (got - ref).abs().max().item()
            assert err <= 2e-6 * max(1.0, ref.abs().max().item()), (ts, err)
            assert not torch.equal(got, ref)  # it is a different computation


def test_fast_layers_follow_weight_changes(small):
    """The folded matrices are cached on the model and rebuilt after any weight change."""
    m = small.model
    first = m.fast_layers()
    assert m.fast_layers() is first
    mix = m.temporal_decoder_blocks[0].ca_mix
    saved = mix.bias.detach().clone()
    with torch.no_grad():
        mix.bias.add_(1.0)
    try:
        again = m.fast_layers()
        assert again is not first
        assert torch.allclose(again[0].ca_out.bias, first[0].ca_out.bias + 1.0, atol=1e-5)
    finally:
        with torch.no_grad():
            mix.bias.copy_(saved)
    assert torch.allclose(m.fast_layers()[0].ca_out.bias, first[0].ca_out.bias, atol=1e-6)


def test_a_model_with_fast_layers_can_be_copied(small, golden):
    """The prepacked cache stays behind on deepcopy/pickle; the copy builds its own."""
    import copy

    m = small.model
    m.fast_layers()
    twin = copy.deepcopy(m)
    assert "_fast" not in twin.__dict__
    with torch.no_grad():
        xf = m.encode_conditions(golden["inputs/text"], golden["inputs/audio"],
                                 golden["inputs/speaker_ids"])
        t = torch.tensor([500, 500])
        a = m(golden["fwd/x_t"], t, m.prepare(xf), StyleTable(m, [500]))
        b = twin(golden["fwd/x_t"], t, twin.prepare(xf), StyleTable(twin, [500]))
    assert torch.equal(a, b)


def test_fast_layers_without_onednn_kernels(small, golden):
    """Where the prepacked oneDNN kernels are missing (CUDA, other builds) the fast layer
    runs the same folded arithmetic through F.linear; `plain_kernels` selects that on CPU
    (the parity rule runs it over every recorded forward, DDIM run, inversion and
    insertion: path "fast-plain")."""
    import torch.nn.functional as F

    from backend.model import fast_layer

    m = small.model
    packed = m.fast_layers()
    with fast_layer.plain_kernels():
        plain = m.fast_layers()
        assert plain is not packed
        assert all(mm.packed is None for layer in plain
                   for mm in (layer.sa_qkv, layer.ca_q, layer.ca_out, layer.ffn1, layer.ffn2))
    assert m.fast_layers() is not plain  # rebuilt with the oneDNN kernels outside
    if torch.backends.mkldnn.is_available():
        assert m.fast_layers()[0].sa_qkv.packed is not None
    x = golden["fwd/x_t"].reshape(-1, golden["fwd/x_t"].shape[-1])
    mm = plain[0].sa_qkv
    assert torch.equal(mm(x), F.linear(x, mm.weight, mm.bias))
