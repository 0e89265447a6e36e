"""`rag-gesture` command line: doctor, download, generate, build-db, add-clip, worker.

Threading: the model runs many small matrix products per step. On an idle machine OpenMP's
default busy-waiting is fastest (2 cores: ~60 ms per step vs ~90 ms with passive waiting);
on a machine kept busy by other work it can be several times slower than passive waiting.
`--threads N` sets torch's thread count; on a busy machine run with `OMP_WAIT_POLICY=PASSIVE`
or `--threads 1` (measurements in docs/benchmarks.md).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from .. import __version__
from ..device import DEVICE_CHOICES


def build_parser() -> argparse.ArgumentParser:
    from . import build_db, generate

    ap = argparse.ArgumentParser(prog="rag-gesture", description="RAG-Gesture backend tools")
    ap.add_argument("--version", action="version", version=f"rag-gesture {__version__}")
    ap.add_argument("--threads", type=int, help="CPU threads for torch (default: torch's)")
    sub = ap.add_subparsers(dest="command", required=True)
    d = sub.add_parser("doctor", help="check the installation and load the weights")
    d.add_argument("--weights", help="folder that contains experiments/ (official layout)")
    d.add_argument("--checkpoint", help="a diffusion checkpoint file (overrides --weights)")
    d.add_argument("--device", choices=DEVICE_CHOICES, default="auto")
    d.set_defaults(func=_lazy("doctor", "doctor"))
    dl = sub.add_parser("download", help="fetch the official weights and the speech models "
                        "(re-run it after an interruption: it goes on where it stopped)")
    dl.add_argument("--weights", help="folder to fill (default: $RAG_GESTURE_HOME or "
                    "~/.cache/rag-gesture)")
    dl.add_argument("--no-speech-models", action="store_true",
                    help="skip bert-base-cased and wav2vec2-base-960h")
    dl.add_argument("--no-progress", action="store_true", help="no progress output")
    dl.add_argument("--progress", choices=("text", "json"), default="text",
                    help="text: a progress line on stderr; json: one JSON object per update "
                    "on stdout (bytes done/total, speed, file), for programs such as the "
                    "Blender add-on")
    dl.set_defaults(func=_lazy("download", "download"))
    generate.add_parser(sub)
    build_db.add_parser(sub)
    build_db.add_clip_parser(sub)
    w = sub.add_parser("worker", help="serve the JSON-lines protocol on stdin/stdout "
                       "(used by the Blender add-on; see docs/protocol.md)")
    from .options import add_model_options

    add_model_options(w)
    w.set_defaults(func=_lazy("worker", "worker"))
    return ap


def _lazy(module: str, name: str):
    """Import a command's module only when it runs (keeps `--help` fast)."""
    def run(args: argparse.Namespace) -> int:
        import importlib

        return getattr(importlib.import_module(f"{__name__}.{module}"), name)(args)
    return run


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
