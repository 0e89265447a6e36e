"""The backend's side of the wire format: requests -> pipeline options, failures -> codes.

The messages themselves (fields, validation, defaults, events) are
`rag_gesture_shared.protocol`, which the add-on's client builds its requests with too; this
module turns a validated request into what the pipeline takes (`parse_request`) and an
exception raised while serving it into an error code and one sentence
(`describe_exception`). The I/O loop is `server.py`.
"""

from __future__ import annotations

import traceback
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from rag_gesture_shared.protocol.control import CancelRequest
from rag_gesture_shared.protocol.envelope import ProtocolError
from rag_gesture_shared.protocol.events import TRANSCRIPT_MISMATCH_NOTE
from rag_gesture_shared.protocol.fields import Fields
from rag_gesture_shared.protocol.generate import GenerateRequest
from rag_gesture_shared.protocol.regenerate import RegenerateRequest
from rag_gesture_shared.protocol.requests import parse_request as parse_message
from rag_gesture_shared.protocol.retrieval import RetrievalRequest
from rag_gesture_shared.protocol.sampling import Sampling
from rag_gesture_shared.protocol.speech import SpeechInput

from ..pipeline.engine import GenerateOptions
from ..pipeline.regenerate import RegenerateOptions
from ..pipeline.session import RetrievalOptions, WeightsMissingError
from ..progress import Cancelled


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


def _sampling(s: Sampling) -> dict[str, Any]:
    """GenerateOptions fields; an unset speaker keeps the pipeline's default."""
    return {k: v for k, v in asdict(s).items() if v is not None}


def _retrieval(spec: RetrievalRequest | None, f: Fields) -> RetrievalOptions | None:
    if spec is None:
        return None
    try:
        return RetrievalOptions(spec.method, Path(spec.database) if spec.database else None,
                                list(spec.cues), spec.guidance_schedule,
                                inversion_store=spec.inversion_store)
    except ValueError as exc:  # an unknown guidance preset: the message lists them
        raise f.error(f"{f.label('retrieval.guidance_schedule')}: {exc}") from None


def parse_request(msg: dict[str, Any], options: Mapping[str, str] | None = None) -> Request:
    """A validated Request with pipeline options, or ProtocolError (unknown_type /
    bad_request) naming the field (`options`: the command line's names for the fields)."""
    req = parse_message(msg, options)
    out = Request(id=req.id, type=req.type, raw=msg)
    if isinstance(req, CancelRequest):
        out.target = req.target
    elif isinstance(req, GenerateRequest):
        out.speech = req.speech
        out.options = GenerateOptions(**_sampling(req.sampling), fps=req.fps)
        out.retrieval = _retrieval(req.retrieval, Fields(msg, req.type, options))
    elif isinstance(req, RegenerateRequest):
        out.speech, out.motion = req.speech, Path(req.motion)
        out.start, out.end = req.start, req.end
        out.options = RegenerateOptions(**_sampling(req.sampling), locks=req.locks,
                                        margin=req.margin)
    return out


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
        code = "transcript_mismatch" if TRANSCRIPT_MISMATCH_NOTE in text else "bad_transcript"
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
