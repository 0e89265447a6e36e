"""Explicit discourse connectives: a local tagger and a reader for the official annotation JSON.

Discourse retrieval (spec §5.4) keys on PDTB-style explicit relations: a connective, its sense
and time spans. BEAT2 ships them as CoNLL-2016 shallow-discourse-parser output
(`discourse_rels/<id>_whisper_relations.json`, read by `read_discourse_json`); new recordings
have none, so `tag_connectives` finds explicit connectives in a timed transcript with a lexicon
and a few context rules.

Senses use the CoNLL-2016 inventory (`CONLL_SENSES`) - the names found in the official
annotations - so that the exact-sense match of the scorer can hit them. In particular
"when" maps to `Temporal.Synchrony` (the PDTB-2/CoNLL name of PDTB-3's Temporal.Synchronous).

Tagger rules (all on normalised words: lower case, surrounding punctuation removed):

1. Matching is longest-first over the whole window (all 4-word connectives, then 3-word, ...),
   each word used at most once, so "as a result" wins over a bare "as" and "on the other hand"
   over "other".
2. Ambiguous items (`_NEEDS_CONTEXT`: and, or, so, then, since, before, after, until, ordinals,
   ...) are connectives only in clause position: after a clause boundary, before one, or
   followed by a subject pronoun ("so I went", "and they left"); "so big", "me and my friend",
   "the first time" and "before lunch" are not tagged.
3. A few collocations are blocked (`_BLOCK_NEXT` / `_BLOCK_PREV`): "because of", "if any",
   "not yet", "a while", "back then", "as well as"...
4. Clause boundaries are punctuation at the end of a word (, ; : . ! ? and dashes), a
   punctuation-only token, or a silent gap of at least `PAUSE_S` between timed words (ASR
   transcripts are not always punctuated).

Relation span heuristic: from the start of the clause before the connective (Arg1; the words
before it in its own clause, or the previous clause when the connective opens a clause) to the
end of the clause after it (Arg2; the rest of its clause, or the next clause when the connective
closes one), optionally clipped to a window. With no Arg1 (window-initial connective) or no Arg2
the connective's own time bounds that side.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..speech.words import Word
from .records import DiscourseRelation

CONLL_SENSES = (
    "Comparison.Concession",
    "Comparison.Contrast",
    "Contingency.Cause.Reason",
    "Contingency.Cause.Result",
    "Contingency.Condition",
    "EntRel",
    "Expansion.Alternative",
    "Expansion.Alternative.Chosen alternative",
    "Expansion.Conjunction",
    "Expansion.Exception",
    "Expansion.Instantiation",
    "Expansion.Restatement",
    "Temporal.Asynchronous.Precedence",
    "Temporal.Asynchronous.Succession",
    "Temporal.Synchrony",
)

_REASON = "Contingency.Cause.Reason"
_RESULT = "Contingency.Cause.Result"
_COND = "Contingency.Condition"
_CONTRAST = "Comparison.Contrast"
_CONCESSION = "Comparison.Concession"
_SYNC = "Temporal.Synchrony"
_PRECED = "Temporal.Asynchronous.Precedence"
_SUCC = "Temporal.Asynchronous.Succession"
_CONJ = "Expansion.Conjunction"
_INST = "Expansion.Instantiation"
_RESTATE = "Expansion.Restatement"
_ALT = "Expansion.Alternative"
_CHOSEN = "Expansion.Alternative.Chosen alternative"
_EXCEPT = "Expansion.Exception"

# Connective (lower case, single spaces) -> default sense: the most frequent sense of the
# connective in PDTB as far as a single default can capture it.
CONNECTIVE_SENSES: dict[str, str] = {
    # Contingency.Cause.Reason
    "because": _REASON,
    "since": _REASON,
    "given that": _REASON,
    "now that": _REASON,
    "seeing that": _REASON,
    "after all": _REASON,
    # Contingency.Cause.Result
    "so": _RESULT,
    "so that": _RESULT,
    "therefore": _RESULT,
    "thus": _RESULT,
    "hence": _RESULT,
    "consequently": _RESULT,
    "accordingly": _RESULT,
    "thereby": _RESULT,
    "as a result": _RESULT,
    "as a consequence": _RESULT,
    "for that reason": _RESULT,
    "that's why": _RESULT,
    "which is why": _RESULT,
    # Contingency.Condition
    "if": _COND,
    "unless": _COND,
    "as long as": _COND,
    "provided that": _COND,
    "in case": _COND,
    "only if": _COND,
    "if and when": _COND,
    # Comparison.Contrast
    "but": _CONTRAST,
    "however": _CONTRAST,
    "whereas": _CONTRAST,
    "while": _CONTRAST,
    "yet": _CONTRAST,
    "in contrast": _CONTRAST,
    "by contrast": _CONTRAST,
    "on the other hand": _CONTRAST,
    "on the contrary": _CONTRAST,
    "conversely": _CONTRAST,
    # Comparison.Concession
    "although": _CONCESSION,
    "though": _CONCESSION,
    "even though": _CONCESSION,
    "even if": _CONCESSION,
    "nevertheless": _CONCESSION,
    "nonetheless": _CONCESSION,
    "still": _CONCESSION,
    "anyway": _CONCESSION,
    "even so": _CONCESSION,
    "despite that": _CONCESSION,
    # Temporal.Synchrony
    "when": _SYNC,
    "whenever": _SYNC,
    "meanwhile": _SYNC,
    "meantime": _SYNC,
    "in the meantime": _SYNC,
    "simultaneously": _SYNC,
    "at the same time": _SYNC,
    # Temporal.Asynchronous.Precedence (Arg1 happens before Arg2)
    "before": _PRECED,
    "then": _PRECED,
    "until": _PRECED,
    "till": _PRECED,
    "later": _PRECED,
    "afterwards": _PRECED,
    "afterward": _PRECED,
    "next": _PRECED,
    "eventually": _PRECED,
    "by then": _PRECED,
    "after that": _PRECED,
    # Temporal.Asynchronous.Succession (Arg1 happens after Arg2)
    "after": _SUCC,
    "once": _SUCC,
    "as soon as": _SUCC,
    "ever since": _SUCC,
    "previously": _SUCC,
    "earlier": _SUCC,
    # Expansion.Conjunction
    "and": _CONJ,
    "also": _CONJ,
    "moreover": _CONJ,
    "furthermore": _CONJ,
    "further": _CONJ,
    "in addition": _CONJ,
    "additionally": _CONJ,
    "besides": _CONJ,
    "as well": _CONJ,
    "plus": _CONJ,
    "similarly": _CONJ,
    "likewise": _CONJ,
    "first": _CONJ,
    "first of all": _CONJ,
    "firstly": _CONJ,
    "second": _CONJ,
    "secondly": _CONJ,
    "third": _CONJ,
    "thirdly": _CONJ,
    "finally": _CONJ,
    "lastly": _CONJ,
    "not only": _CONJ,
    "on top of that": _CONJ,
    # Expansion.Instantiation
    "for example": _INST,
    "for instance": _INST,
    # Expansion.Restatement
    "in fact": _RESTATE,
    "indeed": _RESTATE,
    "in other words": _RESTATE,
    "in short": _RESTATE,
    "in particular": _RESTATE,
    "specifically": _RESTATE,
    "overall": _RESTATE,
    # Expansion.Alternative
    "or": _ALT,
    "otherwise": _ALT,
    "alternatively": _ALT,
    "or else": _ALT,
    # Expansion.Alternative.Chosen alternative
    "instead": _CHOSEN,
    "rather": _CHOSEN,
    "rather than": _CHOSEN,
    # Expansion.Exception
    "except": _EXCEPT,
    "except that": _EXCEPT,
}

# Connectives that are very often not discourse connectives (coordinating nouns, intensifiers,
# ordinals, prepositions before a noun phrase): they need clause context (rule 2).
# fmt: off
_NEEDS_CONTEXT = frozenset(
    {
        "and", "or", "so", "then", "since", "before", "after", "until", "till", "once",
        "still", "yet", "first", "second", "third", "next", "later", "earlier", "further",
        "plus", "rather", "besides", "as well", "overall", "except",
    }
)
# Subject words whose presence right after an ambiguous connective signals a following clause.
_SUBJECTS = frozenset(
    {
        "i", "you", "he", "she", "it", "we", "they", "there", "this", "these", "those",
        "i'm", "you're", "he's", "she's", "it's", "we're", "they're", "there's", "that's",
        "i've", "you've", "we've", "they've", "i'd", "you'd", "we'd", "they'd", "i'll",
        "you'll", "we'll", "they'll", "he'll", "she'll", "it'll", "let's", "everyone",
        "everybody", "someone", "somebody", "nobody", "people",
    }
)
# fmt: on
_BLOCK_NEXT: dict[str, frozenset[str]] = {
    "because": frozenset({"of"}),
    "if": frozenset({"any"}),
    "so": frozenset({"much", "many", "far", "long", "called", "forth", "on"}),
    "as well": frozenset({"as"}),
}
_BLOCK_PREV: dict[str, frozenset[str]] = {
    "yet": frozenset({"not"}),
    "while": frozenset({"a", "the", "little", "worth", "whole"}),
    "then": frozenset({"back", "by", "since", "until", "till", "from", "now"}),
    "still": frozenset({"stand", "standing", "sit", "sitting", "stay"}),
    "since": frozenset({"ever"}),
    "first": frozenset({"the", "my", "your", "our", "their", "his", "her", "its", "at"}),
    "second": frozenset({"the", "a", "one", "my", "your", "our", "their", "his", "her"}),
    "third": frozenset({"the", "a", "one", "my", "your", "our", "their", "his", "her"}),
    "next": frozenset({"the", "my", "your", "our", "their", "his", "her", "week", "year"}),
    "once": frozenset({"at", "more", "than", "just", "only"}),
    "so": frozenset({"or", "if", "think", "hope", "guess", "said", "say"}),
}

MAX_CONNECTIVE_WORDS = max(len(k.split()) for k in CONNECTIVE_SENSES)
PAUSE_S = 0.4  # a silent gap this long between words counts as a clause boundary
_BOUNDARY_CHARS = ",;:.!?\u2013\u2014\u2026-"
_NORM_RE = re.compile(r"[^\w']+")


def top_level(sense: str) -> str:
    """The first component of a PDTB sense: "Contingency.Cause.Reason" -> "Contingency"."""
    return sense.split(".", 1)[0]


def normalise_word(text: str) -> str:
    """Lower case, punctuation removed (apostrophes inside words kept: "that's")."""
    return _NORM_RE.sub("", text.lower().replace("\u2019", "'")).strip("'_")


def _strip_punct(text: str) -> str:
    """The spoken form of a word as raw connective text: case kept, outer punctuation gone."""
    return text.strip().strip("\"'()[]{}\u201c\u201d\u2018\u2019" + _BOUNDARY_CHARS)


@dataclass(frozen=True)
class _Token:
    index: int  # position in the caller's word list
    norm: str
    boundary_after: bool  # a clause boundary follows this word


def _tokens(words: Sequence[Word]) -> list[_Token]:
    """Content words (non-empty after normalisation) with clause-boundary flags (rule 4)."""
    out: list[_Token] = []
    for i, w in enumerate(words):
        norm = normalise_word(w.text)
        raw = w.text.strip()
        if not norm:  # punctuation-only token: a boundary after the previous word
            if out and raw and any(c in _BOUNDARY_CHARS for c in raw):
                out[-1] = _Token(out[-1].index, out[-1].norm, True)
            continue
        if out and not out[-1].boundary_after:
            prev = words[out[-1].index]
            if prev.end is not None and w.start is not None and w.start - prev.end >= PAUSE_S:
                out[-1] = _Token(out[-1].index, out[-1].norm, True)
        ends = bool(raw) and raw.rstrip("\"')]}\u201d\u2019")[-1:] in tuple(_BOUNDARY_CHARS)
        out.append(_Token(i, norm, ends))
    return out


def _in_context(key: str, toks: list[_Token], a: int, b: int) -> bool:
    """Rules 2 and 3 for the connective `key` on content tokens a..b (inclusive)."""
    prev = toks[a - 1] if a > 0 else None
    nxt = toks[b + 1] if b + 1 < len(toks) else None
    if nxt is not None and nxt.norm in _BLOCK_NEXT.get(key, ()):
        return False
    if prev is not None and prev.norm in _BLOCK_PREV.get(key, ()):
        return False
    if key not in _NEEDS_CONTEXT:
        return True
    boundary_before = prev is None or prev.boundary_after
    boundary_after = nxt is None or toks[b].boundary_after
    return boundary_before or boundary_after or nxt.norm in _SUBJECTS


def find_connectives(words: Sequence[Word]) -> list[tuple[int, int, str]]:
    """Connective occurrences as (first word index, last word index, lexicon key), in order.

    Indices refer to `words`; punctuation-only tokens are skipped inside multi-word matches.
    """
    toks = _tokens(words)
    used = [False] * len(toks)
    found: list[tuple[int, int, str]] = []
    for n in range(MAX_CONNECTIVE_WORDS, 0, -1):
        for a in range(len(toks) - n + 1):
            b = a + n - 1
            if any(used[a : b + 1]):
                continue
            # a multi-word connective may not straddle a clause boundary
            if any(toks[k].boundary_after for k in range(a, b)):
                continue
            key = " ".join(t.norm for t in toks[a : b + 1])
            if key in CONNECTIVE_SENSES and _in_context(key, toks, a, b):
                used[a : b + 1] = [True] * n
                found.append((a, b, key))
    found.sort()
    return [(toks[a].index, toks[b].index, key) for a, b, key in found]


def _clauses(toks: list[_Token]) -> list[int]:
    """Clause id of every content token (a new clause starts after each boundary)."""
    ids, cid = [], 0
    for t in toks:
        ids.append(cid)
        if t.boundary_after:
            cid += 1
    return ids


def _first_time(words: Sequence[Word], idx: Sequence[int]) -> float | None:
    starts = [words[i].start for i in idx if words[i].start is not None]
    return min(starts) if starts else None


def _last_time(words: Sequence[Word], idx: Sequence[int]) -> float | None:
    ends = [words[i].end for i in idx if words[i].end is not None]
    return max(ends) if ends else None


def tag_connectives(
    words: Sequence[Word], *, clip: tuple[float, float] | None = None
) -> list[DiscourseRelation]:
    """Explicit relations found in `words`, timed by the words (see the module docstring).

    Times are copied from the words (pass window-relative words for window-relative relations);
    `clip` = (start, end) bounds the relation span. Connectives whose words are untimed are
    skipped: they could not be placed.
    """
    toks = _tokens(words)
    pos = {t.index: k for k, t in enumerate(toks)}
    cid = _clauses(toks)
    members: dict[int, list[int]] = {}
    for k, c in enumerate(cid):
        members.setdefault(c, []).append(toks[k].index)

    relations: list[DiscourseRelation] = []
    for first, last, key in find_connectives(words):
        conn_idx = [i for i in range(first, last + 1) if i in pos]
        conn_start = _first_time(words, conn_idx)
        conn_end = _last_time(words, conn_idx)
        if conn_start is None or conn_end is None:
            continue
        a, b = pos[first], pos[last]
        # Arg1: words before the connective in its clause, else the previous clause
        if a == 0:
            arg1: list[int] = []
        elif toks[a - 1].boundary_after:
            arg1 = members[cid[a - 1]]
        else:
            arg1 = [i for i in members[cid[a]] if i < first]
        # Arg2: the rest of the connective's clause, else the next clause
        if b == len(toks) - 1:
            arg2: list[int] = []
        elif toks[b].boundary_after:
            arg2 = members[cid[b + 1]]
        else:
            arg2 = [i for i in members[cid[b]] if i > last]
        rel_start = _first_time(words, arg1)
        rel_end = _last_time(words, arg2)
        rel_start = conn_start if rel_start is None else min(rel_start, conn_start)
        rel_end = conn_end if rel_end is None else max(rel_end, conn_end)
        if clip is not None:
            lo, hi = clip
            rel_start, rel_end = max(rel_start, lo), min(rel_end, hi)
            conn_start, conn_end = max(conn_start, lo), min(conn_end, hi)
        text = " ".join(_strip_punct(words[i].text) for i in conn_idx)
        relations.append(
            DiscourseRelation(
                CONNECTIVE_SENSES[key], text, rel_start, rel_end, conn_start, conn_end
            )
        )
    return relations


# ============================================================================ official JSON


@dataclass(frozen=True)
class DiscourseAnnotation:
    """A whole file's tokens and explicit relations, in the file's (absolute) seconds."""

    tokens: list[Word]
    relations: list[DiscourseRelation]


def _number(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError(f"{what} must be a finite number, got {value!r}")
    return float(value)


def _token_index(item: Any, n_tokens: int, what: str) -> int:
    """A token reference: an int, or a CoNLL-2015 [char0, char1, doc_token, sent, sent_token]."""
    if isinstance(item, list | tuple) and len(item) >= 3:
        item = item[2]
    if isinstance(item, bool) or not isinstance(item, int):
        raise ValueError(f"{what}: token index must be an integer, got {item!r}")
    if not 0 <= item < n_tokens:
        raise ValueError(f"{what}: token index {item} out of range (0..{n_tokens - 1})")
    return item


def _token_list(rel: dict, key: str, n_tokens: int, what: str) -> list[int]:
    part = rel.get(key)
    if not isinstance(part, dict) or not isinstance(part.get("TokenList"), list):
        raise ValueError(f"{what}: missing {key}.TokenList")
    return [_token_index(x, n_tokens, f"{what} {key}") for x in part["TokenList"]]


def parse_discourse_json(data: Any, source: str = "<json>") -> DiscourseAnnotation:
    """Tokens and explicit relations from an already loaded annotation dict.

    Non-explicit relations (empty connective token list) are dropped. Relation times follow the
    official reader: relation span = first-indexed token's start .. last-indexed token's end
    over connective + Arg1 + Arg2; connective span likewise over the connective tokens.
    Raises ValueError naming `source` and the sentence/token or relation index at fault.
    """
    if not isinstance(data, dict) or not isinstance(data.get("sentences"), list):
        raise ValueError(f"{source}: expected an object with a 'sentences' list")
    tokens: list[Word] = []
    for s, sent in enumerate(data["sentences"]):
        if not isinstance(sent, dict) or not isinstance(sent.get("tokens"), list):
            raise ValueError(f"{source}: sentence {s}: expected an object with a 'tokens' list")
        for t, tok in enumerate(sent["tokens"]):
            what = f"{source}: sentence {s} token {t}"
            if not isinstance(tok, dict) or not isinstance(tok.get("surface"), str):
                raise ValueError(f"{what}: expected an object with a string 'surface'")
            start = _number(tok.get("startSec"), f"{what} startSec")
            end = _number(tok.get("endSec"), f"{what} endSec")
            tokens.append(Word(tok["surface"].replace(" ", ""), start, end))

    rels = data.get("relations", [])
    if not isinstance(rels, list):
        raise ValueError(f"{source}: 'relations' must be a list")
    relations: list[DiscourseRelation] = []
    n = len(tokens)
    for r, rel in enumerate(rels):
        what = f"{source}: relation {r}"
        if not isinstance(rel, dict):
            raise ValueError(f"{what}: expected an object")
        conn = _token_list(rel, "Connective", n, what)
        if not conn:
            continue  # implicit / EntRel / NoRel: not usable for retrieval
        raw = rel["Connective"].get("RawText")
        if not isinstance(raw, str) or not raw.strip():
            raise ValueError(f"{what}: Connective.RawText must be a non-empty string")
        sense = rel.get("Sense")
        if not isinstance(sense, list) or not sense or not isinstance(sense[0], str):
            raise ValueError(f"{what}: Sense must be a non-empty list of strings")
        span = conn + _token_list(rel, "Arg1", n, what) + _token_list(rel, "Arg2", n, what)
        relations.append(
            DiscourseRelation(
                sense=sense[0],
                connective=raw,
                rel_start=tokens[min(span)].start,
                rel_end=tokens[max(span)].end,
                conn_start=tokens[min(conn)].start,
                conn_end=tokens[max(conn)].end,
            )
        )
    return DiscourseAnnotation(tokens, relations)


def read_discourse_json(path: str | Path) -> DiscourseAnnotation:
    """Read a CoNLL-2016-style `*_relations.json` file (see `parse_discourse_json`)."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise ValueError(f"{path}: not valid JSON: {err}") from None
    return parse_discourse_json(data, str(path))


def relations_in_window(
    relations: Sequence[DiscourseRelation], start: float, end: float
) -> list[DiscourseRelation]:
    """Relations whose connective lies inside [start, end], clipped and shifted to the window.

    As the official dataset (DCU:32-129, DS:1070-1096): the relation span is clipped to the
    window, then every time is made relative to `start`.
    """
    out = []
    for rel in relations:
        if not (rel.conn_start >= start and rel.conn_end <= end):
            continue
        out.append(
            DiscourseRelation(
                rel.sense,
                rel.connective,
                max(rel.rel_start, start) - start,
                min(rel.rel_end, end) - start,
                max(rel.conn_start, start) - start,
                min(rel.conn_end, end) - start,
            )
        )
    return out
