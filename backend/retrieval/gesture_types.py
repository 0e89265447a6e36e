"""Semantic gesture types: a local word tagger, the LLM prompt/answer handling of spec §5.5 and
the matching of LLM words to timed tokens.

Local tagger (`tag_gesture_words`): lexicons of words that typically co-occur with deictic
(pointing: demonstratives, places, directions, persons), iconic (depicting shape, size or a
physical action) and metaphoric (giving form to an abstract idea or process) gestures, plus
these rules:

1. Words are normalised (lower case, punctuation removed); phrases ("over there", "in front")
   are matched longest-first, each word used once.
2. Iconic and metaphoric entries also match simple inflections: -s/-es/-ies, -ed/-ied, -ing,
   -er/-est/-ier (with a doubled final consonant or a dropped "e" restored), -ly.
3. Context rules for ambiguous deictics: existential "there" ("there is") is not deictic;
   "that" is not deictic after verbs of saying/thinking or "so/such/than", nor before a
   subject or article (complementiser "that I", "that the"); "left"/"right" only after a
   locative word ("to the left", "on your right"); bare "up"/"down" only at a clause end or
   before there/here/the/to/into/onto; "you" not in "you know" / "thank you".
4. Person deictics (me, you, we, us, ...) get a lower priority than spatial deictics and
   content words; `max_labels` keeps the highest-priority labels (earlier first on ties).
   "I" is not tagged: it is so frequent it would swamp every window.

The LLM path replaces the tagger by one chat completion (`chat_messages`) whose answer is parsed
by `parse_llm_answer`; `match_query_words` then times the answer's words on the window tokens.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from ..speech.words import Word
from .prominence_map import phrase_prominence
from .records import GestureLabel, ProminenceRow, QueryPoint

# ============================================================================ lexicons

# fmt: off
DEICTIC_SPATIAL = frozenset(
    {
        "this", "that", "these", "those", "here", "there", "over there", "over here",
        "right here", "right there", "up there", "down there", "up here", "down here",
        "out there", "in here", "in there", "this way", "that way", "this side",
        "that side", "left", "right", "up", "down", "above", "below", "behind",
        "in front", "in front of", "forward",
        "forwards", "backward", "backwards", "upward", "upwards", "downward", "downwards",
        "upstairs", "downstairs", "inside", "outside", "north", "south", "east", "west",
        "everywhere", "somewhere", "nearby", "far away",
    }
)
DEICTIC_PERSON = frozenset(
    {
        "you", "me", "myself", "yourself", "yourselves", "we", "us", "ourselves",
        "everyone", "everybody",
    }
)
ICONIC = frozenset(
    {
        # size and shape
        "big", "small", "tiny", "huge", "enormous", "giant", "large", "massive", "tall",
        "short", "long", "wide", "narrow", "thin", "thick", "fat", "round", "circle",
        "circular", "square", "triangle", "rectangle", "shape", "ball", "box", "line",
        "curve", "flat", "high", "low", "deep", "shallow", "full", "empty", "heavy",
        "sharp", "pile", "stack", "wall", "tower", "bridge", "mountain", "hill", "river",
        "road", "tree", "door", "window", "table", "cup", "phone", "car", "size", "edge",
        "corner", "layer", "hole", "wave", "spiral", "straight", "bent", "open", "closed",
        # physical actions
        "throw", "threw", "thrown", "push", "pull", "grab", "lift", "climb", "jump",
        "fall", "fell", "fallen", "drop", "spin", "turn", "rotate", "roll", "swing",
        "shake", "hit", "kick", "punch", "catch", "caught", "carry", "hold", "held",
        "close", "cut", "break", "broke", "broken", "fly", "flew", "flown", "swim", "walk",
        "run", "ran", "dance", "draw", "drew", "drawn", "write", "wrote", "pour", "fill",
        "squeeze", "stretch", "fold", "wrap", "shoot", "drive", "drove", "ride", "rode",
        "bounce", "slide", "crash", "explode", "build", "built", "stir", "mix", "knock",
        "clap", "cook", "chop", "paint", "hug", "touch", "pick", "shrink",
        "expand", "split", "scatter", "surround", "cross", "flip", "twist", "press",
    }
)
METAPHORIC = frozenset(
    {
        "idea", "concept", "important", "importance", "process", "future", "past",
        "progress", "change", "balance", "grow", "grew", "grown", "growth", "theory",
        "knowledge", "meaning", "problem", "solution", "system", "structure",
        "relationship", "connection", "connect", "goal", "plan", "dream", "freedom",
        "society", "culture", "value", "truth", "power", "level", "difference",
        "different", "compare", "whole", "together", "separate", "develop", "improve",
        "increase", "decrease", "rise", "decline", "complex", "simple", "abstract",
        "emotion", "mind", "memory", "opinion", "belief", "argument", "aspect", "issue",
        "history", "experience", "education", "economy", "politics", "life", "world",
        "community", "responsibility", "opportunity", "challenge", "success", "failure",
        "strategy", "method", "approach", "perspective", "possibility", "chance",
        "question", "answer", "reason", "result", "effect", "cause", "purpose", "focus",
        "support", "control", "peace", "love", "trust", "respect", "information",
        "creative", "creativity", "imagine", "imagination", "understand", "believe",
        "everything", "nothing", "beginning", "end", "step", "stage", "phase", "cycle",
        "network", "framework", "foundation", "basis", "core", "center", "essence",
    }
)

# Priority of a match (higher is kept first by `max_labels`).
_PRIORITY = {"deictic": 3, "iconic": 2, "metaphoric": 2, "person": 1}

_LOCATIVE = frozenset({"the", "to", "your", "my", "his", "her", "their", "our", "on", "far"})
_EXISTENTIAL_NEXT = frozenset(
    {
        "is", "are", "was", "were", "will", "would", "might", "must", "may", "can",
        "could", "should", "has", "have", "had", "be", "been", "seems", "seem", "used",
        "isn't", "aren't", "wasn't", "weren't", "won't",
    }
)
_THAT_BLOCK_PREV = frozenset(
    {
        "so", "such", "than", "now", "think", "thought", "know", "knew", "say", "said",
        "says", "mean", "means", "meant", "believe", "sure", "hope", "guess", "feel",
        "felt", "realize", "realized", "realise", "realised", "tell", "told", "show",
        "shows", "showed", "find", "found", "see", "saw", "is", "was", "like", "and",
    }
)
_THAT_BLOCK_NEXT = frozenset(
    {
        "i", "you", "he", "she", "it", "we", "they", "the", "a", "an", "my", "your",
        "his", "her", "our", "their", "there", "i'm", "it's", "we're", "they're",
        "you're", "if", "when", "because",
    }
)
# fmt: on
_UPDOWN_NEXT = frozenset({"there", "here", "the", "to", "into", "onto"})
_YOU_BLOCK_NEXT = frozenset({"know"})
_YOU_BLOCK_PREV = frozenset({"thank"})
_BOUNDARY_CHARS = ",;:.!?\u2013\u2014\u2026-"
_NORM_RE = re.compile(r"[^\w']+")

_ALL_ENTRIES = DEICTIC_SPATIAL | DEICTIC_PERSON | ICONIC | METAPHORIC
_MAX_WORDS = max(len(e.split()) for e in _ALL_ENTRIES)


def _norm(text: str) -> str:
    return _NORM_RE.sub("", text.lower().replace("\u2019", "'")).strip("'_")


def _variants(word: str) -> list[str]:
    """The word and plausible base forms under rule 2 (over-generation is harmless)."""
    out = [word]

    def add(stem: str) -> None:
        if len(stem) >= 2:
            out.extend([stem, stem + "e"])
            if len(stem) >= 3 and stem[-1] == stem[-2]:
                out.append(stem[:-1])  # bigger -> bigg -> big, dropped -> dropp -> drop

    for suffix in ("ies", "ied", "ier", "iest"):
        if word.endswith(suffix):
            out.append(word[: -len(suffix)] + "y")
    for suffix in ("ing", "est", "es", "ed", "er", "ly", "s"):
        if word.endswith(suffix) and len(word) > len(suffix) + 1:
            add(word[: -len(suffix)])
    return out


def _kind_of(entry: str, inflected: bool) -> str | None:
    """Lexicon class of an entry; inflected forms only count for iconic/metaphoric."""
    if not inflected:
        if entry in DEICTIC_SPATIAL:
            return "deictic"
        if entry in DEICTIC_PERSON:
            return "person"
    if entry in ICONIC:
        return "iconic"
    if entry in METAPHORIC:
        return "metaphoric"
    return None


def _ends_clause(word: Word) -> bool:
    raw = word.text.strip().rstrip("\"')]}\u201d\u2019")
    return bool(raw) and raw[-1] in _BOUNDARY_CHARS


def _deictic_ok(entry: str, prev: str | None, nxt: str | None, clause_end: bool) -> bool:
    """Rule 3 for single-word deictics."""
    if entry == "there":
        return nxt not in _EXISTENTIAL_NEXT
    if entry == "that":
        return prev not in _THAT_BLOCK_PREV and nxt not in _THAT_BLOCK_NEXT
    if entry in ("left", "right"):
        return prev in _LOCATIVE and nxt not in ("now", "away")
    if entry in ("up", "down"):
        return clause_end or nxt is None or nxt in _UPDOWN_NEXT
    if entry == "you":
        return nxt not in _YOU_BLOCK_NEXT and prev not in _YOU_BLOCK_PREV
    return True


def tag_gesture_words(
    words: Sequence[Word], *, max_labels: int | None = None, include_persons: bool = True
) -> list[GestureLabel]:
    """Deictic / iconic / metaphoric labels for the timed words, in time order.

    The label word is the normalised text (lower case, punctuation removed; phrases joined by
    single spaces). Untimed words are ignored.
    """
    idx = [i for i, w in enumerate(words) if w.timed and _norm(w.text)]
    norms = [_norm(words[i].text) for i in idx]
    used = [False] * len(idx)
    hits: list[tuple[int, int, str, int]] = []  # (first, last, kind, priority) in idx space
    for n in range(_MAX_WORDS, 0, -1):
        for a in range(len(idx) - n + 1):
            b = a + n - 1
            if any(used[a : b + 1]):
                continue
            if any(_ends_clause(words[idx[k]]) for k in range(a, b)):
                continue  # phrases do not straddle punctuation
            text = " ".join(norms[a : b + 1])
            kind = None
            if n > 1:
                kind = _kind_of(text, inflected=False)
            else:
                for k, cand in enumerate(_variants(text)):
                    kind = _kind_of(cand, inflected=k > 0)
                    if kind is not None:
                        break
            if kind is None:
                continue
            if n == 1 and kind in ("deictic", "person"):
                prev = norms[a - 1] if a > 0 else None
                nxt = norms[b + 1] if b + 1 < len(idx) else None
                if not _deictic_ok(text, prev, nxt, _ends_clause(words[idx[b]])):
                    continue
            if kind == "person" and not include_persons:
                continue
            used[a : b + 1] = [True] * n
            hits.append((a, b, kind, _PRIORITY[kind]))
    if max_labels is not None:
        hits = sorted(hits, key=lambda h: (-h[3], h[0]))[: max(0, max_labels)]
    hits.sort()
    labels = []
    for a, b, kind, _prio in hits:
        first, last = words[idx[a]], words[idx[b]]
        labels.append(
            GestureLabel(
                "deictic" if kind == "person" else kind,
                float(first.start),
                float(last.end),
                " ".join(norms[a : b + 1]),
            )
        )
    return labels


# ============================================================================ LLM prompt

LLM_MODEL = "gpt-4o-mini"  # the model of the reference (LR:69-97); any chat model works

SYSTEM_PROMPT = """\
You are an expert on co-speech gestures. Your task is to find the words in a piece of speech \
that are likely to be accompanied by a semantically meaningful gesture (deictic, iconic or \
metaphoric) and to name the gesture type.

Metaphoric gesture: gives a physical form to an abstract idea or concept, for example holding \
an idea as if it were an object.
Iconic gesture: depicts the shape, size or movement of a concrete object or action being \
described.
Deictic gesture: points at or indicates a person, an object, a place or a direction.

Answer with a Python list of (word, type) tuples and nothing else, for example: \
[('this', 'deictic'), ('huge', 'iconic')]"""

USER_PROMPT_TEMPLATE = (
    "Which words (at most 2) of the following text are the most important ones and the most "
    "likely to be accompanied by a semantically meaningful gesture, and of which type? "
    'Text: "{text}"'
)


def user_prompt(text: str) -> str:
    """The user message for one window transcript."""
    return USER_PROMPT_TEMPLATE.format(text=text)


def chat_messages(text: str) -> list[dict[str, str]]:
    """OpenAI-compatible chat messages (system + user) for one window transcript."""
    return [
        {"role": "system", "content": SYSTEM_PROMPT},
        {"role": "user", "content": user_prompt(text)},
    ]


# ============================================================================ LLM answer

_Q = "[\"'\u2018\u2019\u201c\u201d`]*"
# optionally quoted word/phrase, comma, optionally quoted type; a missing first letter of the
# type is tolerated ("eictic", "conic", "etaphoric", "eat").
_PAIR_RE = re.compile(
    _Q
    + r"(?P<word>\w[\w \-']*\w|\w)"
    + _Q
    + r"\s*,\s*"
    + _Q
    + r"(?P<type>b?eat|m?etaphoric|i?conic|d?eictic)",
    re.IGNORECASE,
)
_TYPE_NAMES = {"eat": "beat", "etaphoric": "metaphoric", "conic": "iconic", "eictic": "deictic"}


def parse_llm_answer(answer: str) -> list[tuple[str, str]]:
    """(word, type) pairs from a free-form LLM answer: beat dropped, duplicates removed.

    Tolerant of quoting style and surrounding prose, like the reference parser (LR:131-165),
    which also means pairs quoted in an explanation are picked up (hence the de-duplication).
    """
    pairs: list[tuple[str, str]] = []
    for m in _PAIR_RE.finditer(answer):
        raw = m.group("type").lower()
        kind = next(v for k, v in _TYPE_NAMES.items() if raw.endswith(k))
        pair = (m.group("word").strip(), kind)
        if kind != "beat" and pair not in pairs:
            pairs.append(pair)
    return pairs


# ============================================================================ query words


def normalise_query_word(text: str) -> str:
    """Lower case, letters/digits/spaces only (the reference's query normalisation)."""
    return "".join(c for c in text.lower() if c.isalnum() or c.isspace())


def match_query_words(
    pairs: Sequence[tuple[str, str]],
    tokens: Sequence[Word],
    prominence: Sequence[ProminenceRow] | None = None,
) -> list[QueryPoint]:
    """Time LLM (word, type) pairs on the window's timed tokens (reference LR:201-266).

    Tokens are visited in order; a token (lower case, alnum only) is given to the first open
    query word that equals it or has it as one of its words, so each token serves one query
    word. A query word closes when it is matched whole or by its last word. Several tokens of
    one query word merge to [min start, max end]. Query points come out in the order of their
    first matched token (text order); unmatched words are dropped. Prominence, when rows are
    given, uses the official phrase matching (`phrase_prominence`).
    """
    words = [normalise_query_word(w) for w, _t in pairs]
    parts = [w.split() for w in words]
    open_ = [bool(p) for p in parts]
    spans: dict[int, list[tuple[float, float]]] = {}  # insertion order = first-match order
    for tok in tokens:
        if not tok.timed:
            continue
        t = normalise_query_word(tok.text).replace(" ", "")
        if not t:
            continue
        for q, word in enumerate(words):
            if not open_[q]:
                continue
            if word == t or t in parts[q]:
                spans.setdefault(q, []).append((float(tok.start), float(tok.end)))
                if word == t or t == parts[q][-1]:
                    open_[q] = False
                break
    order = list(spans)
    proms: list[float | None] = [None] * len(order)
    if prominence is not None:
        proms = phrase_prominence([words[q] for q in order], prominence)
    return [
        QueryPoint(
            kind="gesture",
            text=words[q],
            label=pairs[q][1],
            start=min(s for s, _e in spans[q]),
            end=max(e for _s, e in spans[q]),
            prominence=p,
        )
        for q, p in zip(order, proms, strict=True)
    ]
