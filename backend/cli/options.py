"""Command-line options shared by the commands that load the models (generate, worker)."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from ..device import DEVICE_CHOICES
from ..speech.pretrained import BERT_NAME, WAV2VEC_NAME

if TYPE_CHECKING:
    from ..pipeline.session import SessionConfig


def add_model_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--weights", help="folder that contains experiments/ (official layout)")
    p.add_argument("--checkpoint", help="a diffusion checkpoint file (overrides --weights)")
    p.add_argument("--device", choices=DEVICE_CHOICES, default="auto",
                   help="auto = CUDA when available, else CPU")
    p.add_argument("--bert", help=f"{BERT_NAME}: hub name or local folder")
    p.add_argument("--wav2vec", help=f"{WAV2VEC_NAME}: hub name or local folder")
    p.add_argument("--smplx-model", help="SMPL-X model file for foot contacts when "
                   "regenerating (default: the built-in skeleton)")
    p.add_argument("--allow-download", action="store_true",
                   help="let missing speech models download from the Hugging Face hub")


def session_config(args: argparse.Namespace) -> SessionConfig:
    from ..pipeline.session import SessionConfig

    return SessionConfig(weights=args.weights, checkpoint=args.checkpoint,
                         bert=args.bert or BERT_NAME, wav2vec=args.wav2vec or WAV2VEC_NAME,
                         device=args.device, smplx_model=args.smplx_model,
                         allow_download=args.allow_download)
