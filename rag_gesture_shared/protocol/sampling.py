"""The sampling fields generate and regenerate share: speaker, seed, takes and steps."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..speakers import resolve_speaker
from .fields import Fields

OFFICIAL_STEPS = 50  # DDIM steps of the released schedule ("15,15,8,6,6")
MIN_STEPS, MAX_STEPS = 5, 1000  # the official respacing has five sections
MAX_TAKES = 32
MAX_SEED = 2**63 - 1


@dataclass
class Sampling:
    """How to sample: speaker style (None: the model's default), seed, takes, DDIM steps."""

    speaker: str | int | None = None
    seed: int = 0
    takes: int = 1
    steps: int = OFFICIAL_STEPS

    def to_message(self) -> dict[str, Any]:
        out: dict[str, Any] = {"seed": self.seed, "takes": self.takes, "steps": self.steps}
        if self.speaker is not None:
            out["speaker"] = self.speaker
        return out

    @classmethod
    def parse(cls, f: Fields) -> Sampling:
        speaker = f.msg.get("speaker")
        if speaker is not None:
            try:
                resolve_speaker(speaker)
            except ValueError as exc:
                raise f.error(f"{f.label('speaker')}: {exc}") from None
        return cls(speaker=speaker, seed=f.integer("seed", 0, 0, MAX_SEED),
                   takes=f.integer("takes", 1, 1, MAX_TAKES),
                   steps=f.integer("steps", OFFICIAL_STEPS, MIN_STEPS, MAX_STEPS))
