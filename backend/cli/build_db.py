"""`rag-gesture build-db`: the retrieval database from BEAT2 + the RAG-Gesture annotations."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("build-db", help="build the gesture database for retrieval from BEAT2 "
                       "(train + additional clips; re-run it to continue after an interruption)")
    p.add_argument("--beat2", required=True, help="BEAT2 folder (beat_english_v2.0.0)")
    p.add_argument("--db", required=True, help="database folder to create or continue")
    p.add_argument("--stride", type=int, default=75,
                   help="frames (15 fps) between windows (default 75 = every 5 s, as published)")
    p.add_argument("--bert", help="bert-base-cased: hub name or folder (token features for the "
                   "tie-break)")
    p.add_argument("--no-bert", action="store_true", help="skip the token features")
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
                                     replace=args.replace)
    except (ValueError, OSError, sqlite3.Error) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"added {len(names)} window(s) to {args.db}: {', '.join(names)}")
    return 0


def run(args: argparse.Namespace) -> int:
    """Exit 2 when the folders are wrong (checked before BERT loads), 1 when the build
    fails (one sentence), 0 when at least one clip is in the database."""
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
