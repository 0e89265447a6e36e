"""Denoiser forward passes (every recorded tag, per-layer outputs) in both compute modes."""

from __future__ import annotations

import pytest
import torch

from backend.model.config import GuidanceConfig
from backend.model.denoiser import StyleTable, query_mask
from backend.model.gesture_rep import token_mask
from backend.model.guidance import guidance_coefficients, joint_scale_mask, mix_branches
from tests.support.parity_support import assert_close


def _tags(golden, prefix: str) -> list[str]:
    return sorted({k.split("/")[1] for k in golden if k.startswith(prefix + "/")
                   and k.endswith("/out")})


def _guidance(small, pjs: dict) -> GuidanceConfig:
    g = small.config.guidance
    return GuidanceConfig(g.coarse_scale, g.both_coef, g.text_coef, g.retr_coef, dict(pjs))


def _hooks(model, caps):
    handles = [
        model.time_embed.register_forward_hook(lambda m, i, o: caps.__setitem__("emb", o)),
        model.temporal_decoder_blocks[0].register_forward_pre_hook(
            lambda m, a: caps.__setitem__("h_in", a[0])),
        model.out.register_forward_hook(
            lambda m, i, o: caps.__setitem__("out_raw_text_none", o)),
    ]
    for i, blk in enumerate(model.temporal_decoder_blocks):
        handles.append(blk.register_forward_hook(
            lambda m, a, o, i=i: caps.__setitem__(f"block{i}_out", o)))
    return handles


def test_masks_and_conditions(small, golden):
    m = small.model
    b = golden["inputs/text"].shape[0]
    assert_close(token_mask(b, m.tokens), golden["inputs/motion_mask_latent"], "motion mask")
    assert_close(query_mask(b, m.tokens), golden["inputs/query_mask_xf"], "query mask")
    assert_close(joint_scale_mask(m.tokens, small.config.guidance.per_joint_scale),
                 golden["config/joint_scale_mask"], "joint scale mask")
    with torch.no_grad():
        xf = m.encode_conditions(golden["inputs/text"], golden["inputs/audio"],
                                 golden["inputs/speaker_ids"])
    for name, value in xf.items():
        assert_close(value, golden[f"cond/{name}"], name)


@pytest.mark.parametrize("cache", [False, True], ids=["official", "precomputed"])
def test_forward_every_tag(small, golden, golden_meta, cache):
    m = small.model
    entries = golden_meta["entries"]
    tags = _tags(golden, "fwd")
    assert tags, "no forward fixtures found"
    with torch.no_grad():
        xf = m.encode_conditions(golden["inputs/text"], golden["inputs/audio"],
                                 golden["inputs/speaker_ids"])
        win = m.prepare(xf, golden["inputs/motion_mask_latent"], golden["inputs/query_mask_xf"],
                        cache=cache)
        for prefix in ("fwd", "fwd_ones"):
            for tag in _tags(golden, prefix):
                ts = golden.get(f"{prefix}/{tag}/timesteps", golden.get(f"fwd/{tag}/timesteps"))
                caps: dict[str, torch.Tensor] = {}
                handles = _hooks(m, caps)
                try:
                    styles = StyleTable(m, sorted(set(ts.tolist()))) \
                        if cache else None
                    caps.clear()
                    raw = m(golden["fwd/x_t"], ts, win, styles)
                finally:
                    for h in handles:
                        h.remove()
                meta = entries[f"{prefix}/{tag}/out"]
                guid = _guidance(small, meta["per_joint_scale"])
                if "coefficients" in meta:
                    c = meta["coefficients"]
                    ours = guidance_coefficients(int(ts[0]), guid)
                    want = (c["both_coef"], c["text_coef"], c["retr_coef"], c["none_coef"])
                    # the official coin flip may put w on "both" instead of "text": same sums
                    assert ours[0] + ours[1] == pytest.approx(want[0] + want[1], abs=1e-12)
                    assert ours[2] + ours[3] == pytest.approx(want[2] + want[3], abs=1e-12)
                out = mix_branches(raw, int(ts[0]), guid,
                                   joint_scale_mask(m.tokens, guid.per_joint_scale))
                assert_close(out, golden[f"{prefix}/{tag}/out"], f"{prefix}/{tag}/out")
                for key in ("emb", "h_in", "block0_out", "block1_out", "out_raw_text_none"):
                    name = f"{prefix}/{tag}/{key}"
                    if name in golden and key in caps:
                        assert_close(caps[key], golden[name], name)
                blocks = [k for k in golden if k.startswith(f"{prefix}/{tag}/block")]
                for name in blocks:
                    assert_close(caps[name.split("/")[-1]], golden[name], name)
                if not cache and f"{prefix}/{tag}/emb" in golden:
                    assert "emb" in caps


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


def test_fast_layers_without_onednn_kernels(small, golden, monkeypatch):
    """Where the prepacked oneDNN kernels are missing (other builds, GPUs) the fast layer
    runs the same folded arithmetic through F.linear."""
    from backend.model import fast_layer

    m = small.model
    packed = m.fast_layers()[0]
    monkeypatch.setattr(fast_layer, "_packable", lambda weight: False)
    plain = fast_layer.FastLayer(m.temporal_decoder_blocks[0])
    assert plain.sa_qkv.packed is None and plain.ffn1.packed is None
    with torch.no_grad():
        xf = m.encode_conditions(golden["inputs/text"], golden["inputs/audio"],
                                 golden["inputs/speaker_ids"])
        win = m.prepare(xf).fast
        t = torch.tensor([700, 700])
        rows = StyleTable(m, [700]).step_rows(t, win)[0]
        h = m.embed_latent(golden["fwd/x_t"]).repeat(2, 1, 1)
        a = packed(h, win, win.contexts[0], rows)
        b = plain(h, win, win.contexts[0], rows)
    assert (a - b).abs().max().item() < 1e-5
