"""The `retrieval` object of a generate request: method, gesture database and cues.

`Cue` is also what the backend's planner consumes: an animator's request for a gesture kind
at a time (or word), optionally naming the database clip to plant.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from typing import Any

from .fields import Fields, is_number

METHODS = ("none", "discourse", "gesture_type", "llm", "directed")
CUE_KINDS = ("deictic", "iconic", "metaphoric")
# Official insertion-guidance preset. Accepted and reported for comparison with the
# reference; its gradient loop has no effect on the output (docs/fidelity.md).
DEFAULT_GUIDANCE_SCHEDULE = "decreasing_till_25"


@dataclass(frozen=True)
class Cue:
    """An animator's request: a gesture type at a word or a time (seconds of audio time),
    optionally a specific database clip."""

    kind: str  # deictic / iconic / metaphoric
    time: float | None = None
    word: str | None = None
    clip: str | None = None

    def to_message(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": self.kind, "time": self.time}
        if self.word is not None:
            out["word"] = self.word
        if self.clip is not None:
            out["clip"] = self.clip
        return out


@dataclass
class RetrievalRequest:
    """Retrieval-augmented generation: `method` picks where gestures are planted, `cues`
    (timeline markers, annotated text strips) always apply; both need `database`."""

    method: str = "none"
    database: str | os.PathLike[str] | None = None
    cues: list[Cue] = field(default_factory=list)
    guidance_schedule: str = DEFAULT_GUIDANCE_SCHEDULE
    # Keep DDIM inversions of database windows in `<database>/inversions/` for later runs.
    inversion_store: bool = True

    def to_message(self) -> dict[str, Any]:
        return {"method": self.method,
                "database": None if self.database is None else os.fspath(self.database),
                "cues": [c.to_message() for c in self.cues],
                "guidance_schedule": self.guidance_schedule,
                "inversion_store": self.inversion_store}

    @classmethod
    def parse(cls, f: Fields) -> RetrievalRequest | None:
        """`retrieval: {method, database, cues: [{kind, time, word?, clip?}]}` (all optional);
        None when the request has no `retrieval`."""
        spec = f.msg.get("retrieval")
        if spec is None:
            return None
        if not isinstance(spec, dict):
            raise f.fail("retrieval", "an object {method, database, cues}")

        def bad(name: str, want: str) -> Exception:
            got = json.dumps(spec.get(name.split(".")[0].split("[")[0]))[:60]
            return f.error(f"{f.label('retrieval.' + name)} must be {want}, got {got}")

        method = spec.get("method", "none")
        if method not in METHODS:
            raise bad("method", f"one of {list(METHODS)}")
        database = spec.get("database")
        if database is not None and not isinstance(database, str):
            raise bad("database", "a folder path")
        cues = []
        for i, c in enumerate(spec.get("cues") or []):
            ok = (isinstance(c, dict) and c.get("kind") in CUE_KINDS and is_number(c.get("time"))
                  and all(c.get(k) is None or isinstance(c.get(k), str) for k in ("word", "clip")))
            if not ok:
                raise bad(f"cues[{i}]", "{kind: deictic|iconic|metaphoric, time: seconds, "
                          "word?: text, clip?: database window}")
            cues.append(Cue(c["kind"], time=float(c["time"]), word=c.get("word"),
                            clip=c.get("clip")))
        if (method != "none" or cues) and database is None:
            raise bad("database", "the gesture database folder")
        schedule = spec.get("guidance_schedule", DEFAULT_GUIDANCE_SCHEDULE)
        if not isinstance(schedule, str):
            raise bad("guidance_schedule", "the name of a guidance preset")
        store = spec.get("inversion_store", True)
        if not isinstance(store, bool):
            raise bad("inversion_store", "true or false")
        return cls(method, os.path.expanduser(database) if database else None, cues, schedule,
                   inversion_store=store)
