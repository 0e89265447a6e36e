"""Safe reading of the official checkpoint files and strict, readable key matching.

A `.pth` file is a pickle and a pickle can run code when it is read. Files are therefore
read with `torch.load(weights_only=True)`, which only rebuilds tensors and plain containers.
mmcv checkpoints may carry a few harmless numpy objects in `meta`; those (and only those)
are allowed explicitly. Anything else is refused with a sentence naming what it wanted.
"""

from __future__ import annotations

import pickle
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn


class CheckpointError(ValueError):
    """A checkpoint is missing, unsafe, or does not fit the model; the message says which."""


def _numpy_allow_list() -> list[Any]:
    """numpy scalars/dtypes that mmcv's `meta` may hold; rebuilding them runs no user code."""
    allowed: list[Any] = [np.dtype, np.ndarray]
    try:
        from numpy.core.multiarray import _reconstruct, scalar

        allowed += [scalar, _reconstruct]
    except ImportError:  # numpy 2 moved them
        from numpy._core.multiarray import _reconstruct, scalar  # type: ignore[no-redef]

        allowed += [scalar, _reconstruct]
    allowed += [type(np.dtype(t)) for t in ("f4", "f8", "i4", "i8", "u1", "b1")]
    return allowed


_ALLOWED_NAMES = {"numpy.core.multiarray.scalar", "numpy._core.multiarray.scalar",
                  "numpy.core.multiarray._reconstruct", "numpy._core.multiarray._reconstruct",
                  "numpy.dtype", "numpy.ndarray"}


def _is_allowed(name: str) -> bool:
    return name in _ALLOWED_NAMES or name.startswith("numpy.dtypes.")


def safe_load(path: str | Path) -> Any:
    """Read a torch checkpoint without letting it run code."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} does not exist")
    try:
        unsafe = torch.serialization.get_unsafe_globals_in_checkpoint(str(path))
    except Exception as exc:  # not a zip/pickle torch file at all, or cut short
        raise CheckpointError(damaged(path)) from exc
    refused = [g for g in unsafe if not _is_allowed(g)]
    if refused:
        raise CheckpointError(
            f"refusing to load {path}: it asks to create {', '.join(sorted(refused))} when "
            "read, which could run code; official checkpoints hold only tensors and plain data")
    try:
        with torch.serialization.safe_globals(_numpy_allow_list()):
            return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        raise CheckpointError(f"refusing to load {path}: {str(exc).splitlines()[0]}") from exc
    except (RuntimeError, EOFError, OSError) as exc:
        raise CheckpointError(damaged(path)) from exc


def damaged(path: Path) -> str:
    """The sentence for a weights file that cannot be read: torch's own text (several
    sentences about zip central directories) stays in the exception chain, for the log."""
    return (f"{path} is damaged or truncated (not a complete PyTorch checkpoint); run "
            "`rag-gesture download` again")


def extract_state_dict(obj: Any, source: str) -> dict[str, torch.Tensor]:
    """The tensor mapping of an mmcv (`state_dict`), VAE (`model_state`) or flat checkpoint."""
    if isinstance(obj, Mapping):
        for key in ("state_dict", "model_state"):
            if key in obj and isinstance(obj[key], Mapping):
                obj = obj[key]
                break
        if obj and all(isinstance(v, torch.Tensor) for v in obj.values()):
            return dict(obj)
    raise CheckpointError(f"{source} holds no weights: expected a 'state_dict' (diffusion "
                          "checkpoint), a 'model_state' (VAE checkpoint) or a plain tensor dict")


def strip_prefix(sd: dict[str, torch.Tensor], prefix: str) -> dict[str, torch.Tensor]:
    """Drop `prefix` from every key that has it (e.g. mmcv's `model.` or DDP's `module.`)."""
    return {k[len(prefix):] if k.startswith(prefix) else k: v for k, v in sd.items()}


def _short_list(keys: list[str], limit: int = 4) -> str:
    shown = ", ".join(keys[:limit])
    return shown + (f" and {len(keys) - limit} more" if len(keys) > limit else "")


def mismatch_report(module: nn.Module, sd: Mapping[str, torch.Tensor], source: str,
                    hint: str = "") -> str | None:
    """One paragraph describing every missing, unexpected and wrongly shaped key, or None."""
    expected = module.state_dict()
    missing = [k for k in expected if k not in sd]
    unexpected = [k for k in sd if k not in expected]
    shapes = [f"{k} is {list(sd[k].shape)} in the file but {list(v.shape)} in the model"
              for k, v in expected.items() if k in sd and sd[k].shape != v.shape]
    if not (missing or unexpected or shapes):
        return None
    parts = []
    if missing:
        parts.append(f"{len(missing)} missing key(s) ({_short_list(missing)})")
    if unexpected:
        parts.append(f"{len(unexpected)} unexpected key(s) ({_short_list(unexpected)})")
    if shapes:
        parts.append(f"{len(shapes)} wrongly shaped ({_short_list(shapes, 2)})")
    text = f"{source} does not fit the model built from its config: " + "; ".join(parts) + "."
    return f"{text} {hint}".strip()


def load_strict(module: nn.Module, sd: Mapping[str, torch.Tensor], source: str,
                hint: str = "") -> None:
    """Copy weights into `module`, accepting only an exact key and shape match."""
    report = mismatch_report(module, sd, source, hint)
    if report:
        raise CheckpointError(report)
    module.load_state_dict(dict(sd), strict=True)


def vae_layout_hint(sd: Mapping[str, torch.Tensor], declared_arch: str) -> str:
    """Say so when the weights look like the other VAE decoder layout than the yaml declares."""
    has_cross = any(".multihead_attn." in k for k in sd if k.startswith("decoder."))
    found = "encoder_decoder" if has_cross else "all_encoder"
    if found != declared_arch:
        return (f"The weights look like decoder_arch '{found}' but the yaml says "
                f"'{declared_arch}'; check that the yaml belongs to this checkpoint.")
    return ""
