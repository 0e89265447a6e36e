"""Plain data carried by the retrieval stage (spec §5.2-§5.5).

All times are seconds relative to the start of the 10-s window they belong to, as in the
official database (annotations are shifted by the window start when windows are cut).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, NamedTuple

import numpy as np

from rag_gesture_shared.protocol.retrieval import CUE_KINDS

from ..speech.words import Word

SEMANTIC_KINDS = CUE_KINDS  # the kinds retrieval keys on (and an animator's cue asks for)
GESTURE_KINDS = ("beat", *SEMANTIC_KINDS)
QueryKind = Literal["discourse", "gesture"]

ProminenceRow = tuple[str, float, float, float]  # (word, start, end, prominence), `.prom` order


@dataclass(frozen=True)
class DiscourseRelation:
    """One explicit PDTB-style relation: its sense, connective text and time spans.

    `connective` is the raw text as spoken (case kept): the official scorer compares it
    case-sensitively. `rel_*` spans the connective and both arguments, `conn_*` the connective.
    """

    sense: str
    connective: str
    rel_start: float
    rel_end: float
    conn_start: float
    conn_end: float


@dataclass(frozen=True)
class GestureLabel:
    """A gesture annotation (BEAT `sem` label, local tagger or LLM output): kind + word + span."""

    kind: str
    start: float
    end: float
    word: str

    def __post_init__(self) -> None:
        if self.kind not in GESTURE_KINDS:
            raise ValueError(f"gesture kind must be one of {GESTURE_KINDS}, got {self.kind!r}")


@dataclass
class WindowRecord:
    """Everything the database keeps about one 10-s window (no motion: that is loaded by name).

    `token_features` is the (n_tokens, 768) BERT matrix of the window transcript (sum of the
    last four layers, incl. [CLS]/[SEP]) used for the tie-break of §5.6; None when unknown.
    `relation_prominence` / `label_prominence` may hold precomputed per-relation / per-label
    prominence (None entries allowed); when left None, scoring derives them from `prominence`
    with the official word matching (`prominence_map.phrase_prominence`).
    """

    name: str
    speaker: int
    words: list[Word] = field(default_factory=list)
    relations: list[DiscourseRelation] = field(default_factory=list)
    gesture_labels: list[GestureLabel] = field(default_factory=list)
    prominence: list[ProminenceRow] = field(default_factory=list)
    token_features: np.ndarray | None = None
    relation_prominence: list[float | None] | None = None
    label_prominence: list[float | None] | None = None

    def __post_init__(self) -> None:
        if self.token_features is not None:
            feats = np.asarray(self.token_features)
            if feats.ndim != 2:
                raise ValueError(f"{self.name}: token_features must be 2-D, got {feats.shape}")
            self.token_features = feats
        for attr, items in (("relation", self.relations), ("label", self.gesture_labels)):
            given = getattr(self, f"{attr}_prominence")
            if given is not None and len(given) != len(items):
                raise ValueError(
                    f"{self.name}: {attr}_prominence has {len(given)} entries for "
                    f"{len(items)} items"
                )

    @property
    def transcript(self) -> str:
        """The window's words joined by single spaces (the LLM prompt text)."""
        return " ".join(w.text for w in self.words)


@dataclass(frozen=True)
class QueryPoint:
    """One thing to retrieve a gesture for, found in the query window.

    kind 'discourse': `text` = connective raw text, `label` = PDTB sense.
    kind 'gesture':   `text` = word/phrase, `label` = deictic | iconic | metaphoric.
    `start`/`end` time the connective or word(s); `prominence` is their prosodic prominence
    (None when it could not be matched; the prominence term is then skipped).
    """

    kind: QueryKind
    text: str
    label: str
    start: float
    end: float
    prominence: float | None = None

    def __post_init__(self) -> None:
        if self.kind not in ("discourse", "gesture"):
            raise ValueError(f"query kind must be 'discourse' or 'gesture', got {self.kind!r}")


class Bound(NamedTuple):
    """The DB item a candidate window was chosen for: (text, sense or type, start, end)."""

    text: str
    label: str
    start: float
    end: float


@dataclass(frozen=True)
class Candidate:
    """A scored database window and the relation/label inside it that the score refers to."""

    name: str
    score: float
    bound: Bound
