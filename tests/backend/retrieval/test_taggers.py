"""Connective tagger + official discourse JSON reader, gesture tagger, LLM prompt/parser and
the matching of LLM words to timed tokens."""

from __future__ import annotations

import json

import pytest

from backend.retrieval.connectives import (
    CONLL_SENSES,
    CONNECTIVE_SENSES,
    find_connectives,
    parse_discourse_json,
    read_discourse_json,
    relations_in_window,
    tag_connectives,
    top_level,
)
from backend.retrieval.gesture_types import (
    SYSTEM_PROMPT,
    chat_messages,
    match_query_words,
    parse_llm_answer,
    tag_gesture_words,
    user_prompt,
)
from backend.retrieval.records import DiscourseRelation, GestureLabel, QueryPoint
from backend.speech.words import Word


def timed(text: str, step: float = 0.5, dur: float = 0.4) -> list[Word]:
    """Words of `text` (split on spaces, punctuation kept) at i*step .. i*step + dur."""
    return [
        Word(t, round(i * step, 3), round(i * step + dur, 3)) for i, t in enumerate(text.split())
    ]


def conns(words: list[Word]) -> list[tuple[str, str]]:
    return [(r.connective, r.sense) for r in tag_connectives(words)]


# ============================================================================ connectives


def test_top_level():
    assert top_level("Contingency.Cause.Reason") == "Contingency"
    assert top_level("Expansion.Alternative.Chosen alternative") == "Expansion"
    assert top_level("EntRel") == "EntRel"


def test_lexicon_uses_conll_senses():
    assert set(CONNECTIVE_SENSES.values()) <= set(CONLL_SENSES)
    assert CONNECTIVE_SENSES["because"] == "Contingency.Cause.Reason"
    assert CONNECTIVE_SENSES["so"] == "Contingency.Cause.Result"
    assert CONNECTIVE_SENSES["however"] == "Comparison.Contrast"
    assert CONNECTIVE_SENSES["although"] == "Comparison.Concession"
    assert CONNECTIVE_SENSES["if"] == "Contingency.Condition"
    assert CONNECTIVE_SENSES["when"] == "Temporal.Synchrony"
    assert CONNECTIVE_SENSES["before"] == "Temporal.Asynchronous.Precedence"
    assert CONNECTIVE_SENSES["after"] == "Temporal.Asynchronous.Succession"
    assert CONNECTIVE_SENSES["for example"] == "Expansion.Instantiation"
    assert CONNECTIVE_SENSES["instead"] == "Expansion.Alternative.Chosen alternative"
    assert CONNECTIVE_SENSES["in fact"] == "Expansion.Restatement"


def test_multi_word_connectives_and_timings():
    words = timed("We stayed home because it rained, and as a result we missed the show.")
    rels = tag_connectives(words)
    assert [(r.connective, r.sense) for r in rels] == [
        ("because", "Contingency.Cause.Reason"),
        ("and", "Expansion.Conjunction"),
        ("as a result", "Contingency.Cause.Result"),
    ]
    # connective spans copied from the words: because = word 3, "as a result" = words 7..9
    assert (rels[0].conn_start, rels[0].conn_end) == (words[3].start, words[3].end)
    assert (rels[2].conn_start, rels[2].conn_end) == (words[7].start, words[9].end)
    # relation spans: "because" from its clause start (We) to its clause end (rained,)
    assert (rels[0].rel_start, rels[0].rel_end) == (words[0].start, words[5].end)
    # "as a result": Arg1 = "and" (same clause before it), Arg2 = "we missed the show."
    assert (rels[2].rel_start, rels[2].rel_end) == (words[6].start, words[13].end)


def test_more_multi_word_connectives():
    words = timed("On the other hand, cats sleep. For example, my cat sleeps all day.")
    assert conns(words) == [
        ("On the other hand", "Comparison.Contrast"),
        ("For example", "Expansion.Instantiation"),
    ]
    # connective opening a clause after a boundary: Arg1 is the previous clause, Arg2 the next
    rel = tag_connectives(words)[1]
    assert (rel.rel_start, rel.rel_end) == (words[4].start, words[12].end)
    # window-initial connective closing its clause: no Arg1, Arg2 = "cats sleep."
    first = tag_connectives(words)[0]
    assert (first.rel_start, first.rel_end) == (words[0].start, words[5].end)


def test_longest_match_wins_and_each_word_used_once():
    assert conns(timed("It worked even though nobody tried.")) == [
        ("even though", "Comparison.Concession")
    ]
    assert conns(timed("Speak up so that they hear.")) == [("so that", "Contingency.Cause.Result")]


def test_case_and_punctuation_insensitive_matching():
    words = [
        Word("HOWEVER,", 0.0, 0.4),
        Word("it", 0.5, 0.6),
        Word("failed", 0.7, 1.0),
        Word("(because", 1.1, 1.4),
        Word("of-course", 1.5, 1.9),
        Word("it", 2.0, 2.1),
        Word("rained!)", 2.2, 2.6),
    ]
    assert conns(words) == [
        ("HOWEVER", "Comparison.Contrast"),
        ("because", "Contingency.Cause.Reason"),
    ]


def test_punctuation_tokens_and_pauses_are_clause_boundaries():
    # separate "," token: "so" after it is in clause position
    words = timed("It was late , so we left")
    assert conns(words) == [("so", "Contingency.Cause.Result")]
    # "and" between nouns is no connective, but after a 0.6-s pause it is
    words = [Word("cats", 0.0, 0.3), Word("and", 0.4, 0.5), Word("dogs", 0.6, 0.9)]
    assert conns(words) == []
    words[1] = Word("and", 1.5, 1.6)
    assert conns(words) == [("and", "Expansion.Conjunction")]


def test_ambiguous_words_need_clause_context():
    assert conns(timed("It is so big and so heavy.")) == []
    assert conns(timed("Me and my friend came because of you.")) == []
    assert conns(timed("We ate before lunch the first time.")) == []
    assert conns(timed("We ate before they came, so I left.")) == [
        ("before", "Temporal.Asynchronous.Precedence"),
        ("so", "Contingency.Cause.Result"),
    ]
    assert conns(timed("I think so. If so, then we go.")) == [
        ("If", "Contingency.Condition"),
        ("then", "Temporal.Asynchronous.Precedence"),
    ]


def test_untimed_connectives_skipped_and_clip():
    words = timed("It rained, but we went out anyway.")
    words[2] = Word("but", None, None)
    assert conns(words) == [("anyway", "Comparison.Concession")]
    words = timed("It rained, but we went out.")  # but = 1.0..1.4, relation 0.0..2.4
    (rel,) = tag_connectives(words, clip=(0.5, 2.0))
    assert rel == DiscourseRelation("Comparison.Contrast", "but", 0.5, 2.0, 1.0, 1.4)


def test_find_connectives_indices_skip_punctuation_tokens():
    words = timed("Yes . On the other hand it works")
    assert find_connectives(words) == [(2, 5, "on the other hand")]


# ============================================================================ official JSON


def _ann() -> dict:
    tokens1 = [
        ("We", 0.0, 0.2),
        ("stayed", 0.2, 0.6),
        ("in", 0.6, 0.7),
        ("because", 0.8, 1.2),
        ("it", 1.2, 1.3),
        ("rained", 1.3, 1.8),
        (".", 1.8, 1.8),
    ]
    tokens2 = [
        ("As", 10.0, 10.1),
        ("a result", 10.1, 10.5),
        ("we", 10.6, 10.7),
        ("slept", 10.7, 11.2),
    ]
    sent = [
        {"tokens": [{"surface": s, "startSec": a, "endSec": b} for s, a, b in toks]}
        for toks in (tokens1, tokens2)
    ]
    return {
        "sentences": sent,
        "relations": [
            {
                "Connective": {"RawText": "because", "TokenList": [3]},
                "Arg1": {"TokenList": [0, 1, 2]},
                "Arg2": {"TokenList": [4, 5]},
                "Sense": ["Contingency.Cause.Reason", "Extra.Sense"],
                "Type": "Explicit",
            },
            {
                "Connective": {"RawText": "", "TokenList": []},
                "Arg1": {"TokenList": [0, 1]},
                "Arg2": {"TokenList": [2]},
                "Sense": ["Expansion.Conjunction"],
                "Type": "Implicit",
            },
            # CoNLL-2015 style token references [char0, char1, doc_token, sent, sent_token]
            {
                "Connective": {
                    "RawText": "As a result",
                    "TokenList": [[0, 2, 7, 1, 0], [3, 11, 8, 1, 1]],
                },
                "Arg1": {"TokenList": [4, 5]},
                "Arg2": {"TokenList": [[12, 14, 9, 1, 2], [15, 20, 10, 1, 3]]},
                "Sense": ["Contingency.Cause.Result"],
            },
        ],
    }


def test_read_official_json(tmp_path):
    path = tmp_path / "1_wayne_0_1_1_whisper_relations.json"
    path.write_text(json.dumps(_ann()))
    ann = read_discourse_json(path)
    assert [w.text for w in ann.tokens][7:9] == ["As", "aresult"]  # spaces removed
    assert ann.relations == [
        DiscourseRelation("Contingency.Cause.Reason", "because", 0.0, 1.8, 0.8, 1.2),
        DiscourseRelation("Contingency.Cause.Result", "As a result", 1.2, 11.2, 10.0, 10.5),
    ]


def test_relations_in_window_keep_inside_connectives_clip_and_shift():
    rels = parse_discourse_json(_ann()).relations
    # window [5, 15): only "As a result" (connective 10.0..10.5); span clipped to 5 then shifted
    (rel,) = relations_in_window(rels, 5.0, 15.0)
    assert (rel.sense, rel.connective) == ("Contingency.Cause.Result", "As a result")
    assert (rel.rel_start, rel.rel_end, rel.conn_start, rel.conn_end) == pytest.approx(
        (0.0, 6.2, 5.0, 5.5)
    )
    assert relations_in_window(rels, 0.5, 1.0) == []  # connective 0.8..1.2 sticks out


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda a: a["relations"][2].pop("Sense"), r"relation 2: Sense"),
        (lambda a: a["relations"][0]["Connective"].update(TokenList=[99]), r"relation 0.*99"),
        (lambda a: a["relations"][0]["Arg1"].update(TokenList=["x"]), r"relation 0 Arg1"),
        (lambda a: a["relations"][2]["Connective"].update(RawText=None), r"relation 2: .*RawText"),
        (lambda a: a["relations"][0].pop("Arg2"), r"relation 0: missing Arg2"),
        (lambda a: a["sentences"][1]["tokens"][2].update(startSec="1"), r"sentence 1 token 2"),
    ],
)
def test_malformed_json_names_file_and_item(tmp_path, mutate, message):
    ann = _ann()
    mutate(ann)
    path = tmp_path / "broken_relations.json"
    path.write_text(json.dumps(ann))
    with pytest.raises(ValueError, match=rf"broken_relations\.json: {message}"):
        read_discourse_json(path)


def test_invalid_json_names_file(tmp_path):
    path = tmp_path / "truncated.json"
    path.write_text('{"sentences": [')
    with pytest.raises(ValueError, match=r"truncated\.json: not valid JSON"):
        read_discourse_json(path)


# ============================================================================ gesture tagger


def test_gesture_tagger_on_a_sentence():
    words = timed("I think that this huge idea is over there, to the left of the bigger boxes.")
    labels = tag_gesture_words(words)
    assert [(g.kind, g.word) for g in labels] == [
        ("deictic", "this"),
        ("iconic", "huge"),
        ("metaphoric", "idea"),
        ("deictic", "over there"),
        ("deictic", "left"),
        ("iconic", "bigger"),
        ("iconic", "boxes"),
    ]
    over_there = labels[3]
    assert (over_there.start, over_there.end) == (words[7].start, words[8].end)


def test_gesture_tagger_context_rules_and_limit():
    words = timed("There is a ball. You know, we threw it up. Thank you, that is right.")
    labels = tag_gesture_words(words)
    assert [(g.kind, g.word) for g in labels] == [
        ("iconic", "ball"),
        ("deictic", "we"),
        ("iconic", "threw"),
        ("deictic", "up"),
        ("deictic", "that"),
    ]
    assert [(g.kind, g.word) for g in tag_gesture_words(words, include_persons=False)][1:2] == [
        ("iconic", "threw")
    ]
    top2 = tag_gesture_words(words, max_labels=2)  # spatial deictics first, then content
    assert [g.word for g in top2] == ["up", "that"]
    assert all(isinstance(g, GestureLabel) for g in top2)


# ============================================================================ LLM prompt / parser


def test_prompts():
    assert "deictic" in SYSTEM_PROMPT and "iconic" in SYSTEM_PROMPT
    assert "metaphoric" in SYSTEM_PROMPT.lower() and "list" in SYSTEM_PROMPT
    assert "at most 2" in user_prompt("hello there") and '"hello there"' in user_prompt(
        "hello there"
    )
    msgs = chat_messages("hi")
    assert [m["role"] for m in msgs] == ["system", "user"]


def test_parse_clean_answer():
    answer = """[("big", "iconic"), ('this', 'deictic'), ("the future", metaphoric)]"""
    assert parse_llm_answer(answer) == [
        ("big", "iconic"),
        ("this", "deictic"),
        ("the future", "metaphoric"),
    ]


def test_parse_messy_answers():
    answer = (
        "Sure! Here you go:\n```python\n[('hello', 'beat'), (\u201cthis\u201d, \u2018eictic\u2019),"
        " (\"Huge\", \"Conic\"),\n ('big', 'iconic')]\n```\nExplanation: ('big', 'iconic') "
        "mimics size; the word 'hello' is a beat gesture.\n'long-term', etaphoric"
    )
    assert parse_llm_answer(answer) == [
        ("this", "deictic"),
        ("Huge", "iconic"),
        ("big", "iconic"),
        ("long-term", "metaphoric"),
    ]
    assert parse_llm_answer("No gestures here.") == []
    assert parse_llm_answer("[('so', 'beat')]") == []


# ============================================================================ query words


def test_match_query_words_phrases_order_and_merge():
    tokens = timed("This big ball, and the future. Big!")
    pairs = [("The future", "metaphoric"), ("big", "iconic"), ("this", "deictic")]
    points = match_query_words(pairs, tokens)
    # re-indexed in text order of the first matched token
    assert [(p.text, p.label) for p in points] == [
        ("this", "deictic"),
        ("big", "iconic"),
        ("the future", "metaphoric"),
    ]
    # phrase tokens merged to [min start, max end]; the repeated "Big!" stays unused
    assert (points[2].start, points[2].end) == (tokens[4].start, tokens[5].end)
    assert (points[1].start, points[1].end) == (tokens[1].start, tokens[1].end)
    assert all(isinstance(p, QueryPoint) and p.kind == "gesture" for p in points)


def test_match_query_words_each_token_serves_one_query_word():
    tokens = timed("a big deal and a big house")
    points = match_query_words([("big", "iconic"), ("big deal", "metaphoric")], tokens)
    # token 1 "big" serves only the first open query word ("big", which it closes), so
    # "big deal" is left with "deal" (token 2, its last word, closes it); the later "big" is unused
    assert [(p.text, p.start, p.end) for p in points] == [
        ("big", tokens[1].start, tokens[1].end),
        ("big deal", tokens[2].start, tokens[2].end),
    ]


def test_match_query_words_phrase_starts_at_an_earlier_shared_word():
    # official quirk kept: a phrase word seen earlier ("the") opens the phrase's span
    tokens = timed("the plan for the future")
    (point,) = match_query_words([("the future", "metaphoric")], tokens)
    assert (point.start, point.end) == (tokens[0].start, tokens[4].end)


def test_match_query_words_unmatched_and_prominence():
    tokens = timed("we grow ideas")
    rows = [("we", 0.0, 0.4, 0.5), ("grow", 0.5, 0.9, 2.5), ("ideas", 1.0, 1.4, 1.0)]
    points = match_query_words([("growth", "metaphoric"), ("grow", "metaphoric")], tokens, rows)
    assert [(p.text, p.prominence) for p in points] == [("grow", 2.5)]
    assert match_query_words([("grow", "metaphoric")], tokens)[0].prominence is None
