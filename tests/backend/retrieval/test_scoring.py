"""Retrieval scoring, ranking and selection (spec §5.4-§5.6) on crafted database windows."""

from __future__ import annotations

import numpy as np
import pytest

from backend.retrieval.prominence_map import phrase_prominence, span_prominence
from backend.retrieval.records import (
    Bound,
    Candidate,
    DiscourseRelation,
    GestureLabel,
    QueryPoint,
    WindowRecord,
)
from backend.retrieval.scoring import (
    discourse_queries,
    gesture_type_queries,
    label_prominences,
    official_similarity_bonus,
    rank_candidates,
    retrieve,
    score_discourse,
    score_gesture,
    search,
    select,
    similarity_bonus,
    text_similarity,
    word_similarity,
)

REASON = "Contingency.Cause.Reason"
CONDITION = "Contingency.Condition"
CONTRAST = "Comparison.Contrast"
QUERY_SPEAKER = 0


def rel(conn: str, sense: str = REASON, t: float = 1.0) -> DiscourseRelation:
    return DiscourseRelation(sense, conn, t - 0.5, t + 1.0, t, t + 0.3)


def drec(name, relations, speaker=1, prominence=(), features=None) -> WindowRecord:
    return WindowRecord(
        name,
        speaker,
        relations=list(relations),
        prominence=list(prominence),
        token_features=features,
    )


def grec(name, labels, speaker=1, prominence=(), features=None) -> WindowRecord:
    return WindowRecord(
        name,
        speaker,
        gesture_labels=list(labels),
        prominence=list(prominence),
        token_features=features,
    )


def dquery(conn="because", sense=REASON, prom=None) -> QueryPoint:
    return QueryPoint("discourse", conn, sense, 2.0, 2.3, prom)


def gquery(word="big", kind="iconic", prom=None) -> QueryPoint:
    return QueryPoint("gesture", word, kind, 4.0, 4.4, prom)


def names(cands) -> list[str]:
    return [c.name for c in cands]


# ============================================================================ discourse


def test_exact_connective_beats_same_sense_only():
    db = [
        drec("same_sense", [rel("since")]),
        drec("exact", [rel("because", t=3.0)]),
        drec("other_sense", [rel("but", CONTRAST)]),
        drec("empty", []),
    ]
    ranked = search(dquery(), db, speaker=QUERY_SPEAKER, method="discourse")
    assert names(ranked) == ["exact", "same_sense"]
    assert [c.score for c in ranked] == [6.0, 2.0]
    assert ranked[0].bound == Bound("because", REASON, 3.0, 3.3)


def test_connective_match_is_case_sensitive():
    cand = score_discourse(dquery("because"), drec("w", [rel("Because")]), QUERY_SPEAKER)
    assert cand.score == 2.0


def test_speaker_bonus():
    db = [
        drec("sense_speaker", [rel("since")], speaker=QUERY_SPEAKER),  # 2 + 3
        drec("exact", [rel("because")], speaker=7),  # 2 + 4
        drec("exact_speaker", [rel("because")], speaker=QUERY_SPEAKER),  # 2 + 4 + 3
    ]
    ranked = search(dquery(), db, speaker=QUERY_SPEAKER, method="discourse")
    assert names(ranked) == ["exact_speaker", "exact", "sense_speaker"]
    assert [c.score for c in ranked] == [9.0, 6.0, 5.0]


def test_prominence_closeness_ranks_and_chooses():
    close = drec("close", [rel("since")], prominence=[("since", 1.0, 1.3, 1.1)])
    far = drec("far", [rel("since")], prominence=[("since", 1.0, 1.3, 2.0)])
    ranked = search(dquery(prom=1.0), [far, close], speaker=QUERY_SPEAKER, method="discourse")
    assert names(ranked) == ["close", "far"]
    assert ranked[0].score == pytest.approx(2 + 4 / (1 + 2 * 0.1))
    assert ranked[1].score == pytest.approx(2 + 4 / 3)

    # two same-sense relations: the one closest in prominence is chosen, score uses the mean
    two = drec(
        "two",
        [rel("since", t=1.0), rel("given that", t=5.0)],
        prominence=[("since", 1.0, 1.2, 3.0), ("given", 5.0, 5.2, 1.0), ("that", 5.2, 5.5, 1.2)],
    )
    cand = score_discourse(dquery(prom=1.0), two, QUERY_SPEAKER)
    assert cand.bound.text == "given that"
    assert cand.score == pytest.approx(2 + (4 / (1 + 2 * 2.0) + 4 / (1 + 2 * 0.1)) / 2)
    # ... but an exact connective fixes the choice whatever the prominence
    cand = score_discourse(dquery("since", prom=1.0), two, QUERY_SPEAKER)
    assert cand.bound.text == "since"
    assert cand.score == pytest.approx(6 + (4 / 5 + 4 / 1.2) / 2)


def test_no_query_prominence_means_no_prominence_term_and_first_relation():
    two = drec("two", [rel("since", t=1.0), rel("as", t=5.0)], prominence=[("as", 5, 5.3, 1.0)])
    cand = score_discourse(dquery(prom=None), two, QUERY_SPEAKER)
    assert cand.score == 2.0 and cand.bound.text == "since"


def test_top_level_fallback_only_when_no_exact_sense_exists():
    db = [
        drec("reason", [rel("since")], speaker=QUERY_SPEAKER),
        drec("contrast", [rel("but", CONTRAST)]),
    ]
    q = dquery("if", CONDITION)
    ranked = search(q, db, speaker=QUERY_SPEAKER, method="discourse")
    assert names(ranked) == ["reason"]
    assert ranked[0].score == 1.0 + 3.0  # +1 (top level) instead of +2, + speaker
    assert search(q, db, speaker=QUERY_SPEAKER, method="discourse", sense_fallback=False) == []
    # as soon as one window has the exact sense, top-level matches are not considered
    db.append(drec("condition", [rel("unless", CONDITION)]))
    assert names(search(q, db, speaker=QUERY_SPEAKER, method="discourse")) == ["condition"]


def test_discourse_queries_carry_connective_span_and_prominence():
    relations = [rel("because", t=1.0), rel("as a result", "Contingency.Cause.Result", t=4.0)]
    rows = [
        ("because", 1.0, 1.3, 2.0),
        ("as", 4.0, 4.1, 1.0),
        ("a", 4.1, 4.2, 0.5),
        ("result", 4.2, 4.3, 1.5),
    ]
    qs = discourse_queries(relations, rows)
    assert [(q.text, q.label, q.start, q.end) for q in qs] == [
        ("because", REASON, 1.0, 1.3),
        ("as a result", "Contingency.Cause.Result", 4.0, 4.3),
    ]
    assert qs[0].prominence == 2.0 and qs[1].prominence == pytest.approx(1.0)
    assert [q.prominence for q in discourse_queries(relations)] == [None, None]


# ============================================================================ prominence mapping


def test_phrase_prominence_official_matching():
    rows = [
        ("and", 0, 1, 1.0),
        ("And", 1, 2, 9.0),
        ("and", 2, 3, 3.0),
        ("for", 3, 4, 2.0),
        ("example,", 4, 5, 4.0),
        ("zzz", 5, 6, 7.0),
    ]
    # n-th "and" relation gets the n-th matching row; case is kept ("And" matches nothing)
    assert phrase_prominence(["and", "and", "for example", "missing", ""], rows) == [
        1.0,
        3.0,
        3.0,
        None,
        None,
    ]


def test_span_prominence_by_time_overlap():
    rows = [("a", 0.0, 1.0, 1.0), ("b", 1.0, 2.0, 3.0), ("c", 2.0, 3.0, 5.0)]
    assert span_prominence(0.5, 1.5, rows) == 2.0
    assert span_prominence(2.5, 2.5, rows) == 5.0
    assert span_prominence(4.0, 5.0, rows) is None


def test_label_prominence_maps_all_labels_including_beats():
    labels = [GestureLabel("beat", 0, 1, "big"), GestureLabel("iconic", 2, 3, "big")]
    rec = grec("w", labels, prominence=[("big", 0, 1, 0.5), ("big", 2, 3, 2.0)])
    assert label_prominences(rec) == [0.5, 2.0]
    rec.label_prominence = [None, 1.5]  # precomputed values win
    assert label_prominences(rec) == [None, 1.5]


def test_precomputed_prominence_length_is_checked():
    with pytest.raises(ValueError, match="relation_prominence"):
        WindowRecord("w", 0, relations=[rel("so")], relation_prominence=[1.0, 2.0])


# ============================================================================ similarity


def test_word_similarity_is_a_partial_ratio():
    assert word_similarity("big", "bigger") == 1.0
    assert word_similarity("round", "around") == 1.0
    assert word_similarity("abc", "xyz") == 0.0
    assert word_similarity("", "big") == 0.0
    assert word_similarity("cat", "cut") == pytest.approx(2 / 3)
    assert word_similarity("huge", "hug") == word_similarity("hug", "huge") == 1.0
    for a, b in [("throw", "through"), ("idea", "ideal"), ("this", "that")]:
        s = word_similarity(a, b)
        assert 0.0 <= s <= 1.0
        assert s == word_similarity(b, a)


def test_fixed_similarity_bonus_increases_official_decreases():
    sims = np.linspace(0.0, 1.0, 21)
    fixed = [similarity_bonus(s) for s in sims]
    official = [official_similarity_bonus(s) for s in sims]
    assert all(b > a for a, b in zip(fixed, fixed[1:], strict=False))
    assert all(b < a for a, b in zip(official, official[1:], strict=False))  # spec §11 #5
    assert similarity_bonus(1.0) == 3.0 and similarity_bonus(0.0) == 1.0
    assert official_similarity_bonus(0.0) == 3.0 and official_similarity_bonus(1.0) == 1.0
    assert max(fixed) < 5.0  # an exact word (+5) still beats any near match


# ============================================================================ gesture type / llm


def _gesture_db():
    return [
        grec("exact", [GestureLabel("iconic", 1.0, 1.5, "big")]),
        grec("similar", [GestureLabel("iconic", 2.0, 2.5, "bigger")]),
        grec("unrelated", [GestureLabel("iconic", 3.0, 3.5, "round")]),
        grec("wrong_type", [GestureLabel("deictic", 1.0, 1.5, "big")]),
        grec("beat_only", [GestureLabel("beat", 1.0, 1.5, "big")]),
    ]


def test_gesture_type_fixed_bonus_prefers_similar_words():
    ranked = search(gquery(), _gesture_db(), speaker=QUERY_SPEAKER, method="gesture_type")
    assert names(ranked) == ["exact", "similar", "unrelated"]
    assert ranked[0].score == 2 + 5
    assert ranked[1].score == 2 + 3  # sim("bigger", "big") = 1 -> 3
    assert ranked[0].bound == Bound("big", "iconic", 1.0, 1.5)


def test_gesture_type_official_bonus_prefers_unrelated_words():
    ranked = search(
        gquery(), _gesture_db(), speaker=QUERY_SPEAKER, method="gesture_type", fixed_bonus=False
    )
    assert names(ranked) == ["exact", "unrelated", "similar"]  # the documented bug
    assert ranked[2].score == 2 + 1


def test_gesture_type_speaker_bonus_and_best_label():
    labels = [
        GestureLabel("iconic", 1, 2, "tiny"),
        GestureLabel("iconic", 3, 4, "biggest"),
        GestureLabel("beat", 5, 6, "big"),
    ]
    cand = score_gesture(
        gquery(), grec("w", labels, speaker=QUERY_SPEAKER), QUERY_SPEAKER, method="gesture_type"
    )
    assert cand.bound.text == "biggest"  # argmax similarity; the beat "big" is ignored
    assert cand.score == 2 + 2 + 3


def test_llm_scoring_speaker_plus_one_and_prominence_overrides_exact():
    labels = [GestureLabel("iconic", 1, 2, "big"), GestureLabel("iconic", 3, 4, "huge")]
    rec = grec(
        "w", labels, speaker=QUERY_SPEAKER, prominence=[("big", 1, 2, 3.0), ("huge", 3, 4, 1.0)]
    )
    cand = score_gesture(gquery(prom=1.0), rec, QUERY_SPEAKER, method="llm")
    assert cand.score == pytest.approx(2 + 1 + 5 + (4 / 5 + 4 / 1) / 2)
    assert cand.bound.text == "huge"  # closest prominence wins over the exact word
    no_prom = score_gesture(gquery(prom=None), rec, QUERY_SPEAKER, method="llm")
    assert no_prom.score == 8.0 and no_prom.bound.text == "big"


def test_gesture_type_queries_skip_beats():
    labels = [GestureLabel("beat", 0, 1, "so"), GestureLabel("deictic", 1, 2, "There")]
    assert gesture_type_queries(labels) == [QueryPoint("gesture", "There", "deictic", 1, 2)]


def test_query_kind_must_fit_the_method():
    with pytest.raises(ValueError, match="needs a 'gesture' query"):
        search(dquery(), [], speaker=0, method="llm")
    with pytest.raises(ValueError, match="unknown retrieval method"):
        search(
            gquery(), [grec("w", [GestureLabel("iconic", 0, 1, "x")])], speaker=0, method="prosody"
        )


# ============================================================================ ranking


def test_tie_break_by_token_features():
    q = np.ones((5, 4))
    db = [
        drec("zeros", [rel("since")], features=np.zeros((6, 4))),  # sim 0
        drec("none", [rel("since")], features=None),  # missing: last
        drec("twos", [rel("since")], features=2 * np.ones((3, 4))),  # sim 8 (3 rows used)
        drec("ones", [rel("since")], features=np.ones((7, 4))),  # sim 4 (5 rows used)
        drec("ones_again", [rel("since")], features=np.ones((9, 4))),  # equal: stable order
    ]
    ranked = search(dquery(), db, speaker=QUERY_SPEAKER, method="discourse", query_features=q)
    assert names(ranked) == ["twos", "ones", "ones_again", "zeros", "none"]
    # without query features the database order is kept
    ranked = search(dquery(), db, speaker=QUERY_SPEAKER, method="discourse")
    assert names(ranked) == ["zeros", "none", "twos", "ones", "ones_again"]


def test_text_similarity_uses_position_wise_dot_products():
    q = np.array([[1.0, 0.0], [0.0, 1.0], [5.0, 5.0]])
    d = np.array([[2.0, 3.0], [4.0, 6.0]])
    assert text_similarity(q, d) == pytest.approx((2.0 + 6.0) / 2)
    assert text_similarity(q, np.zeros((0, 2))) == -np.inf


def _cands(score: float, prefix: str, n: int) -> list[Candidate]:
    return [Candidate(f"{prefix}{i}", score, Bound("x", "y", 0, 1)) for i in range(n)]


def test_tiers_are_appended_until_ten():
    cands = _cands(6.0, "a", 4) + _cands(2.0, "c", 8) + _cands(5.0, "b", 5) + _cands(0.0, "z", 3)
    ranked = rank_candidates(cands, None, {})
    assert names(ranked) == [f"a{i}" for i in range(4)] + [f"b{i}" for i in range(5)] + ["c0"]
    # a first tier of 12 fills the list on its own
    ranked = rank_candidates(_cands(9.0, "a", 12) + _cands(8.0, "b", 3), None, {})
    assert names(ranked) == [f"a{i}" for i in range(10)]
    # fewer than ten in total: everything with a positive score, best first
    few = _cands(1.0, "a", 2) + _cands(3.0, "b", 1) + _cands(0, "z", 2)
    ranked = rank_candidates(few, None, {})
    assert names(ranked) == ["b0", "a0", "a1"]


def test_tie_break_only_inside_a_tier():
    feats = {"lo": np.ones((2, 2)), "hi": 10 * np.ones((2, 2)), "top": np.zeros((2, 2))}
    cands = [
        Candidate("lo", 2.0, Bound("", "", 0, 0)),
        Candidate("hi", 2.0, Bound("", "", 0, 0)),
        Candidate("top", 3.0, Bound("", "", 0, 0)),
    ]
    assert names(rank_candidates(cands, np.ones((2, 2)), feats)) == ["top", "hi", "lo"]


def test_own_window_dropped_and_top_one_selected():
    db = [
        drec("query_window", [rel("because")], speaker=QUERY_SPEAKER),  # 9: best
        drec("other", [rel("because")]),  # 6
        drec("third", [rel("since")]),  # 2
    ]
    got = retrieve(dquery(), db, speaker=QUERY_SPEAKER, method="discourse", own_name="query_window")
    assert names(got) == ["other"]
    assert names(retrieve(dquery(), db, speaker=QUERY_SPEAKER, method="discourse")) == [
        "query_window"
    ]


def test_own_window_is_dropped_after_the_top_k_cut():
    ranked = rank_candidates(_cands(5.0, "w", 12), None, {})
    assert len(ranked) == 10
    kept = select(ranked, own_name="w3", num_retrieval=20)
    assert len(kept) == 9 and "w3" not in names(kept)
    assert names(select(ranked, own_name="w0")) == ["w1"]


def test_record_index_gives_the_same_ranking_as_a_full_scan():
    from backend.retrieval.scoring import RecordIndex
    from bench.retrieval import synthetic_records  # the benchmark's 10,000-window generator

    records = synthetic_records(600, seed=3)
    index = RecordIndex(records)
    queries = [QueryPoint("discourse", c, s, 1.0, 1.3, p) for c, s, p in (
        ("because", "Contingency.Cause.Reason", 1.2), ("but", "Comparison.Contrast", None),
        ("meanwhile", "Temporal.Synchrony", 0.4), ("instead", "Expansion.Substitution", None))]
    queries += [QueryPoint("gesture", w, k, 2.0, 2.5) for w, k in (
        ("circle", "iconic"), ("there", "deictic"), ("idea", "metaphoric"))]
    found = 0
    for q in queries:
        method = "discourse" if q.kind == "discourse" else "gesture_type"
        full = search(q, records, speaker=3, method=method)
        fast = search(q, index, speaker=3, method=method)
        assert [(c.name, c.score, c.bound) for c in fast] == \
            [(c.name, c.score, c.bound) for c in full]
        found += bool(full)
    assert found >= 5  # the comparison is not vacuous


def test_word_bounds_never_fall_below_the_similarity():
    from backend.retrieval.word_bounds import WordBounds

    rng = np.random.default_rng(5)
    alphabet = list("abcdeilnorstCé")
    words = ["", "a", "circle", "circles", "Circle", "é"] + [
        "".join(rng.choice(alphabet, rng.integers(1, 11))) for _ in range(400)]
    words = list(dict.fromkeys(words))
    bounds = WordBounds(words)
    for query in ["circles", "ci", "", "x", "lonelier", "éa", "rectangle"]:
        up = bounds.upper(query)
        exact = np.array([word_similarity(w, query) for w in words])
        assert (up >= exact).all(), query
        assert up[bounds.index[""]] == 0.0
        if query:
            assert up[bounds.index.get(query, bounds.index["circle"])] >= (query in words)
    tight = bounds.upper("circles")
    assert (tight < 1.0).sum() > 100  # the bound prunes: most words cannot score 1


def test_bounded_gesture_search_equals_scoring_every_window():
    """With thousands of distinct label words the gesture-type search scores only the windows
    whose bound can still reach the kept candidates: the ranking is the full scan's."""
    from backend.retrieval.scoring import RecordIndex
    from bench.retrieval import synthetic_records, synthetic_vocabulary

    vocab = synthetic_vocabulary(3000, seed=4)
    records = synthetic_records(2000, seed=5, label_words=vocab)
    index = RecordIndex(records)
    assert len(index.gesture["iconic"].bounds.words) > 200
    rng = np.random.default_rng(6)
    words = [vocab[int(i)] for i in rng.integers(len(vocab), size=12)]  # exact matches exist
    words += ["circles", "x", "", "zzzzzzzzzzzzzz", words[0][:2], words[1] + "ing"]
    for word in words:
        for kind in ("iconic", "deictic", "metaphoric", "beat"):
            for top_k in (10, 1):
                q = QueryPoint("gesture", word, kind, 2.0, 2.5)
                spk = int(rng.integers(25))
                full = search(q, records, speaker=spk, method="gesture_type", top_k=top_k)
                fast = search(q, index, speaker=spk, method="gesture_type", top_k=top_k)
                assert [(c.name, c.score, c.bound) for c in fast] == \
                    [(c.name, c.score, c.bound) for c in full], (word, kind, top_k)
