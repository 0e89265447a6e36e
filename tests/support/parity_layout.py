"""Turn the golden fixture folder into the official weights layout, for loader-level tests.

The fixture folder has a flat state dict and plain yamls; the official release has an mmcv
checkpoint, standalone VAE checkpoints beside their yamls and a config `.py`. Writing that
layout lets the parity tests go through exactly the loader real users hit.
"""

from __future__ import annotations

import json
import pprint
import shutil
from pathlib import Path

import torch
import yaml

from backend.parity.fixtures import check_folder, default_parity_dir

PARTS = ("upper", "lowertrans", "face", "hands")


def parity_dir() -> Path:
    """`$RAG_GESTURE_PARITY_DIR` or `../shared/parity`, checked for a fixture set."""
    return check_folder(default_parity_dir())


def write_config_py(path: Path, model_cfg: dict, vae_paths: dict[str, str]) -> None:
    """An mmcv-style config: a few top-level names plus `model = dict(...)` literals."""
    cfg = json.loads(json.dumps(model_cfg))
    for part in PARTS:
        cfg["model"]["vae_cfg"][f"{part}_cfg"] = vae_paths[part]
    body = pprint.pformat(cfg, width=100, sort_dicts=False)
    path.write_text(
        "# generated from fixtures.json model_cfg in the official config shape\n"
        "_base_ = ['../_base_/datasets/beatx_len150_15fps.py']\n"
        f"latent_dim = {cfg['model']['latent_dim']}\n"
        f"model = {body}\n"
        "model['model']['latent_dim'] = latent_dim\n",
        encoding="utf-8",
    )


def build_official_layout(src: Path, root: Path, module_prefix_part: str = "hands") -> Path:
    """Write `root/experiments/...` from the fixture folder; returns the .pth path."""
    meta = json.loads((src / "fixtures.json").read_text())
    sd = torch.load(src / "small_model.pt", weights_only=True)
    vae_paths = {}
    for part in PARTS:
        d = root / "experiments" / "vae" / f"small_{part}"
        d.mkdir(parents=True, exist_ok=True)
        ycfg = yaml.safe_load((src / "small_vae_yaml" / f"{part}.yaml").read_text())
        shutil.copy(src / "small_vae_yaml" / f"{part}.yaml", d / f"small_{part}.yaml")
        pre = f"model.gesture_rep_encoder.{part}_vae."
        part_sd = {k[len(pre):]: v for k, v in sd.items() if k.startswith(pre)}
        if part == module_prefix_part:  # DDP-saved VAE checkpoints carry `module.`
            part_sd = {f"module.{k}": v for k, v in part_sd.items()}
        torch.save({"model_state": part_sd}, d / Path(ycfg["test_ckpt"]).name)
        vae_paths[part] = f"experiments/vae/small_{part}/small_{part}.yaml"
    run = root / "experiments" / "diffusion" / "small_run"
    run.mkdir(parents=True, exist_ok=True)
    write_config_py(run / "basegesture_len150_beat.py", meta["model_cfg"], vae_paths)
    ckpt = run / "epoch_1.pth"
    torch.save({"meta": {"epoch": 1, "iter": 10, "mmcv_version": "1.7.2"}, "state_dict": sd,
                "optimizer": {"state": {}, "param_groups": [{"lr": 1e-4}]}}, ckpt)
    return ckpt
