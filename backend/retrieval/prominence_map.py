"""Prominence of a connective or gesture word, from per-word (word, start, end, prom) rows.

Two estimators:

* `phrase_prominence` - the official text matching (RU:171-228), used for both the query and
  the database so scores stay comparable with the reference: rows are visited in time order
  and each row is given to the first still-open phrase that equals it or contains it as one of
  its words (case kept, alnum/space only); a phrase is closed when its whole text or its last
  word is matched; a phrase's value is the mean of its rows. The matching ignores timing, so
  the n-th "and" relation gets the n-th "and" of the window.
* `span_prominence` - timing based: mean over rows overlapping the item's time span. Better
  for our own annotations (which are timed exactly), offered for callers that want it.
"""

from __future__ import annotations

from collections.abc import Sequence

from .records import ProminenceRow


def alnum_space(text: str) -> str:
    """Keep letters, digits and whitespace (the official normalisation; case is kept)."""
    return "".join(c for c in str(text) if c.isalnum() or c.isspace())


def phrase_prominence(phrases: Sequence[str], rows: Sequence[ProminenceRow]) -> list[float | None]:
    """Official mapping of phrases (connectives, gesture words) to prominence; None = no match.

    Deviation: empty phrases / words (after normalisation) never match; the reference would
    pair an all-punctuation row with an all-punctuation phrase.
    """
    norm = [alnum_space(p) for p in phrases]
    parts = [p.split() for p in norm]
    open_ = [bool(p.strip()) for p in norm]
    values: list[list[float]] = [[] for _ in phrases]
    for word, _start, _end, prom in rows:
        w = alnum_space(word)
        if not w.strip():
            continue
        for i, phrase in enumerate(norm):
            if not open_[i]:
                continue
            if w == phrase or w in parts[i]:
                values[i].append(float(prom))
                if w == phrase or w == parts[i][-1]:
                    open_[i] = False
                break
    return [sum(v) / len(v) if v else None for v in values]


def span_prominence(start: float, end: float, rows: Sequence[ProminenceRow]) -> float | None:
    """Mean prominence of rows overlapping [start, end] (rows containing it if start == end)."""
    if end > start:
        hit = [p for _w, s, e, p in rows if e > start and s < end]
    else:
        hit = [p for _w, s, e, p in rows if s <= start <= e]
    return sum(hit) / len(hit) if hit else None
