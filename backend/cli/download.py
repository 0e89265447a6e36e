"""`rag-gesture download`: fetch the official weights and the two speech models."""

from __future__ import annotations

import argparse
import sys

from rag_gesture_shared.protocol.download import DownloadUpdate


def download(args: argparse.Namespace) -> int:
    """Fetch the official weights (and the speech models); exit 1 with one sentence on failure."""
    from pathlib import Path

    from ..progress import Cancelled
    from ..weights import (
        HF_REPO,
        SPEECH_MODELS,
        WeightsError,
        default_root,
        download_weights,
        find_checkpoint,
    )

    root = Path(args.weights).expanduser() if args.weights else default_root()
    speech = not args.no_speech_models
    print(f"downloading {HF_REPO} into {root} (experiments/ and datasets/)"
          + (f", then {' and '.join(SPEECH_MODELS)}" if speech else ""), flush=True)
    progress = False if args.no_progress else json_lines if args.progress == "json" else True
    try:
        download_weights(root, include_speech_models=speech, progress=progress)
    except WeightsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except (KeyboardInterrupt, Cancelled):
        print("cancelled; run the same command again to go on where it stopped",
              file=sys.stderr)
        return 130
    print(f"  checkpoint: {find_checkpoint(root)}")
    print(f"  VAEs:       {root / 'experiments' / 'vae'}")
    print(f"  assets:     {root / 'datasets'}")
    if speech:
        from huggingface_hub import constants

        print(f"  speech models: {', '.join(SPEECH_MODELS)} in the Hugging Face cache "
              f"{constants.HF_HUB_CACHE}")
    found_by_default = root.resolve() == default_root().resolve()
    flag = "" if found_by_default else f" --weights {root}"
    print(f"done: weights in {root}; check them with `rag-gesture doctor{flag}`")
    return 0


def json_lines(r: DownloadUpdate) -> None:
    """One progress update as a JSON line on stdout (what the Blender add-on reads)."""
    print(r.to_line(), flush=True)
