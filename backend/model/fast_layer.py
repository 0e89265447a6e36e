"""A denoiser layer's fast forward: the same function as `DenoiserLayer`, fewer operations.

Exact up to float32 rounding (a few ulps per layer; the parity tests hold the result to the
official golden tensors). What changes, and why it is allowed:
- `ca_mix` is a plain Linear over the concatenated cross-attention outputs
  `x + W_i s_i + b_i`, so it equals `(sum_i M_i) x + [M_1 W_1 | M_2 W_2 | M_3 W_3] s + const`:
  the three output projections fold into the mix.
- In the null guidance branch every cross-attention key is -1e6 and every value the value
  bias, so the branch's cross-attention output does not depend on x (spec §3.6): it is
  `(sum_i M_i) x` plus a constant per timestep and row kind (query-masked or not).
- LayerNorm gains fold into the matrix that follows (queries, keys, values) or into the
  per-timestep scale/shift rows of a StylizationBlock.
- Matrices are prepacked for oneDNN on CPU (the FFN's GELU runs inside its matmul): at the
  denoiser's 43-86 rows that is ~25% faster than a plain BLAS call. On any other device (CUDA,
  MPS) the same folded matrices run as plain `F.linear` (+ GELU).
Products of weights are taken in float64 on the CPU (MPS has no float64) and stored in float32
on the weights' device.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from .denoiser_blocks import CONDITIONS, MASK_VALUE, DenoiserLayer

_plain_kernels = False


@contextmanager
def plain_kernels() -> Iterator[None]:
    """Fast layers built inside use `F.linear`, as on CUDA and torch builds without the
    oneDNN kernels: lets CPU tests run that fallback end to end."""
    global _plain_kernels
    before, _plain_kernels = _plain_kernels, True
    try:
        yield
    finally:
        _plain_kernels = before


def kernel_kind() -> str:
    """What fast layers built now would use on CPU: "onednn" or "plain" (part of the
    model's fast-layer cache key)."""
    return "plain" if _plain_kernels else "onednn"


def _packable(weight: torch.Tensor) -> bool:
    return (not _plain_kernels and weight.device.type == "cpu"
            and weight.dtype == torch.float32 and torch.backends.mkldnn.is_available())


class Matmul:
    """x @ W^T + b (then GELU if asked), W prepacked for oneDNN where that works."""

    def __init__(self, weight: torch.Tensor, bias: torch.Tensor | None,
                 gelu: bool = False, rows: int = 86) -> None:
        self.weight, self.bias, self.gelu = weight, bias, gelu
        self.packed: torch.Tensor | None = None
        if _packable(weight):
            try:
                packed = torch.ops.mkldnn._reorder_linear_weight(weight, rows)
                probe = torch.zeros(1, weight.shape[1])
                torch.ops.mkldnn._linear_pointwise(probe, packed, bias, "none", [], "")
                self.packed = packed
            except (RuntimeError, AttributeError):  # a torch build without these kernels
                self.packed = None

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        if self.packed is not None and x.device.type == "cpu":
            return torch.ops.mkldnn._linear_pointwise(
                x, self.packed, self.bias, "gelu" if self.gelu else "none", [],
                "none" if self.gelu else "")
        y = F.linear(x, self.weight, self.bias)
        return F.gelu(y) if self.gelu else y


def _f64(t: torch.Tensor) -> torch.Tensor:
    """A float64 copy on the CPU, where folding happens on every device."""
    return t.detach().to(device="cpu", dtype=torch.float64)


def _fold_norm(norm: torch.nn.LayerNorm,
               linears: list[torch.nn.Linear]) -> tuple[torch.Tensor, torch.Tensor]:
    """Stacked weights/biases of `linears` applied to `norm`'s output, the gain and bias
    folded in: W (g * xhat + beta) + b = (W g) xhat + (W beta + b). Float64, on the CPU."""
    g, beta = _f64(norm.weight), _f64(norm.bias)
    w = torch.cat([_f64(lin.weight) * g[None, :] for lin in linears])
    b = torch.cat([_f64(lin.weight) @ beta + _f64(lin.bias) for lin in linears])
    return w, b


@dataclass
class StepRows:
    """Per layer and call: the timestep rows (already gathered for the batch)."""

    sa: tuple[torch.Tensor, torch.Tensor]  # (2B,1,D) scale and shift of sa.proj_out
    ca: tuple[torch.Tensor, torch.Tensor]  # (B,1,3,D) of the three conditional blocks
    null: torch.Tensor  # (B,N,D) the null rows' cross-attention constant
    ffn: tuple[torch.Tensor, torch.Tensor]  # (2B,1,D) of ffn.proj_out


@dataclass
class WindowRows:
    """Per window: masks in the official arithmetic and the conditional contexts."""

    key_add: torch.Tensor  # (2B,N,1) -1e6 where a token gives no key
    src_mask: torch.Tensor  # (2B,N,1)
    query_add: torch.Tensor  # (B,N,1,1) -1e6 at query-masked rows
    masked: torch.Tensor  # (B,N,1) bool, query-masked rows
    contexts: list[torch.Tensor]  # per layer (B,3,H,d,d)


class FastLayer:
    """One `DenoiserLayer`, folded and prepacked (see the module docstring)."""

    def __init__(self, layer: DenoiserLayer) -> None:
        dtype, device = layer.ca_mix.weight.dtype, layer.ca_mix.weight.device
        d = layer.ca_mix.weight.shape[0]

        def back(t: torch.Tensor) -> torch.Tensor:  # a folded CPU float64 result, stored
            return t.to(device=device, dtype=dtype)

        sa, ffn = layer.sa_block, layer.ffn
        blocks = [layer.ca_blocks[n] for n in CONDITIONS]
        self.heads = sa.num_heads
        norms = [m for m in layer.modules() if isinstance(m, torch.nn.LayerNorm)]
        if len({m.eps for m in norms}) != 1:
            raise ValueError("the fast layer assumes one LayerNorm epsilon per layer")
        self.eps = norms[0].eps
        w, b = _fold_norm(sa.norm, [sa.query, sa.key, sa.value])
        self.sa_qkv = Matmul(back(w), back(b))
        self.sa_out = Matmul(sa.proj_out.out_layers[-1].weight, sa.proj_out.out_layers[-1].bias)
        mix = _f64(layer.ca_mix.weight)
        m = [mix[:, i * d:(i + 1) * d] for i in range(len(blocks))]
        wq, bq, wout = [], [], []
        bout = _f64(layer.ca_mix.bias).clone()
        for mi, blk in zip(m, blocks, strict=True):
            w, b = _fold_norm(blk.norm, [blk.query])
            wq.append(w)
            bq.append(b)
            lin = blk.proj_out.out_layers[-1]
            wout.append(mi @ _f64(lin.weight))
            bout += mi @ _f64(lin.bias)
        self.ca_msum = Matmul(back(sum(m)), None)
        self.ca_q = Matmul(back(torch.cat(wq)), back(torch.cat(bq)), rows=43)
        self.ca_out = Matmul(back(torch.cat(wout, 1)), back(bout), rows=43)
        self.ffn1 = Matmul(ffn.linear1.weight, ffn.linear1.bias, gelu=True)
        self.ffn2 = Matmul(ffn.linear2.weight, ffn.linear2.bias)
        self.ffn_out = Matmul(ffn.proj_out.out_layers[-1].weight,
                              ffn.proj_out.out_layers[-1].bias)
        # what the per-timestep rows need
        self._norms = [sa.proj_out.norm, *(blk.proj_out.norm for blk in blocks),
                       ffn.proj_out.norm]
        self._value_bias = [blk.value.bias for blk in blocks]

    def timestep_rows(self, styles: list[torch.Tensor]) -> list[torch.Tensor]:
        """From the five StylizationBlocks' (T,1,2D) scale/shift: per block the scale and
        shift with the output LayerNorm's affine folded in, (T,D) each, then the null
        branch's cross-attention constant (T,2,D): row 0 ordinary rows, row 1 query-masked.
        Returned flat: [sa_a, sa_c, ca_a (T,3,D), ca_c (T,3,D), null, ffn_a, ffn_c]."""
        a, c, nulls = [], [], []
        for i, (norm, st) in enumerate(zip(self._norms, styles, strict=True)):
            scale, shift = torch.chunk(st[:, 0], 2, dim=-1)
            a.append(norm.weight * (1 + scale))
            c.append(norm.bias * (1 + scale) + shift)
            if 1 <= i <= 3:  # a cross-attention block: its null-branch output rows
                bias = self._value_bias[i - 1]
                y = torch.stack([bias, bias + MASK_VALUE])
                nulls.append(F.silu(norm(y)[None] * (1 + scale[:, None]) + shift[:, None]))
        null = self.ca_out(torch.cat(nulls, dim=-1))
        return [a[0], c[0], torch.stack(a[1:4], 1), torch.stack(c[1:4], 1), null, a[4], c[4]]

    def _style(self, h: torch.Tensor, ac: tuple[torch.Tensor, torch.Tensor],
               out: Matmul) -> torch.Tensor:
        d = h.shape[-1]
        return out(F.silu(F.layer_norm(h, (d,), eps=self.eps) * ac[0] + ac[1]))

    def __call__(self, x: torch.Tensor, win: WindowRows, contexts: torch.Tensor,
                 rows: StepRows) -> torch.Tensor:
        """x (2B,N,D), rows [:B] conditional, [B:] null -> the layer's output (2B,N,D)."""
        b2, n, d = x.shape
        b, h = b2 // 2, self.heads
        # self-attention (linear attention over the tokens)
        qkv = self.sa_qkv(F.layer_norm(x, (d,), eps=self.eps))
        q, k, v = qkv.split(d, dim=-1)
        q = F.softmax(q.reshape(b2, n, h, -1).transpose(1, 2), dim=-1)  # (2B,H,N,d)
        k = F.softmax((k + win.key_add).reshape(b2, n, h, -1), dim=1).permute(0, 2, 3, 1)
        v = (v * win.src_mask).reshape(b2, n, h, -1).transpose(1, 2)
        y = torch.matmul(q, torch.matmul(k, v)).transpose(1, 2).reshape(b2, n, d)
        x = x + self._style(y, rows.sa, self.sa_out)
        # the three cross-attentions and ca_mix, folded
        mixed = self.ca_msum(x)
        q = self.ca_q(F.layer_norm(x[:b], (d,), eps=self.eps)).view(b, n, 3, h, d // h)
        y = torch.einsum("bnchd,bchdl->bnchl", q.softmax(dim=-1), contexts)
        y = y.reshape(b, n, 3, d) + win.query_add
        s = F.silu(F.layer_norm(y, (d,), eps=self.eps) * rows.ca[0] + rows.ca[1])
        mixed[:b] += self.ca_out(s.reshape(b, n, 3 * d))
        mixed[b:] += rows.null
        x = mixed
        # feed-forward
        y = self.ffn2(self.ffn1(x))
        return x + self._style(y, rows.ffn, self.ffn_out)


def fast_layers(layers: list[DenoiserLayer]) -> list[FastLayer]:
    with torch.no_grad():
        return [FastLayer(layer) for layer in layers]
