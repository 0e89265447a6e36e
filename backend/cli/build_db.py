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


def run(args: argparse.Namespace) -> int:
    from ..retrieval.database import build_from_beat2
    from .generate import ProgressBar

    features = None
    if not args.no_bert:
        from ..speech.bert import BertWords
        from ..speech.pretrained import BERT_NAME

        bert = BertWords(args.bert or BERT_NAME)

        def features(words):
            return bert.token_features(" ".join(w.text for w in words))[0] if words else None

    bar = ProgressBar()
    report = build_from_beat2(Path(args.beat2), Path(args.db), progress=bar,
                              stride=args.stride, token_features=features)
    bar.close()
    print(f"added {len(report.added)} clips ({report.windows_added} windows), skipped "
          f"{len(report.skipped)} already built, {len(report.failed)} failed; database {args.db}")
    for line in report.messages:
        print(f"  {line}", file=sys.stderr)
    return 1 if report.failed and not (report.added or report.skipped) else 0
