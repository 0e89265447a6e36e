"""The `generate` request: new motion for a whole dialogue line, one file per take."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

from .envelope import PROTOCOL_VERSION
from .fields import Fields
from .retrieval import RetrievalRequest
from .sampling import Sampling
from .speech import SpeechInput

DEFAULT_FPS = 30.0  # the model's native output rate
MAX_FPS = 240.0


@dataclass
class GenerateRequest:
    speech: SpeechInput
    sampling: Sampling = field(default_factory=Sampling)
    fps: float = DEFAULT_FPS  # frame rate of the returned motion
    retrieval: RetrievalRequest | None = None
    id: str | None = None

    type: ClassVar[str] = "generate"

    def to_message(self) -> dict[str, Any]:
        out: dict[str, Any] = {"v": PROTOCOL_VERSION, "type": self.type, "id": self.id,
                               **self.speech.to_message(), **self.sampling.to_message(),
                               "fps": self.fps}
        if self.retrieval is not None:
            out["retrieval"] = self.retrieval.to_message()
        return out

    @classmethod
    def parse(cls, f: Fields) -> GenerateRequest:
        return cls(speech=SpeechInput.parse(f), sampling=Sampling.parse(f),
                   fps=f.number("fps", DEFAULT_FPS, 0.0, MAX_FPS, lo_open=True),
                   retrieval=RetrievalRequest.parse(f), id=f.msg.get("id"))
