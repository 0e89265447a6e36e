"""Any request line -> its request class, validated completely before it is queued."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from .control import CancelRequest, PingRequest, ShutdownRequest
from .envelope import PROTOCOL_VERSION, ProtocolError
from .fields import Fields
from .generate import GenerateRequest
from .regenerate import RegenerateRequest

Request = GenerateRequest | RegenerateRequest | CancelRequest | PingRequest | ShutdownRequest

REQUEST_CLASSES: dict[str, type] = {
    cls.type: cls for cls in (GenerateRequest, RegenerateRequest, CancelRequest,
                              ShutdownRequest, PingRequest)
}
REQUEST_TYPES = tuple(REQUEST_CLASSES)
NEEDS_ID = ("generate", "regenerate", "ping")  # the worker echoes it in every event


def parse_request(msg: dict[str, Any], options: Mapping[str, str] | None = None) -> Request:
    """The validated request of a decoded line, or ProtocolError (unknown_type /
    bad_request) whose sentence names the field (or, with `options`, the command-line
    option: see `Fields`)."""
    kind = msg.get("type")
    if not isinstance(kind, str):
        raise ProtocolError("bad_request", "the message has no string 'type'")
    if kind not in REQUEST_CLASSES:
        raise ProtocolError("unknown_type", f"unknown message type '{kind[:40]}'; this worker "
                            f"accepts {', '.join(REQUEST_TYPES)}")
    v = msg.get("v")
    if v is not None and v != PROTOCOL_VERSION:
        raise ProtocolError("bad_request", f"this worker speaks protocol {PROTOCOL_VERSION}, "
                            f"the message says v={json.dumps(v)[:20]}")
    f = Fields(msg, kind, options)
    rid = msg.get("id")
    if rid is not None and not isinstance(rid, str):
        raise f.fail("id", "a string")
    if kind in NEEDS_ID and not rid:
        raise f.fail("id", "a non-empty string")
    return REQUEST_CLASSES[kind].parse(f)
