"""The latent diffusion denoiser `ReGestureTransformer` (spec §3), official parameter names.

`forward` returns the raw x0 predictions of both guidance branches stacked as (2B, 43, D):
rows [:B] see the conditions, rows [B:] are the null branch. Mixing them is
`backend.model.guidance` (`GuidedDenoiser`).

Speed: `prepare(cache=True)` turns the conditions of one window into a `WindowConditions`
that holds the cross-attention context matrices (they never depend on the latent or the
timestep), `StyleTable` holds every StylizationBlock scale/shift for a fixed list of
timesteps (they depend only on the timestep), and with both the layers run in their fast
form (backend.model.fast_layer): ~5x less time per step than the official forward, the same
numbers to a few float32 ulps. Without them the forward recomputes everything on every
call, exactly as the official code does: bit-equal to the official code on the same CPU
and torch, within the float32 noise floor of the golden tensors on any CPU
(backend/parity, docs/fidelity.md).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from ..progress import check
from .config import DenoiserConfig
from .denoiser_blocks import CONDITIONS, MASK_VALUE, DenoiserLayer
from .fast_layer import FastLayer, StepRows, WindowRows, fast_layers, kernel_kind
from .gesture_rep import GestureRepEncoder, canvas_length, token_mask
from .vae import VaeConfig
from .vae_layers import sine_table


def timestep_embedding(timesteps: torch.Tensor, dim: int, max_period: int = 10000) -> torch.Tensor:
    """Sinusoidal embedding of the original-scale timesteps, cos half first (spec §3.4)."""
    half = dim // 2
    args = timesteps[:, None].float() * _frequencies(half, max_period, timesteps.device)[None]
    return torch.cat([torch.cos(args), torch.sin(args)], dim=-1)


@functools.lru_cache(maxsize=16)
def _frequencies(half: int, max_period: int, device: torch.device) -> torch.Tensor:
    """The embedding's frequencies, computed on the CPU and copied to `device` once (as an
    ordinary tensor even when first asked for under inference_mode)."""
    with torch.inference_mode(False):
        freqs = torch.exp(-math.log(max_period)
                          * torch.arange(start=0, end=half, dtype=torch.float32) / half)
        return freqs.to(device)


def query_mask(batch: int, tokens: int, device: torch.device | None = None) -> torch.Tensor:
    """Cross-attention query mask as the released model was trained (spec §3.10, §11 #3).

    Zeros at (T-3)//4 * (1, 2, 3) = 10, 20, 30 although the separators are 10, 21, 32:
    reproduced on purpose because the weights were trained with it.
    """
    length = canvas_length(tokens)
    mask = torch.ones(batch, length, device=device)
    step = (length - 3) // 4
    mask[:, [step, 2 * step, 3 * step]] = 0
    return mask


class _Table(nn.Module):
    """Holds a `pe` tensor (buffer or parameter) under the official key."""

    def __init__(self, pe: torch.Tensor, learned: bool) -> None:
        super().__init__()
        if learned:
            self.pe = nn.Parameter(pe)
        else:
            self.register_buffer("pe", pe, persistent=True)


@dataclass
class WindowConditions:
    """Everything about one window's conditions that the denoiser needs at every step."""

    xf: dict[str, torch.Tensor]  # encoded conditions, doubled (2B, N, D)
    cond_type: torch.Tensor  # (2B, 1, 1): 1 conditional, 0 null
    src_mask: torch.Tensor  # (2B, 43, 1)
    query_mask: torch.Tensor  # (2B, 43)
    fast: WindowRows | None = None  # masks and contexts for the fast layers


class StyleTable:
    """Time embedding and every StylizationBlock scale/shift for a fixed list of timesteps,
    and the per-timestep rows of the fast layers (backend.model.fast_layer).

    Everything here depends only on the weights and the timesteps, so one table serves every
    window and batch size. Computed for all timesteps in one batch: float32 rounding then
    differs from the per-call path by ~1e-7, within the parity rule (backend/parity).
    """

    def __init__(self, model: RagGestureDenoiser, timesteps: list[int],
                 should_stop: Callable[[], bool] | None = None) -> None:
        device = next(model.parameters()).device
        check(should_stop, "preparing the sampler")
        self.index = {int(t): i for i, t in enumerate(timesteps)}
        ts = torch.tensor([int(t) for t in timesteps], dtype=torch.long)
        order = torch.argsort(ts)
        # timestep -> row found on the device (searchsorted), so a step reads nothing back
        self._sorted, self._order = ts[order].to(device), order.to(device)
        self.emb = model.embed_time(ts.to(device))
        self.styles = [[blk.style(self.emb) for blk in layer.stylization_blocks()]
                       for layer in model.temporal_decoder_blocks]
        self.fast = model.fast_layers()
        self.fast_rows = [f.timestep_rows(st) for f, st in
                          zip(self.fast, self.styles, strict=True)]

    def rows(self, timesteps: torch.Tensor) -> torch.Tensor:
        """Table rows of the (B,) timesteps, computed where they live. Every timestep must be
        one the table was made for; that is checked on the CPU only (a check on a GPU would
        wait for it, and the sampler only asks for its own schedule's timesteps)."""
        timesteps = timesteps.to(torch.long)
        pos = torch.searchsorted(self._sorted, timesteps).clamp_(max=len(self._sorted) - 1)
        if timesteps.device.type == "cpu" and not torch.equal(self._sorted[pos], timesteps):
            missing = sorted(set(timesteps.tolist()) - set(self.index))
            raise KeyError(f"timesteps {missing} are not in this style table")
        return self._order[pos]

    def lookup(self, timesteps: torch.Tensor) -> tuple[torch.Tensor, list[list[torch.Tensor]]]:
        """Rows for a (B,) timestep tensor, doubled for both guidance branches."""
        idx = self.rows(timesteps)
        idx2 = torch.cat([idx, idx])
        return self.emb[idx], [[s[idx2] for s in layer] for layer in self.styles]

    def step_rows(self, timesteps: torch.Tensor, win: WindowRows) -> list[StepRows]:
        """Per layer, the fast layer's rows for these (B,) timesteps in this window."""
        idx = self.rows(timesteps)
        idx2 = torch.cat([idx, idx])
        out = []
        for sa_a, sa_c, ca_a, ca_c, null, ffn_a, ffn_c in self.fast_rows:
            nl = null[idx]  # (B, 2, D)
            out.append(StepRows(sa=(sa_a[idx2, None], sa_c[idx2, None]),
                                ca=(ca_a[idx, None], ca_c[idx, None]),
                                null=torch.where(win.masked, nl[:, 1:2], nl[:, 0:1]),
                                ffn=(ffn_a[idx2, None], ffn_c[idx2, None])))
        return out


class RagGestureDenoiser(nn.Module):
    """`ReGestureTransformer` with its `gesture_rep_encoder` (the four VAEs)."""

    def __init__(self, cfg: DenoiserConfig, vae_cfgs: dict[str, VaeConfig]) -> None:
        super().__init__()
        self.cfg = cfg
        d = cfg.latent_dim
        self.tokens = cfg.max_seq_len // cfg.frame_chunk_size
        self.sequence_embedding = _Table(sine_table(self.tokens, d), learned=False)
        self.global_positional_embedding = _Table(
            torch.zeros(canvas_length(self.tokens), 1, d), learned=True)
        self.gesture_rep_encoder = GestureRepEncoder(vae_cfgs)
        if self.gesture_rep_encoder.latent_dim != d or self.gesture_rep_encoder.tokens != \
                self.tokens:
            raise ValueError(
                f"the VAE yamls give latent_dim {self.gesture_rep_encoder.latent_dim} and "
                f"{self.gesture_rep_encoder.tokens} tokens per window, but the denoiser config "
                f"expects {d} and {self.tokens}")
        self.text_pre_proj = nn.Linear(cfg.text_dim, d)
        self.audio_pre_proj = nn.Linear(cfg.audio_dim, d)
        self.speaker_embedding = nn.Embedding(cfg.num_speakers, d)
        self.joint_embed = nn.Linear(d, d)
        self.time_embed = nn.Sequential(nn.Linear(d, cfg.time_embed_dim), nn.SiLU(),
                                        nn.Linear(cfg.time_embed_dim, cfg.time_embed_dim))
        self.temporal_decoder_blocks = nn.ModuleList(
            DenoiserLayer(d, cfg.time_embed_dim, cfg.num_heads, cfg.ff_size, cfg.dropout)
            for _ in range(cfg.num_layers))
        self.out = nn.Linear(d, d)

    # ----- conditions -------------------------------------------------------------------
    def encode_conditions(self, text: torch.Tensor, audio: torch.Tensor,
                          speaker_ids: torch.Tensor) -> dict[str, torch.Tensor]:
        """(B,150,768) BERT words, (B,499,768) wav2vec2, (B,150) speaker ids -> xf_* (B,N,D)."""
        return {
            "xf_text": self.text_pre_proj(text),
            "xf_audio": self.audio_pre_proj(audio),
            "xf_spk": self.speaker_embedding(speaker_ids),
        }

    def prepare(self, xf: dict[str, torch.Tensor], motion_mask: torch.Tensor | None = None,
                qmask: torch.Tensor | None = None, cache: bool = True) -> WindowConditions:
        """Double the conditions for the two guidance branches and, with `cache`, compute the
        cross-attention contexts once."""
        b = xf["xf_text"].shape[0]
        device = xf["xf_text"].device
        if motion_mask is None:
            motion_mask = token_mask(b, self.tokens, device)
        if qmask is None:
            qmask = query_mask(b, self.tokens, device)
        cond_type = torch.cat([torch.ones(b), torch.zeros(b)]).view(2 * b, 1, 1).to(device)
        win = WindowConditions(
            xf={k: xf[k].repeat(2, 1, 1) for k in CONDITIONS},
            cond_type=cond_type,
            src_mask=motion_mask.repeat(2, 1)[..., None],
            query_mask=qmask.repeat(2, 1),
        )
        if cache:
            key_add = (1 - win.src_mask) * MASK_VALUE
            query_add = ((1 - qmask) * MASK_VALUE)[:, :, None, None]
            win.fast = WindowRows(
                key_add=key_add, src_mask=win.src_mask, query_add=query_add,
                masked=(qmask == 0)[..., None],
                contexts=[torch.stack([layer.ca_blocks[n].context(xf[n], cond_type[:b])
                                       for n in CONDITIONS], dim=1)
                          for layer in self.temporal_decoder_blocks])
        return win

    def __getstate__(self) -> dict:
        """Copies and pickles leave the fast-layer cache behind (prepacked oneDNN tensors
        cannot be copied; a copy rebuilds its own on first use)."""
        state = super().__getstate__()
        return {k: v for k, v in state.items() if k not in ("_fast", "_fast_key")}

    def fast_layers(self) -> list[FastLayer]:
        """The layers folded and prepacked, rebuilt when any weight or the kernel choice
        (fast_layer.plain_kernels) changed."""
        params = list(self.temporal_decoder_blocks.parameters())
        key = (kernel_kind(), *((p.data_ptr(), p._version) for p in params))
        if getattr(self, "_fast_key", None) != key:
            self._fast = fast_layers(list(self.temporal_decoder_blocks))
            self._fast_key = key
        return self._fast

    # ----- forward ----------------------------------------------------------------------
    def embed_time(self, timesteps: torch.Tensor) -> torch.Tensor:
        return self.time_embed(timestep_embedding(timesteps, self.cfg.latent_dim))

    def embed_latent(self, x: torch.Tensor) -> torch.Tensor:
        """joint_embed + per-part sinusoid positions (zero at separators) + global table."""
        d = x.shape[-1]
        seq = self.sequence_embedding.pe.permute(1, 0, 2)  # (1, 10, D)
        zero = torch.zeros(1, 1, d, dtype=x.dtype, device=x.device)
        part_pe = torch.cat([seq, zero, seq, zero, seq, zero, seq], dim=1)
        h = self.joint_embed(x) + part_pe
        return h + self.global_positional_embedding.pe[: x.shape[1]].permute(1, 0, 2)

    def forward(self, x: torch.Tensor, timesteps: torch.Tensor, win: WindowConditions,
                styles: StyleTable | None = None) -> torch.Tensor:
        """x (B,43,D) at original-scale `timesteps` (B,) -> raw x0 of both branches (2B,43,D).

        With a StyleTable and a window prepared with `cache=True` the layers run
        folded (backend.model.fast_layer); otherwise every value is computed per call exactly
        as the official code does (a table alone only supplies the time styles)."""
        if styles is not None:
            emb, layer_styles = styles.lookup(timesteps)
            emb2 = None
        else:
            emb = self.embed_time(timesteps)
            emb2, layer_styles = emb.repeat(2, 1), None
        fast = styles.step_rows(timesteps, win.fast) if styles is not None and \
            win.fast is not None and not self.training else None
        h = self.embed_latent(x).repeat(2, 1, 1)
        for i, layer in enumerate(self.temporal_decoder_blocks):
            h = layer(h, emb2, win.src_mask, win.xf, win.cond_type, win.query_mask,
                      styles=None if layer_styles is None else layer_styles[i],
                      fast=None if fast is None else (
                          styles.fast[i], (win.fast, win.fast.contexts[i], fast[i])))
        return self.out(h)
