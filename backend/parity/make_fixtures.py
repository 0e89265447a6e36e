"""A fixture set in the golden format, from another configuration and seed, by our own
official-arithmetic path.

It cannot stand in for the official code (that is what the shipped set is for); it tests the
criterion: made in a process with other kernels (e.g. `ATEN_CPU_CAPABILITY=default`), it
differs from what the tests compute by exactly the float32 rounding of another machine, for
a model, inputs and timesteps the rule was never looked at with.

    ATEN_CPU_CAPABILITY=default python -m backend.parity.make_fixtures OUT [--seed 11]
    RAG_GESTURE_PARITY_DIR=OUT python -m pytest tests/test_parity_*.py
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import torch
import yaml

from rag_gesture_shared.atomic_file import atomic_write, write_text

from ..diffusion.guidance_schedules import guidance_iters
from ..diffusion.schedule import Schedule, scaled_linear_betas, space_timesteps
from ..model.config import ModelConfig
from ..model.denoiser import RagGestureDenoiser, query_mask
from ..model.gesture_rep import PART_ORDER, canvas_length, token_mask, token_mask_from_frames
from ..model.guidance import guidance_coefficients, joint_scale_mask
from ..model.vae import PartVAE, VaeConfig
from .computations import PARTS, SPACED, computations, compute_path
from .fixtures import FixtureSet

NFEATS = {"upper": 78, "lowertrans": 61, "face": 106, "hands": 180}
GRE_DIMS = {"upper": 39, "lower": 27, "face": 3, "hands": 90, "transl": 3, "facial": 100,
            "contact": 4}
# Another small configuration than the shipped set's (latent 64, 2 layers, "15,15,8,6,6").
VARIANT: dict[str, Any] = {
    "latent_dim": 32, "time_embed_dim": 80, "num_layers": 3, "num_heads": 4, "ffn_dim": 72,
    "vae_layers": 3, "vae_ff": 64, "vae_heads": {"upper": 2, "lowertrans": 4, "face": 1,
                                                 "hands": 2},
    "respace": "10,10,10,10,10",
    "scale_func_cfg": {"coarse_scale": 5.0, "both_coef": 0.6, "text_coef": -0.2,
                       "retr_coef": 2.0},
    "per_joint_scale": {"upper": 1.3, "hands": 0.75, "face": 1.05, "lowertransl": 0.9},
    "timesteps": {"t999": [999, 999], "t350": [350, 350], "t350_20": [350, 20],
                  "t101": [101, 101], "t100": [100, 100], "t7": [7, 7]},
    "ones_tags": ["t999", "t7"],
    "insertion": {"retr": (1, 4), "query": (5, 8), "guidance_iters": "decreasing"},
    "speakers": (4, 19), "retrieved_speaker": 9,
}
WEIGHT_NOISE = 0.05  # as the harness: the official init zeroes several output layers


def _model_cfg(v: dict[str, Any]) -> dict[str, Any]:
    d, e, h = v["latent_dim"], v["time_embed_dim"], v["num_heads"]
    block = {"latent_dim": d, "num_heads": h, "dropout": 0, "time_embed_dim": e}
    return {
        "type": "MotionDiffusion",
        "model": {
            "type": "ReGestureTransformer", "input_feats": 189, "max_seq_len": 150,
            "frame_chunk_size": 15, "latent_dim": d, "time_embed_dim": e,
            "num_layers": v["num_layers"],
            "sa_block_cfg": {"type": "EfficientSelfAttention", **block},
            "ca_block_cfg": {"type": "EfficientCrossAttention", "text_latent_dim": d, **block},
            "ffn_cfg": {"latent_dim": d, "ffn_dim": v["ffn_dim"], "dropout": 0,
                        "time_embed_dim": e},
            "vae_cfg": {**{f"{p}_cfg": f"<OUT>/small_vae_yaml/{p}.yaml" for p in PARTS},
                        "latent_dim": d, "frame_chunk_size": 15},
            "text_encoder": {"pretrained_model": None, "latent_dim": 768},
            "audio_encoder": {"pretrained_model": None, "latent_dim": 768},
            "speaker_embedding": {"num_speakers": 25},
            "scale_func_cfg": dict(v["scale_func_cfg"]),
            "per_joint_scale": dict(v["per_joint_scale"]),
        },
        "diffusion_test": {"beta_scheduler": "scaled_linear", "diffusion_steps": 1000,
                           "model_mean_type": "start_x", "model_var_type": "fixed_large",
                           "respace": v["respace"], "num_inference_timesteps": 50},
    }


def _vae_yaml(v: dict[str, Any], part: str, **over: Any) -> dict[str, Any]:
    return {"latent_dim": v["latent_dim"], "frame_chunk_size": 15, "num_frames": 150,
            "num_layers": v["vae_layers"], "ff_size": v["vae_ff"], "dropout": 0.1,
            "transformer_activation": "gelu", "transformer_normalize_before": False,
            "decoder_arch": "all_encoder", "position_embedding": "learned",
            "vae_dist": "normal", "num_heads": v["vae_heads"][part], "nfeats": NFEATS[part],
            "test_ckpt": f"/does/not/matter/{part}_vae.bin", **over}


def _perturb(module: torch.nn.Module, seed: int) -> None:
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.add_(torch.randn(p.shape, generator=gen) * WEIGHT_NOISE)


def _inputs(v: dict[str, Any], tokens: int, gen: torch.Generator) -> dict[str, torch.Tensor]:
    b, d, n = 2, v["latent_dim"], canvas_length(tokens)

    def randn(*shape: int) -> torch.Tensor:
        return torch.randn(*shape, generator=gen)

    g: dict[str, torch.Tensor] = {
        "inputs/text": randn(b, 150, 768), "inputs/audio": randn(b, 499, 768),
        "inputs/speaker_ids": torch.tensor(v["speakers"])[:, None].repeat(1, 150),
        "inputs/motion_mask_latent": token_mask(b, tokens),
        "inputs/query_mask_xf": query_mask(b, tokens),
    }
    for p in PARTS:
        g |= {f"vae/{p}/input": randn(b, 150, NFEATS[p]), f"vae/{p}/eps": randn(b * tokens, 1, d),
              f"vae/{p}/z_rand": randn(b, tokens, d)}
    g["vae_alt/eps"] = randn(b * tokens, 1, d)
    g |= {f"gre_encode/in/motion_{k}": randn(b, 150, c) for k, c in GRE_DIMS.items()}
    g["gre_encode/in/motion_mask"] = torch.ones(b, 150)
    g |= {f"gre_encode/eps/{p}": randn(b * tokens, 1, d) for p in PARTS}
    g["gre_decode/in"] = randn(b, n, d)
    g["fwd/x_t"] = randn(b, n, d)
    g |= {f"fwd/{tag}/timesteps": torch.tensor(ts) for tag, ts in v["timesteps"].items()}
    g["ddim/noise"] = randn(b, n, d)
    g["e2e_ddim/start_noise"] = randn(b, n, d)
    x0 = randn(1, n, d)
    x0[:, [tokens, 2 * tokens + 1, 3 * tokens + 2]] = 0
    g |= {"inv/x0": x0, "inv/retr_text": randn(1, 150, 768), "inv/retr_audio": randn(1, 499, 768),
          "inv/retr_spkid": torch.full((1, 150), v["retrieved_speaker"])}
    g["ins/start_noise"] = randn(1, n, d)  # the inverted rows are spliced in later
    return g


def _entries(v: dict[str, Any], cfg: ModelConfig, steps: int,
             alt_yaml: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The per-entry metadata the checks read (the rest is filled in with shapes)."""
    out: dict[str, dict[str, Any]] = {}
    for tag, ts in v["timesteps"].items():
        c = guidance_coefficients(ts[0], cfg.guidance)
        out[f"fwd/{tag}/out"] = {
            "coefficients": dict(zip(("both_coef", "text_coef", "retr_coef", "none_coef"), c,
                                     strict=True)),
            "per_joint_scale": dict(v["per_joint_scale"])}
    for tag in v["ones_tags"]:
        out[f"fwd_ones/{tag}/out"] = {"per_joint_scale": dict.fromkeys(v["per_joint_scale"],
                                                                       1.0)}
    ins = v["insertion"]
    out["ins/final_latent"] = {"call": (
        f"re_dict={{retr_startends:[{{0:({ins['retr'][0]}, {ins['retr'][1]})}}], "
        f"query_startends:[{{0:({ins['query'][0]}, {ins['query'][1]})}}]}}, "
        f"inference_kwargs={{guidance_iters:{ins['guidance_iters']}}} ({steps} steps)")}
    out["vae_alt/encode_out"] = {"yaml": alt_yaml}
    return out


def make_fixture_set(out: Path, seed: int = 11, variant: dict[str, Any] | None = None) -> Path:
    """Write fixtures.pt/.json, small_model.pt, small_vae_yaml/ and small_vae_alt.pt."""
    v = dict(VARIANT if variant is None else variant)
    out.mkdir(parents=True, exist_ok=True)
    (out / "small_vae_yaml").mkdir(exist_ok=True)
    yamls = {p: _vae_yaml(v, p) for p in PARTS}
    for p, y in yamls.items():
        (out / "small_vae_yaml" / f"{p}.yaml").write_text(yaml.safe_dump(y), encoding="utf-8")
    alt_yaml = _vae_yaml(v, "upper", decoder_arch="encoder_decoder", position_embedding="sine",
                         vae_dist="multivariate_normal", test_ckpt="x/upper_alt.bin")
    model_cfg = _model_cfg(v)
    cfg = ModelConfig.from_config_dict({"model": model_cfg}, "variant")
    torch.manual_seed(seed)
    model = RagGestureDenoiser(cfg.denoiser, {p: VaeConfig.from_mapping(yamls[p])
                                              for p in PART_ORDER})
    _perturb(model, seed + 1000)
    model.eval().requires_grad_(False)
    alt = PartVAE(VaeConfig.from_mapping(alt_yaml))
    _perturb(alt, seed + 2000)
    torch.save(alt.state_dict(), out / "small_vae_alt.pt")
    torch.save({f"model.{k}": t for k, t in model.state_dict().items()}, out / "small_model.pt")

    s = Schedule.create(cfg.diffusion.respace, cfg.diffusion.diffusion_steps,
                        cfg.diffusion.beta_scheduler)
    golden = _inputs(v, model.tokens, torch.Generator().manual_seed(seed + 1))
    gen = torch.Generator().manual_seed(seed + 2)
    golden["ins/q_sample_noise"] = torch.randn(len(s) - 1, *golden["ins/start_noise"].shape,
                                               generator=gen)
    golden |= _exact_entries(v, cfg, model, s, golden)
    meta: dict[str, Any] = {
        "produced_by": "backend.parity.make_fixtures (our official-arithmetic path; seed "
                       f"{seed}) on CPU capability {torch.backends.cpu.get_cpu_capability()}",
        "torch_version": torch.__version__, "seed": seed, "model_cfg": model_cfg,
        "small_vae_yaml": yamls, "per_joint_scale": dict(v["per_joint_scale"]),
        "entries": _entries(v, cfg, len(s), alt_yaml)}
    fx = FixtureSet(out, golden, meta, model, cfg)
    with torch.inference_mode(), compute_path(fx, "official"):
        for _ in range(2):  # the second pass samples from the spliced insertion start noise
            for comp in computations(fx):
                golden.update(comp.run(comp.inputs | comp.fixed, "official"))
    for k, t in golden.items():
        meta["entries"].setdefault(k, {}).update(
            shape=list(t.shape), dtype=str(t.dtype).removeprefix("torch."))
    tensors = {k: t.clone().contiguous() for k, t in golden.items()}
    out.mkdir(parents=True, exist_ok=True)
    with atomic_write(out / "fixtures.pt") as f:
        torch.save(tensors, f)
    write_text(out / "fixtures.json", json.dumps(meta, indent=1))
    return out


def _exact_entries(v: dict[str, Any], cfg: ModelConfig, model: RagGestureDenoiser,
                   s: Schedule, g: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    d = cfg.diffusion
    out = {f"sched/betas_scaled_linear_{d.diffusion_steps}":
           torch.from_numpy(scaled_linear_betas(d.diffusion_steps)),
           "sched/respaced_timesteps_sorted": torch.tensor(space_timesteps(d.diffusion_steps,
                                                                           d.respace)),
           "sched/base_alphas_cumprod": torch.from_numpy(
               (1 - scaled_linear_betas(d.diffusion_steps)).cumprod()),
           "ddim/orig_t": torch.from_numpy(s.timesteps[::-1].copy()),
           "ddim/spaced_t": torch.arange(len(s) - 1, -1, -1),
           "config/joint_scale_mask": joint_scale_mask(model.tokens,
                                                       cfg.guidance.per_joint_scale),
           "gre_encode/mask": token_mask_from_frames(g["gre_encode/in/motion_mask"], 15),
           "ins/guidance_iters": torch.tensor(guidance_iters(v["insertion"]["guidance_iters"],
                                                             len(s)))}
    out |= {f"sched/spaced/{n}": torch.from_numpy(getattr(s, n).copy()) for n in SPACED}
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m backend.parity.make_fixtures",
                                 description=__doc__.splitlines()[0])
    ap.add_argument("out", help="folder to write (created if needed)")
    ap.add_argument("--seed", type=int, default=11)
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    path = make_fixture_set(Path(args.out), args.seed)
    print(f"fixture set written to {path} (CPU capability "
          f"{torch.backends.cpu.get_cpu_capability()})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
