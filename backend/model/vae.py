"""One part VAE (spec §2): 15-frame chunks -> one latent each, 10 latents -> 150 frames.

Hyper-parameters come from the yaml that ships beside each VAE checkpoint; none of the
architecture choices (decoder layout, position table, distribution) can be read off the
weights alone, so `VaeConfig` carries every option the official code supports.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from .vae_layers import (
    DecoderLayer,
    EncoderLayer,
    SkipTransformerDecoder,
    SkipTransformerEncoder,
    position_embedding,
)


@dataclass(frozen=True)
class VaeConfig:
    """The yaml fields the official `TransformerVAE` and `load_vae` read."""

    nfeats: int
    latent_dim: int = 512
    frame_chunk_size: int = 15
    num_frames: int = 150
    num_layers: int = 8
    num_heads: int = 4
    ff_size: int = 1024
    dropout: float = 0.1
    transformer_activation: str = "gelu"
    transformer_normalize_before: bool = False
    decoder_arch: str = "all_encoder"
    position_embedding: str = "learned"
    vae_dist: str = "normal"
    test_ckpt: str = ""

    @classmethod
    def from_mapping(cls, data: dict[str, Any], source: str = "<yaml>") -> VaeConfig:
        known = {f.name for f in fields(cls)}
        if "nfeats" not in data:
            raise ValueError(f"{source}: the VAE yaml has no 'nfeats'")
        cfg = cls(**{k: v for k, v in data.items() if k in known})
        if cfg.decoder_arch not in ("all_encoder", "encoder_decoder"):
            raise ValueError(f"{source}: decoder_arch {cfg.decoder_arch!r} is not supported "
                             "(expected 'all_encoder' or 'encoder_decoder')")
        if cfg.vae_dist not in ("normal", "multivariate_normal"):
            raise ValueError(f"{source}: vae_dist {cfg.vae_dist!r} is not supported "
                             "(expected 'normal' or 'multivariate_normal')")
        if cfg.num_frames % cfg.frame_chunk_size:
            raise ValueError(f"{source}: num_frames {cfg.num_frames} is not a multiple of "
                             f"frame_chunk_size {cfg.frame_chunk_size}")
        return cfg

    @classmethod
    def from_yaml(cls, path: str | Path) -> VaeConfig:
        import yaml

        with open(path, encoding="utf-8") as fh:
            data = yaml.safe_load(fh)
        if not isinstance(data, dict):
            raise ValueError(f"{path}: not a VAE yaml (expected a mapping of fields)")
        return cls.from_mapping(data, str(path))

    @property
    def encoder_layers(self) -> int:
        """The official skip stack needs an odd count, so an even `num_layers` is bumped."""
        return self.num_layers + 1 if self.num_layers % 2 == 0 else self.num_layers

    @property
    def tokens_per_window(self) -> int:
        return self.num_frames // self.frame_chunk_size


class PartVAE(nn.Module):
    """The official `TransformerVAE` (MLD-style), parameter names kept for strict loading."""

    def __init__(self, cfg: VaeConfig) -> None:
        super().__init__()
        self.cfg = cfg
        d = cfg.latent_dim
        act, drop, pre = cfg.transformer_activation, cfg.dropout, cfg.transformer_normalize_before
        self.query_pos_encoder = position_embedding(cfg.position_embedding, d)
        self.query_pos_decoder = position_embedding(cfg.position_embedding, d)
        self.mem_pos_decoder = position_embedding(cfg.position_embedding, d)
        enc_layer = EncoderLayer(d, cfg.num_heads, cfg.ff_size, drop, act, pre)
        self.encoder = SkipTransformerEncoder(enc_layer, cfg.encoder_layers, d)
        if cfg.decoder_arch == "all_encoder":
            dec_layer = EncoderLayer(d, cfg.num_heads * 8, cfg.ff_size, drop, act, pre)
            self.decoder = SkipTransformerEncoder(dec_layer, cfg.encoder_layers, d)
        else:
            dec_layer = DecoderLayer(d, cfg.num_heads * 4, cfg.ff_size, drop, act, pre)
            self.decoder = SkipTransformerDecoder(dec_layer, (cfg.num_layers - 1) * 4 + 1, d)
        self.global_motion_token = nn.Parameter(torch.randn(2, d))
        self.skel_embedding = nn.Linear(cfg.nfeats, d)
        self.final_layer = nn.Linear(d, cfg.nfeats)

    def encode_raw(self, x: torch.Tensor) -> torch.Tensor:
        """(B, N, nfeats) -> the two distribution tokens (B*N/15, 2, D) = [mu, logvar].

        Every 15-frame chunk is encoded independently, as the official model does.
        """
        chunk = self.cfg.frame_chunk_size
        b, n, f = x.shape
        if n % chunk:
            raise ValueError(f"VAE input has {n} frames, not a multiple of {chunk}")
        x = x.reshape(b * (n // chunk), chunk, f)
        h = self.skel_embedding(x).permute(1, 0, 2)
        dist = self.global_motion_token[:, None, :].expand(-1, x.shape[0], -1)
        xseq = self.query_pos_encoder(torch.cat((dist, h), 0))
        valid = torch.zeros(x.shape[0], xseq.shape[0], dtype=torch.bool, device=x.device)
        return self.encoder(xseq, key_padding_mask=valid)[:2].permute(1, 0, 2)

    def encode_dist(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, N, nfeats) -> (mu, scale), each (B*N/15, 1, D)."""
        raw = self.encode_raw(x)
        mu, logvar = raw[:, 0:1], raw[:, 1:2]
        if self.cfg.vae_dist == "normal":
            return mu, logvar.exp().pow(0.5)
        return mu, F.softplus(logvar) + 1e-8

    def encode(self, x: torch.Tensor, sample: bool = True,
               generator: torch.Generator | None = None,
               noise: torch.Tensor | None = None) -> torch.Tensor:
        """(B, N, nfeats) -> latents (B, N/15, D).

        `sample=True` is the official behaviour (a reparameterised draw even in eval mode,
        eps ~ N(0, I) from `generator`, or `noise` if given); `sample=False` returns the mean,
        which editing needs so that unchanged motion re-encodes to the same latent.
        """
        mu, scale = self.encode_dist(x)
        if sample:
            eps = noise.reshape(mu.shape) if noise is not None else torch.randn(
                mu.shape, generator=generator, dtype=mu.dtype, device=mu.device)
            z = mu + eps * scale
        else:
            z = mu
        return z.reshape(x.shape[0], -1, mu.shape[-1])

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """(B, L, D) latents -> (B, num_frames, nfeats)."""
        b = z.shape[0]
        frames = self.cfg.num_frames
        zs = z.permute(1, 0, 2)
        queries = torch.zeros(frames, b, zs.shape[-1], dtype=z.dtype, device=z.device)
        if self.cfg.decoder_arch == "all_encoder":
            xseq = torch.cat((zs, queries), 0)
            pos = self.query_pos_decoder(xseq)
            valid = torch.zeros(b, xseq.shape[0], dtype=torch.bool, device=z.device)
            out = self.decoder(xseq, key_padding_mask=valid, pos=pos)[zs.shape[0]:]
        else:
            tgt = self.query_pos_decoder(queries)
            memory = self.mem_pos_decoder(zs)
            valid = torch.zeros(b, frames, dtype=torch.bool, device=z.device)
            out = self.decoder(tgt, memory, tgt_key_padding_mask=valid)
        return self.final_layer(out).permute(1, 0, 2)
