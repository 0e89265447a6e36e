"""The four part VAEs as one latent canvas (spec §2.6).

Canvas layout per 10-s window: [upper 10 | sep | hands 10 | sep | face 10 | sep | lowertrans 10]
= 43 tokens. The separators are zero rows and are masked out of self-attention.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from dataclasses import dataclass

import torch
from torch import nn

from ..motion.rotations import axis_angle_to_6d, rotation_6d_to_axis_angle
from .vae import PartVAE, VaeConfig
from .vae_layers import fused_attention

# Registration order of the official module (its state-dict order).
PART_ORDER: tuple[str, ...] = ("upper", "face", "hands", "lowertrans")
# Order of the parts on the latent canvas and of the RNG draws when encoding.
CANVAS_ORDER: tuple[str, ...] = ("upper", "hands", "face", "lowertrans")
# Joint counts per part (the official decode reads them from a previous encode; spec §11 #12).
PART_JOINTS = {"upper": 13, "hands": 30, "jaw": 1, "lower": 9}


def canvas_slices(tokens: int) -> dict[str, slice]:
    """Rows of each part on the canvas; `tokens` latents per part, one separator between."""
    return {p: slice(i * (tokens + 1), i * (tokens + 1) + tokens)
            for i, p in enumerate(CANVAS_ORDER)}


def canvas_length(tokens: int) -> int:
    return 4 * tokens + 3


def token_mask(batch: int, tokens: int, device: torch.device | None = None) -> torch.Tensor:
    """(B, 43): ones on part tokens, zeros on the three separators."""
    mask = torch.ones(batch, canvas_length(tokens), device=device)
    for i in range(1, 4):
        mask[:, i * (tokens + 1) - 1] = 0
    return mask


def token_mask_from_frames(frame_mask: torch.Tensor, chunk: int) -> torch.Tensor:
    """(B, T) frame validity -> (B, 43) token mask: every `chunk`-th frame, 0 at separators."""
    m = frame_mask[:, ::chunk]
    zero = torch.zeros_like(m[:, :1])
    return torch.cat([m, zero, m, zero, m, zero, m], dim=1)


@dataclass
class PartMotion:
    """One window of motion in the per-part layout the VAEs consume (batch-first, axis-angle)."""

    upper: torch.Tensor  # (B, T, 39)
    lower: torch.Tensor  # (B, T, 27) incl. global orientation
    jaw: torch.Tensor  # (B, T, 3)
    hands: torch.Tensor  # (B, T, 90)
    trans: torch.Tensor  # (B, T, 3)
    expressions: torch.Tensor  # (B, T, 100)
    contacts: torch.Tensor  # (B, T, 4)


def _to_6d(aa: torch.Tensor) -> torch.Tensor:
    b, t, c = aa.shape
    return axis_angle_to_6d(aa.reshape(b, t, c // 3, 3)).reshape(b, t, c * 2)


def _to_aa(d6: torch.Tensor) -> torch.Tensor:
    b, t, c = d6.shape
    aa = rotation_6d_to_axis_angle(d6.reshape(b, t, c // 6, 6), reference=True)
    return aa.reshape(b, t, c // 2)


class GestureRepEncoder(nn.Module):
    """Holds `upper_vae`, `face_vae`, `hands_vae`, `lowertrans_vae` (official names)."""

    def __init__(self, cfgs: dict[str, VaeConfig]) -> None:
        super().__init__()
        for part in PART_ORDER:
            setattr(self, f"{part}_vae", PartVAE(cfgs[part]))
        tokens = {cfgs[p].tokens_per_window for p in PART_ORDER}
        dims = {cfgs[p].latent_dim for p in PART_ORDER}
        if len(tokens) != 1 or len(dims) != 1:
            raise ValueError("the four VAE yamls disagree on latent_dim or tokens per window")
        self.tokens = tokens.pop()
        self.latent_dim = dims.pop()
        self.num_frames = cfgs["upper"].num_frames

    def vae(self, part: str) -> PartVAE:
        return getattr(self, f"{part}_vae")

    def fused_attention(self, on: bool = True) -> AbstractContextManager[None]:
        """Fused attention kernels in every VAE layer while inside (see
        vae_layers.Attending); outside, the official arithmetic (bit-equal to the official
        code on the same CPU and torch)."""
        return fused_attention(self, on)

    @staticmethod
    def vae_inputs(m: PartMotion) -> dict[str, torch.Tensor]:
        """6D features per VAE (spec §1.5); x/z translation made relative to frame 0.

        Unlike the official code the caller's translation tensor is not modified in place.
        """
        trans = m.trans.clone()
        trans[..., 0] = trans[..., 0] - m.trans[:, :1, 0]
        trans[..., 2] = trans[..., 2] - m.trans[:, :1, 2]
        return {
            "upper": _to_6d(m.upper),
            "hands": _to_6d(m.hands),
            "face": torch.cat([_to_6d(m.jaw), m.expressions], dim=-1),
            "lowertrans": torch.cat([_to_6d(m.lower), trans, m.contacts], dim=-1),
        }

    def encode(self, m: PartMotion, sample: bool = True,
               generator: torch.Generator | None = None,
               noise: dict[str, torch.Tensor] | None = None) -> torch.Tensor:
        """Motion window -> latent canvas (B, 43, D).

        Draws happen in the official order upper, hands, face, lowertrans; `noise` (per part)
        replaces the draws, `sample=False` uses the means.
        """
        feats = self.vae_inputs(m)
        b = m.upper.shape[0]
        canvas = torch.zeros(b, canvas_length(self.tokens), self.latent_dim,
                             dtype=m.upper.dtype, device=m.upper.device)
        for part, rows in canvas_slices(self.tokens).items():
            canvas[:, rows] = self.vae(part).encode(
                feats[part], sample=sample, generator=generator,
                noise=None if noise is None else noise[part])
        return canvas

    def decode(self, z: torch.Tensor) -> PartMotion:
        """Latent canvas (B, 43, D) -> motion window; separator rows are ignored."""
        rows = canvas_slices(self.tokens)
        upper = self.upper_vae.decode(z[:, rows["upper"]])
        hands = self.hands_vae.decode(z[:, rows["hands"]])
        face = self.face_vae.decode(z[:, rows["face"]])
        low = self.lowertrans_vae.decode(z[:, rows["lowertrans"]])
        nl = PART_JOINTS["lower"] * 6
        return PartMotion(
            upper=_to_aa(upper),
            lower=_to_aa(low[..., :nl]),
            jaw=_to_aa(face[..., :6]),
            hands=_to_aa(hands),
            trans=low[..., nl:nl + 3],
            expressions=face[..., 6:],
            contacts=low[..., nl + 3:nl + 7],
        )
