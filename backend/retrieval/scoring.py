"""Per-window retrieval scores of the three strategies, ranking and selection (spec §5.4-§5.6).

The arithmetic follows the reference (DR:75-204, GR:69-115, LR:338-413) term by term, in the
same order of float additions, so equal scores tie exactly as they do there. Deviations, all
documented where they happen:

1. Similarity bonus (spec §11 #5). The reference adds 3 / (1 + 2·sim) for a non-exact word,
   which *decreases* with similarity: an unrelated word earns 3, a near-identical one 1. We
   use `similarity_bonus(sim) = 3 / (1 + 2·(1 − sim))`: the same range [1, 3] with the
   distance 1 − sim in place of sim, so it rises monotonically from 1 (sim = 0) to 3
   (sim = 1) and an exact match (+5) still beats every near match. `fixed_bonus=False`
   restores the reference form (`official_similarity_bonus`).
2. Word similarity. The reference intends word2vec/fastText but always falls back to
   fuzzywuzzy's partial_ratio / 100 (§5.5). `word_similarity` is our own partial ratio: the best
   difflib ratio of the shorter string against every same-length substring of the longer one
   (an exhaustive version of fuzzywuzzy's block-anchored search; no new dependency).
3. Discourse sense fallback. When no database window has a relation with the query's exact
   sense, the reference returns nothing. We then accept relations with the same top-level class
   ("Contingency.Cause.Reason" ~ "Contingency.Condition") at +1 instead of +2. Only as a
   fallback, so whenever the reference finds a match our ranking is identical to it.
4. Missing token features sort last in the tie-break (the reference always has them).
"""

from __future__ import annotations

import difflib
import functools
import heapq
import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Literal

import numpy as np

from .connectives import top_level
from .prominence_map import phrase_prominence
from .records import (
    Bound,
    Candidate,
    DiscourseRelation,
    GestureLabel,
    ProminenceRow,
    QueryPoint,
    WindowRecord,
)
from .word_bounds import WordBounds

Method = Literal["discourse", "gesture_type", "llm"]
METHODS: tuple[str, ...] = ("discourse", "gesture_type", "llm")
TOP_K = 10  # candidates kept per query point (DR:222-256)
NUM_RETRIEVAL = 1  # candidates used per query point (RG:470-477)

# ============================================================================ similarity


@functools.lru_cache(maxsize=65536)
def word_similarity(a: str, b: str) -> float:
    """Partial-ratio similarity in [0, 1]: best match of the shorter string inside the longer.

    1.0 when one string contains the other; 0.0 when either is empty. Cached: a query compares
    the same few words against every database window.
    """
    if not a or not b:
        return 0.0
    short, long_ = (a, b) if len(a) <= len(b) else (b, a)
    matcher = difflib.SequenceMatcher(None, "", short, autojunk=False)  # seq2 analysed once
    best = 0.0
    n = len(short)
    for start in range(len(long_) - n + 1):
        matcher.set_seq1(long_[start : start + n])
        if matcher.real_quick_ratio() <= best or matcher.quick_ratio() <= best:
            continue
        best = max(best, matcher.ratio())
        if best == 1.0:
            break
    return best


def official_similarity_bonus(sim: float) -> float:
    """The reference's non-exact-word bonus 3 / (1 + 2·sim): decreasing in sim (the bug)."""
    return 3.0 / (1.0 + 2.0 * sim)


def similarity_bonus(sim: float) -> float:
    """Fixed bonus 3 / (1 + 2·(1 − sim)): increasing, 1 at sim = 0, 3 at sim = 1."""
    return 3.0 / (1.0 + 2.0 * (1.0 - sim))


def prominence_closeness(query: float, item: float) -> float:
    """The prominence term 4 / (1 + 2·|Δ|): 4 for equal prominence, falling with the gap."""
    return 4.0 / (1.0 + 2.0 * abs(item - query))


def text_similarity(query: np.ndarray | None, item: np.ndarray | None) -> float:
    """Mean of the position-wise dot products of two token-feature matrices (spec §5.6).

    = mean(diag(Q·Dᵀ)) over the first min(n_q, n_d) rows; -inf when either side is missing.
    """
    if query is None or item is None:
        return -math.inf
    m = min(len(query), len(item))
    if m == 0:
        return -math.inf
    q = np.asarray(query[:m], dtype=np.float64)
    d = np.asarray(item[:m], dtype=np.float64)
    return float(np.einsum("ij,ij->i", q, d).mean())


# ============================================================================ DB-side prominence


def relation_prominences(record: WindowRecord) -> list[float | None]:
    """Per-relation prominence: precomputed, else the official phrase matching of connectives."""
    if record.relation_prominence is not None:
        return list(record.relation_prominence)
    return phrase_prominence([r.connective for r in record.relations], record.prominence)


def with_prominences(record: WindowRecord) -> WindowRecord:
    """Fill the record's per-relation / per-label prominence once (same values scoring would
    derive on every query), so a query over many windows does no string matching."""
    if record.relation_prominence is None:
        record.relation_prominence = relation_prominences(record)
    if record.label_prominence is None:
        record.label_prominence = label_prominences(record)
    return record


def label_prominences(record: WindowRecord) -> list[float | None]:
    """Per-label prominence (all labels, beat included, as the reference maps them)."""
    if record.label_prominence is not None:
        return list(record.label_prominence)
    return phrase_prominence([g.word for g in record.gesture_labels], record.prominence)


def _prominence_term(
    query: QueryPoint, indices: Sequence[int], proms: Sequence[float | None]
) -> tuple[float | None, int | None]:
    """(mean closeness over items with prominence, index of the closest item) or (None, None)."""
    if query.prominence is None:
        return None, None
    total, count, best, best_gap = 0.0, 0, None, math.inf
    for i in indices:
        p = proms[i]
        if p is None:
            continue
        gap = abs(p - query.prominence)
        total += prominence_closeness(query.prominence, p)
        count += 1
        if gap < best_gap:  # strict: the first of equal gaps wins (stable sort in the reference)
            best, best_gap = i, gap
    if count == 0:
        return None, None
    return total / count, best


# ============================================================================ per-window scores


def score_discourse(
    query: QueryPoint, record: WindowRecord, speaker: int, *, top_level_only: bool = False
) -> Candidate | None:
    """§5.4: +2 same sense (else None), +4 exact connective, +3 same speaker, + prominence term.

    Chosen relation: the exact-connective one, else the closest in prominence, else the first
    same-sense relation. `top_level_only` is the fallback of deviation 3 (+1 for a relation of
    the same top-level class).
    """
    rels = record.relations
    if top_level_only:
        want = top_level(query.label)
        same = [i for i, r in enumerate(rels) if top_level(r.sense) == want]
    else:
        same = [i for i, r in enumerate(rels) if r.sense == query.label]
    if not same:
        return None
    score = 0.0
    score += 1.0 if top_level_only else 2.0
    chosen, fixed = same[0], False
    conns = [rels[i].connective for i in same]
    if query.text in conns:
        score += 4.0
        chosen, fixed = same[conns.index(query.text)], True
    if record.speaker == speaker:
        score += 3.0
    term, closest = _prominence_term(query, same, relation_prominences(record))
    if term is not None:
        score += term
        if not fixed:
            chosen = closest
    return Candidate(record.name, score, _relation_bound(rels[chosen]))


def _relation_bound(rel: DiscourseRelation) -> Bound:
    return Bound(rel.connective, rel.sense, round(rel.conn_start, 3), round(rel.conn_end, 3))


def score_gesture(
    query: QueryPoint,
    record: WindowRecord,
    speaker: int,
    *,
    method: Literal["gesture_type", "llm"],
    fixed_bonus: bool = True,
) -> Candidate | None:
    """§5.5 for the non-beat labels of one window.

    gesture_type: +2 type match (else None), +2 same speaker, +5 exact word, else the
    similarity bonus of the most similar word. llm: the same with +1 for the speaker, plus the
    prominence term over same-type labels; the closest-prominence label then wins even over an
    exact word (as in the reference).
    """
    labels = record.gesture_labels
    keep = [i for i, g in enumerate(labels) if g.kind != "beat"]
    same = [i for i in keep if labels[i].kind == query.label]
    if not same:
        return None
    score = 0.0
    score += 2.0
    if record.speaker == speaker:
        score += 2.0 if method == "gesture_type" else 1.0
    words = [labels[i].word for i in same]
    if query.text in words:
        score += 5.0
        chosen = same[words.index(query.text)]
    else:
        sims = [word_similarity(w, query.text) for w in words]
        j = max(range(len(sims)), key=sims.__getitem__)  # first maximum, like np.argmax
        chosen = same[j]
        bonus = similarity_bonus if fixed_bonus else official_similarity_bonus
        score += bonus(sims[j])
    if method == "llm":
        term, closest = _prominence_term(query, same, label_prominences(record))
        if term is not None:
            score += term
            chosen = closest
    g = labels[chosen]
    return Candidate(record.name, score, Bound(g.word, g.kind, round(g.start, 3), round(g.end, 3)))


def score_window(
    query: QueryPoint,
    record: WindowRecord,
    speaker: int,
    method: Method,
    *,
    fixed_bonus: bool = True,
    top_level_only: bool = False,
) -> Candidate | None:
    """Dispatch to the scorer of `method`; None = window excluded (score 0 in the reference)."""
    if method == "discourse":
        return score_discourse(query, record, speaker, top_level_only=top_level_only)
    if method in ("gesture_type", "llm"):
        return score_gesture(query, record, speaker, method=method, fixed_bonus=fixed_bonus)
    raise ValueError(f"unknown retrieval method {method!r}; expected one of {METHODS}")


# ============================================================================ index


class GestureKindTable:
    """The windows with labels of one gesture kind, as arrays: per window its speaker and
    the vocabulary ids of its labels of that kind (for `WordBounds`)."""

    def __init__(self, records: Sequence[WindowRecord], kind: str) -> None:
        self.records = list(records)
        words: dict[str, int] = {}
        ids, starts = [], []
        for r in self.records:
            starts.append(len(ids))
            ids += [words.setdefault(g.word, len(words)) for g in r.gesture_labels
                    if g.kind == kind]
        self.bounds = WordBounds(list(words))
        self.word_ids = np.array(ids, np.int64)
        self.starts = np.array(starts, np.int64)
        self.speakers = np.array([r.speaker for r in self.records], np.int64)

    def score_bounds(self, text: str, speaker: int) -> np.ndarray:
        """Per window, >= its gesture-type score for a query word `text` (fixed bonus):
        the same float operations as `score_gesture` on similarity bounds."""
        sim = self.bounds.upper(text)
        bonus = 3.0 / (1.0 + 2.0 * (1.0 - sim))  # similarity_bonus, monotone in sim
        exact = self.bounds.index.get(text)
        if exact is not None:
            bonus[exact] = 5.0
        best = np.maximum.reduceat(bonus[self.word_ids], self.starts)
        return 0.0 + 2.0 + np.where(self.speakers == speaker, 2.0, 0.0) + best


class RecordIndex:
    """Database windows grouped by what a query can match: PDTB sense, its top-level class and
    gesture kind. Scoring only the windows of the query's group gives exactly the same
    candidates in the same order (the others score None), without touching every window.
    Gesture-type queries also skip the windows whose score bound cannot reach the candidates
    kept (`GestureKindTable`, `search`)."""

    def __init__(self, records: Iterable[WindowRecord]) -> None:
        self.records = list(records)
        self.by_name = {r.name: r for r in self.records}
        self.features = {r.name: r.token_features for r in self.records}
        self.by_sense: dict[str, list[WindowRecord]] = {}
        self.by_top: dict[str, list[WindowRecord]] = {}
        self.by_kind: dict[str, list[WindowRecord]] = {}
        for r in self.records:
            for key, table in ([(x.sense, self.by_sense) for x in r.relations]
                               + [(top_level(x.sense), self.by_top) for x in r.relations]
                               + [(g.kind, self.by_kind) for g in r.gesture_labels]):
                group = table.setdefault(key, [])
                if not group or group[-1] is not r:
                    group.append(r)
        self.gesture = {kind: GestureKindTable(group, kind) for kind, group in
                        self.by_kind.items() if kind != "beat"}

    def __len__(self) -> int:
        return len(self.records)

    def candidates(self, query: QueryPoint, method: str,
                   top_level_only: bool) -> list[WindowRecord]:
        if method == "discourse":
            if top_level_only:
                return self.by_top.get(top_level(query.label), [])
            return self.by_sense.get(query.label, [])
        return self.by_kind.get(query.label, [])


# ============================================================================ ranking


def rank_candidates(
    candidates: Sequence[Candidate],
    query_features: np.ndarray | None,
    features: Mapping[str, np.ndarray | None],
    *,
    top_k: int = TOP_K,
) -> list[Candidate]:
    """Score tiers, best first; each tier of equal scores re-ordered by text similarity.

    As the reference (DR:222-256): candidates with score <= 0 are dropped; tiers (exactly
    equal scores, in input order) are appended until at least `top_k` candidates are collected,
    and the first `top_k` are returned. Tier sorting is stable (equal similarity keeps order).
    """
    tiers: dict[float, list[Candidate]] = {}
    for cand in sorted(candidates, key=lambda c: c.score, reverse=True):
        if cand.score > 0:
            tiers.setdefault(cand.score, []).append(cand)
    ranked: list[Candidate] = []
    for score in sorted(tiers, reverse=True):
        tier = tiers[score]
        if len(tier) > 1:
            tier = sorted(
                tier,
                key=lambda c: text_similarity(query_features, features.get(c.name)),
                reverse=True,
            )
        ranked.extend(tier)
        if len(ranked) >= top_k:
            break
    return ranked[:top_k]


def search(
    query: QueryPoint,
    records: Iterable[WindowRecord] | RecordIndex,
    *,
    speaker: int,
    method: Method,
    query_features: np.ndarray | None = None,
    top_k: int = TOP_K,
    fixed_bonus: bool = True,
    sense_fallback: bool = True,
) -> list[Candidate]:
    """Score every database window for one query point and rank them (top `top_k`).

    Pass a `RecordIndex` (built once per database) to score only the windows that can match.
    """
    expected = "discourse" if method == "discourse" else "gesture"
    if query.kind != expected:
        raise ValueError(f"method {method!r} needs a {expected!r} query, got {query.kind!r}")
    index = records if isinstance(records, RecordIndex) else None
    if index is None:
        records = list(records)
        features = {r.name: r.token_features for r in records}
    else:
        features = index.features

    def scored(top_level_only: bool) -> list[Candidate]:
        out = []
        pool = records if index is None else index.candidates(query, method, top_level_only)
        for rec in pool:
            cand = score_window(
                query, rec, speaker, method, fixed_bonus=fixed_bonus, top_level_only=top_level_only
            )
            if cand is not None:
                out.append(cand)
        return out

    if index is not None and method == "gesture_type" and fixed_bonus:
        cands = _gesture_type_bounded(query, index, speaker, top_k)
    else:
        cands = scored(False)
    if not cands and method == "discourse" and sense_fallback:
        cands = scored(True)
    return rank_candidates(cands, query_features, features, top_k=top_k)


def _gesture_type_bounded(query: QueryPoint, index: RecordIndex, speaker: int,
                          top_k: int) -> list[Candidate]:
    """The candidates `rank_candidates` can return, scored exactly, in pool order.

    Ranking keeps whole tiers of equal score from the best down until `top_k` candidates are
    in, so only scores >= the top_k-th best matter. Windows are scored exactly in decreasing
    order of their bound until the next bound is below the top_k-th best exact score; every
    window left has a lower score and would never be reached. Same result as scoring all."""
    table = index.gesture.get(query.label)
    if table is None:
        return []
    bounds = table.score_bounds(query.text, speaker)
    best: list[float] = []  # the top_k highest exact scores so far (a min-heap)
    found: dict[int, Candidate] = {}
    for pos in np.argsort(-bounds, kind="stable").tolist():
        if len(best) >= top_k and bounds[pos] < best[0]:
            break
        cand = score_gesture(query, table.records[pos], speaker, method="gesture_type")
        if cand is None:
            continue
        found[pos] = cand
        if len(best) < top_k:
            heapq.heappush(best, cand.score)
        elif cand.score > best[0]:
            heapq.heapreplace(best, cand.score)
    return [found[p] for p in sorted(found)]


def select(
    ranked: Sequence[Candidate], *, own_name: str | None = None, num_retrieval: int = NUM_RETRIEVAL
) -> list[Candidate]:
    """Drop the query's own window (after the top-k cut, as RG:470-477) and keep the first n."""
    return [c for c in ranked if c.name != own_name][:num_retrieval]


def retrieve(
    query: QueryPoint,
    records: Iterable[WindowRecord] | RecordIndex,
    *,
    speaker: int,
    method: Method,
    query_features: np.ndarray | None = None,
    own_name: str | None = None,
    num_retrieval: int = NUM_RETRIEVAL,
    top_k: int = TOP_K,
    fixed_bonus: bool = True,
    sense_fallback: bool = True,
) -> list[Candidate]:
    """`search` + `select`: the candidate(s) actually used for one query point."""
    ranked = search(
        query,
        records,
        speaker=speaker,
        method=method,
        query_features=query_features,
        top_k=top_k,
        fixed_bonus=fixed_bonus,
        sense_fallback=sense_fallback,
    )
    return select(ranked, own_name=own_name, num_retrieval=num_retrieval)


# ============================================================================ query points


def discourse_queries(
    relations: Sequence[DiscourseRelation], prominence: Sequence[ProminenceRow] | None = None
) -> list[QueryPoint]:
    """Query points of a window's relations (spec §5.4): connective, sense, connective span."""
    proms = (
        phrase_prominence([r.connective for r in relations], prominence)
        if prominence is not None
        else [None] * len(relations)
    )
    return [
        QueryPoint("discourse", r.connective, r.sense, r.conn_start, r.conn_end, p)
        for r, p in zip(relations, proms, strict=True)
    ]


def gesture_type_queries(labels: Sequence[GestureLabel]) -> list[QueryPoint]:
    """Query points of the gesture-type strategy: every non-beat label (word kept raw)."""
    return [
        QueryPoint("gesture", g.word, g.kind, g.start, g.end, None)
        for g in labels
        if g.kind != "beat"
    ]
