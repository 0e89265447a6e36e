"""Readers for one BEAT2 clip and its RAG-Gesture annotations (spec §1.1, §5.2, §10).

Layout under the dataset root (`datasets/beat_english_v2.0.0/`):

* `train_test_split.csv`                     - columns id,type (train / additional / test / ...)
* `smplxflame_30/<id>.npz`                   - SMPL-X motion at 30 fps (decimated [::2] to 15)
* `discourse_rels/<id>_whisper_relations.json` - tokens + explicit relations (CoNLL-2016 style)
* `sem/<id>.txt`                             - gesture labels: name, start_time, end_time,
                                               duration, score, keywords
* `prom/<id>.prom`                           - word prominence rows

Every reader raises ValueError (or OSError for a missing file) whose message names the file,
so a database build can report the exact file at fault.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..motion.motion import Motion
from ..speech.prominence import read_prom
from ..speech.words import Word
from .connectives import DiscourseAnnotation, read_discourse_json
from .records import GESTURE_KINDS, GestureLabel, ProminenceRow

FPS = 15  # database / model frame rate
WINDOW = 150  # frames per window (10 s)
STRIDE = 75  # database stride: training stride 5 x stratification interval 15 (spec §5.2)
TRAIN_STRIDE = 5  # the window index in sample names counts steps of this many frames
DATABASE_TYPES = ("train", "additional")


@dataclass(frozen=True)
class ClipPaths:
    """Where the files of one clip live (they may not exist)."""

    clip: str
    motion: Path
    discourse: Path
    sem: Path
    prom: Path
    wav: Path


def clip_paths(root: str | Path, clip: str) -> ClipPaths:
    root = Path(root)
    return ClipPaths(
        clip=clip,
        motion=root / "smplxflame_30" / f"{clip}.npz",
        discourse=root / "discourse_rels" / f"{clip}_whisper_relations.json",
        sem=root / "sem" / f"{clip}.txt",
        prom=root / "prom" / f"{clip}.prom",
        wav=root / "wave16k" / f"{clip}.wav",
    )


# ============================================================================ split


def read_split(path: str | Path) -> list[tuple[str, str]]:
    """(id, type) rows of `train_test_split.csv` in file order; the header names the columns."""
    path = Path(path)
    text = path.read_text(encoding="utf-8-sig")
    rows = list(csv.reader(line for line in text.splitlines() if line.strip()))
    if not rows:
        raise ValueError(f"{path}: empty split file")
    header = [h.strip().lower() for h in rows[0]]
    if "id" not in header or "type" not in header:
        raise ValueError(f"{path}: header must have 'id' and 'type' columns, got {rows[0]}")
    i_id, i_type = header.index("id"), header.index("type")
    out = []
    for lineno, row in enumerate(rows[1:], start=2):
        if len(row) <= max(i_id, i_type):
            raise ValueError(f"{path}:{lineno}: expected columns id,type, got {row}")
        out.append((row[i_id].strip(), row[i_type].strip().lower()))
    return out


def database_clips(path: str | Path, types: Iterable[str] = DATABASE_TYPES) -> list[str]:
    """Clip ids of the split rows whose type is in `types` (train + additional by default)."""
    wanted = {t.lower() for t in types}
    return [clip for clip, kind in read_split(path) if kind in wanted]


# ============================================================================ sem labels


def gesture_kind(name: str) -> str | None:
    """beat / deictic / iconic / metaphoric when the label name contains it, else None."""
    low = name.lower()
    return next((k for k in GESTURE_KINDS if k in low), None)


def _sem_fields(line: str) -> list[str]:
    if "\t" in line:
        return [f.strip() for f in line.split("\t")]
    return [f.strip() for f in line.split(",", 5)]  # keywords may contain commas


def read_sem(path: str | Path) -> list[GestureLabel]:
    """Gesture labels of `sem/<id>.txt` in absolute seconds, beat/deictic/iconic/metaphoric only.

    Columns: name, start_time, end_time, duration, score, keywords (tab- or comma-separated;
    keywords may be empty or missing). A header line is skipped; other labels (nogesture,
    habit, need_cut...) are dropped. Malformed lines raise ValueError naming file and line.
    """
    path = Path(path)
    labels: list[GestureLabel] = []
    first = True
    for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        fields = _sem_fields(line)
        try:
            start, end = float(fields[1]), float(fields[2])
        except (IndexError, ValueError):
            if first and len(fields) >= 3:
                first = False
                continue  # header
            raise ValueError(f"{path}:{lineno}: malformed sem line {line!r}") from None
        first = False
        if len(fields) < 3 or not (math.isfinite(start) and math.isfinite(end)) or end < start:
            raise ValueError(f"{path}:{lineno}: bad time span in sem line {line!r}")
        kind = gesture_kind(fields[0])
        if kind is None:
            continue
        word = fields[5] if len(fields) > 5 else ""
        labels.append(GestureLabel(kind, start, end, word))
    return labels


# ============================================================================ other files


def read_tokens(path: str | Path) -> DiscourseAnnotation:
    """Transcript tokens + explicit relations (absolute seconds) of the discourse JSON."""
    return read_discourse_json(path)


def read_prominence(path: str | Path) -> list[ProminenceRow]:
    """(word, start, end, prominence) rows of a `.prom` file (absolute seconds)."""
    return read_prom(path)


def load_motion_15fps(path: str | Path) -> Motion:
    """`smplxflame_30/<id>.npz` at 15 fps. `Motion.resample` copies frames that fall on source
    frames, so 30 fps becomes exactly the `[::2]` decimation of spec §1.1."""
    return Motion.load_npz(path).resample(FPS)


def clip_windows(clip_len_15fps: int, window: int = WINDOW, stride: int = STRIDE) -> list[int]:
    """Start frames (15 fps) of the database windows of a clip: 0, stride, ... while a whole
    window fits. A clip shorter than one window has none."""
    if window <= 0 or stride <= 0:
        raise ValueError("window and stride must be positive")
    if clip_len_15fps < window:
        return []
    return list(range(0, clip_len_15fps - window + 1, stride))


def window_name(clip: str, start_frame: int) -> str:
    """Official sample name `<clip>/<index>`, the index counting training steps of 5 frames."""
    if start_frame % TRAIN_STRIDE:
        return f"{clip}/f{start_frame}"
    return f"{clip}/{start_frame // TRAIN_STRIDE}"


# ============================================================================ windowing


def _inside(start: float | None, end: float | None, lo: float, hi: float) -> bool:
    return start is not None and end is not None and start >= lo and end <= hi


def words_in(words: Iterable[Word], lo: float, hi: float) -> list[Word]:
    """Words fully inside [lo, hi], shifted to window time."""
    return [
        Word(w.text, w.start - lo, w.end - lo, w.confidence)
        for w in words
        if _inside(w.start, w.end, lo, hi)
    ]


def labels_in(labels: Iterable[GestureLabel], lo: float, hi: float) -> list[GestureLabel]:
    """Gesture labels fully inside [lo, hi], shifted to window time."""
    return [
        GestureLabel(g.kind, g.start - lo, g.end - lo, g.word)
        for g in labels
        if _inside(g.start, g.end, lo, hi)
    ]


def prominence_in(rows: Iterable[ProminenceRow], lo: float, hi: float) -> list[ProminenceRow]:
    """Prominence rows whose word lies fully inside [lo, hi], shifted to window time."""
    return [(w, s - lo, e - lo, p) for w, s, e, p in rows if _inside(s, e, lo, hi)]


def as_float_array(x: np.ndarray | None) -> np.ndarray | None:
    return None if x is None else np.asarray(x, dtype=np.float32)
