"""Words and phrases with optional timings: the common currency of the speech front end."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Word:
    """One spoken word. Times in seconds from the start of the audio; None = not yet timed.

    `confidence` (0..1) is set by forced alignment: the mean posterior of the word's
    characters along the best path.
    """

    text: str
    start: float | None = None
    end: float | None = None
    confidence: float | None = None
    where: str | None = field(default=None, compare=False)  # e.g. "line 12", for messages

    @property
    def timed(self) -> bool:
        return self.start is not None and self.end is not None


@dataclass
class Phrase:
    """A stretch of words that share one timing span (a subtitle cue, a text strip)."""

    words: list[Word]
    start: float | None = None
    end: float | None = None
    where: str | None = field(default=None, compare=False)  # e.g. "line 12", for messages

    @property
    def text(self) -> str:
        return " ".join(w.text for w in self.words)


@dataclass
class Transcript:
    """Phrases in order. Word-level timings may be present (TextGrid, JSON) or not."""

    phrases: list[Phrase] = field(default_factory=list)
    source: str = "<text>"

    @property
    def words(self) -> list[Word]:
        return [w for p in self.phrases for w in p.words]

    @property
    def word_timed(self) -> bool:
        words = self.words
        return bool(words) and all(w.timed for w in words)

    @property
    def phrase_timed(self) -> bool:
        """Every phrase has a time span (subtitle cues, text strips): align inside each."""
        return all(p.start is not None and p.end is not None for p in self.phrases)

    @property
    def text(self) -> str:
        return " ".join(p.text for p in self.phrases)
