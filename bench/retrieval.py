"""Retrieval speed and the cost of a RAG window, on CPU: what a user waits for.

1. Query time. 10,000 synthetic database windows (speakers 0-24, 0-3 explicit relations with
   CoNLL/PDTB senses and connectives, 0-3 gesture labels whose words come from a vocabulary of
   5,000 pseudo-words with Zipf-like frequencies: ~2,800 distinct label words, prominence rows,
   (20-40, 768) token features; fixed seed), indexed once as the session does. Every query is
   cold: new query words and the word-similarity cache emptied first. Reports ms per query
   point and per window (two gesture-type points; target <= 50 ms).
2. RAG window cost through the real path, `Session.generate`, each case in a fresh process:
   full-size random denoiser and VAEs (bench.pipeline, same seed in every process),
   wav2vec2-base and BERT-base sized random speech models, a gesture database built by
   `rag-gesture build-db` from a synthetic BEAT2-layout tree (tests/support/beat2_synthetic.py; a
   window every 10 s, 17 windows, so that precomputing them stays short), and
   a 10-s line of espeak-ng speech whose transcript holds two connectives, so discourse
   retrieval plants two clips. Every call analyses its speech from scratch (a new file per
   call: a new line of dialogue), so the plain and the RAG window both include the speech
   front end; the RAG window also includes each clip's materials (VAE encode of the database
   window, BERT on its words, wav2vec2 on its 10-s recording) and its DDIM inversion, or
   reading them from the database's store.
   - cold: empty caches and empty store (first use of a database built without --precompute);
   - warm: a new process reading what the cold one stored;
   - precomputed: a new process on a copy of the database prepared by `build-db
     --precompute` (empty in-memory caches; what a shipped database costs on first use).
   Prints the seconds and ratios to the plain window, then `cold ratio X`, `warm ratio Y`,
   and last `ratio Z`, Z the worse of the two (target <= 2).

    python -m bench.retrieval [--threads 2] [--records 10000] [--reps 5]
"""

from __future__ import annotations

if __name__ == "__main__" and not __package__:  # `python bench/NAME.py`: rerun as module
    import _script  # bench/ is sys.path[0] when a bench runs as a file

    _script.run_as_module(__file__)

import argparse
import cProfile
import io
import os
import pstats
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from backend.pipeline.engine import GenerateOptions
from backend.retrieval.records import (
    DiscourseRelation,
    GestureLabel,
    QueryPoint,
    WindowRecord,
)
from backend.retrieval.scoring import (
    RecordIndex,
    retrieve,
    with_prominences,
    word_similarity,
)
from tests.support.paths import REPO_ROOT

TARGET_MS_PER_WINDOW = 50.0
QUERIES_PER_WINDOW = 2

# (sense, connectives) - a realistic slice of the CoNLL-2016 explicit inventory
SENSES: list[tuple[str, tuple[str, ...]]] = [
    ("Expansion.Conjunction", ("and", "also", "And", "in addition", "moreover")),
    ("Comparison.Contrast", ("but", "But", "while", "however")),
    ("Comparison.Concession", ("although", "though", "even though", "still")),
    ("Contingency.Cause.Reason", ("because", "since", "Because", "as")),
    ("Contingency.Cause.Result", ("so", "So", "as a result", "therefore")),
    ("Contingency.Condition", ("if", "If", "unless", "when")),
    ("Temporal.Synchrony", ("when", "When", "while", "as")),
    ("Temporal.Asynchronous.Precedence", ("before", "until", "then")),
    ("Temporal.Asynchronous.Succession", ("after", "since", "once", "then")),
    ("Expansion.Alternative", ("or", "Or", "either or")),
    ("Expansion.Instantiation", ("for example", "for instance")),
    ("Expansion.Restatement", ("in fact", "in other words", "specifically")),
    ("Expansion.Exception", ("except", "otherwise")),
    ("Expansion.Alternative.Chosen alternative", ("instead", "rather")),
    ("Comparison", ("similarly", "likewise")),
]
GESTURE_WORDS = ["this", "that", "here", "there", "big", "small", "around", "up", "down",
                 "circle", "box", "idea", "future", "past", "together", "between", "me",
                 "you", "everything", "growing", "high", "little", "open", "world"]
FILLER = ["I", "think", "we", "the", "a", "really", "know", "was", "it", "of", "to", "go",
          "people", "time", "thing", "like", "just", "have", "my", "they", "do", "good"]
KINDS = ("beat", "deictic", "iconic", "metaphoric")


def loadavg() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


# ============================================================================ 1. query time


def synthetic_vocabulary(n: int, seed: int = 0) -> list[str]:
    """`n` distinct pseudo-words of 1-4 syllables (2-10 letters, like most label words),
    plus the common gesture words: a label vocabulary the size of a real database's."""
    rng = np.random.default_rng(seed)
    syllables = [c + v for c in "bcdfghjklmnprstvwyz" for v in "aeiou"] + [
        "th", "st", "ng", "ck", "er", "in", "on", "le"]
    words = dict.fromkeys(GESTURE_WORDS)
    while len(words) < n:
        words["".join(rng.choice(syllables, int(rng.integers(1, 5))))] = None
    return list(words)


def synthetic_records(n: int, seed: int = 0,
                      label_words: list[str] | None = None) -> list[WindowRecord]:
    """`label_words` (default: 24 common gesture words) are drawn with Zipf-like frequencies,
    as words are in speech."""
    rng = np.random.default_rng(seed)
    vocab = GESTURE_WORDS if label_words is None else label_words
    weights = 1.0 / np.arange(1, len(vocab) + 1)
    weights /= weights.sum()
    records = []
    for i in range(n):
        n_words = int(rng.integers(18, 32))
        words = [str(rng.choice(FILLER)) for _ in range(n_words)]
        rels, labels = [], []
        for _ in range(int(rng.integers(0, 4))):
            sense, conns = SENSES[int(rng.integers(len(SENSES)))]
            conn = conns[int(rng.integers(len(conns)))]
            words[int(rng.integers(n_words))] = conn.split()[0]
            cs = float(rng.uniform(0, 9.5))
            ce = cs + float(rng.uniform(0.1, 0.5))
            rs, re_ = max(0.0, cs - float(rng.uniform(0.5, 3))), min(10.0, ce + rng.uniform(0.5, 3))
            rels.append(DiscourseRelation(sense, conn, rs, float(re_), cs, ce))
        for _ in range(int(rng.integers(0, 4))):
            word = vocab[int(rng.choice(len(vocab), p=weights))]
            words[int(rng.integers(n_words))] = word
            s = float(rng.uniform(0, 9.5))
            labels.append(GestureLabel(KINDS[int(rng.integers(4))], s,
                                       s + float(rng.uniform(0.2, 0.8)), word))
        edges = np.sort(rng.uniform(0, 10, 2 * n_words))
        prom = [(w, float(edges[2 * j]), float(edges[2 * j + 1]), float(rng.uniform(0, 3)))
                for j, w in enumerate(words)]
        n_tok = int(rng.integers(20, 41))
        feats = rng.standard_normal((n_tok, 768), dtype=np.float32)
        records.append(WindowRecord(name=f"spk{i % 25}_w{i:05d}", speaker=int(rng.integers(25)),
                                    relations=rels, gesture_labels=labels, prominence=prom,
                                    token_features=feats))
    # as GestureDatabase.records() yields them: per-item prominence computed once at load
    return [with_prominences(r) for r in records]


QUERY_WORDS = ["circles", "pointing", "sweeping", "upwards", "bigger", "together", "apart",
               "growing", "spinning", "bouncing", "somewhere", "everywhere"]
QUERY_SENSES = [("because", "Contingency.Cause.Reason"), ("but", "Comparison.Contrast"),
                ("so", "Contingency.Cause.Result"), ("while", "Temporal.Synchrony"),
                ("instead", "Expansion.Alternative.Chosen alternative")]


def cold_queries(index: RecordIndex, queries: list[QueryPoint], method: str,
                 qfeat: np.ndarray) -> list[float]:
    """ms per query point, each with an empty word-similarity cache."""
    times = []
    for q in queries:
        word_similarity.cache_clear()
        t0 = time.perf_counter()
        retrieve(q, index, speaker=3, method=method, query_features=qfeat)
        times.append((time.perf_counter() - t0) * 1000)
    return times


def profile_query(records, query: QueryPoint, method: str, qfeat: np.ndarray) -> None:
    prof = cProfile.Profile()
    word_similarity.cache_clear()
    prof.enable()
    retrieve(query, records, speaker=3, method=method, query_features=qfeat)
    prof.disable()
    buf = io.StringIO()
    pstats.Stats(prof, stream=buf).sort_stats("tottime").print_stats(8)
    lines = [ln for ln in buf.getvalue().splitlines() if ln.strip()]
    start = next(i for i, ln in enumerate(lines) if "ncalls" in ln)
    print(f"  profile of one cold {method} query (top by own time):")
    for ln in lines[start:start + 9]:
        print("   ", ln[:150])


def query_bench(n: int, reps: int) -> float:
    t0 = time.perf_counter()
    records = synthetic_records(n, label_words=synthetic_vocabulary(5000))
    n_rel = sum(len(r.relations) for r in records)
    n_lab = sum(len(r.gesture_labels) for r in records)
    vocab = {g.word for r in records for g in r.gesture_labels}
    print(f"{n} synthetic records built in {time.perf_counter() - t0:.1f} s: {n_rel} relations, "
          f"{n_lab} gesture labels with {len(vocab)} distinct words, token features 20-40 x "
          "768 float32")
    rng = np.random.default_rng(123)
    qfeat = rng.standard_normal((30, 768), dtype=np.float32)
    t0 = time.perf_counter()
    index = RecordIndex(records)  # what the session builds once per database
    print(f"record index built in {(time.perf_counter() - t0) * 1000:.0f} ms (once per "
          "database and process)")
    kinds = ("iconic", "deictic", "metaphoric")
    words = [w for w in QUERY_WORDS if w not in vocab]
    queries = {
        "discourse": [QueryPoint("discourse", c, sense, 2.0, 2.3, 1.2)
                      for c, sense in (QUERY_SENSES * reps)[:reps]],
        "gesture_type": [QueryPoint("gesture", words[i % len(words)], kinds[i % 3], 4.0, 4.5,
                                    None) for i in range(reps)],
    }
    per_point = {}
    for method, qs in queries.items():
        full = retrieve(qs[0], records, speaker=3, method=method, query_features=qfeat)
        fast = retrieve(qs[0], index, speaker=3, method=method, query_features=qfeat)
        assert [c.name for c in fast] == [c.name for c in full]  # same answer as a full scan
        times = cold_queries(index, qs, method, qfeat)
        per_point[method] = statistics.median(times)
        print(f"  {method:12s}: {per_point[method]:6.1f} ms per cold query point (median of "
              f"{len(times)}: {', '.join(f'{t:.1f}' for t in times)}) -> e.g. "
              + ", ".join(f"{c.name} score {c.score:.2f} at {c.bound.text!r}" for c in fast))
    window_ms = QUERIES_PER_WINDOW * per_point["gesture_type"]
    print(f"per window query ({QUERIES_PER_WINDOW} gesture-type points, cold): {window_ms:.1f} ms "
          f"(target <= {TARGET_MS_PER_WINDOW:.0f} ms): "
          f"{'OK' if window_ms <= TARGET_MS_PER_WINDOW else 'SLOWER THAN TARGET'}")
    if window_ms > TARGET_MS_PER_WINDOW:
        for method, qs in queries.items():
            profile_query(index, qs[0], method, qfeat)
    return window_ms


# ============================================================================ 2. RAG window

LINE = ("we stayed at home because it was raining outside, but then the sun came out and "
        "we went to the park together")
CASES = ("cold", "warm", "precomputed")


def _child(args: argparse.Namespace) -> None:
    """One fresh process: a warm-up call, two plain windows, one RAG window; JSON on the last
    line of stdout."""
    import json
    import shutil

    from backend.pipeline.session import RetrievalOptions, Session, SessionConfig
    from bench.pipeline import random_engine
    from rag_gesture_shared.protocol.speech import SpeechInput

    torch.set_num_threads(args.threads)
    work = Path(args.work)
    session = Session(SessionConfig(bert=work / "bert", wav2vec=work / "w2v", device="cpu"))
    session._engine = random_engine()
    n = [0]

    def line() -> SpeechInput:  # a new file each call: its speech is analysed from scratch
        n[0] += 1
        path = work / f"line_{args.case}_{n[0]}.wav"
        shutil.copyfile(work / "line.wav", path)
        return SpeechInput(path, text=LINE, allow_mismatch=True)

    def timed(**kw) -> tuple[float, dict]:
        t0 = time.perf_counter()
        res = session.generate(line(), GenerateOptions(seed=0), **kw)
        return time.perf_counter() - t0, res.info

    t_first, _ = timed()  # model and speech-model loading, style table: once per process
    if args.case == "precomputed":
        factory = session.clip_factory(args.db)
        names = factory.db.names()
        t0 = time.perf_counter()
        todo = factory.pending(names)
        factory.precompute(todo)  # what `build-db --precompute` runs
        t_pre = time.perf_counter() - t0
        session = Session(session.config)  # then a fresh session, as a new process sees it
        session._engine = random_engine()
        t_first, _ = timed()
    else:
        t_pre, todo = 0.0, []
    plain = sorted(timed()[0] for _ in range(2))
    rag, info = timed(retrieval=RetrievalOptions("discourse", args.db))
    eng = session.engine.inversions
    print(json.dumps({"first": t_first, "plain": plain, "rag": rag, "computed": eng.computed,
                      "loaded": eng.loaded, "inserted": [i["clip"] for i in info["inserted"]],
                      "precompute": t_pre, "precomputed_windows": len(todo),
                      "load": os.getloadavg()[0]}))


def _run_child(case: str, db: Path, work: Path, threads: int) -> dict:
    import json
    import subprocess

    out = subprocess.run([sys.executable, "-m", "bench.retrieval", "--child", case, "--db",
                          str(db), "--work", str(work), "--threads", str(threads)],
                         check=True, capture_output=True, text=True, cwd=REPO_ROOT)
    return json.loads(out.stdout.strip().splitlines()[-1])


def rag_bench(threads: int) -> tuple[float, float, float]:
    """(cold, warm, precomputed) RAG window / plain window."""
    import shutil

    from backend.cli import main as cli
    from bench.speech import full_size_models
    from tests.support.beat2_synthetic import make_beat2
    from tests.support.speech_audio import speak

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        t0 = time.perf_counter()
        full_size_models(work)
        speak(LINE, work / "line.wav")
        tree = make_beat2(work / "beat2")
        db = work / "gestures"
        with open(os.devnull, "w") as quiet:
            old, sys.stderr = sys.stderr, quiet
            try:
                cli(["build-db", "--beat2", str(tree), "--db", str(db), "--bert",
                     str(work / "bert"), "--stride", "150"])  # 17 windows, 10 s apart
            finally:
                sys.stderr = old
        shutil.copytree(db, work / "gestures_pre")
        print(f"speech models, a 10-s line and a {db.name} database from a synthetic BEAT2 "
              f"tree (build-db) made in {time.perf_counter() - t0:.0f} s")
        res = {"cold": _run_child("cold", db, work, threads),
               "warm": _run_child("warm", db, work, threads),
               "precomputed": _run_child("precomputed", work / "gestures_pre", work, threads)}
    for case in CASES:
        r = res[case]
        plain = statistics.median(r["plain"])
        extra = (f"; build-db --precompute of {r['precomputed_windows']} windows took "
                 f"{r['precompute']:.0f} s before" if case == "precomputed" else "")
        runs = ", ".join(f"{t:.2f}" for t in r["plain"])
        print(f"{case:11s}: plain window {plain:.2f} s (runs {runs}"
              f"; first call of the process {r['first']:.2f} s), RAG window {r['rag']:.2f} s "
              f"= {r['rag'] / plain:.2f}x with {len(r['inserted'])} clips "
              f"({', '.join(r['inserted'])}; {r['computed']} inverted, {r['loaded']} read from "
              f"the store), load {r['load']:.2f}{extra}")
    ratio = {c: res[c]["rag"] / statistics.median(res[c]["plain"]) for c in CASES}
    return ratio["cold"], ratio["warm"], ratio["precomputed"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--records", type=int, default=10_000)
    ap.add_argument("--reps", type=int, default=5, help="cold queries per method")
    ap.add_argument("--child", choices=CASES, help=argparse.SUPPRESS)
    ap.add_argument("--db", help=argparse.SUPPRESS)
    ap.add_argument("--work", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        args.case = args.child
        _child(args)
        return
    torch.set_num_threads(args.threads)
    from backend.machine import describe

    print(f"machine: {describe()}")
    print("== 1. retrieval query time (cold)")
    query_bench(args.records, args.reps)
    print("== 2. RAG window cost (Session.generate, fresh processes)")
    cold, warm, pre = rag_bench(args.threads)
    print(f"precomputed database, first use: ratio {pre:.2f}")
    print(f"load average at end {loadavg()}")
    print(f"cold ratio {cold:.2f}")
    print(f"warm ratio {warm:.2f}")
    print(f"ratio {max(cold, warm):.2f}")


if __name__ == "__main__":
    main()
