"""`rag-gesture generate`: audio (+ words) -> SMPL-X motion files, with a progress bar."""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

from rag_gesture_shared.protocol.generate import DEFAULT_FPS
from rag_gesture_shared.protocol.retrieval import DEFAULT_GUIDANCE_SCHEDULE, METHODS
from rag_gesture_shared.protocol.sampling import MAX_STEPS, MIN_STEPS, OFFICIAL_STEPS

from .options import add_model_options, session_config


class ProgressBar:
    """One terminal line: stage, bar, percent, elapsed; redrawn at most 10 times a second."""

    def __init__(self, stream=None, width: int = 30) -> None:
        self.stream = stream if stream is not None else sys.stderr  # the current stderr
        self.width = width
        self.start = time.perf_counter()
        self.last = 0.0
        self.stage = ""

    def __call__(self, stage: str, fraction: float) -> None:
        now = time.perf_counter()
        if stage == self.stage and fraction < 1.0 and now - self.last < 0.1:
            return
        if stage != self.stage and self.stage:
            self.stream.write("\n")
        self.stage, self.last = stage, now
        done = int(self.width * min(max(fraction, 0.0), 1.0))
        self.stream.write(f"\r{stage:16s} [{'#' * done}{'.' * (self.width - done)}] "
                          f"{100 * fraction:5.1f}%  {now - self.start:6.1f} s")
        self.stream.flush()

    def close(self) -> None:
        """End the bar's line (once)."""
        if self.stage:
            self.stream.write("\n")
            self.stream.flush()
            self.stage = ""


def add_parser(sub: argparse._SubParsersAction) -> None:
    g = sub.add_parser("generate", help="speech -> SMPL-X motion (.npz, BEAT2/AMASS layout)",
                       epilog="Bad input is refused before any model loads. Exit codes: 0 "
                       "written, 2 refused (nothing done), 1 failed during the work, 130 "
                       "cancelled (Ctrl-C); no file is ever left half-written.")
    g.add_argument("audio", help="speech recording (WAV, FLAC, OGG, ...)")
    words = g.add_mutually_exclusive_group()
    words.add_argument("--transcript", help="TXT, SRT, VTT, TextGrid or JSON words")
    words.add_argument("--text", help="the words, typed (aligned to the audio automatically)")
    g.add_argument("--speaker", default="scott",
                   help="BEAT2 speaker style: name (scott) or index 0-24 (default: scott)")
    g.add_argument("--seed", type=int, default=0)
    g.add_argument("--takes", type=int, default=1, help="alternatives generated in one batch")
    g.add_argument("--steps", type=int, default=OFFICIAL_STEPS,
                   help=f"DDIM steps, {MIN_STEPS}-{MAX_STEPS} (50 = the official schedule; "
                   "fewer is faster, more follows the schedule's shape more finely)")
    g.add_argument("--fps", type=float, default=DEFAULT_FPS,
                   help=f"output frame rate (default {DEFAULT_FPS:g})")
    g.add_argument("--allow-mismatch", action="store_true",
                   help="keep going when the transcript does not seem to match the audio")
    g.add_argument("--retrieval", default="none",
                   choices=METHODS,
                   help="plant matching gestures from a gesture database (rag-gesture build-db); "
                   "llm asks the OpenAI-compatible endpoint in RAG_GESTURE_LLM_URL")
    g.add_argument("--db", help="gesture database folder (for --retrieval / --cue)")
    g.add_argument("--cue", action="append", default=[], metavar="KIND@SECONDS[:CLIP]",
                   help="ask for a gesture (deictic/iconic/metaphoric) at a time, optionally "
                   "a database clip, e.g. deictic@3.2 or iconic@5:2_scott_0_1_1/30")
    g.add_argument("--guidance-schedule", default=DEFAULT_GUIDANCE_SCHEDULE,
                   help="official insertion-guidance preset (reported; no numeric effect)")
    g.add_argument("--no-inversion-store", action="store_true",
                   help="do not read or write DDIM inversions in the database folder "
                   "(DB/inversions/, capped by RAG_GESTURE_INVERSION_STORE_GB, default 2)")
    g.add_argument("-o", "--output", required=True,
                   help="output .npz; extra takes are written as NAME_take2.npz, ...")
    g.add_argument("--force", action="store_true",
                   help="replace output files that already exist (all takes are replaced "
                   "together, or none)")
    add_model_options(g)
    g.set_defaults(func=run)


# How the worker's field names read on this command line (the rest: --field-name).
CLI_OPTIONS = {"audio": "the audio file", "retrieval.method": "--retrieval",
               "retrieval.database": "--db", "retrieval.cues": "--cue",
               "retrieval.inversion_store": "--no-inversion-store"}


def request_message(args: argparse.Namespace, cues: list) -> dict:
    """The command line as a worker `generate` request, so both check it by the same rules."""
    msg = {"type": "generate", "id": "cli", "audio": args.audio, "speaker": args.speaker,
           "seed": args.seed, "takes": args.takes, "steps": args.steps, "fps": args.fps,
           "allow_mismatch": args.allow_mismatch,
           "retrieval": {"method": args.retrieval, "database": args.db,
                         "cues": [c.to_message() for c in cues],
                         "guidance_schedule": args.guidance_schedule,
                         "inversion_store": not args.no_inversion_store}}
    for name in ("transcript", "text"):
        if getattr(args, name) is not None:
            msg[name] = getattr(args, name)
    return msg


def run(args: argparse.Namespace) -> int:
    """Exit 0: written; 2: refused before any model loaded; 1: failed during the work
    (130, cancelled, is `main`'s)."""
    from rag_gesture_shared.protocol.envelope import ProtocolError

    from ..pipeline.session import Session, check_request
    from ..retrieval.planner import parse_cue
    from ..worker.protocol import describe_exception, parse_request
    from .outputs import OutputError, check_output, write_takes

    output = Path(args.output).expanduser()
    try:
        req = parse_request(request_message(args, [parse_cue(c) for c in args.cue]),
                            CLI_OPTIONS)
        assert req.speech is not None and req.options is not None
        checked = check_request(req.speech, req.retrieval)
        frames = math.ceil(checked.duration * req.options.fps)
        notes = check_output(output, req.options.takes, frames, args.force)
    except OutputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except (ProtocolError, ValueError) as exc:  # the worker's codes and sentences
        code, message, _ = describe_exception(exc)
        print(f"error ({code}): {message}", file=sys.stderr)
        return 2
    session = Session(session_config(args))
    print(f"device: {session.device_note}", file=sys.stderr)
    bar = ProgressBar()
    try:
        result = session.generate(req.speech, req.options, progress=bar,
                                  retrieval=req.retrieval)
    except Exception as exc:  # one sentence for the user, as the worker does
        bar.close()
        code, message, _ = describe_exception(exc, session.device)
        print(f"error ({code}): {message}", file=sys.stderr)
        return 1
    finally:
        bar.close()  # also on Ctrl-C: `cancelled` then starts on its own line
    try:
        paths = write_takes(output, result.motions)
    except OutputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    for note in notes:
        print(f"note: {note}")
    for path, motion in zip(paths, result.motions, strict=True):
        print(f"wrote {path} ({motion.num_frames} frames at {motion.fps:g} fps, "
              f"{motion.duration:.1f} s)")
    info = result.info
    if not info.get("official_schedule", True):
        print(f"note: {info['steps']} DDIM steps is not the official 50-step schedule")
    for w in info.get("warnings", []):
        print(f"note: {w}")
    for ins in info.get("inserted", []):
        print(f"inserted {ins['clip']} at \"{ins.get('word', '')}\" ({ins.get('label', '')}), "
              f"window {ins['window']}, tokens {ins['tokens'][0]}-{ins['tokens'][1]}")
    return 0
