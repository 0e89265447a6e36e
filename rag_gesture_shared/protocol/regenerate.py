"""The `regenerate` request: new motion for the frame range [start, end) of a motion file,
keeping the rest, the locked body parts, and blending over a margin on each side."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from ..skeleton import LOCKABLE_PARTS
from .envelope import PROTOCOL_VERSION
from .fields import Fields
from .sampling import Sampling
from .speech import SpeechInput

DEFAULT_MARGIN = 0.5  # seconds blended on each side of the range
MAX_MARGIN = 10.0
MAX_FRAME = 2**31


@dataclass
class RegenerateRequest:
    speech: SpeechInput
    motion: str | os.PathLike[str]  # .npz in the motion_file layout, written by the client
    start: int
    end: int  # exclusive, frames at the motion's own rate
    locks: tuple[str, ...] = ()  # from skeleton.LOCKABLE_PARTS, not all of them
    margin: float = DEFAULT_MARGIN
    sampling: Sampling = field(default_factory=Sampling)
    id: str | None = None

    type: ClassVar[str] = "regenerate"

    def to_message(self) -> dict[str, Any]:
        return {"v": PROTOCOL_VERSION, "type": self.type, "id": self.id,
                **self.speech.to_message(), **self.sampling.to_message(),
                "motion": os.fspath(self.motion), "start": self.start, "end": self.end,
                "locks": list(self.locks), "margin": self.margin}

    @classmethod
    def parse(cls, f: Fields) -> RegenerateRequest:
        speech = SpeechInput.parse(f)
        motion = Path(f.string("motion", required=True)).expanduser()
        for name in ("start", "end"):
            if f.msg.get(name) is None:
                raise f.fail(name, "a frame number")
        start = f.integer("start", 0, 0, MAX_FRAME)
        end = f.integer("end", 1, 1, MAX_FRAME)
        if end <= start:
            raise f.error(f"'end' ({end}) must be after 'start' ({start})")
        locks = f.msg.get("locks") or []
        if not isinstance(locks, list) or any(p not in LOCKABLE_PARTS for p in locks):
            raise f.fail("locks", f"a list of body parts from {list(LOCKABLE_PARTS)}")
        if set(locks) == set(LOCKABLE_PARTS):
            raise f.error("'locks' holds every body part, so there is nothing to regenerate")
        return cls(speech=speech, motion=motion, start=start, end=end,
                   locks=tuple(dict.fromkeys(locks)),
                   margin=f.number("margin", DEFAULT_MARGIN, 0.0, MAX_MARGIN),
                   sampling=Sampling.parse(f), id=f.msg.get("id"))
