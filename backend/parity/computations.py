"""How every golden entry is recomputed, on each compute path, and judged (criterion.py).

A `Computation` is one call of the official code as the harness recorded it (a VAE pass, a
denoiser forward at one timestep, a 50-step DDIM run, an inversion, an insertion): its float
inputs (golden tensors) and a function that returns our value of each golden entry it
produced. Paths:

- "official": the official arithmetic (per-call forward, explicit-softmax VAE attention).
  Bit-equal to the official code on the same CPU and torch; it also measures every floor.
- "fast": what generation runs (per-window contexts, style table, folded and oneDNN-prepacked
  layers, fused VAE attention).
- "fast-plain": the same fast layers through `F.linear`, as on CUDA and torch builds without
  the oneDNN kernels (fast_layer.plain_kernels), run on this CPU.

Entries that are exact on any CPU (schedules, respacing, masks, index maps) are compared
exactly by `exact_checks`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager, nullcontext
from dataclasses import dataclass, field

import numpy as np
import torch

from ..diffusion.ddim import Replacement, ddim_invert, ddim_sample, splice_rows
from ..diffusion.guidance_schedules import guidance_iters
from ..diffusion.schedule import Schedule, scaled_linear_betas, space_timesteps
from ..model.config import GuidanceConfig
from ..model.denoiser import RagGestureDenoiser, StyleTable, query_mask
from ..model.fast_layer import plain_kernels
from ..model.gesture_rep import PART_JOINTS, PartMotion, token_mask, token_mask_from_frames
from ..model.guidance import GuidedDenoiser, joint_scale_mask, mix_branches
from ..model.vae_layers import fused_attention
from .criterion import (
    DIRECTIONS,
    GOLDEN,
    LOCAL,
    EntryResult,
    ExactResult,
    judge,
    nudge,
    nudge_all,
    row_diffs,
)
from .fixtures import FixtureSet

PATHS = ("official", "fast", "fast-plain")
VAE_PATHS = ("official", "fast")  # no denoiser: fast-plain is the fast path
PARTS = ("upper", "lowertrans", "face", "hands")
# golden key of each decoded PartMotion field (GestureRepEncoder.decode outputs)
GRE_DECODE = {"upper": "upper_aa", "lower": "lower_aa", "jaw": "face_jaw_aa",
              "hands": "hands_aa", "trans": "transl", "expressions": "expressions",
              "contacts": "contact"}
E2E_DECODE = {"upper": "pred_upper", "lower": "pred_lower", "jaw": "pred_facepose",
              "hands": "pred_hands", "trans": "pred_transl", "expressions": "pred_exps"}
# decoded rotations (axis-angle): judged as whole tensors (criterion.py)
AXIS_ANGLE = frozenset({f"gre_decode/{GRE_DECODE[k]}" for k in ("upper", "lower", "jaw", "hands")}
                       | {f"e2e_ddim/{E2E_DECODE[k]}" for k in ("upper", "lower", "jaw", "hands")}
                       | {"ins/pred_upper", "ins/pred_hands"})
SPACED = ("betas", "alphas_cumprod", "alphas_cumprod_prev", "alphas_cumprod_next",
          "sqrt_recip_alphas_cumprod", "sqrt_recipm1_alphas_cumprod", "posterior_variance",
          "posterior_mean_coef1", "posterior_mean_coef2")
# Recorded for information only: the gradient loop it drives is a verified no-op.
INFORMATIONAL = frozenset({"ins/guidance_iters"})

Tensors = dict[str, torch.Tensor]


@dataclass
class Computation:
    """One recorded call: float inputs (nudged for the floor) -> golden entries."""

    name: str
    inputs: Tensors
    run: Callable[[Tensors, str], Tensors]
    paths: tuple[str, ...] = PATHS
    fixed: Tensors = field(default_factory=dict)  # inputs that are exact (masks): not nudged
    where: Tensors = field(default_factory=dict)  # entry -> elements compared (bool)
    denoiser: bool = False  # runs the denoiser: nudged_internal_inputs are inputs too
    uses: frozenset[str] = frozenset()  # golden inputs read besides `inputs`' keys


# ----------------------------------------------------------------------------- paths


@contextmanager
def compute_path(fx: FixtureSet, path: str) -> Iterator[None]:
    """VAE attention and fast-layer kernels as `path` uses them."""
    if path not in PATHS:
        raise ValueError(f"unknown compute path {path!r}; choose one of {', '.join(PATHS)}")
    with ExitStack() as stack:
        stack.enter_context(fx.model.gesture_rep_encoder.fused_attention(path != "official"))
        if path == "fast-plain":
            stack.enter_context(plain_kernels())
        yield


@contextmanager
def nudged_internal_inputs(model: RagGestureDenoiser, direction: float,
                           masked_rows: bool = True) -> Iterator[None]:
    """One ulp toward `direction` on the two float values the denoiser makes itself with a
    rounding that no input ulp reaches (criterion.py): the sinusoidal timestep features
    (sin/cos of integer timesteps) entering `time_embed`, and the input of every
    cross-attention StylizationBlock, where the official code adds -1e6 to the query-masked
    rows (ulp 0.0625 there, so their LayerNorm is decided by its own float32 rounding);
    `masked_rows=False` nudges the timestep features only."""
    def pre(_m: torch.nn.Module, args: tuple) -> tuple:
        return (nudge(args[0], direction), *args[1:])

    targets = [model.time_embed]
    if masked_rows:
        targets += [blk.proj_out for layer in model.temporal_decoder_blocks
                    for blk in layer.ca_blocks.values()]
    handles = [t.register_forward_pre_hook(pre) for t in targets]
    try:
        yield
    finally:
        for h in handles:
            h.remove()


def _schedule(fx: FixtureSet) -> Schedule:
    d = fx.config.diffusion
    return Schedule.create(d.respace, d.diffusion_steps, d.beta_scheduler)


def _denoiser(fx: FixtureSet, path: str, schedule: Schedule, text: torch.Tensor,
              audio: torch.Tensor, spk: torch.Tensor) -> GuidedDenoiser:
    m = fx.model
    fast = path != "official"
    win = m.prepare(m.encode_conditions(text, audio, spk), cache=fast)
    styles = StyleTable(m, schedule.timesteps.tolist()) if fast else None
    return GuidedDenoiser(m, fx.config.guidance, schedule, win, styles)


def _decoded(out: PartMotion, names: dict[str, str], prefix: str) -> Tensors:
    return {f"{prefix}/{key}": getattr(out, attr) for attr, key in names.items()}


# ----------------------------------------------------------------------------- VAEs


def _vae(fx: FixtureSet, part: str) -> Computation:
    vae = fx.model.gesture_rep_encoder.vae(part)
    g = f"vae/{part}"

    def run(x: Tensors, _path: str) -> Tensors:
        mu_raw = vae.encode_raw(x["input"])
        _, scale = vae.encode_dist(x["input"])
        z = vae.encode(x["input"], noise=x["eps"])
        return {f"{g}/encode_out": mu_raw, f"{g}/dist_scale": scale, f"{g}/z": z,
                f"{g}/decode_of_z": vae.decode(z),
                f"{g}/decode_of_z_rand": vae.decode(x["z_rand"])}

    inputs = {k: fx.golden[f"{g}/{k}"] for k in ("input", "eps", "z_rand")}
    return Computation(g, inputs, run, VAE_PATHS,
                       uses=frozenset(f"{g}/{k}" for k in inputs))


def _vae_alt(fx: FixtureSet) -> Computation | None:
    vae = fx.alt_vae()
    if vae is None:
        return None

    def run(x: Tensors, path: str) -> Tensors:
        with fused_attention(vae, path != "official"):
            z = vae.encode(x["input"], noise=x["eps"])
            return {"vae_alt/encode_out": vae.encode_raw(x["input"]), "vae_alt/z": z,
                    "vae_alt/decode_of_z": vae.decode(z)}

    inputs = {"input": fx.golden["vae/upper/input"][..., : vae.cfg.nfeats],
              "eps": fx.golden["vae_alt/eps"]}
    return Computation("vae_alt", inputs, run, VAE_PATHS,
                       uses=frozenset({"vae/upper/input", "vae_alt/eps"}))


_GRE_IN = {"upper": "upper", "lower": "lower", "jaw": "face", "hands": "hands",
           "trans": "transl", "expressions": "facial", "contacts": "contact"}


def _gre_encode(fx: FixtureSet) -> Computation:
    gre = fx.model.gesture_rep_encoder

    def run(x: Tensors, _path: str) -> Tensors:
        motion = PartMotion(**{f: x[f"motion_{k}"] for f, k in _GRE_IN.items()})
        feats = gre.vae_inputs(motion)
        latent = gre.encode(motion, noise={p: x[f"eps/{p}"] for p in PARTS})
        nl = PART_JOINTS["lower"] * 6
        out = {f"gre_encode/vae_input/{p}": feats[p] for p in PARTS}
        out["gre_encode/in_place_modified_transl"] = feats["lowertrans"][..., nl:nl + 3]
        out["gre_encode/latent"] = latent
        for p in PARTS:
            mu, _ = gre.vae(p).encode_dist(feats[p])
            out[f"gre_encode/mu/{p}"] = mu.reshape(latent.shape[0], gre.tokens, -1)
        return out

    inputs = {f"motion_{k}": fx.golden[f"gre_encode/in/motion_{k}"] for k in _GRE_IN.values()}
    inputs |= {f"eps/{p}": fx.golden[f"gre_encode/eps/{p}"] for p in PARTS}
    uses = {f"gre_encode/in/{k}" for k in inputs if k.startswith("motion_")}
    uses |= {f"gre_encode/{k}" for k in inputs if k.startswith("eps/")}
    return Computation("gre_encode", inputs, run, VAE_PATHS, uses=frozenset(uses))


def _gre_decode(fx: FixtureSet) -> Computation:
    def run(x: Tensors, _path: str) -> Tensors:
        out = fx.model.gesture_rep_encoder.decode(x["gre_decode/in"])
        return _decoded(out, GRE_DECODE, "gre_decode")

    return Computation("gre_decode", {"gre_decode/in": fx.golden["gre_decode/in"]}, run,
                       VAE_PATHS)


# ----------------------------------------------------------------------------- denoiser


def _inputs(fx: FixtureSet, batch: int | None = None) -> Tensors:
    g = fx.golden
    b = slice(None) if batch is None else slice(0, batch)
    return {"inputs/text": g["inputs/text"][b], "inputs/audio": g["inputs/audio"][b],
            "inputs/speaker_ids": g["inputs/speaker_ids"][b]}


def _cond(fx: FixtureSet) -> Computation:
    def run(x: Tensors, _path: str) -> Tensors:
        xf = fx.model.encode_conditions(x["inputs/text"], x["inputs/audio"],
                                        x["inputs/speaker_ids"])
        return {f"cond/{k}": v for k, v in xf.items()}

    return Computation("cond", _inputs(fx), run, ("official",))


def forward_tags(golden: Tensors) -> list[str]:
    """Tags of the recorded denoiser forwards (`fwd/<tag>/timesteps`)."""
    return sorted({k.split("/")[1] for k in golden
                   if k.startswith("fwd/") and k.endswith("/timesteps")})


def _guidance(fx: FixtureSet, per_joint_scale: dict[str, float]) -> GuidanceConfig:
    g = fx.config.guidance
    return GuidanceConfig(g.coarse_scale, g.both_coef, g.text_coef, g.retr_coef,
                          dict(per_joint_scale))


def _hooks(model: RagGestureDenoiser, caps: Tensors) -> list:
    def keep(name: str) -> Callable:
        return lambda _m, _a, out: caps.__setitem__(name, out)

    handles = [
        model.time_embed.register_forward_hook(keep("emb")),
        model.temporal_decoder_blocks[0].register_forward_pre_hook(
            lambda _m, args: caps.__setitem__("h_in", args[0])),
        model.out.register_forward_hook(keep("out_raw_text_none")),
    ]
    handles += [blk.register_forward_hook(keep(f"block{i}_out"))
                for i, blk in enumerate(model.temporal_decoder_blocks)]
    return handles


def _forward(fx: FixtureSet, tag: str) -> Computation:
    m, g, entries = fx.model, fx.golden, fx.entries
    ts = g[f"fwd/{tag}/timesteps"]

    def run(x: Tensors, path: str) -> Tensors:
        xf = m.encode_conditions(x["inputs/text"], x["inputs/audio"], x["inputs/speaker_ids"])
        fast = path != "official"
        win = m.prepare(xf, x["inputs/motion_mask_latent"], x["inputs/query_mask_xf"],
                        cache=fast)
        styles = StyleTable(m, sorted(set(ts.tolist()))) if fast else None
        caps: Tensors = {}
        handles = _hooks(m, caps)
        try:
            raw = m(x["fwd/x_t"], ts, win, styles)
        finally:
            for h in handles:
                h.remove()
        if styles is not None:
            caps["emb"] = styles.lookup(ts)[0]
        out = {f"fwd/{tag}/{k}": v for k, v in caps.items()}
        for prefix in ("fwd", "fwd_ones"):
            name = f"{prefix}/{tag}/out"
            if prefix == "fwd" or name in entries:
                guid = _guidance(fx, entries.get(name, {}).get(
                    "per_joint_scale", fx.config.guidance.per_joint_scale))
                out[name] = mix_branches(raw, int(ts[0]), guid,
                                         joint_scale_mask(m.tokens, guid.per_joint_scale))
        return out

    masks = {k: g[k] for k in ("inputs/motion_mask_latent", "inputs/query_mask_xf")}
    return Computation(f"fwd/{tag}", _inputs(fx) | {"fwd/x_t": g["fwd/x_t"]}, run,
                       fixed=masks, denoiser=True, uses=frozenset({f"fwd/{tag}/timesteps"}))


def _ddim(fx: FixtureSet) -> Computation:
    s = _schedule(fx)

    def run(x: Tensors, path: str) -> Tensors:
        den = _denoiser(fx, path, s, x["inputs/text"], x["inputs/audio"],
                        x["inputs/speaker_ids"])
        samples, preds = [], []
        ddim_sample(den, x["ddim/noise"], s,
                    on_step=lambda _k, _x, x0, x_out: (preds.append(x0), samples.append(x_out)))
        return {"ddim/samples": torch.stack(samples), "ddim/pred_xstart": torch.stack(preds)}

    return Computation("ddim", _inputs(fx) | {"ddim/noise": fx.golden["ddim/noise"]}, run,
                       denoiser=True)


def _e2e(fx: FixtureSet) -> Computation:
    s = _schedule(fx)

    def run(x: Tensors, path: str) -> Tensors:
        den = _denoiser(fx, path, s, x["inputs/text"], x["inputs/audio"],
                        x["inputs/speaker_ids"])
        z = ddim_sample(den, x["e2e_ddim/start_noise"], s)
        out = _decoded(fx.model.gesture_rep_encoder.decode(z), E2E_DECODE, "e2e_ddim")
        return {"e2e_ddim/final_latent": z, **out}

    return Computation("e2e_ddim",
                       _inputs(fx) | {"e2e_ddim/start_noise": fx.golden["e2e_ddim/start_noise"]},
                       run, denoiser=True)


def _invert(fx: FixtureSet, path: str, s: Schedule, x: Tensors
            ) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    den = _denoiser(fx, path, s, x["inv/retr_text"], x["inv/retr_audio"], x["inv/retr_spkid"])
    preds: list[torch.Tensor] = []

    def denoise(xk: torch.Tensor, k: int) -> torch.Tensor:
        preds.append(den(xk, k))
        return preds[-1]

    return ddim_invert(denoise, x["inv/x0"], s), preds


def _inv_inputs(fx: FixtureSet) -> Tensors:
    return {k: fx.golden[k] for k in ("inv/x0", "inv/retr_text", "inv/retr_audio",
                                      "inv/retr_spkid")}


def _inversion(fx: FixtureSet) -> Computation:
    s = _schedule(fx)

    def run(x: Tensors, path: str) -> Tensors:
        latents, preds = _invert(fx, path, s, x)
        return {"inv/latents": torch.stack(latents), "inv/pred_xstart": torch.stack(preds)}

    return Computation("inv", _inv_inputs(fx), run, denoiser=True)


def insertion_ranges(fx: FixtureSet) -> tuple[tuple[int, int], tuple[int, int]]:
    """(retrieved tokens, query tokens) of the recorded insertion, from its call string."""
    call = fx.entries["ins/final_latent"]["call"]
    retr = re.search(r"retr_startends:\[\{0:\((\d+),\s*(\d+)\)\}\]", call)
    query = re.search(r"query_startends:\[\{0:\((\d+),\s*(\d+)\)\}\]", call)
    if not (retr and query):
        raise ValueError("cannot read the insertion ranges from fixtures.json")
    return (int(retr[1]), int(retr[2])), (int(query[1]), int(query[2]))


def insertion_rows(fx: FixtureSet) -> tuple[list[tuple[slice, slice]], torch.Tensor]:
    """(query rows, retrieved rows) pairs of the upper and hand parts, and the (B,43) mask of
    replaced rows."""
    (rs, re_), (qs, qe) = insertion_ranges(fx)
    t = fx.model.tokens
    pairs = [(slice(qs, qe), slice(rs, re_)),
             (slice(t + 1 + qs, t + 1 + qe), slice(t + 1 + rs, t + 1 + re_))]
    start = fx.golden["ins/start_noise"]
    rows = torch.zeros(start.shape[:2], dtype=torch.bool)
    for q, _ in pairs:
        rows[:, q] = True
    return pairs, rows


def _insertion_targets(pairs: list[tuple[slice, slice]], latents: list[torch.Tensor],
                       like: torch.Tensor) -> list[torch.Tensor]:
    """Spec §5.9: zeros except the inserted upper/hand rows of each inverted latent."""
    out = []
    for lat in latents:
        z = torch.zeros_like(like)
        for q, r in pairs:
            z = splice_rows(z, lat, q, r)
        out.append(z)
    return out


def _insertion(fx: FixtureSet) -> Computation:
    s = _schedule(fx)
    pairs, rows = insertion_rows(fx)
    g = fx.golden
    b = g["ins/start_noise"].shape[0]
    last = len(s) - 1

    def run(x: Tensors, path: str) -> Tensors:
        latents, _ = _invert(fx, path, s, x)
        start = x["ins/start_noise"]
        targets = _insertion_targets(pairs, latents, start)
        # §5.8: the start noise carries the last inverted latent in the inserted rows
        spliced = start.clone()
        for q, r in pairs:
            spliced[:, q] = 0
            spliced = splice_rows(spliced, latents[-1], q, r)
        noise = x["ins/q_sample_noise"]
        rep = Replacement(rows=rows, target=targets, skip_first=True,
                          noise=lambda k, _like: noise[last - 1 - k])
        den = _denoiser(fx, path, s, x["inputs/text"], x["inputs/audio"],
                        x["inputs/speaker_ids"])
        x_in, preds, outs = [], [], []
        final = ddim_sample(den, start, s, replacements=[rep],
                            on_step=lambda _k, xi, x0, xo: (x_in.append(xi), preds.append(x0),
                                                            outs.append(xo)))
        dec = fx.model.gesture_rep_encoder.decode(final)
        return {"ins/inverted_latent_list_for_guidance": torch.stack(targets),
                "ins/start_noise": spliced, "ins/step_x_in": torch.stack(x_in),
                "ins/step_pred_xstart": torch.stack(preds), "ins/step_sample": torch.stack(outs),
                "ins/final_latent": final, "ins/pred_upper": dec.upper,
                "ins/pred_hands": dec.hands}

    inputs = _inv_inputs(fx) | _inputs(fx, b) | {
        "ins/start_noise": g["ins/start_noise"], "ins/q_sample_noise": g["ins/q_sample_noise"]}
    # the recorded x before replacement differs from ours inside the replaced rows only
    keep = ~rows[None, :, :, None]
    return Computation("ins", inputs, run, denoiser=True, where={"ins/step_x_in": keep})


# ----------------------------------------------------------------------------- all


def computations(fx: FixtureSet) -> list[Computation]:
    """Every computation the fixture set has entries for."""
    g = fx.golden
    out = [_vae(fx, p) for p in PARTS if f"vae/{p}/input" in g]
    alt = _vae_alt(fx)
    out += [alt] if alt is not None else []
    out += [make(fx) for key, make in (("gre_encode/in/motion_upper", _gre_encode),
                                       ("gre_decode/in", _gre_decode),
                                       ("inputs/text", _cond)) if key in g]
    out += [_forward(fx, tag) for tag in forward_tags(g)]
    out += [make(fx) for key, make in (("ddim/noise", _ddim), ("e2e_ddim/start_noise", _e2e),
                                       ("inv/x0", _inversion), ("ins/start_noise", _insertion))
            if key in g]
    return out


def floors(fx: FixtureSet, comp: Computation, ref: Tensors, internal: bool = True) -> Tensors:
    """Per entry and row: how far a one-ulp change of the computation's inputs moves the
    official result on this machine (criterion.py); `internal=False` leaves the denoiser's
    -1e6 rows alone (the floor of the stored inputs and timestep features only)."""
    out: Tensors = {}
    for direction in DIRECTIONS:
        nudged = nudge_all(comp.inputs, direction) | comp.fixed
        with nudged_internal_inputs(fx.model, direction, internal) if comp.denoiser \
                else nullcontext():
            got = comp.run(nudged, "official")
        for k, v in ref.items():
            if k not in fx.golden:
                continue
            d = row_diffs(got[k], v, comp.where.get(k))
            out[k] = d if k not in out else torch.maximum(out[k], d)
    return out


def evaluate(fx: FixtureSet, comp: Computation,
             paths: tuple[str, ...] = PATHS) -> list[EntryResult]:
    """Every entry of `comp` on every requested path it has: against the golden tensors
    with the full floor, and (fast paths of the denoiser) against the official path on this
    machine with the floor of the stored inputs."""
    results = []
    with torch.inference_mode():
        with compute_path(fx, "official"):
            ref = comp.run(comp.inputs | comp.fixed, "official")
            floor = floors(fx, comp, ref)
            fast_paths = [p for p in paths if p in comp.paths and p != "official"]
            local = floors(fx, comp, ref, internal=False) if comp.denoiser and fast_paths \
                else None
        for path in (p for p in paths if p in comp.paths):
            if path == "official":
                got = ref
            else:
                with compute_path(fx, path):
                    got = comp.run(comp.inputs | comp.fixed, path)
            for k in (k for k in ref if k in fx.golden):
                where, whole = comp.where.get(k), k in AXIS_ANGLE
                results.append(judge(k, path, GOLDEN, row_diffs(got[k], fx.golden[k], where),
                                     floor[k], whole))
                if local is not None and path != "official":
                    results.append(judge(k, path, LOCAL, row_diffs(got[k], ref[k], where),
                                         local[k], whole))
    return results


def evaluate_all(fx: FixtureSet, paths: tuple[str, ...] = PATHS,
                 only: Callable[[str], bool] | None = None) -> list[EntryResult]:
    out = []
    for comp in computations(fx):
        if only is None or only(comp.name):
            out += evaluate(fx, comp, paths)
    return out


# ----------------------------------------------------------------------------- exact


def _exact(name: str, ok: bool, detail: str = "") -> ExactResult:
    return ExactResult(name, bool(ok), "" if ok else detail)


def exact_checks(fx: FixtureSet) -> list[ExactResult]:
    """Comparisons that are exact on any CPU: float64 schedules (IEEE basic operations
    only), respacing and step maps, masks, the insertion index map, the guidance preset."""
    g, m = fx.golden, fx.model
    d = fx.config.diffusion
    s = _schedule(fx)
    out = []
    betas = next((k for k in g if k.startswith("sched/betas_scaled_linear_")), None)
    if betas is not None:
        n = int(betas.rsplit("_", 1)[1])
        out.append(_exact(betas, np.array_equal(scaled_linear_betas(n), g[betas].numpy())))
    if "sched/respaced_timesteps_sorted" in g:
        out.append(_exact("sched/respaced_timesteps_sorted",
                          space_timesteps(d.diffusion_steps, d.respace)
                          == g["sched/respaced_timesteps_sorted"].tolist()))
    if "sched/base_alphas_cumprod" in g:
        base = np.cumprod(1 - scaled_linear_betas(d.diffusion_steps))
        out.append(_exact("sched/base_alphas_cumprod",
                          np.array_equal(base, g["sched/base_alphas_cumprod"].numpy())))
    for name in SPACED:
        key = f"sched/spaced/{name}"
        if key in g:
            out.append(_exact(key, np.array_equal(getattr(s, name), g[key].numpy())))
    if "ddim/orig_t" in g:
        out.append(_exact("ddim/orig_t", g["ddim/orig_t"].tolist()
                          == s.timesteps[::-1].tolist()))
        out.append(_exact("ddim/spaced_t", g["ddim/spaced_t"].tolist()
                          == list(range(len(s) - 1, -1, -1))))
    b = g["inputs/text"].shape[0]
    out.append(_exact("inputs/motion_mask_latent",
                      torch.equal(token_mask(b, m.tokens), g["inputs/motion_mask_latent"])))
    out.append(_exact("inputs/query_mask_xf",
                      torch.equal(query_mask(b, m.tokens), g["inputs/query_mask_xf"])))
    out.append(_exact("config/joint_scale_mask", torch.equal(
        joint_scale_mask(m.tokens, fx.config.guidance.per_joint_scale),
        g["config/joint_scale_mask"])))
    if "gre_encode/mask" in g:
        frames = g["gre_encode/in/motion_mask"]
        chunk = frames.shape[1] // m.tokens
        out.append(_exact("gre_encode/mask", torch.equal(
            token_mask_from_frames(frames, chunk), g["gre_encode/mask"])))
    if "ins/final_latent" in g:
        pairs, _ = insertion_rows(fx)
        golden = g["ins/inverted_latent_list_for_guidance"]
        ours = _insertion_targets(pairs, [torch.ones_like(golden[0])] * len(golden),
                                  g["ins/start_noise"])
        out.append(_exact("ins/inverted_latent_list_for_guidance (index map)",
                          torch.equal(torch.stack(ours) != 0, golden != 0),
                          "inserted rows differ"))
        call = fx.entries["ins/final_latent"]["call"]
        preset = re.search(r"guidance_iters:([a-z_0-9]+)", call)
        if preset and "ins/guidance_iters" in g:
            iters = g["ins/guidance_iters"].tolist()
            out.append(_exact("ins/guidance_iters",
                              guidance_iters(preset[1], len(iters)) == iters))
    return out


def covered(fx: FixtureSet, results: list[EntryResult]) -> set[str]:
    """Golden keys read as inputs, recomputed (`results`) or compared exactly."""
    keys: set[str] = set(INFORMATIONAL) | {r.name for r in results}
    for comp in computations(fx):
        keys |= set(comp.inputs) | set(comp.fixed) | set(comp.uses)
    keys |= {r.name.split(" ")[0] for r in exact_checks(fx)}
    keys.add("gre_encode/in/motion_mask")  # the frame mask of gre_encode/mask
    return keys & set(fx.golden)
