"""What every protocol line is: one JSON object with ``v`` and ``type``, ASCII-only.

Also the error codes (docs/protocol.md lists the same table) and `ProtocolError`, which
carries one of them with a sentence for the user.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

PROTOCOL_VERSION = 1

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


def encode_line(message: dict[str, Any]) -> str:
    """One protocol line. ASCII-only JSON, so the other side's decoding can never disagree;
    NaN and infinity are refused (ValueError): JSON has no such numbers."""
    return json.dumps(message, ensure_ascii=True, allow_nan=False, default=_jsonable) + "\n"


def _jsonable(value: Any) -> Any:
    """numpy scalars/arrays and paths inside `info` become plain JSON values."""
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    return str(value)


def decode_line(line: str | bytes) -> dict[str, Any]:
    """The JSON object of one line, or ProtocolError(bad_message)."""
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
