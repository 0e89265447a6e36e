"""`rag-gesture` command line: doctor, download, generate, batch, build-db, add-clip, worker,
parity-report.

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


def build_parser() -> argparse.ArgumentParser:
    from . import batch, build_db, generate

    ap = argparse.ArgumentParser(prog="rag-gesture", description="RAG-Gesture backend tools")
    ap.add_argument("--version", action="version", version=f"rag-gesture {__version__}")
    ap.add_argument("--threads", type=_positive_int,
                    help="CPU threads for torch (default: torch's)")
    sub = ap.add_subparsers(dest="command", required=True)
    from .options import add_model_options

    d = sub.add_parser("doctor", help="check the installation and load everything generate "
                       "loads, with the same options; exit 1 if something is missing")
    add_model_options(d)
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
    batch.add_parser(sub)
    build_db.add_parser(sub)
    build_db.add_clip_parser(sub)
    w = sub.add_parser("worker", help="serve the JSON-lines protocol on stdin/stdout "
                       "(used by the Blender add-on; see docs/protocol.md)")
    add_model_options(w)
    w.set_defaults(func=_lazy("worker", "worker"))
    from ..parity import report

    report.add_parser(sub)
    return ap


def _positive_int(text: str) -> int:
    """argparse type: a whole number of at least 1 (argparse turns the error into usage)."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number of at least 1, not {text!r}")
    return value


def _lazy(module: str, name: str):
    """Import a command's module only when it runs (keeps `--help` fast)."""
    def run(args: argparse.Namespace) -> int:
        import importlib

        return getattr(importlib.import_module(f"{__name__}.{module}"), name)(args)
    return run


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; Ctrl-C is one line, "cancelled", and exit code 130 (every file is
    written atomically, so nothing is left half-written)."""
    args = build_parser().parse_args(argv)
    try:
        if args.threads:
            import torch

            torch.set_num_threads(args.threads)
        return args.func(args)
    except KeyboardInterrupt:
        print("cancelled", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
