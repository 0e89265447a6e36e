"""The per-window retrieval plan: taggers or cues -> query points -> search -> placement."""

from __future__ import annotations

import pytest

from backend.retrieval.planner import plan_window
from backend.retrieval.records import DiscourseRelation, GestureLabel, WindowRecord
from backend.speech.words import Word
from rag_gesture_shared.protocol.retrieval import Cue


def timed(text: str, start: float, step: float = 0.4) -> list[Word]:
    return [Word(t, start + i * step, start + i * step + 0.35) for i, t in enumerate(text.split())]


DB = [
    WindowRecord("2_scott_0_1_1/0", 1, relations=[DiscourseRelation(
        "Contingency.Cause.Reason", "because", 1.0, 4.0, 2.0, 2.4)],
        gesture_labels=[GestureLabel("iconic", 3.0, 4.5, "circle")]),
    WindowRecord("4_lawrence_0_2_2/15", 3, relations=[DiscourseRelation(
        "Comparison.Contrast", "but", 5.0, 8.0, 6.0, 6.3)],
        gesture_labels=[GestureLabel("deictic", 1.0, 1.6, "there")]),
]


def test_discourse_plan_places_the_matching_clip():
    words = timed("we stayed home because it was raining outside", 20.0)
    plans = plan_window(words, DB, method="discourse", speaker=1, window_start=18.0)
    assert len(plans) == 1
    p = plans[0]
    assert p.query.text == "because" and p.query.label == "Contingency.Cause.Reason"
    assert p.query.start == pytest.approx(20.0 + 3 * 0.4 - 18.0)
    assert p.candidate.name == "2_scott_0_1_1/0"
    qmid = int(15 * p.query.start + 15 * p.query.end) // 2 // 15
    assert p.placement.query_start <= qmid < p.placement.query_end + 1


def test_gesture_type_plan_and_cues_win():
    words = timed("look over there at that big circle", 0.0)
    plans = plan_window(words, DB, method="gesture_type", speaker=1)
    kinds = {p.query.label: p.candidate.name for p in plans}
    assert kinds.get("deictic") == "4_lawrence_0_2_2/15"
    # an animator's cue replaces the taggers and may name the clip
    cued = plan_window(words, DB, method="gesture_type", speaker=1,
                       cues=[Cue("iconic", word="circle", clip="2_scott_0_1_1/0")])
    assert [(p.query.text, p.candidate.name) for p in cued] == [("circle", "2_scott_0_1_1/0")]
    assert plan_window(words, DB, method="none", speaker=1) == []
    with pytest.raises(ValueError, match="not in the gesture database"):
        plan_window(words, DB, method="directed", speaker=1, cues=[Cue("iconic", 1.0, None, "x")])
    with pytest.raises(ValueError, match="unknown retrieval method"):
        plan_window(words, DB, method="llm?", speaker=1)


def test_cues_outside_the_window_are_ignored():
    words = timed("look over there", 30.0)
    assert plan_window(words, DB, method="directed", speaker=1, window_start=0.0,
                       cues=[Cue("deictic", time=30.5)]) == []


def test_llm_method_without_endpoint_uses_the_local_tagger(monkeypatch):
    monkeypatch.delenv("RAG_GESTURE_LLM_URL", raising=False)
    words = timed("look over there at that big circle", 0.0)
    notes: list[str] = []
    llm = plan_window(words, DB, method="llm", speaker=1, warnings=notes)
    local = plan_window(words, DB, method="gesture_type", speaker=1)
    assert [p.candidate.name for p in llm] and notes == []
    assert {p.query.label for p in llm} == {p.query.label for p in local}
