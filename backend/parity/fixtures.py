"""A golden fixture folder and the small model its tensors were computed with.

Folder layout (HARNESS_NOTES.md): `fixtures.pt` (name -> tensor), `fixtures.json` (config and
per-entry metadata), `small_model.pt` (flat `model.*` state dict, VAEs included),
`small_vae_yaml/<part>.yaml` and, for the alternative VAE, `small_vae_alt.pt`.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from ..model.checkpoint import extract_state_dict, load_strict, safe_load, strip_prefix
from ..model.config import ModelConfig
from ..model.denoiser import RagGestureDenoiser
from ..model.gesture_rep import PART_ORDER
from ..model.vae import PartVAE, VaeConfig

PARITY_ENV = "RAG_GESTURE_PARITY_DIR"
FILES = ("fixtures.pt", "fixtures.json", "small_model.pt", "small_vae_yaml")


def default_parity_dir() -> Path:
    """`$RAG_GESTURE_PARITY_DIR`, else `shared/parity` beside the repository."""
    env = os.environ.get(PARITY_ENV)
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[2].parent / "shared" / "parity"


def check_folder(path: Path) -> Path:
    missing = [f for f in FILES if not (path / f).exists()]
    if missing:
        raise FileNotFoundError(
            f"no golden fixture set in {path} (missing {', '.join(missing)}); set "
            f"{PARITY_ENV} to the folder holding fixtures.pt, fixtures.json, small_model.pt "
            "and small_vae_yaml/")
    return path


@dataclass
class FixtureSet:
    """Golden tensors, their metadata and the model that reproduces them."""

    folder: Path
    golden: dict[str, torch.Tensor]
    meta: dict[str, Any]
    model: RagGestureDenoiser
    config: ModelConfig

    @property
    def entries(self) -> dict[str, dict[str, Any]]:
        return self.meta["entries"]

    def alt_vae(self) -> PartVAE | None:
        """The alternative-yaml VAE (`vae_alt/*` entries), when the folder has one."""
        path = self.folder / "small_vae_alt.pt"
        info = self.entries.get("vae_alt/encode_out")
        if info is None or not path.is_file():
            return None
        vae = PartVAE(VaeConfig.from_mapping(info["yaml"], "vae_alt yaml")).eval()
        load_strict(vae, extract_state_dict(safe_load(path), str(path)), str(path))
        return vae.requires_grad_(False)


def load_model(folder: Path, meta: dict[str, Any]) -> tuple[RagGestureDenoiser, ModelConfig]:
    """The small model from the folder's config, yamls and flat state dict (strict)."""
    cfg = ModelConfig.from_config_dict({"model": meta["model_cfg"]}, "fixtures.json model_cfg")
    vae_cfgs = {p: VaeConfig.from_yaml(folder / "small_vae_yaml" / f"{p}.yaml")
                for p in PART_ORDER}
    model = RagGestureDenoiser(cfg.denoiser, vae_cfgs)
    path = folder / "small_model.pt"
    sd = strip_prefix(extract_state_dict(safe_load(path), str(path)), "model.")
    load_strict(model, sd, str(path))
    return model.eval().requires_grad_(False), cfg


def load_fixture_set(folder: str | Path | None = None) -> FixtureSet:
    path = check_folder(Path(folder) if folder is not None else default_parity_dir())
    meta = json.loads((path / "fixtures.json").read_text(encoding="utf-8"))
    golden = torch.load(path / "fixtures.pt", weights_only=True)
    model, cfg = load_model(path, meta)
    return FixtureSet(path, golden, meta, model, cfg)
