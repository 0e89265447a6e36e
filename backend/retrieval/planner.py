"""Which database clip goes where in a window of new speech (spec §5.3-5.7).

Per 10-s window: query points come from the animator's cues when there are any (they take
priority), else from the local taggers (discourse connectives or gesture-type words) over the
window's timed words; each query point retrieves its best database window; the clips are
placed on the latent token grid in order (a later clip never overlaps an earlier one).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from rag_gesture_shared.protocol.retrieval import CUE_KINDS, METHODS, Cue

from ..speech.words import Word
from .connectives import tag_connectives
from .gesture_types import tag_gesture_words
from .placement import Placement, place
from .records import Bound, Candidate, QueryPoint, WindowRecord
from .scoring import RecordIndex, discourse_queries, gesture_type_queries, retrieve


def parse_cue(text: str) -> Cue:
    """`KIND@SECONDS[:CLIP]` (the command line's and the batch manifest's cue syntax) -> Cue."""
    try:
        kind, rest = text.split("@", 1)
        time_text, _, clip = rest.partition(":")
        if kind not in CUE_KINDS:
            raise ValueError(kind)
        return Cue(kind, time=float(time_text), clip=clip or None)
    except ValueError as exc:
        raise ValueError(f"cannot read the cue {text!r}; write KIND@SECONDS[:CLIP] with KIND "
                         "deictic, iconic or metaphoric, e.g. deictic@3.2") from exc


@dataclass
class PlannedClip:
    query: QueryPoint  # times relative to the window
    candidate: Candidate
    placement: Placement


def _cue_queries(
    cues: Sequence[Cue], words: Sequence[Word], t0: float, length: float
) -> list[tuple[QueryPoint, str | None]]:
    """Cues inside [t0, t0+length) as query points at their word (or a 0.5-s span)."""
    out = []
    for cue in cues:
        span = None
        if cue.word is not None:
            for w in words:
                if (
                    w.timed
                    and w.text.strip(".,!?;:").lower() == cue.word.lower()
                    and (cue.time is None or abs(w.start - cue.time) < 1.0)
                ):
                    span = (w.start, w.end)
                    break
        if span is None and cue.time is not None:
            span = (cue.time, cue.time + 0.5)
        if span is None or not (t0 <= span[0] < t0 + length):
            continue
        text = cue.word or ""
        out.append(
            (QueryPoint("gesture", text, cue.kind, span[0] - t0, span[1] - t0, None), cue.clip)
        )
    return sorted(out, key=lambda qc: qc[0].start)


def query_points(
    method: str,
    words: Sequence[Word],
    prominence: Sequence[tuple[str, float, float, float]] | None = None,
) -> list[QueryPoint]:
    """Tagger query points for window-relative timed words."""
    if method == "discourse":
        return discourse_queries(tag_connectives(words), prominence)
    if method == "gesture_type":
        return gesture_type_queries(tag_gesture_words(words))
    return []


def llm_points(words: Sequence[Word], prominence, warnings: list[str] | None):
    """LLM query points (spec §5.5) when an endpoint is configured, else the local tagger."""
    from .llm import LlmConfig, llm_query_points

    points, notes = llm_query_points(list(words), LlmConfig.from_env(), prominence)
    if warnings is not None:
        warnings.extend(notes)
    return points


def plan_window(
    words: Sequence[Word],
    records: Iterable[WindowRecord] | RecordIndex,
    *,
    method: str,
    speaker: int,
    window_start: float = 0.0,
    window_length: float = 10.0,
    prominence: Sequence[tuple[str, float, float, float]] | None = None,
    cues: Sequence[Cue] = (),
    query_features=None,
    warnings: list[str] | None = None,
) -> list[PlannedClip]:
    """Retrieval plan for one window. `words` are absolute-timed; cues win over taggers."""
    if method not in METHODS:
        raise ValueError(f"unknown retrieval method {method!r}; choose one of {list(METHODS)}")
    index = records if isinstance(records, RecordIndex) else RecordIndex(records)
    records, by_name = index, index.by_name
    rel = [
        Word(w.text, w.start - window_start, w.end - window_start)
        for w in words
        if w.timed and window_start <= w.start and w.end <= window_start + window_length
    ]
    directed = _cue_queries(cues, words, window_start, window_length)
    if directed:
        queries = directed
        search_method = "gesture_type"
    elif method in ("none", "directed"):
        return []
    elif method == "llm":
        queries = [(q, None) for q in llm_points(rel, prominence, warnings)]
        search_method = "llm"
    else:
        queries = [(q, None) for q in query_points(method, rel, prominence)]
        search_method = method
    plans: list[PlannedClip] = []
    prev_end = -1
    for query, wanted in queries:
        if wanted is not None:
            if wanted not in by_name:
                raise ValueError(f"the requested clip {wanted!r} is not in the gesture database")
            rec = by_name[wanted]
            label = next((g for g in rec.gesture_labels if g.kind == query.label), None)
            start, end = (label.start, label.end) if label else (0.0, 1.0)

            cand = Candidate(wanted, float("inf"), Bound(query.text, query.label, start, end))
        else:
            found = retrieve(
                query, records, speaker=speaker, method=search_method, query_features=query_features
            )
            if not found:
                continue
            cand = found[0]
        spot = place(
            query.start,
            query.end,
            cand.bound.start,
            cand.bound.end,
            method=search_method,
            prev_end=prev_end,
        )
        if spot is None:
            continue
        prev_end = spot.query_end
        plans.append(PlannedClip(query, cand, spot))
    return plans
