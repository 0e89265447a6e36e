"""`rag-gesture build-db`: the retrieval database from BEAT2 + the RAG-Gesture annotations."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("build-db", help="build the gesture database for retrieval from BEAT2 "
                       "(train + additional clips; re-run it to continue after an "
                       "interruption) and/or precompute what retrieval needs per window")
    p.add_argument("--beat2", help="BEAT2 folder (beat_english_v2.0.0) to add clips from")
    p.add_argument("--db", required=True, help="database folder to create or continue")
    p.add_argument("--stride", type=int, default=75,
                   help="frames (15 fps) between windows (default 75 = every 5 s, as published)")
    p.add_argument("--bert", help="bert-base-cased: hub name or folder (token features for the "
                   "tie-break, and word features with --precompute)")
    p.add_argument("--no-bert", action="store_true", help="skip the token features")
    p.add_argument("--precompute", action="store_true",
                   help="store every window's latent, word and audio features and its DDIM "
                   "inversion (official 50 steps) in <db>/inversions/, so retrieval is as fast "
                   "on first use as later (needs the weights; resumable; ~4 MB per window "
                   "at full size)")
    p.add_argument("--weights", help="with --precompute: folder that contains experiments/")
    p.add_argument("--checkpoint", help="with --precompute: a diffusion checkpoint file")
    p.add_argument("--wav2vec", help="with --precompute: wav2vec2-base-960h hub name or folder")
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    p.add_argument("--allow-download", action="store_true",
                   help="let missing speech models download from the Hugging Face hub")
    p.set_defaults(func=run)


def add_clip_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("add-clip", help="add your own gesture clip (motion .npz + timed words) "
                       "to a gesture database")
    p.add_argument("motion", help="SMPL-X motion .npz (BEAT2/AMASS layout)")
    p.add_argument("--words", required=True,
                   help="transcript with word timings in clip seconds (TextGrid or JSON words)")
    p.add_argument("--db", required=True, help="gesture database folder")
    p.add_argument("--label", action="append", default=[], metavar="KIND@START-END[:WORD]",
                   help="a gesture label, e.g. iconic@1.2-2.0:circle (deictic, iconic, "
                   "metaphoric, beat)")
    p.add_argument("--speaker", help="BEAT2 speaker style to file it under (name or index)")
    p.add_argument("--name", help="clip name (default: the file name)")
    p.add_argument("--replace", action="store_true", help="replace a clip of the same name")
    p.add_argument("--audio", help="the clip's recording (WAV, FLAC, ...), copied into the "
                   "database; without it retrieval inverts the clip with silent audio "
                   "features and says so")
    p.set_defaults(func=run_add_clip)


def parse_label(text: str):
    """`KIND@START-END[:WORD]` -> GestureLabel."""
    from ..retrieval.records import GestureLabel

    try:
        kind, rest = text.split("@", 1)
        span, _, word = rest.partition(":")
        start, end = (float(x) for x in span.split("-", 1))
        return GestureLabel(kind.strip().lower(), start, end, word.strip())
    except ValueError as exc:
        raise ValueError(f"cannot read the label {text!r}; write KIND@START-END[:WORD], e.g. "
                         "iconic@1.2-2.0:circle") from exc


def run_add_clip(args: argparse.Namespace) -> int:
    import sqlite3

    from ..retrieval.database import GestureDatabase

    try:
        labels = [parse_label(x) for x in args.label]
        with GestureDatabase(Path(args.db)) as db:
            names = db.add_user_clip(Path(args.motion), Path(args.words), labels,
                                     speaker=args.speaker, name=args.name,
                                     replace=args.replace, audio=args.audio)
    except (ValueError, OSError, sqlite3.Error) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"added {len(names)} window(s) to {args.db}: {', '.join(names)}")
    if args.audio is None:
        print("note: no --audio given: retrieval will invert this clip with silent audio "
              "features (re-add it with --replace --audio FILE)", file=sys.stderr)
    return 0


def run(args: argparse.Namespace) -> int:
    """Exit 2 when the arguments or folders are wrong (checked before any model loads), 1 when
    the build fails (one sentence), 0 when at least one clip is in the database."""
    if not args.beat2 and not args.precompute:
        print("error: give --beat2 DIR to add BEAT2 clips, --precompute to prepare an existing "
              "database for retrieval, or both", file=sys.stderr)
        return 2
    if args.precompute and not args.beat2 and not _database_exists(Path(args.db)):
        print(f"error: no gesture database at {args.db}; build one with --beat2 DIR",
              file=sys.stderr)
        return 2
    code = _build(args) if args.beat2 else 0
    if args.precompute and code == 0:
        code = _precompute(args)
    return code


def _database_exists(db: Path) -> bool:
    """A database folder (holding db.sqlite) or the .sqlite file itself."""
    from ..retrieval.database import DB_FILE, DB_SUFFIXES

    return db.is_file() if db.suffix in DB_SUFFIXES else (db / DB_FILE).is_file()


def _build(args: argparse.Namespace) -> int:
    import sqlite3

    from ..retrieval.database import DB_SUFFIXES, build_from_beat2
    from ..speech.pretrained import ModelMissingError
    from .generate import ProgressBar
    from .outputs import OutputError, check_writable_folder

    split = Path(args.beat2) / "train_test_split.csv"
    try:
        if not split.is_file():
            raise OutputError(f"{args.beat2} is not a BEAT2 folder (no train_test_split.csv); "
                              "give --beat2 the beat_english_v2.0.0 folder")
        db = Path(args.db)  # a folder, or the .sqlite file itself (arrays beside it)
        check_writable_folder(db.parent if db.suffix in DB_SUFFIXES else db, "--db")
    except OutputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    bar = ProgressBar()
    try:
        features = None
        if not args.no_bert:
            from ..speech.bert import BertWords
            from ..speech.pretrained import BERT_NAME

            bert = BertWords(args.bert or BERT_NAME)

            def features(words):
                return (bert.token_features(" ".join(w.text for w in words))[0] if words
                        else None)

        report = build_from_beat2(Path(args.beat2), Path(args.db), progress=bar,
                                  stride=args.stride, token_features=features)
    except (OSError, sqlite3.Error, ValueError, ModelMissingError) as exc:
        bar.close()
        print(f"error: {exc}", file=sys.stderr)
        return 1
    bar.close()
    print(f"added {len(report.added)} clips ({report.windows_added} windows), skipped "
          f"{len(report.skipped)} already built, {len(report.failed)} failed; database {args.db}")
    for line in report.messages:
        print(f"  {line}", file=sys.stderr)
    return 1 if report.failed and not (report.added or report.skipped) else 0


def _precompute(args: argparse.Namespace) -> int:
    """Materials and inversions of every window into the database's store (resumable)."""
    import shutil

    from ..pipeline.session import Session, SessionConfig, WeightsMissingError
    from ..speech.pretrained import BERT_NAME, WAV2VEC_NAME
    from .generate import ProgressBar

    session = Session(SessionConfig(
        weights=args.weights, checkpoint=args.checkpoint, bert=args.bert or BERT_NAME,
        wav2vec=args.wav2vec or WAV2VEC_NAME, device=args.device,
        allow_download=args.allow_download))
    try:
        factory = session.clip_factory(args.db)
    except (WeightsMissingError, ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    names = factory.db.names()
    need = len(names) * factory.window_bytes()
    stored = factory.store.size()
    free = shutil.disk_usage(factory.db.root).free
    if need - stored > free:
        print(f"error: precomputing {len(names)} windows needs about {need / 1e9:.1f} GB and "
              f"{factory.db.root} has {free / 1e9:.1f} GB free", file=sys.stderr)
        return 1
    factory.reserve_store(int(need * 1.25))  # the store must keep what we write
    bar = ProgressBar()
    try:
        bar("checking", 0.0)
        todo = factory.pending(names)
        bar("checking", 1.0)
        done = factory.precompute(todo, progress=bar)
    except KeyboardInterrupt:
        bar.close()
        print("interrupted: the windows finished so far are stored; run the same command "
              "again to continue", file=sys.stderr)
        return 130
    bar.close()
    print(f"precomputed {done} windows ({len(names) - len(todo)} were already stored); "
          f"{factory.store.size() / 1e9:.2f} GB in {factory.store.folder}")
    return 0
