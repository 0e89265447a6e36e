"""Frame-aligned BERT word features (spec §3.8), as the released model was trained on.

Per 10-s window: the words fully inside it, consecutive words with identical timings merged
without a space, joined by single spaces into one sentence; `bert-base-cased` with the fast
tokenizer; token features = sum of the last four hidden states (also kept whole as the
token-level matrix retrieval ranks with); a word's vector = mean of the rows of every BERT
pre-token it consists of; word i fills frames [int(15*start), int(15*end)) and later words
overwrite earlier ones.

Deviation: a sentence longer than BERT's 512 positions (the official code skips such a
window) is encoded in overlapping 512-position segments; each token takes its features from
the segment where it sits furthest from an edge.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from .pretrained import BERT_NAME, from_pretrained
from .words import Word

FPS = 15
MAX_POSITIONS = 512


@dataclass
class WindowText:
    """The text condition of one window."""

    frames: np.ndarray  # (150, D): the model's `word` input
    tokens: np.ndarray  # (n_tokens, D) incl. [CLS]/[SEP]: retrieval's token matrix
    sentence: str
    words: list[Word]  # merged words with times relative to the window start


def words_in_window(words: list[Word], start: float, length: float) -> list[Word]:
    """Timed words fully inside [start, start+length), shifted, identical timings merged."""
    inside = [Word(w.text, w.start - start, w.end - start, w.confidence) for w in words
              if w.timed and w.start >= start and w.end <= start + length and w.text]
    merged: list[Word] = []
    for w in inside:
        if merged and merged[-1].start == w.start and merged[-1].end == w.end:
            merged[-1] = Word(merged[-1].text + w.text, w.start, w.end, merged[-1].confidence)
        else:
            merged.append(w)
    return merged


def fill_frames(vectors: np.ndarray, words: list[Word], num_frames: int) -> np.ndarray:
    """(num_frames, D) zeros; word i fills [int(15*start), int(15*end)), later words win."""
    out = np.zeros((num_frames, vectors.shape[1]), dtype=np.float32)
    for vec, w in zip(vectors, words, strict=True):
        a, b = int(w.start * FPS), int(w.end * FPS)
        out[max(a, 0):max(min(b, num_frames), 0)] = vec
    return out


class BertWords:
    """`bert-base-cased` (or a compatible local model) turned into word and frame features."""

    def __init__(self, name_or_path: str | Path = BERT_NAME, device: str = "cpu",
                 allow_download: bool = False) -> None:
        from transformers import AutoModel, AutoTokenizer

        self.tokenizer = from_pretrained(AutoTokenizer, name_or_path, allow_download,
                                         use_fast=True)
        self.model = from_pretrained(AutoModel, name_or_path, allow_download)
        self.model.to(device).eval().requires_grad_(False)
        self.device = device

    @property
    def feature_dim(self) -> int:
        return int(self.model.config.hidden_size)

    def _run(self, ids: list[int]) -> np.ndarray:
        with torch.inference_mode():
            t = torch.tensor([ids], device=self.device)
            out = self.model(input_ids=t, attention_mask=torch.ones_like(t),
                             output_hidden_states=True)
            return torch.stack(out.hidden_states[-4:]).sum(0)[0].float().cpu().numpy()

    def token_features(self, sentence: str) -> tuple[np.ndarray, list[int | None]]:
        """(n_tokens, D) sum of the last four layers, and each token's pre-token index."""
        enc = self.tokenizer(sentence)
        ids, word_ids = enc["input_ids"], enc.word_ids()
        if len(ids) <= MAX_POSITIONS:
            return self._run(ids), word_ids
        return self._segmented(ids), word_ids

    def _segmented(self, ids: list[int]) -> np.ndarray:
        """Overlapping 512-position segments for over-long sentences (see module doc)."""
        cls_id, sep_id = ids[0], ids[-1]
        body = ids[1:-1]
        span = MAX_POSITIONS - 2
        stride = span // 2
        best = np.full(len(body), -1.0)
        feats = np.zeros((len(ids), self.feature_dim), dtype=np.float32)
        starts = list(range(0, max(len(body) - span, 0) + 1, stride))
        if starts[-1] + span < len(body):
            starts.append(len(body) - span)
        for s in starts:
            seg = self._run([cls_id, *body[s:s + span], sep_id])
            n = min(span, len(body) - s)
            margin = np.minimum(np.arange(n), np.arange(n)[::-1]).astype(float)
            idx = np.arange(s, s + n)
            take = margin > best[idx]
            feats[1 + idx[take]] = seg[1:1 + n][take]
            best[idx[take]] = margin[take]
            if s == 0:
                feats[0] = seg[0]
            if s == starts[-1]:
                feats[-1] = seg[-1]
        return feats

    def word_vectors(self, words: list[str], features: np.ndarray,
                     word_ids: list[int | None]) -> np.ndarray:
        """Mean token row per space-separated word, grouping its BERT pre-tokens."""
        rows_of: dict[int, list[int]] = {}
        for row, wid in enumerate(word_ids):
            if wid is not None:
                rows_of.setdefault(wid, []).append(row)
        out = np.zeros((len(words), features.shape[1]), dtype=np.float32)
        counter = 0
        for i, word in enumerate(words):
            pre_tokens = [p for p in self.tokenizer.tokenize(word) if not p.startswith("##")]
            rows = [r for k in range(counter, counter + len(pre_tokens))
                    for r in rows_of.get(k, [])]
            counter += len(pre_tokens)
            if rows:
                out[i] = features[rows].mean(axis=0)
        return out

    def window(self, words: list[Word], start: float, length: float = 10.0,
               num_frames: int = 150) -> WindowText:
        """The text condition of the window [start, start+length)."""
        inside = words_in_window(words, start, length)
        sentence = " ".join(w.text for w in inside)
        feats, word_ids = self.token_features(sentence)
        if not inside:
            return WindowText(np.zeros((num_frames, feats.shape[1]), np.float32), feats,
                              sentence, inside)
        vectors = self.word_vectors([w.text for w in inside], feats, word_ids)
        return WindowText(fill_frames(vectors, inside, num_frames), feats, sentence, inside)
