"""wav2vec2-base-960h: audio features per 10-s window and CTC emissions, from one pass.

The model's `last_hidden_state` for a 160,000-sample window (499 x 768) is the RAG-Gesture
audio condition (spec §3.9), after the processor's per-window normalisation. The same
checkpoint's CTC head turns that hidden state into character log-probabilities, which the
forced aligner uses; running the base network once gives both.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..progress import check
from .pretrained import WAV2VEC_NAME, from_pretrained

WINDOW_SAMPLES = 160_000
FRAME_SAMPLES = 320  # one emission per 20 ms at 16 kHz


@dataclass
class WindowAcoustics:
    features: np.ndarray  # (W, 499, D) float32
    log_probs: np.ndarray  # (W, 499, V) float32


class Wav2VecModel:
    """Processor + `Wav2Vec2ForCTC` from a hub name or a local folder."""

    def __init__(self, name_or_path: str | Path = WAV2VEC_NAME, device: str = "cpu",
                 allow_download: bool = False, batch_windows: int = 1) -> None:
        from transformers import Wav2Vec2ForCTC, Wav2Vec2Processor

        self.processor = from_pretrained(Wav2Vec2Processor, name_or_path, allow_download)
        self.model = from_pretrained(Wav2Vec2ForCTC, name_or_path, allow_download)
        self.model.to(device).eval().requires_grad_(False)
        self.device = device
        self.batch_windows = batch_windows
        self.vocab: dict[str, int] = self.processor.tokenizer.get_vocab()
        self.blank = self.processor.tokenizer.pad_token_id or 0
        self.delimiter = self.processor.tokenizer.word_delimiter_token or "|"

    @property
    def feature_dim(self) -> int:
        return int(self.model.config.hidden_size)

    def normalise(self, windows: Sequence[np.ndarray]) -> torch.Tensor:
        """The processor's zero-mean / unit-variance normalisation, per window."""
        out = self.processor.feature_extractor(list(windows), sampling_rate=16_000,
                                               return_tensors="pt")
        return out.input_values

    def run(self, windows: Sequence[np.ndarray],
            should_stop: Callable[[], bool] | None = None,
            on_batch: Callable[[int], None] | None = None) -> WindowAcoustics:
        """Features and CTC log-probs for equal-length windows, a few windows per batch."""
        feats, logps = [], []
        with torch.inference_mode():
            for i in range(0, len(windows), self.batch_windows):
                check(should_stop, "speech analysis")
                batch = self.normalise(windows[i:i + self.batch_windows]).to(self.device)
                hidden = self.model.wav2vec2(batch).last_hidden_state
                logits = self.model.lm_head(hidden)
                feats.append(hidden.float().cpu().numpy())
                logps.append(torch.log_softmax(logits.float(), dim=-1).cpu().numpy())
                if on_batch is not None:
                    on_batch(min(i + self.batch_windows, len(windows)))
        return WindowAcoustics(np.concatenate(feats), np.concatenate(logps))
