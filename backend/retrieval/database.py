"""The retrieval database (spec §5.2): one 10-s window every 5 s of the BEAT2 train clips.

On disk (a directory):

* `db.sqlite` - tables `clips` (clip, source, status 'done' / 'failed: reason', n_windows),
  `windows` (name, clip, start_frame, speaker, transcript, words json, has_features),
  `relations`, `gesture_labels`, `prominence` (window-relative seconds, one row per item);
* `arrays/<window name>.npz` - the 15-fps motion window (poses (150,55,3), trans (150,3),
  expressions (150,100), betas) and, when given, the token-level BERT matrix
  (`token_features`, (n_tokens, 768)). Window names are `<clip>/<index>` (official naming),
  so a clip's arrays sit in `arrays/<clip>/`.

Building is incremental: every clip is written in one transaction that also marks it 'done',
so re-running after an interruption skips finished clips and redoes the interrupted one.
Broken clips (missing / corrupt motion or annotation file) are recorded as 'failed: ...',
named in the returned report and retried on the next build.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from rag_gesture_shared.atomic_file import AtomicGroup, atomic_write
from rag_gesture_shared.motion_file import npz_bytes
from rag_gesture_shared.speakers import DEFAULT_SPEAKER, resolve_speaker, speaker_from_filename

from ..motion.motion import Motion
from ..progress import ProgressFn, StopFn, check
from ..speech.words import Word
from . import beat2
from .connectives import relations_in_window, tag_connectives
from .records import DiscourseRelation, GestureLabel, ProminenceRow, WindowRecord
from .scoring import with_prominences

DB_FILE = "db.sqlite"
DB_SUFFIXES = (".sqlite", ".db", ".sqlite3")  # `--db` naming the file instead of its folder
ARRAYS_DIR = "arrays"
AUDIO_DIR = "audio"  # recordings of user clips (add-clip --audio), one file per clip
TokenFeatureFn = Callable[[list[Word]], "np.ndarray | None"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS clips (
    clip TEXT PRIMARY KEY, source TEXT NOT NULL, status TEXT NOT NULL,
    n_windows INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS windows (
    name TEXT PRIMARY KEY, clip TEXT NOT NULL, start_frame INTEGER NOT NULL,
    speaker INTEGER NOT NULL, transcript TEXT NOT NULL, words TEXT NOT NULL,
    has_features INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS windows_clip ON windows(clip);
CREATE TABLE IF NOT EXISTS relations (
    window TEXT NOT NULL, idx INTEGER NOT NULL, sense TEXT NOT NULL, connective TEXT NOT NULL,
    rel_start REAL NOT NULL, rel_end REAL NOT NULL, conn_start REAL NOT NULL,
    conn_end REAL NOT NULL, PRIMARY KEY (window, idx)
);
CREATE TABLE IF NOT EXISTS gesture_labels (
    window TEXT NOT NULL, idx INTEGER NOT NULL, kind TEXT NOT NULL, start REAL NOT NULL,
    end_ REAL NOT NULL, word TEXT NOT NULL, PRIMARY KEY (window, idx)
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS prominence (
    window TEXT NOT NULL, idx INTEGER NOT NULL, word TEXT NOT NULL, start REAL NOT NULL,
    end_ REAL NOT NULL, prominence REAL NOT NULL, PRIMARY KEY (window, idx)
);
"""


@dataclass(frozen=True)
class ClipFailure:
    """A clip that could not be added: the file at fault (when known) and why."""

    clip: str
    path: str | None
    reason: str

    def __str__(self) -> str:
        return f"{self.clip}: {self.reason}"


@dataclass
class BuildReport:
    """What one build did: clips added, clips already done (skipped), clips that failed."""

    added: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    failed: list[ClipFailure] = field(default_factory=list)
    windows_added: int = 0

    @property
    def messages(self) -> list[str]:
        """One line per failed clip, naming the file at fault."""
        return [str(f) for f in self.failed]


@dataclass
class _Window:
    name: str
    start_frame: int
    speaker: int
    words: list[Word]
    relations: list[DiscourseRelation]
    labels: list[GestureLabel]
    prominence: list[ProminenceRow]
    motion: Motion
    features: np.ndarray | None


# A clip name becomes a folder under arrays/ and the CLIP of a `--cue KIND@T:CLIP/START`.
MAX_CLIP_NAME = 100
_UNSAFE_NAME_CHARS = set('/\\:*?"<>|')


def check_clip_name(name: str) -> str:
    """`name` if it is safe as a folder name on every system, else ValueError: no `.`/`..`,
    no path separators or characters Windows refuses, no control characters, no leading or
    trailing space or trailing dot, at most MAX_CLIP_NAME characters."""
    bad = sorted({c for c in name if c in _UNSAFE_NAME_CHARS or ord(c) < 32})
    why = ("it is empty" if not name.strip() else
           "it names a folder, not a clip" if name in (".", "..") else
           f"it contains {' '.join(repr(c) for c in bad)}" if bad else
           "it starts or ends with a space or ends with a dot"
           if name != name.strip() or name.endswith(".") else
           f"it is longer than {MAX_CLIP_NAME} characters" if len(name) > MAX_CLIP_NAME else "")
    if why:
        raise ValueError(f"the clip name {name!r} cannot be used because {why}; give --name "
                         "with letters, digits, '-', '_' or '.'")
    return name


class GestureDatabase:
    """SQLite metadata + per-window motion arrays in the directory `path` (created if needed).

    `path` may also name the `.sqlite` file itself; the arrays then live beside it.
    """

    def __init__(self, path: str | os.PathLike[str]):
        path = Path(path)
        if path.suffix in DB_SUFFIXES:
            self.root, self.db_file = path.parent, path
        else:
            self.root, self.db_file = path, path / DB_FILE
        self.root.mkdir(parents=True, exist_ok=True)
        self.arrays = self.root / ARRAYS_DIR
        self._con = sqlite3.connect(self.db_file)
        self._con.executescript(_SCHEMA)
        self._con.commit()

    # ------------------------------------------------------------------ metadata
    def set_meta(self, key: str, value: str) -> None:
        with self._con:
            self._con.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, value))

    def get_meta(self, key: str) -> str | None:
        row = self._con.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else row[0]

    def audio_path(self, clip: str) -> Path | None:
        """The clip's recording, when it is on disk: a user clip's copy in `audio/` (added
        with `add-clip --audio`), else BEAT2's `wave16k/<clip>.wav`."""
        own = sorted(self.root.joinpath(AUDIO_DIR).glob(f"{clip}.*"))
        if own:
            return own[0]
        root = self.get_meta("beat2_root")
        if root is None:
            return None
        path = beat2.clip_paths(Path(root), clip).wav
        return path if path.is_file() else None

    def window_start(self, name: str) -> tuple[str, int]:
        row = self._con.execute("SELECT clip, start_frame FROM windows WHERE name = ?",
                                (name,)).fetchone()
        if row is None:
            raise KeyError(f"no window {name!r} in the gesture database")
        return row[0], int(row[1])

    # ------------------------------------------------------------------ lifetime
    def close(self) -> None:
        self._con.close()

    def __enter__(self) -> GestureDatabase:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ queries
    def count(self) -> int:
        """Number of windows stored."""
        return int(self._con.execute("SELECT COUNT(*) FROM windows").fetchone()[0])

    def names(self) -> list[str]:
        rows = self._con.execute("SELECT name FROM windows ORDER BY clip, start_frame")
        return [r[0] for r in rows]

    def clip_status(self) -> dict[str, str]:
        """clip -> 'done' or 'failed: reason'."""
        return dict(self._con.execute("SELECT clip, status FROM clips"))

    def records(
        self, *, with_features: bool = False, clips: Sequence[str] | None = None
    ) -> Iterator[WindowRecord]:
        """Every window as a WindowRecord (metadata only; motion via `window_motion`).

        `with_features` also loads each window's BERT token matrix from its array file (for
        the §5.6 tie-break); `clips` restricts to those clips.
        """
        where, args = "", ()
        if clips is not None:
            clips = list(clips)
            where = f" WHERE w.clip IN ({','.join('?' * len(clips))})"
            args = tuple(clips)
        con = self._con
        rels: dict[str, list[DiscourseRelation]] = {}
        for row in con.execute(
            "SELECT r.window, r.sense, r.connective, r.rel_start, r.rel_end, r.conn_start, "
            f"r.conn_end FROM relations r JOIN windows w ON w.name = r.window{where} "
            "ORDER BY r.window, r.idx",
            args,
        ):
            rels.setdefault(row[0], []).append(DiscourseRelation(*row[1:]))
        labels: dict[str, list[GestureLabel]] = {}
        for row in con.execute(
            "SELECT g.window, g.kind, g.start, g.end_, g.word FROM gesture_labels g "
            f"JOIN windows w ON w.name = g.window{where} ORDER BY g.window, g.idx",
            args,
        ):
            labels.setdefault(row[0], []).append(GestureLabel(*row[1:]))
        proms: dict[str, list[ProminenceRow]] = {}
        for row in con.execute(
            "SELECT p.window, p.word, p.start, p.end_, p.prominence FROM prominence p "
            f"JOIN windows w ON w.name = p.window{where} ORDER BY p.window, p.idx",
            args,
        ):
            proms.setdefault(row[0], []).append(tuple(row[1:]))
        for name, speaker, words_json, has_feat in con.execute(
            f"SELECT w.name, w.speaker, w.words, w.has_features FROM windows w{where} "
            "ORDER BY w.clip, w.start_frame",
            args,
        ).fetchall():
            feats = self.window_features(name) if with_features and has_feat else None
            yield with_prominences(WindowRecord(
                name=name,
                speaker=int(speaker),
                words=[Word(t, s, e) for t, s, e in json.loads(words_json)],
                relations=rels.get(name, []),
                gesture_labels=labels.get(name, []),
                prominence=proms.get(name, []),
                token_features=feats,
            ))

    def record(self, name: str, *, with_features: bool = True) -> WindowRecord:
        clip = self._clip_of(name)
        for rec in self.records(with_features=with_features, clips=[clip]):
            if rec.name == name:
                return rec
        raise KeyError(name)

    def _clip_of(self, name: str) -> str:
        row = self._con.execute("SELECT clip FROM windows WHERE name = ?", (name,)).fetchone()
        if row is None:
            raise KeyError(f"no window named {name!r} in {self.db_file}")
        return row[0]

    def array_path(self, name: str) -> Path:
        """The window's array file (motion, token features); never outside arrays/, whatever
        a name holds."""
        path = self.arrays / f"{name}.npz"
        inside = os.path.normpath(path).startswith(os.path.join(os.path.normpath(self.arrays), ""))
        if not inside:
            raise ValueError(f"the window name {name!r} points outside the database")
        return path

    def window_motion(self, name: str) -> Motion:
        """The 15-fps motion (150 frames) of window `name`."""
        self._clip_of(name)
        with np.load(self.array_path(name), allow_pickle=False) as data:
            return Motion(
                poses=data["poses"],
                trans=data["trans"],
                expressions=data["expressions"],
                fps=float(beat2.FPS),
                betas=data["betas"],
            )

    def window_features(self, name: str) -> np.ndarray | None:
        """The token-level BERT matrix of window `name`, or None when none was stored."""
        with np.load(self.array_path(name), allow_pickle=False) as data:
            return np.array(data["token_features"]) if "token_features" in data.files else None

    # ------------------------------------------------------------------ writing
    def _write_clip(self, clip: str, source: str, windows: list[_Window]) -> None:
        """Arrays first, all together (overwriting leftovers of an interrupted run; a failure
        keeps every earlier array file), then one transaction."""
        with AtomicGroup() as group:
            for w in windows:
                path = self.array_path(w.name)
                path.parent.mkdir(parents=True, exist_ok=True)
                arrays = {
                    "poses": w.motion.poses,
                    "trans": w.motion.trans,
                    "expressions": w.motion.expressions,
                    "betas": w.motion.betas,
                }
                if w.features is not None:
                    arrays["token_features"] = np.asarray(w.features, np.float32)
                with group.write(path) as fh:
                    fh.write(npz_bytes(arrays))
        con = self._con
        with con:
            self._delete_clip_rows(clip)
            for w in windows:
                con.execute(
                    "INSERT INTO windows VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (
                        w.name, clip, w.start_frame, w.speaker,
                        " ".join(x.text for x in w.words),
                        json.dumps([[x.text, x.start, x.end] for x in w.words]),
                        int(w.features is not None),
                    ),
                )
                con.executemany(
                    "INSERT INTO relations VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    [
                        (w.name, i, r.sense, r.connective, r.rel_start, r.rel_end,
                         r.conn_start, r.conn_end)
                        for i, r in enumerate(w.relations)
                    ],
                )
                con.executemany(
                    "INSERT INTO gesture_labels VALUES (?, ?, ?, ?, ?, ?)",
                    [(w.name, i, g.kind, g.start, g.end, g.word) for i, g in enumerate(w.labels)],
                )
                con.executemany(
                    "INSERT INTO prominence VALUES (?, ?, ?, ?, ?, ?)",
                    [(w.name, i, *row) for i, row in enumerate(w.prominence)],
                )
            con.execute(
                "INSERT OR REPLACE INTO clips VALUES (?, ?, 'done', ?)",
                (clip, source, len(windows)),
            )

    def _delete_clip_rows(self, clip: str) -> None:
        con = self._con
        names = [r[0] for r in con.execute("SELECT name FROM windows WHERE clip = ?", (clip,))]
        for table in ("relations", "gesture_labels", "prominence"):
            con.executemany(f"DELETE FROM {table} WHERE window = ?", [(n,) for n in names])
        con.execute("DELETE FROM windows WHERE clip = ?", (clip,))
        con.execute("DELETE FROM clips WHERE clip = ?", (clip,))

    def _mark_failed(self, clip: str, source: str, reason: str) -> None:
        with self._con:
            self._delete_clip_rows(clip)
            self._con.execute(
                "INSERT INTO clips VALUES (?, ?, ?, 0)", (clip, source, f"failed: {reason}")
            )

    def remove_clip(self, clip: str) -> None:
        """Forget a clip (its array files are left for the next build to overwrite)."""
        with self._con:
            self._delete_clip_rows(clip)

    # ------------------------------------------------------------------ BEAT2
    def build(
        self,
        root: str | os.PathLike[str],
        *,
        progress: ProgressFn | None = None,
        should_stop: StopFn | None = None,
        stride: int = beat2.STRIDE,
        token_features: TokenFeatureFn | None = None,
        clips: Sequence[str] | None = None,
    ) -> BuildReport:
        """Add every train + additional clip of the BEAT2 tree `root` not yet marked 'done'.

        One transaction per clip; a clip with a missing or corrupt file is recorded as failed
        (the report names the file) and skipped. `token_features(words)` (window-relative
        words) may return the (n_tokens, 768) BERT matrix stored for the tie-break.
        `progress("build-db", fraction)` is called before the first and after every clip.
        """
        root = Path(root)
        self.set_meta("beat2_root", str(root.resolve()))
        if clips is None:
            clips = beat2.database_clips(root / "train_test_split.csv")
        report = BuildReport()
        status = self.clip_status()
        total = max(len(clips), 1)
        if progress is not None:
            progress("build-db", 0.0)
        for k, clip in enumerate(clips):
            check(should_stop, "database build")
            if status.get(clip) == "done":
                report.skipped.append(clip)
            else:
                try:
                    windows = _beat2_windows(root, clip, stride, token_features)
                except _ClipError as err:
                    failure = ClipFailure(clip, err.path, err.reason)
                    report.failed.append(failure)
                    self._mark_failed(clip, "beat2", err.reason)
                else:
                    self._write_clip(clip, "beat2", windows)
                    report.added.append(clip)
                    report.windows_added += len(windows)
            if progress is not None:
                progress("build-db", (k + 1) / total)
        return report

    # ------------------------------------------------------------------ user clips
    def add_user_clip(
        self,
        motion_npz: str | os.PathLike[str],
        words: Sequence[Word] | str | os.PathLike[str],
        gesture_labels: Sequence[GestureLabel] | None = None,
        *,
        speaker: str | int | None = None,
        name: str | None = None,
        prominence: Sequence[ProminenceRow] | None = None,
        relations: Sequence[DiscourseRelation] | None = None,
        token_features: TokenFeatureFn | None = None,
        stride: int = beat2.STRIDE,
        replace: bool = False,
        audio: str | os.PathLike[str] | None = None,
    ) -> list[str]:
        """Add a studio's own clip; returns its window names.

        `audio` is the clip's recording (any format libsndfile reads): it is checked, then
        copied into the database (`audio/<name><suffix>`) so retrieval can compute the
        clip's wav2vec2 features; without it the clip is inverted with silent audio
        features and every result that uses it says so.
        `words` are timed words in clip seconds, or a transcript file with word timings.
        Labels / prominence rows / relations are in clip seconds too; relations default to the
        local connective tagger run on each window's words. A clip shorter than 10 s becomes
        one window padded with its last frame. The speaker defaults to the one named by the
        file name, else the default speaker.
        """
        motion_npz = Path(motion_npz)
        name = check_clip_name(name or motion_npz.stem)
        exists = self._con.execute("SELECT status FROM clips WHERE clip = ?", (name,)).fetchone()
        if exists is not None and exists[0] == "done" and not replace:
            raise ValueError(f"a clip named {name!r} is already in the database")
        if speaker is None:
            spk = speaker_from_filename(motion_npz) or DEFAULT_SPEAKER
        else:
            spk = resolve_speaker(speaker)
        if isinstance(words, str | os.PathLike):
            from ..speech.transcripts import read_transcript

            words = read_transcript(words).words
        timed = [w for w in words if w.timed]
        if words and not timed:
            raise ValueError("the words have no timings: word-level timing is needed")
        motion = beat2.load_motion_15fps(motion_npz)
        if audio is not None:
            _check_audio(Path(audio), motion.num_frames / beat2.FPS)
        if motion.num_frames < beat2.WINDOW:
            pad = beat2.WINDOW - motion.num_frames
            motion = Motion.concatenate([motion] + [motion.slice(-1, None)] * pad)
        windows = []
        for start in beat2.clip_windows(motion.num_frames, stride=stride):
            lo = start / beat2.FPS
            hi = lo + beat2.WINDOW / beat2.FPS
            w_words = beat2.words_in(timed, lo, hi)
            if relations is None:
                w_rels = tag_connectives(w_words, clip=(0.0, hi - lo))
            else:
                w_rels = relations_in_window(relations, lo, hi)
            windows.append(
                _Window(
                    name=beat2.window_name(name, start),
                    start_frame=start,
                    speaker=spk.index,
                    words=w_words,
                    relations=w_rels,
                    labels=beat2.labels_in(gesture_labels or [], lo, hi),
                    prominence=beat2.prominence_in(prominence or [], lo, hi),
                    motion=motion.slice(start, start + beat2.WINDOW),
                    features=token_features(w_words) if token_features else None,
                )
            )
        self._write_clip(name, "user", windows)
        for old in self.root.joinpath(AUDIO_DIR).glob(f"{name}.*"):
            old.unlink()  # a replaced clip's previous recording
        if audio is not None:
            with open(audio, "rb") as src:
                dst_path = self.root / AUDIO_DIR / f"{name}{Path(audio).suffix}"
                dst_path.parent.mkdir(parents=True, exist_ok=True)
                with atomic_write(dst_path) as dst:
                    shutil.copyfileobj(src, dst)
        return [w.name for w in windows]


def _check_audio(path: Path, seconds: float) -> None:
    """Refuse a recording that cannot be read or is much shorter than the motion."""
    from ..speech.audio import AudioError, load_audio

    try:
        clip = load_audio(path)
    except AudioError as exc:
        raise ValueError(str(exc)) from exc
    if clip.duration < seconds - 1.0:
        raise ValueError(f"the recording {path} lasts {clip.duration:.1f} s but the motion "
                         f"{seconds:.1f} s; pass the clip's own recording")


class _ClipError(Exception):
    def __init__(self, path: str | None, reason: str):
        super().__init__(reason)
        self.path, self.reason = path, reason


def _read(path: Path, reader: Callable, what: str):
    try:
        return reader(path)
    except FileNotFoundError:
        raise _ClipError(str(path), f"missing {what} file {path}") from None
    except (OSError, ValueError, UnicodeDecodeError, KeyError, TypeError) as err:
        msg = str(err)
        if str(path) not in msg:
            msg = f"{path}: {msg}"
        raise _ClipError(str(path), f"corrupt {what} file: {msg}") from None


def _beat2_windows(
    root: Path, clip: str, stride: int, token_features: TokenFeatureFn | None
) -> list[_Window]:
    paths = beat2.clip_paths(root, clip)
    speaker = speaker_from_filename(clip)
    if speaker is None:
        raise _ClipError(None, f"clip id {clip!r} does not name a BEAT2 speaker")
    motion = _read(paths.motion, beat2.load_motion_15fps, "motion")
    discourse = _read(paths.discourse, beat2.read_tokens, "discourse")
    labels = _read(paths.sem, beat2.read_sem, "sem")
    prom = _read(paths.prom, beat2.read_prominence, "prominence")
    windows = []
    for start in beat2.clip_windows(motion.num_frames, stride=stride):
        lo = start / beat2.FPS
        hi = lo + beat2.WINDOW / beat2.FPS
        words = beat2.words_in(discourse.tokens, lo, hi)
        windows.append(
            _Window(
                name=beat2.window_name(clip, start),
                start_frame=start,
                speaker=speaker.index,
                words=words,
                relations=relations_in_window(discourse.relations, lo, hi),
                labels=beat2.labels_in(labels, lo, hi),
                prominence=beat2.prominence_in(prom, lo, hi),
                motion=motion.slice(start, start + beat2.WINDOW),
                features=token_features(words) if token_features else None,
            )
        )
    return windows


def build_from_beat2(
    root: str | os.PathLike[str],
    db_path: str | os.PathLike[str],
    progress: ProgressFn | None = None,
    stride: int = beat2.STRIDE,
    token_features: TokenFeatureFn | None = None,
    *,
    should_stop: StopFn | None = None,
) -> BuildReport:
    """Open (or create) the database at `db_path` and add the BEAT2 train + additional clips."""
    with GestureDatabase(db_path) as db:
        return db.build(
            root,
            progress=progress,
            should_stop=should_stop,
            stride=stride,
            token_features=token_features,
        )
