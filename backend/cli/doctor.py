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
    """Print what is installed and load everything `generate` and the worker load, with the
    same options; "all good" and exit 0 only if they would find everything."""
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
    threads = torch.get_num_threads()
    print(f"device: {sentence}; {threads} CPU thread{'s' if threads != 1 else ''}")
    problems += _check_weights(args, device)
    problems += _check_speech_models(args, device)
    if args.smplx_model:
        from ..motion.kinematics import check_smplx_model_file, find_smplx_model_file

        try:
            check_smplx_model_file(find_smplx_model_file(args.smplx_model))
            print(f"SMPL-X model: {args.smplx_model}")
        except ValueError as exc:
            print(f"  problem: {exc}")
            problems += 1
    print("all good" if not problems else f"{problems} problem(s) found")
    return 1 if problems else 0


def _check_weights(args: argparse.Namespace, device: str) -> int:
    """Find and load the RAG-Gesture weights as a Session would; the number of problems."""
    from ..model.checkpoint import CheckpointError
    from ..model.config import ConfigError
    from ..model.loading import load_official
    from ..weights import check_weights, locate, missing_weights_message

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
    problems = 0
    if root is not None:
        missing = check_weights(root, speech_models=False)  # the speech models: below
        for problem in missing:
            print(f"  problem: {problem}")
        problems += len(missing)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            loaded = load_official(ckpt, root=root, device=device)
    except (CheckpointError, ConfigError, OSError) as exc:
        print(f"  cannot load: {exc}")
        return problems + 1
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
    return problems


def _check_speech_models(args: argparse.Namespace, device: str) -> int:
    """Load wav2vec2 and BERT exactly as generate would (--bert / --wav2vec, local files
    only); the number of problems. With --allow-download a missing model is fetched on
    first use, so it is a note, not a problem (doctor itself never downloads)."""
    from ..speech.bert import BertWords
    from ..speech.pretrained import ModelMissingError
    from ..speech.wav2vec import Wav2VecModel
    from .options import session_config

    config = session_config(args)
    problems = 0
    for cls, name in ((Wav2VecModel, config.wav2vec), (BertWords, config.bert)):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                cls(name, device, allow_download=False)
        except ModelMissingError as exc:
            if args.allow_download:
                print(f"  note: the speech model {name} is not here yet; it is downloaded on "
                      "first use (--allow-download)")
            else:
                print(f"  problem: {exc}")
                problems += 1
        else:
            print(f"speech model: {name}")
    return problems
