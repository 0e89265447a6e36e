"""The worker's JSON-lines protocol: version, message validation, events and error codes.

Everything that crosses the process boundary is defined here, apart from the I/O loop
(`server.py`), so the wire format can be read and tested in one place and `docs/protocol.md`
has a single source to follow. Requests are validated completely before they are queued:
a bad field is reported at once, naming the field, instead of failing minutes later.
"""

from __future__ import annotations

import json
import math
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..pipeline.engine import GenerateOptions
from ..pipeline.regenerate import LOCKABLE, RegenerateOptions
from ..pipeline.session import RetrievalOptions, SpeechInput, WeightsMissingError
from ..progress import Cancelled

PROTOCOL_VERSION = 1
CAPABILITIES = ("generate", "regenerate", "cancel", "shutdown", "locks", "takes", "steps",
                "retrieval")
REQUEST_TYPES = ("generate", "regenerate", "cancel", "shutdown", "ping")
LOADING_STAGE = "loading models"

MAX_TAKES = 32
MIN_STEPS, MAX_STEPS = 5, 1000  # the official respacing has five sections
MAX_FPS = 240.0
MAX_MARGIN = 10.0  # seconds

# code -> meaning; docs/protocol.md lists the same table.
ERROR_CODES: dict[str, str] = {
    "bad_message": "the line is not JSON, or not a JSON object",
    "unknown_type": "the message's type is not one this worker knows",
    "bad_request": "a field is missing or invalid (the message names it)",
    "bad_audio": "the audio file is missing, unreadable, empty or silent",
    "bad_transcript": "the transcript is missing, unreadable or has no words",
    "transcript_mismatch": "the transcript does not match the audio (retry with allow_mismatch)",
    "bad_motion": "the motion file of a regenerate request is missing or not SMPL-X",
    "missing_weights": "the RAG-Gesture weights or a speech model are not installed",
    "bad_weights": "the weights exist but cannot be loaded (corrupt, wrong shape, bad config)",
    "out_of_memory": "the device ran out of memory",
    "cancelled": "the request was cancelled; nothing was written",
    "internal": "an unexpected error; the traceback is on the worker's stderr",
}


class ProtocolError(Exception):
    """A message or request that cannot be served; `code` is one of ERROR_CODES."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


# --------------------------------------------------------------------------- events


def encode(event: dict[str, Any]) -> str:
    """One protocol line. ASCII-only JSON, so the client's decoding can never disagree."""
    return json.dumps(event, ensure_ascii=True, allow_nan=False, default=_jsonable) + "\n"


def _jsonable(value: Any) -> Any:
    """numpy scalars/arrays and paths inside `info` become plain JSON values."""
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    return str(value)


def event(type_: str, **fields: Any) -> dict[str, Any]:
    return {"v": PROTOCOL_VERSION, "type": type_, **fields}


def hello(version: str, torch_version: str, device: str, device_note: str, pid: int,
          weights: str | None, results_dir: str) -> dict[str, Any]:
    return event("hello", protocol=PROTOCOL_VERSION, version=version, torch=torch_version,
                 device=device, device_note=device_note, capabilities=list(CAPABILITIES),
                 lockable_parts=list(LOCKABLE), pid=pid, weights=weights,
                 results_dir=results_dir)


def progress(request_id: str, stage: str, fraction: float) -> dict[str, Any]:
    return event("progress", id=request_id, stage=stage, fraction=round(fraction, 4))


def result(request_id: str, files: list[str], info: dict[str, Any]) -> dict[str, Any]:
    return event("result", id=request_id, files=files, info=info)


def error(request_id: str | None, code: str, message: str) -> dict[str, Any]:
    assert code in ERROR_CODES, code
    return event("error", id=request_id, code=code, message=message)


def pong(request_id: str | None) -> dict[str, Any]:
    return event("pong", id=request_id)


def bye(request_id: str | None) -> dict[str, Any]:
    return event("bye", id=request_id)


# --------------------------------------------------------------------------- requests


@dataclass
class Request:
    """A validated request; speech/options/motion are filled for generate and regenerate."""

    id: str | None
    type: str
    target: str | None = None  # cancel
    speech: SpeechInput | None = None
    options: GenerateOptions | None = None
    motion: Path | None = None  # regenerate
    retrieval: RetrievalOptions | None = None  # generate
    start: int = 0
    end: int = 0
    raw: dict[str, Any] = field(default_factory=dict)


def parse_line(line: str | bytes) -> dict[str, Any]:
    """JSON object from one line, or ProtocolError(bad_message)."""
    if isinstance(line, bytes):
        try:
            line = line.decode("utf-8")
        except UnicodeDecodeError:
            raise ProtocolError("bad_message", "the message is not UTF-8 text") from None
    try:
        msg = json.loads(line)
    except json.JSONDecodeError as exc:
        raise ProtocolError("bad_message",
                            f"the message is not valid JSON ({exc.msg} at column "
                            f"{exc.colno})") from None
    if not isinstance(msg, dict):
        raise ProtocolError("bad_message",
                            f"the message must be a JSON object, got {type(msg).__name__}")
    return msg


def message_id(msg: dict[str, Any]) -> str | None:
    """The id to echo in an error about `msg`, when it has a usable one."""
    value = msg.get("id")
    return value if isinstance(value, str) else None


class _Fields:
    """Typed access to a request's fields; every failure names the field and the request."""

    def __init__(self, msg: dict[str, Any], kind: str) -> None:
        self.msg = msg
        rid = message_id(msg)
        self.where = f"{kind} request '{rid}'" if rid else f"{kind} request"

    def fail(self, name: str, want: str) -> ProtocolError:
        got = self.msg.get(name)
        shown = json.dumps(got)[:60] if name in self.msg else "nothing"
        return ProtocolError("bad_request", f"{self.where}: '{name}' must be {want}, got {shown}")

    def has(self, name: str) -> bool:
        return self.msg.get(name) is not None

    def string(self, name: str, required: bool = False) -> str | None:
        value = self.msg.get(name)
        if value is None and not required:
            return None
        if not isinstance(value, str) or not value.strip():
            raise self.fail(name, "a non-empty string")
        return value

    def integer(self, name: str, default: int, lo: int, hi: int) -> int:
        value = self.msg.get(name)
        if value is None:
            return default
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
            raise self.fail(name, f"a whole number from {lo} to {hi}")
        return value

    def number(self, name: str, default: float, lo: float, hi: float,
               lo_open: bool = False) -> float:
        value = self.msg.get(name)
        if value is None:
            return default
        ok = (isinstance(value, int | float) and not isinstance(value, bool)
              and math.isfinite(value) and (value > lo if lo_open else value >= lo)
              and value <= hi)
        if not ok:
            bound = f"above {lo:g}" if lo_open else f"from {lo:g}"
            raise self.fail(name, f"a number {bound} to {hi:g}")
        return float(value)

    def boolean(self, name: str, default: bool = False) -> bool:
        value = self.msg.get(name)
        if value is None:
            return default
        if not isinstance(value, bool):
            raise self.fail(name, "true or false")
        return value

    def timed_list(self, name: str, text_key: str) -> list[dict] | None:
        """[{text_key, start, end}, ...] with finite times, start <= end."""
        value = self.msg.get(name)
        if value is None:
            return None
        want = f'a non-empty list of {{"{text_key}", "start", "end"}} objects'
        if not isinstance(value, list) or not value:
            raise self.fail(name, want)
        out = []
        for i, item in enumerate(value):
            bad = ProtocolError("bad_request", f"{self.where}: '{name}[{i}]' must be an object "
                                f'with a string "{text_key}" and numbers "start" <= "end"')
            if not isinstance(item, dict) or not isinstance(item.get(text_key), str):
                raise bad
            times = [item.get("start"), item.get("end")]
            if not all(isinstance(t, int | float) and not isinstance(t, bool)
                       and math.isfinite(t) for t in times) or times[0] > times[1]:
                raise bad
            out.append({text_key: item[text_key], "start": float(times[0]),
                        "end": float(times[1])})
        return out


def _speech(f: _Fields) -> SpeechInput:
    audio = f.string("audio", required=True)
    given = [k for k in ("transcript", "text", "words", "phrases") if f.has(k)]
    if len(given) > 1:
        raise ProtocolError("bad_request", f"{f.where}: give only one of 'transcript', 'text', "
                            f"'words' or 'phrases', got {', '.join(given)}")
    return SpeechInput(audio=Path(audio).expanduser(), transcript=f.string("transcript"),
                       text=f.string("text"), words=f.timed_list("words", "word"),
                       phrases=f.timed_list("phrases", "text"),
                       allow_mismatch=f.boolean("allow_mismatch"))


def _retrieval(f: _Fields) -> RetrievalOptions | None:
    """`retrieval: {method, database, cues: [{kind, time, clip?}]}` (all optional)."""
    spec = f.msg.get("retrieval")
    if spec is None:
        return None
    if not isinstance(spec, dict):
        raise f.fail("retrieval", "an object {method, database, cues}")
    from ..retrieval.planner import METHODS, Cue

    def bad(name: str, want: str) -> ProtocolError:
        got = json.dumps(spec.get(name.split(".")[0].split("[")[0]))[:60]
        return ProtocolError("bad_request", f"{f.where}: 'retrieval.{name}' must be {want}, "
                             f"got {got}")

    method = spec.get("method", "none")
    if method not in METHODS:
        raise bad("method", f"one of {list(METHODS)}")
    database = spec.get("database")
    if database is not None and not isinstance(database, str):
        raise bad("database", "a folder path")
    cues = []
    for i, c in enumerate(spec.get("cues") or []):
        ok = isinstance(c, dict) and c.get("kind") in ("deictic", "iconic", "metaphoric") \
            and isinstance(c.get("time"), int | float) and (
                c.get("clip") is None or isinstance(c.get("clip"), str))
        if not ok:
            raise bad(f"cues[{i}]", "{kind: deictic|iconic|metaphoric, time: seconds, "
                      "clip?: database window}")
        cues.append(Cue(c["kind"], time=float(c["time"]), word=c.get("word"),
                        clip=c.get("clip")))
    if (method != "none" or cues) and database is None:
        raise bad("database", "the gesture database folder")
    schedule = spec.get("guidance_schedule", RetrievalOptions.guidance_schedule)
    store = spec.get("inversion_store", True)
    if not isinstance(store, bool):
        raise bad("inversion_store", "true or false")
    try:
        return RetrievalOptions(method, Path(database).expanduser() if database else None, cues,
                                schedule, inversion_store=store)
    except ValueError as exc:
        raise ProtocolError("bad_request", f"{f.where}: 'retrieval.guidance_schedule': {exc}") \
            from None


def _common(f: _Fields) -> dict[str, Any]:
    speaker = f.msg.get("speaker")
    if speaker is not None:
        from ..speech.speakers import resolve_speaker

        try:
            resolve_speaker(speaker)
        except ValueError as exc:
            raise ProtocolError("bad_request", f"{f.where}: 'speaker': {exc}") from None
    opts: dict[str, Any] = {
        "seed": f.integer("seed", 0, 0, 2**63 - 1),
        "takes": f.integer("takes", 1, 1, MAX_TAKES),
        "steps": f.integer("steps", GenerateOptions.steps, MIN_STEPS, MAX_STEPS),
    }
    if speaker is not None:
        opts["speaker"] = speaker
    return opts


def parse_request(msg: dict[str, Any]) -> Request:
    """A validated Request, or ProtocolError (unknown_type / bad_request)."""
    kind = msg.get("type")
    if not isinstance(kind, str):
        raise ProtocolError("bad_request", "the message has no string 'type'")
    if kind not in REQUEST_TYPES:
        raise ProtocolError("unknown_type", f"unknown message type '{kind[:40]}'; this worker "
                            f"accepts {', '.join(REQUEST_TYPES)}")
    v = msg.get("v")
    if v is not None and v != PROTOCOL_VERSION:
        raise ProtocolError("bad_request", f"this worker speaks protocol {PROTOCOL_VERSION}, "
                            f"the message says v={json.dumps(v)[:20]}")
    f = _Fields(msg, kind)
    rid = msg.get("id")
    if rid is not None and not isinstance(rid, str):
        raise f.fail("id", "a string")
    if kind in ("generate", "regenerate", "ping") and not rid:
        raise f.fail("id", "a non-empty string")
    req = Request(id=rid, type=kind, raw=msg)
    if kind == "cancel":
        req.target = f.string("target", required=True)
    elif kind == "generate":
        req.speech = _speech(f)
        req.options = GenerateOptions(**_common(f), fps=f.number("fps", 30.0, 0.0, MAX_FPS,
                                                                 lo_open=True))
        req.retrieval = _retrieval(f)
    elif kind == "regenerate":
        req.speech = _speech(f)
        req.motion = Path(f.string("motion", required=True)).expanduser()
        for name in ("start", "end"):
            if msg.get(name) is None:
                raise f.fail(name, "a frame number")
        req.start = f.integer("start", 0, 0, 2**31)
        req.end = f.integer("end", 1, 1, 2**31)
        if req.end <= req.start:
            raise ProtocolError("bad_request", f"{f.where}: 'end' ({req.end}) must be after "
                                f"'start' ({req.start})")
        locks = msg.get("locks") or []
        if not isinstance(locks, list) or any(p not in LOCKABLE for p in locks):
            raise f.fail("locks", f"a list of body parts from {list(LOCKABLE)}")
        if set(locks) == set(LOCKABLE):
            raise ProtocolError("bad_request", f"{f.where}: 'locks' holds every body part, so "
                                "there is nothing to regenerate")
        req.options = RegenerateOptions(**_common(f), locks=tuple(dict.fromkeys(locks)),
                                        margin=f.number("margin", RegenerateOptions.margin,
                                                        0.0, MAX_MARGIN))
    return req


# --------------------------------------------------------------------------- exceptions


def describe_exception(exc: BaseException, device: str = "cpu") -> tuple[str, str, bool]:
    """(code, sentence, log_traceback) for an exception raised while serving a request."""
    import torch

    from ..model.checkpoint import CheckpointError
    from ..model.config import ConfigError
    from ..motion.motion import MotionFormatError
    from ..speech.alignment import AlignmentError
    from ..speech.audio import AudioError
    from ..speech.frontend import SpeechError
    from ..speech.pretrained import ModelMissingError
    from ..speech.transcripts import TranscriptError

    text = str(exc).strip() or type(exc).__name__
    if isinstance(exc, ProtocolError):
        return exc.code, exc.message, False
    if isinstance(exc, Cancelled):
        return "cancelled", "the request was cancelled", False
    oom = isinstance(exc, torch.cuda.OutOfMemoryError | MemoryError) or (
        isinstance(exc, RuntimeError) and ("out of memory" in text.lower()
                                           or "can't allocate memory" in text.lower()))
    if oom:
        hint = "try fewer takes or the CPU" if device != "cpu" else (
            "try fewer takes or a shorter recording")
        return "out_of_memory", f"out of memory on {device}; {hint}", False
    if isinstance(exc, WeightsMissingError):
        if "rag-gesture download" not in text:
            text = text.rstrip(". ") + ", or run `rag-gesture download`."
        return "missing_weights", text, False
    if isinstance(exc, ModelMissingError):
        return "missing_weights", text, False
    if isinstance(exc, CheckpointError | ConfigError):
        return "bad_weights", text, False
    if isinstance(exc, AudioError):
        return "bad_audio", text, False
    if isinstance(exc, AlignmentError):
        return "transcript_mismatch", text, False
    if isinstance(exc, SpeechError):
        code = "transcript_mismatch" if "does not seem to match" in text else "bad_transcript"
        return code, text, False
    if isinstance(exc, TranscriptError):
        return "bad_transcript", text, False
    if isinstance(exc, MotionFormatError):
        return "bad_motion", text, False
    if type(exc) is ValueError:  # the pipeline's own checks of request values (range, locks)
        return "bad_request", text, True
    first = text.splitlines()[0][:200]
    return ("internal", f"the worker failed unexpectedly ({type(exc).__name__}: {first}); "
            "the details are in the worker's log", True)


def format_traceback(exc: BaseException) -> str:
    return "".join(traceback.format_exception(exc))
