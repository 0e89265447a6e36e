"""`rag-gesture doctor`: what is installed, which device, and whether the weights load."""

from __future__ import annotations

import argparse
import importlib
import platform
import warnings

from .. import __version__


def _version(module: str) -> str | None:
    try:
        return getattr(importlib.import_module(module), "__version__", "installed")
    except Exception:
        return None


def doctor(args: argparse.Namespace) -> int:
    """Print what is installed and load the weights; exit 1 if something is missing."""
    problems = 0
    print(f"rag-gesture {__version__} on Python {platform.python_version()} "
          f"({platform.system()} {platform.machine()})")
    for module, why in (("torch", "model"), ("numpy", "arrays"),
                        ("transformers", "speech features"), ("smplx", "body model"),
                        ("soundfile", "audio files"), ("yaml", "VAE configs"),
                        ("huggingface_hub", "downloads")):
        v = _version(module)
        print(f"  {module:16s} {v or 'MISSING'}  ({why})")
        if v is None:
            problems += 1
            print(f"    -> install it: .venv/bin/pip install {module}")
    if _version("torch") is None:
        return 1
    import torch

    from ..device import pick_device

    device, sentence, _ = pick_device(args.device)
    print(f"device: {sentence}; {torch.get_num_threads()} CPU threads")

    from ..model.checkpoint import CheckpointError
    from ..model.config import ConfigError
    from ..model.loading import load_official
    from ..weights import (
        check_speech_models,
        check_weights,
        download_command,
        locate,
        missing_weights_message,
    )

    if args.checkpoint:
        from pathlib import Path

        ckpt, root = Path(args.checkpoint), None
    else:
        found = locate(args.weights)
        if found is None:
            print(missing_weights_message(args.weights))
            return 1
        ckpt, root = found.checkpoint, found.root
    print(f"weights: {ckpt}")
    if root is not None:
        missing = check_weights(root, speech_models=False)
        for problem in missing:
            print(f"  problem: {problem}")
        problems += len(missing)
    # Missing speech models do not fail doctor: the weights themselves are fine and the backend
    # can still fetch the speech models on first use when downloads are allowed.
    for problem in check_speech_models(download_command(root or args.weights)):
        print(f"  warning: {problem}")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            loaded = load_official(ckpt, root=root, device=device)
    except (CheckpointError, ConfigError, OSError) as exc:
        print(f"  cannot load: {exc}")
        return 1
    cfg = loaded.config
    print(f"  config: {loaded.config_path}")
    for part, path in loaded.vae_yamls.items():
        vcfg = loaded.model.gesture_rep_encoder.vae(part).cfg
        src = loaded.vae_checkpoints[part]
        print(f"  {part:10s} VAE: {vcfg.decoder_arch}, {vcfg.position_embedding} positions, "
              f"{vcfg.vae_dist}, {vcfg.num_layers} layers x {vcfg.num_heads} heads; yaml "
              f"{path.name}; weights {src.name if src else 'from the diffusion checkpoint'}")
    counts = loaded.parameter_counts()
    total = sum(counts.values())
    print(f"  parameters: {total:,} (denoiser {counts['denoiser']:,})")
    pjs = cfg.guidance.per_joint_scale
    given = "" if cfg.guidance.per_joint_scale_given else " (not in the config: defaulted)"
    print(f"  per_joint_scale: {pjs}{given}")
    print(f"  sampler: {cfg.diffusion.beta_scheduler}, respace {cfg.diffusion.respace} "
          f"({cfg.diffusion.num_inference_timesteps} DDIM steps)")
    for note in loaded.notes:
        print(f"  note: {note}")
    print(f"  loaded in {loaded.seconds:.1f} s")
    print("all good" if not problems else f"{problems} problem(s) found")
    return 1 if problems else 0
