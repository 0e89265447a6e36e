"""Denoiser layers (spec §3.5-3.7): linear "efficient" attention with time stylization.

Two facts drive the caching design (backend.model.denoiser, backend.model.fused_mix):
- a cross-attention's context matrix K^T V depends only on the conditions, never on the
  noisy latent or the timestep, so it can be computed once per window;
- a StylizationBlock's scale/shift depends only on the timestep embedding.
These modules compute everything per call exactly like the official code.
The -1e6 constants are the official masking arithmetic (spec §11 #3) and need float32.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

MASK_VALUE = -1000000


class StylizationBlock(nn.Module):
    """h' = LN(h)*(1+scale)+shift, then SiLU -> Linear; scale/shift from the time embedding."""

    def __init__(self, latent_dim: int, time_embed_dim: int, dropout: float) -> None:
        super().__init__()
        self.emb_layers = nn.Sequential(nn.SiLU(), nn.Linear(time_embed_dim, 2 * latent_dim))
        self.norm = nn.LayerNorm(latent_dim)
        self.out_layers = nn.Sequential(nn.SiLU(), nn.Dropout(p=dropout),
                                        nn.Linear(latent_dim, latent_dim))

    def style(self, emb: torch.Tensor) -> torch.Tensor:
        """(B, time_embed_dim) -> (B, 1, 2*latent_dim) = [scale | shift]."""
        return self.emb_layers(emb).unsqueeze(1)

    def forward(self, h: torch.Tensor, emb: torch.Tensor | None = None,
                style: torch.Tensor | None = None) -> torch.Tensor:
        if style is None:
            style = self.style(emb)
        scale, shift = torch.chunk(style, 2, dim=2)
        return self.out_layers(self.norm(h) * (1 + scale) + shift)


def _heads(t: torch.Tensor, heads: int) -> torch.Tensor:
    b, n, d = t.shape
    return t.view(b, n, heads, d // heads)


class EfficientSelfAttention(nn.Module):
    """Linear attention over the 43 latent tokens; masked (separator) tokens give no keys."""

    def __init__(self, latent_dim: int, num_heads: int, dropout: float,
                 time_embed_dim: int) -> None:
        super().__init__()
        self.num_heads = num_heads
        self.norm = nn.LayerNorm(latent_dim)
        self.query = nn.Linear(latent_dim, latent_dim)
        self.key = nn.Linear(latent_dim, latent_dim)
        self.value = nn.Linear(latent_dim, latent_dim)
        self.dropout = nn.Dropout(dropout)
        self.proj_out = StylizationBlock(latent_dim, time_embed_dim, dropout)

    def forward(self, x: torch.Tensor, src_mask: torch.Tensor, emb: torch.Tensor | None = None,
                style: torch.Tensor | None = None) -> torch.Tensor:
        b, t, d = x.shape
        h = self.num_heads
        xn = self.norm(x)
        query = self.query(xn)
        key = self.key(xn) + (1 - src_mask) * MASK_VALUE
        query = F.softmax(query.view(b, t, h, -1), dim=-1)
        key = F.softmax(key.view(b, t, h, -1), dim=1)
        value = (self.value(xn) * src_mask).view(b, t, h, -1)
        context = torch.einsum("bnhd,bnhl->bhdl", key, value)
        y = torch.einsum("bnhd,bhdl->bnhl", query, context).reshape(b, t, d)
        return x + self.proj_out(y, emb, style)


class EfficientCrossAttention(nn.Module):
    """Linear attention from latent tokens to one condition sequence (text, audio or speaker).

    `cond_type` (B,1,1) is 1 for the conditional copy and 0 for the null copy; in the null copy
    keys get -1e6 and values are the value bias only.
    """

    def __init__(self, latent_dim: int, text_latent_dim: int, num_heads: int, dropout: float,
                 time_embed_dim: int) -> None:
        super().__init__()
        self.num_heads = num_heads
        self.norm = nn.LayerNorm(latent_dim)
        self.text_norm = nn.LayerNorm(text_latent_dim)
        self.query = nn.Linear(latent_dim, latent_dim)
        self.key = nn.Linear(text_latent_dim, latent_dim)
        self.value = nn.Linear(text_latent_dim, latent_dim)
        self.dropout = nn.Dropout(dropout)
        self.proj_out = StylizationBlock(latent_dim, time_embed_dim, dropout)

    def context(self, xf: torch.Tensor, cond_type: torch.Tensor) -> torch.Tensor:
        """(B, N, D) condition -> per-head context K^T V (B, H, d, d); independent of x and t."""
        h = self.num_heads
        c = (cond_type % 10 > 0).float()
        fn = self.text_norm(xf)
        key = self.key(fn) + (1 - c) * MASK_VALUE
        key = F.softmax(_heads(key, h), dim=1)
        value = _heads(self.value(fn * c), h)
        return torch.einsum("bnhd,bnhl->bhdl", key, value)

    def forward(self, x: torch.Tensor, xf: torch.Tensor, cond_type: torch.Tensor,
                query_mask: torch.Tensor | None, emb: torch.Tensor | None = None,
                style: torch.Tensor | None = None) -> torch.Tensor:
        b, t, d = x.shape
        context = self.context(xf, cond_type)
        query = F.softmax(_heads(self.query(self.norm(x)), self.num_heads), dim=-1)
        y = torch.einsum("bnhd,bhdl->bnhl", query, context).reshape(b, t, d)
        if query_mask is not None:
            y = y + (1 - query_mask.unsqueeze(-1)) * MASK_VALUE
        return x + self.proj_out(y, emb, style)


class FFN(nn.Module):
    def __init__(self, latent_dim: int, ffn_dim: int, dropout: float,
                 time_embed_dim: int) -> None:
        super().__init__()
        self.linear1 = nn.Linear(latent_dim, ffn_dim)
        self.linear2 = nn.Linear(ffn_dim, latent_dim)
        self.activation = nn.GELU()
        self.dropout = nn.Dropout(dropout)
        self.proj_out = StylizationBlock(latent_dim, time_embed_dim, dropout)

    def forward(self, x: torch.Tensor, emb: torch.Tensor | None = None,
                style: torch.Tensor | None = None) -> torch.Tensor:
        y = self.linear2(self.dropout(self.activation(self.linear1(x))))
        return x + self.proj_out(y, emb, style)


CONDITIONS: tuple[str, ...] = ("xf_text", "xf_audio", "xf_spk")


class DenoiserLayer(nn.Module):
    """SA -> three cross-attentions mixed by a plain Linear (no residual) -> FFN."""

    def __init__(self, latent_dim: int, time_embed_dim: int, num_heads: int, ffn_dim: int,
                 dropout: float) -> None:
        super().__init__()
        self.sa_block = EfficientSelfAttention(latent_dim, num_heads, dropout, time_embed_dim)
        self.ca_blocks = nn.ModuleDict({
            name: EfficientCrossAttention(latent_dim, latent_dim, num_heads, dropout,
                                          time_embed_dim)
            for name in CONDITIONS
        })
        self.ca_mix = nn.Linear(latent_dim * len(CONDITIONS), latent_dim)
        self.ffn = FFN(latent_dim, ffn_dim, dropout, time_embed_dim)

    def stylization_blocks(self) -> list[StylizationBlock]:
        """Every StylizationBlock of the layer in a fixed order: sa, text, audio, spk, ffn."""
        return ([self.sa_block.proj_out]
                + [self.ca_blocks[n].proj_out for n in CONDITIONS] + [self.ffn.proj_out])

    def forward(self, x: torch.Tensor, emb: torch.Tensor | None, src_mask: torch.Tensor,
                xf: dict[str, torch.Tensor], cond_type: torch.Tensor,
                query_mask: torch.Tensor | None,
                styles: list[torch.Tensor] | None = None,
                fast: tuple[Callable[..., torch.Tensor], tuple[Any, ...]] | None = None,
                ) -> torch.Tensor:
        """`fast` = (FastLayer, its arguments) computes the same layer with fewer operations
        (backend.model.fast_layer); called through here so module hooks still see it."""
        if fast is not None:
            fn, args = fast
            return fn(x, *args)
        st = styles or [None] * 5
        x = self.sa_block(x, src_mask, emb, st[0])
        outs = [
            self.ca_blocks[n](x, xf[n], cond_type, query_mask, emb,
                              st[1 + i])
            for i, n in enumerate(CONDITIONS)
        ]
        x = self.ca_mix(torch.cat(outs, dim=-1))
        return self.ffn(x, emb, st[4])
