"""The batch manifest: one dialogue line per row (CSV with a header, or JSON lines).

Every line is checked here, on the machine that runs `rag-gesture batch`, before any model
loads: a missing audio file, an unreadable transcript or an unknown speaker becomes one
`BadLine` (a report row) and the rest of the batch goes on. A manifest that cannot be read
at all (unknown column, not CSV or JSON) stops the batch with one sentence. Paths in the
manifest are relative to the manifest's own folder.
"""

from __future__ import annotations

import csv
import json
import math
import re
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from rag_gesture_shared.protocol.generate import MAX_FPS
from rag_gesture_shared.protocol.sampling import MAX_STEPS, MAX_TAKES, MIN_STEPS

RETRIEVAL_METHODS = ("none", "discourse", "gesture_type", "llm", "directed")
_SEGMENT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


class ManifestError(ValueError):
    """The manifest as a whole cannot be used (the batch does not start)."""


@dataclass(frozen=True)
class LineSpec:
    """One dialogue line, with the command line's defaults filled in and paths resolved."""

    id: str
    audio: Path
    transcript: Path | None = None
    text: str | None = None
    speaker: str = "scott"
    seed: int = 0
    takes: int = 1
    steps: int = 50
    fps: float = 30.0
    retrieval: str = "none"
    db: Path | None = None
    cues: tuple[str, ...] = ()
    allow_mismatch: bool = False
    guidance_schedule: str = "decreasing_till_25"
    row: int = 0  # 1-based data row in the manifest, for messages

    def options(self) -> dict[str, Any]:
        """Everything besides the input files that changes the motion (for fingerprints)."""
        return {"speaker": self.speaker, "seed": self.seed, "takes": self.takes,
                "steps": self.steps, "fps": self.fps, "retrieval": self.retrieval,
                "db": str(self.db) if self.db else None, "cues": list(self.cues),
                "allow_mismatch": self.allow_mismatch,
                "guidance_schedule": self.guidance_schedule, "text": self.text}


@dataclass(frozen=True)
class BadLine:
    """A row that cannot run; becomes one `failed` report row."""

    id: str
    error: str
    row: int


# Columns a manifest may have; `cue` is accepted for `cues`.
COLUMNS = tuple(f.name for f in fields(LineSpec) if f.name != "row")
_ALIASES = {"cue": "cues", "words": "text"}


@dataclass
class Manifest:
    path: Path
    lines: list[LineSpec] = field(default_factory=list)
    bad: list[BadLine] = field(default_factory=list)


def read_rows(path: Path) -> list[dict[str, Any]]:
    """Raw rows (dicts) of a CSV or JSON-lines manifest; ManifestError when unreadable."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise ManifestError(f"the manifest {path} does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ManifestError(f"cannot read the manifest {path}: {exc}") from None
    if not text.strip():
        raise ManifestError(f"the manifest {path} is empty")
    if path.suffix.lower() in (".jsonl", ".ndjson", ".json") or text.lstrip().startswith("{"):
        rows = []
        for n, line in enumerate(text.splitlines(), 1):
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ManifestError(f"{path}, line {n} is not valid JSON ({exc.msg}); each "
                                    "line of a JSON-lines manifest is one object") from None
            if not isinstance(row, dict):
                raise ManifestError(f"{path}, line {n} is not a JSON object")
            rows.append(row)
        return rows
    reader = csv.DictReader(line for line in text.splitlines() if not line.startswith("#"))
    if not reader.fieldnames:
        raise ManifestError(f"the manifest {path} has no header row")
    rows = []
    for row in reader:
        if None in row:
            raise ManifestError(f"{path}, row {reader.line_num - 1} has more cells than the "
                                "header; quote cells that contain commas")
        rows.append({k.strip(): v for k, v in row.items()})
    return rows


def _check_columns(rows: list[dict[str, Any]], path: Path) -> None:
    known = set(COLUMNS) | set(_ALIASES)
    unknown = sorted({k for row in rows for k in row} - known)
    if unknown:
        raise ManifestError(f"{path} has unknown column(s) {', '.join(unknown)}; the columns "
                            f"are {', '.join(COLUMNS)}")
    if not any("audio" in row for row in rows):
        raise ManifestError(f"{path} has no 'audio' column")


def _blank(v: Any) -> bool:
    return v is None or (isinstance(v, str) and not v.strip())


def _as_bool(v: Any) -> bool:
    if isinstance(v, bool):
        return v
    s = str(v).strip().lower()
    if s in ("1", "true", "yes", "y"):
        return True
    if s in ("0", "false", "no", "n"):
        return False
    raise ValueError(f"allow_mismatch must be true or false, not {v!r}")


def _as_int(name: str, v: Any, lo: int, hi: int) -> int:
    try:
        f = float(v)
        if not f.is_integer():
            raise ValueError
        i = int(f)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a whole number, not {v!r}") from None
    if not lo <= i <= hi:
        raise ValueError(f"{name} must be between {lo} and {hi}, not {i}")
    return i


def _as_cues(v: Any) -> tuple[str, ...]:
    items = v if isinstance(v, list) else re.split(r"[;\s]+", str(v))
    return tuple(str(c).strip() for c in items if str(c).strip())


def check_id(line_id: str) -> str:
    """Ids become file names: `ep01/line_042` is fine, `../x` or `a b` are not."""
    parts = line_id.split("/")
    if not line_id or not all(_SEGMENT.match(p) and p not in (".", "..") for p in parts):
        raise ValueError(f"the id {line_id!r} cannot be a file name; use letters, digits, "
                         "'.', '_', '-' (and '/' for sub-folders)")
    return line_id


def build_line(raw: dict[str, Any], defaults: LineSpec, base: Path, row: int) -> LineSpec:
    """One raw row -> LineSpec with defaults and resolved paths; ValueError names the problem."""
    cells = {_ALIASES.get(k, k): v for k, v in raw.items() if not _blank(v)}
    if "audio" not in cells:
        raise ValueError("the row has no audio file")
    audio = base / str(cells["audio"]).strip()
    line_id = str(cells.get("id", "")).strip() or Path(str(cells["audio"])).stem
    check_id(line_id)
    if "transcript" in cells and "text" in cells:
        raise ValueError("give either a transcript file or text, not both")
    speaker = str(cells.get("speaker", defaults.speaker)).strip()
    fps = cells.get("fps", defaults.fps)
    try:
        fps = float(fps)
    except (TypeError, ValueError):
        raise ValueError(f"fps must be a number, not {fps!r}") from None
    if not (math.isfinite(fps) and 0 < fps <= MAX_FPS):
        raise ValueError(f"fps must be above 0 and at most {MAX_FPS:g}, not {fps:g}")
    retrieval = str(cells.get("retrieval", defaults.retrieval)).strip()
    if retrieval not in RETRIEVAL_METHODS:
        raise ValueError(f"retrieval must be one of {', '.join(RETRIEVAL_METHODS)}, "
                         f"not {retrieval!r}")
    db = base / str(cells["db"]).strip() if "db" in cells else defaults.db
    return replace(
        defaults, id=line_id, audio=audio, row=row,
        transcript=base / str(cells["transcript"]).strip() if "transcript" in cells else None,
        text=str(cells["text"]) if "text" in cells else None,
        speaker=speaker,
        seed=_as_int("seed", cells.get("seed", defaults.seed), -(2**63), 2**63 - 1),
        takes=_as_int("takes", cells.get("takes", defaults.takes), 1, MAX_TAKES),
        steps=_as_int("steps", cells.get("steps", defaults.steps), MIN_STEPS, MAX_STEPS),
        fps=fps, retrieval=retrieval, db=db,
        cues=_as_cues(cells["cues"]) if "cues" in cells else defaults.cues,
        allow_mismatch=_as_bool(cells.get("allow_mismatch", defaults.allow_mismatch)),
        guidance_schedule=str(cells.get("guidance_schedule", defaults.guidance_schedule)),
    )


def check_inputs(line: LineSpec) -> None:
    """Everything about a line that can be checked without the models; ValueError if bad."""
    import soundfile as sf

    from rag_gesture_shared.speakers import resolve_speaker

    from ..diffusion.guidance_schedules import guidance_iters
    from ..retrieval.planner import parse_cue
    from ..speech.transcripts import read_transcript

    if not line.audio.is_file():
        raise ValueError(f"the audio file {line.audio} does not exist")
    try:
        info = sf.info(str(line.audio))
    except (RuntimeError, sf.LibsndfileError) as exc:
        raise ValueError(f"cannot read the audio file {line.audio} ({exc})") from None
    if info.frames == 0:
        raise ValueError(f"the audio file {line.audio} is empty")
    if line.transcript is not None:
        if not line.transcript.is_file():
            raise ValueError(f"the transcript {line.transcript} does not exist")
        try:
            read_transcript(line.transcript)
        except Exception as exc:  # TranscriptError and decoding problems alike
            raise ValueError(f"cannot read the transcript {line.transcript}: {exc}") from None
    if line.text is not None and not line.text.split():
        raise ValueError("the text has no words")
    resolve_speaker(line.speaker)
    guidance_iters(line.guidance_schedule)
    for cue in line.cues:
        parse_cue(cue)
    if (line.retrieval != "none" or line.cues) and line.db is None:
        raise ValueError("retrieval and cues need a gesture database (db column or --db)")
    if line.db is not None and not ((line.db / "db.sqlite").is_file() or line.db.is_file()):
        raise ValueError(f"no gesture database at {line.db}; build one with "
                         "`rag-gesture build-db`")


def load_manifest(path: str | Path, defaults: LineSpec) -> Manifest:
    """Read, build and check every line; bad rows are collected, not raised."""
    path = Path(path)
    rows = read_rows(path)
    _check_columns(rows, path)
    out = Manifest(path)
    seen: dict[str, int] = {}
    outputs: dict[str, str] = {}
    for n, raw in enumerate(rows, 1):
        fallback = str(raw.get("id") or "").strip() or f"row {n}"
        try:
            line = build_line(raw, defaults, path.parent, n)
        except ValueError as exc:
            out.bad.append(BadLine(fallback, str(exc), n))
            continue
        if line.id in seen:
            out.bad.append(BadLine(line.id, f"the id {line.id!r} is already used by row "
                                   f"{seen[line.id]}", n))
            continue
        clash = next((outputs[s] for s in output_stems(line) if s in outputs), None)
        if clash is not None:
            out.bad.append(BadLine(line.id, f"the outputs of {line.id!r} would overwrite "
                                   f"those of {clash!r}; rename one of them", n))
            continue
        try:
            check_inputs(line)
        except ValueError as exc:
            out.bad.append(BadLine(line.id, str(exc), n))
            continue
        seen[line.id] = n
        outputs.update(dict.fromkeys(output_stems(line), line.id))
        out.lines.append(line)
    return out


def output_stems(line: LineSpec) -> list[str]:
    """File stems (relative, no suffix) of a line's takes: `ID`, `ID_take2`, ..."""
    from ..motion.takes import take_path

    return [take_path(Path(f"{line.id}.npz"), k).as_posix()[:-4] for k in range(line.takes)]
