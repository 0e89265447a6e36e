"""The requests that steer the worker rather than make motion: cancel, ping, shutdown.

The worker answers them at once, even while a generate or regenerate runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from .envelope import PROTOCOL_VERSION
from .fields import Fields


@dataclass
class CancelRequest:
    """Stop the request with id `target` (running: it ends with a `cancelled` error;
    queued: dropped; unknown or finished: nothing)."""

    target: str
    id: str | None = None

    type: ClassVar[str] = "cancel"

    def to_message(self) -> dict[str, Any]:
        out = {"v": PROTOCOL_VERSION, "type": self.type, "target": self.target}
        return out if self.id is None else {**out, "id": self.id}

    @classmethod
    def parse(cls, f: Fields) -> CancelRequest:
        return cls(target=f.string("target", required=True), id=f.msg.get("id"))


@dataclass
class PingRequest:
    """A liveness check, answered with `pong`."""

    id: str | None = None

    type: ClassVar[str] = "ping"

    def to_message(self) -> dict[str, Any]:
        return {"v": PROTOCOL_VERSION, "type": self.type, "id": self.id}

    @classmethod
    def parse(cls, f: Fields) -> PingRequest:
        return cls(id=f.msg.get("id"))


@dataclass
class ShutdownRequest:
    """Cancel everything, answer `bye` and exit."""

    id: str | None = None

    type: ClassVar[str] = "shutdown"

    def to_message(self) -> dict[str, Any]:
        out = {"v": PROTOCOL_VERSION, "type": self.type}
        return out if self.id is None else {**out, "id": self.id}

    @classmethod
    def parse(cls, f: Fields) -> ShutdownRequest:
        return cls(id=f.msg.get("id"))
