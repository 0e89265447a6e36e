"""Upper bounds on `scoring.word_similarity` against a whole vocabulary at once.

A cold gesture-type query compares its word with every label word of one gesture kind: with
a real database that is thousands of distinct words, and the exact partial ratio (difflib)
costs ~35 us each. Its value is the best difflib ratio 2M / 2n of the shorter word against a
same-length window of the longer one, and M (matching characters) can never exceed the
characters the two have in common, counted with multiplicity. That count is a few vector
operations for the whole vocabulary, so the search (scoring.search) computes exact
similarities only for the windows whose bound can still reach the candidates it keeps.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


class WordBounds:
    """Character histograms of a fixed vocabulary; `upper(query)` bounds every similarity."""

    def __init__(self, words: Sequence[str]) -> None:
        self.words = list(words)
        self.index = {w: i for i, w in enumerate(self.words)}
        chars = sorted({c for w in self.words for c in w})
        self.alphabet = {c: i for i, c in enumerate(chars)}
        self.hist = np.zeros((len(self.words), max(1, len(chars))), np.int32)
        for i, w in enumerate(self.words):
            for c in w:
                self.hist[i, self.alphabet[c]] += 1
        self.lengths = np.array([len(w) for w in self.words], np.int64)

    def _histogram(self, text: str) -> np.ndarray:
        """Cumulative histograms of `text` (len+1, A): window [s, s+n) = cum[s+n] - cum[s]."""
        rows = np.zeros((len(text) + 1, self.hist.shape[1]), np.int32)
        for k, c in enumerate(text):
            rows[k + 1] = rows[k]
            j = self.alphabet.get(c)
            if j is not None:
                rows[k + 1, j] += 1
        return rows

    def upper(self, query: str) -> np.ndarray:
        """(V,) float64, >= word_similarity(word, query) for every word (0 for empty ones).

        A word no longer than the query is bounded window by window of the query; a longer
        word by the characters it shares with the whole query (>= any of its windows)."""
        out = np.zeros(len(self.words))
        nq = len(query)
        if nq == 0 or not self.words:
            return out
        cum = self._histogram(query)
        longer = self.lengths > nq
        if longer.any():
            shared = np.minimum(self.hist[longer], cum[-1]).sum(1)
            out[longer] = shared / nq
        for n in np.unique(self.lengths[(self.lengths > 0) & ~longer]):
            rows = np.flatnonzero(self.lengths == n)
            windows = cum[n:] - cum[:-n]  # (nq - n + 1, A)
            shared = np.minimum(self.hist[rows][:, None, :], windows[None]).sum(-1).max(1)
            out[rows] = shared / n
        return out
