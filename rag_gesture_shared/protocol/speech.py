"""The speech of a generate or regenerate request: the audio file and where the words are.

At most one source of words: a transcript file, typed text, timed words or timed phrases
(Blender text strips); with none, the worker recognises the words from the audio.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .fields import Fields

WORD_SOURCES = ("transcript", "text", "words", "phrases")


@dataclass
class SpeechInput:
    """Where the words come from: a transcript file, typed text, timed words or phrases."""

    audio: str | os.PathLike[str]
    transcript: str | os.PathLike[str] | None = None
    text: str | None = None
    words: list[dict] | None = None  # [{word, start, end}] seconds of audio time
    phrases: list[dict] | None = None  # [{text, start, end}] e.g. Blender text strips
    allow_mismatch: bool = False

    def to_message(self) -> dict[str, Any]:
        """The request fields (unset word sources are left out)."""
        out: dict[str, Any] = {"audio": os.fspath(self.audio)}
        if self.transcript is not None:
            out["transcript"] = os.fspath(self.transcript)
        if self.text is not None:
            out["text"] = self.text
        if self.words is not None:
            out["words"] = [dict(w) for w in self.words]
        if self.phrases is not None:
            out["phrases"] = [dict(p) for p in self.phrases]
        if self.allow_mismatch:
            out["allow_mismatch"] = True
        return out

    @classmethod
    def parse(cls, f: Fields) -> SpeechInput:
        audio = f.string("audio", required=True)
        given = [k for k in WORD_SOURCES if f.has(k)]
        if len(given) > 1:
            raise f.error(f"give only one of 'transcript', 'text', 'words' or 'phrases', got "
                          f"{', '.join(given)}")
        return cls(audio=Path(audio).expanduser(), transcript=f.string("transcript"),
                   text=f.string("text"), words=f.timed_list("words", "word"),
                   phrases=f.timed_list("phrases", "text"),
                   allow_mismatch=f.boolean("allow_mismatch"))
