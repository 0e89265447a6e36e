"""Build the model from an official config and load the official checkpoint files into it.

Official layout (spec §10), relative to a weights root:
    experiments/diffusion/<run>/{basegesture_len150_beat.py, epoch_64.pth}
    experiments/vae/<dir>/{<dir>.yaml, <basename of the yaml's test_ckpt>}
The config names the VAE yamls by paths relative to the official repository root; they are
resolved against the weights root, falling back to a search by file name.
"""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import torch

from .checkpoint import (
    CheckpointError,
    extract_state_dict,
    load_strict,
    safe_load,
    strip_prefix,
    vae_layout_hint,
)
from .config import ConfigError, ModelConfig
from .denoiser import RagGestureDenoiser
from .gesture_rep import PART_ORDER
from .vae import VaeConfig

CHECKPOINT_PREFIX = "model."


@dataclass
class LoadedModel:
    """A ready denoiser (eval mode, float32, no grad) and where each piece came from."""

    model: RagGestureDenoiser
    config: ModelConfig
    checkpoint: Path
    config_path: Path
    vae_yamls: dict[str, Path]
    vae_checkpoints: dict[str, Path | None]
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def parameter_counts(self) -> dict[str, int]:
        counts = {p: sum(t.numel() for t in self.model.gesture_rep_encoder.vae(p).parameters())
                  for p in PART_ORDER}
        counts["denoiser"] = sum(t.numel() for n, t in self.model.named_parameters()
                                 if not n.startswith("gesture_rep_encoder."))
        return counts


def find_config(checkpoint: Path) -> Path:
    """The config `.py` shipped beside the diffusion checkpoint."""
    candidates = sorted(checkpoint.parent.glob("*.py"))
    if not candidates:
        raise ConfigError(f"no config .py next to {checkpoint}; the official weights ship "
                          "basegesture_len150_beat.py in the same folder")
    preferred = [c for c in candidates if c.name == "basegesture_len150_beat.py"]
    return (preferred or candidates)[0]


def find_root(start: Path) -> Path:
    """The weights root: the nearest ancestor that contains an `experiments` folder."""
    for parent in [start, *start.parents]:
        if (parent / "experiments").is_dir():
            return parent
    return start


def resolve_vae_yaml(declared: str, root: Path) -> Path:
    p = Path(declared)
    for candidate in (p, root / p):
        if candidate.is_file():
            return candidate
    matches = sorted((root / "experiments").rglob(p.name)) if (root / "experiments").is_dir() \
        else []
    if matches:
        return matches[0]
    raise ConfigError(f"the VAE yaml {declared} named by the config was not found under {root}")


def _load_vae_checkpoint(model: RagGestureDenoiser, part: str, cfg: VaeConfig,
                         yaml_path: Path, notes: list[str]) -> Path | None:
    """Load `<yaml dir>/<basename(test_ckpt)>` if it is there (`module.` prefix allowed)."""
    if not cfg.test_ckpt:
        return None
    path = yaml_path.parent / Path(cfg.test_ckpt).name
    if not path.is_file():
        notes.append(f"{part} VAE: {path.name} not found, using the VAE weights inside the "
                     "diffusion checkpoint")
        return None
    sd = strip_prefix(extract_state_dict(safe_load(path), str(path)), "module.")
    load_strict(model.gesture_rep_encoder.vae(part), sd, str(path),
                vae_layout_hint(sd, cfg.decoder_arch))
    return path


def load_official(checkpoint: str | Path, config: str | Path | None = None,
                  root: str | Path | None = None,
                  vae_yamls: dict[str, str | Path] | None = None,
                  device: str | torch.device = "cpu") -> LoadedModel:
    """Build the model the official config describes and load its weights strictly.

    `checkpoint` is the mmcv `epoch_*.pth` (or a flat state dict with `model.*` keys);
    `config` defaults to the `.py` beside it; `vae_yamls` overrides the config's yaml paths.
    """
    t0 = time.perf_counter()
    checkpoint = Path(checkpoint)
    if not checkpoint.is_file():
        raise CheckpointError(f"diffusion checkpoint {checkpoint} does not exist")
    config_path = Path(config) if config else find_config(checkpoint)
    root_path = Path(root) if root else find_root(checkpoint.parent)
    notes: list[str] = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        cfg = ModelConfig.from_file(config_path)
    notes += [str(w.message) for w in caught]
    for w in caught:
        warnings.warn(w.message, stacklevel=2)
    yamls = {p: Path(vae_yamls[p]) if vae_yamls and p in vae_yamls
             else resolve_vae_yaml(cfg.vae_yamls[p], root_path) for p in PART_ORDER}
    vae_cfgs = {p: VaeConfig.from_yaml(yamls[p]) for p in PART_ORDER}
    model = RagGestureDenoiser(cfg.denoiser, vae_cfgs)
    vae_ckpts = {p: _load_vae_checkpoint(model, p, vae_cfgs[p], yamls[p], notes)
                 for p in PART_ORDER}
    sd = strip_prefix(extract_state_dict(safe_load(checkpoint), str(checkpoint)),
                      CHECKPOINT_PREFIX)
    hints = " ".join(filter(None, (
        vae_layout_hint(strip_prefix({k: v for k, v in sd.items()
                                      if k.startswith(f"gesture_rep_encoder.{p}_vae.")},
                                     f"gesture_rep_encoder.{p}_vae."),
                        vae_cfgs[p].decoder_arch) for p in PART_ORDER)))
    load_strict(model, sd, str(checkpoint), hints)
    model.to(device=device, dtype=torch.float32).eval().requires_grad_(False)
    return LoadedModel(model=model, config=cfg, checkpoint=checkpoint, config_path=config_path,
                       vae_yamls=yamls, vae_checkpoints=vae_ckpts, notes=notes,
                       seconds=time.perf_counter() - t0)
