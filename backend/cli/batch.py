"""`rag-gesture batch MANIFEST --out DIR`: many dialogue lines on Ray (docs/batch.md)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .options import add_model_options, session_config

EXAMPLES = """\
manifest (CSV with a header, or JSON lines; paths relative to the manifest):
  id,audio,transcript,text,speaker,seed,takes,steps,fps,retrieval,db,cues,allow_mismatch
  ep01/l001,audio/l001.wav,audio/l001.srt,,scott,3,,,24,,,,
  ep01/l002,audio/l002.wav,,"Over there, look!",,,2,,,,,deictic@0.6,
empty cells take the command line's values. Running the same command again skips lines
whose outputs exist and whose inputs are unchanged.
"""


def add_parser(sub: argparse._SubParsersAction) -> None:
    b = sub.add_parser(
        "batch", help="generate many dialogue lines on Ray (local or a cluster)",
        description="Generate motion for every line of a manifest with Ray actors that keep "
        "the models loaded. Local by default; --address or RAY_ADDRESS joins a cluster.",
        epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    b.add_argument("manifest", help="CSV (with a header) or JSON-lines file, one line per row")
    b.add_argument("--out", required=True, help="output folder (ID.npz, ID.bvh, ID.fbx, "
                   "report.jsonl)")
    b.add_argument("--format", action="append", default=[], metavar="FMT",
                   help="extra outputs besides .npz: bvh, fbx (repeat or comma-separate)")
    b.add_argument("--report", help="report file (default: OUT/report.jsonl)")
    b.add_argument("--overwrite", action="store_true",
                   help="replace output files this batch did not write")
    d = b.add_argument_group("per-line defaults (manifest cells override them)")
    d.add_argument("--speaker", default="scott", help="BEAT2 speaker (default: scott)")
    d.add_argument("--seed", type=int, default=0)
    d.add_argument("--takes", type=int, default=1)
    d.add_argument("--steps", type=int, default=50, help="DDIM steps (50 = official)")
    d.add_argument("--fps", type=float, default=30.0, help="output frame rate (default 30)")
    d.add_argument("--allow-mismatch", action="store_true",
                   help="keep going when a transcript does not seem to match its audio")
    d.add_argument("--retrieval", default="none",
                   choices=("none", "discourse", "gesture_type", "llm", "directed"))
    d.add_argument("--db", help="gesture database folder (for retrieval and cues)")
    d.add_argument("--cue", action="append", default=[], metavar="KIND@SECONDS[:CLIP]",
                   help="a gesture cue for every line (manifest: cues column)")
    d.add_argument("--guidance-schedule", default="decreasing_till_25")
    r = b.add_argument_group("Ray")
    r.add_argument("--address", help="Ray cluster address (default: $RAY_ADDRESS, else a "
                   "local Ray on this machine)")
    r.add_argument("--actors", type=int, help="actors (default: one per GPU, else CPUs / "
                   "threads)")
    r.add_argument("--threads-per-actor", type=int, default=None,
                   help="torch CPU threads (and Ray CPUs) per actor (default 1)")
    r.add_argument("--gpus-per-actor", type=float, default=1.0,
                   help="GPUs per actor on a GPU cluster (default 1)")
    r.add_argument("--retries", type=int, default=2,
                   help="times a line is retried after its actor died (default 2)")
    r.add_argument("--startup-timeout", type=float, default=600.0,
                   help="seconds to wait for an actor to start before giving up")
    r.add_argument("--actor-status", type=float, default=0.0, metavar="SECONDS",
                   help="print the per-actor table every SECONDS (also on SIGUSR1, and in "
                   "OUT/.rag-gesture-batch/status.json)")
    r.add_argument("--no-progress", action="store_true", help="no progress bar")
    x = b.add_argument_group("exports")
    x.add_argument("--bvh-scale", type=float, default=100.0,
                   help="BVH units per metre (default 100: centimetres)")
    x.add_argument("--rig", help="the character's .blend file (for --format fbx)")
    x.add_argument("--rig-armature", help="the armature object in --rig (default: the only one)")
    x.add_argument("--blender", help="Blender executable, or a Python with the bpy module, for "
                   "FBX export (default: blender on the PATH)")
    x.add_argument("--addon", help="the RAG-Gesture add-on folder whose retarget and key code "
                   "writes the FBX (default: rag_gesture_addon/ of this checkout)")
    x.add_argument("--fbx-processes", type=int, default=1,
                   help="headless Blenders writing FBX files side by side (default 1)")
    add_model_options(b)
    b.set_defaults(func=run)


def parse_formats(values: list[str]) -> tuple[str, ...]:
    from ..batch.runner import FORMATS

    out = {"npz"}
    for v in values:
        for f in v.split(","):
            f = f.strip().lower()
            if f not in FORMATS:
                raise ValueError(f"unknown format {f!r}; choose from {', '.join(FORMATS)}")
            out.add(f)
    return tuple(f for f in FORMATS if f in out)


def run(args: argparse.Namespace) -> int:
    from ..batch.fbx import FbxSetupError
    from ..batch.manifest import LineSpec, ManifestError
    from ..batch.runner import Batch, BatchError, BatchOptions
    from ..pipeline.session import WeightsMissingError

    try:
        formats = parse_formats(args.format)
        if args.threads_per_actor is not None and args.threads_per_actor < 1:
            raise ValueError("--threads-per-actor must be at least 1")
        if args.actors is not None and args.actors < 1:
            raise ValueError("--actors must be at least 1")
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    defaults = LineSpec(id="", audio=Path(), speaker=args.speaker, seed=args.seed,
                        takes=args.takes, steps=args.steps, fps=args.fps,
                        retrieval=args.retrieval, db=Path(args.db) if args.db else None,
                        cues=tuple(args.cue), allow_mismatch=args.allow_mismatch,
                        guidance_schedule=args.guidance_schedule)
    opts = BatchOptions(
        manifest=Path(args.manifest), out=Path(args.out), defaults=defaults,
        session=session_config(args), formats=formats, actors=args.actors,
        threads=args.threads_per_actor or args.threads, gpus_per_actor=args.gpus_per_actor,
        address=args.address, retries=args.retries, overwrite=args.overwrite,
        report=Path(args.report) if args.report else None, bvh_scale=args.bvh_scale,
        rig=Path(args.rig) if args.rig else None, rig_armature=args.rig_armature,
        blender=args.blender, addon=Path(args.addon) if args.addon else None,
        fbx_processes=max(1, args.fbx_processes), progress=not args.no_progress,
        actor_status=args.actor_status, startup_timeout=args.startup_timeout)
    try:
        summary = Batch(opts).run()
    except (ManifestError, BatchError, FbxSetupError, WeightsMissingError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    c = summary.counts
    print(f"{summary.total} lines: {c.get('done', 0)} done, {c.get('skipped', 0)} skipped "
          f"(unchanged), {c.get('failed', 0)} failed"
          + (f", {c['cancelled']} cancelled" if c.get("cancelled") else "")
          + f" in {summary.seconds:.1f} s; report {summary.report}"
          + (f" (previous run's report: {summary.previous_report})"
             if summary.previous_report else ""))
    if summary.stopped:
        print(f"stopped: {summary.stopped}", file=sys.stderr)
    if summary.interrupted:
        print("interrupted: run the same command again to resume", file=sys.stderr)
        return 130
    return 1 if c.get("failed") else 0
