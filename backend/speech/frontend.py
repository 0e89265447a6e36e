"""Recording + words -> per-window RAG-Gesture conditions, word timings and prominence.

Recipe, in order:
1. cut the 16 kHz audio into the pipeline's 10-s windows (backend.windows);
2. one wav2vec2 pass per window gives the audio condition (499 x 768) and CTC emissions;
3. words without timings are force-aligned on the stitched emissions (inside each phrase
   when phrases are timed); with no transcript at all the CTC head transcribes greedily;
4. per window: frame-aligned BERT word features (150 x 768) and the token matrix;
5. per-word prominence from the audio.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from rag_gesture_shared.protocol.events import TRANSCRIPT_MISMATCH_NOTE

from .. import windows as W
from ..progress import ProgressFn, StopFn, check
from .alignment import (
    MISMATCH_THRESHOLD,
    align_words,
    alignment_quality,
    alignment_spans,
    too_long_to_align,
)
from .audio import AudioClip, AudioError
from .bert import BertWords, WindowText
from .prominence import word_prominence
from .wav2vec import FRAME_SAMPLES, Wav2VecModel
from .words import Transcript, Word

FRAME_SECONDS = FRAME_SAMPLES / W.AUDIO_RATE
EMISSIONS_PER_SECOND = W.AUDIO_RATE // FRAME_SAMPLES  # 50
PAD_NOISE_STD = 1e-6  # padding of the last window, as the official code (tiny noise)


class SpeechError(ValueError):
    """The speech cannot be turned into conditions; one sentence for the user."""


@dataclass
class WindowSpeech:
    index: int
    start_frame: int  # at 15 fps
    audio: np.ndarray  # (499, D) wav2vec2 last_hidden_state
    text: WindowText
    prominence: list[tuple[str, float, float, float]]  # times relative to the window

    @property
    def start_seconds(self) -> float:
        return self.start_frame / W.FPS


@dataclass
class SpeechFeatures:
    windows: list[WindowSpeech]
    words: list[Word]  # absolute timings
    duration: float
    num_frames: int  # motion frames at 15 fps covering the audio
    timing_source: str  # "transcript", "aligned", "aligned in phrases" or "transcribed"
    alignment_quality: float | None = None
    warnings: list[str] = field(default_factory=list)

    def audio_array(self) -> np.ndarray:
        return np.stack([w.audio for w in self.windows])

    def text_array(self) -> np.ndarray:
        return np.stack([w.text.frames for w in self.windows])


def window_audio(clip: AudioClip, starts: list[int], seed: int = 0) -> list[np.ndarray]:
    """160,000 samples per window; the tail of the last one padded with tiny noise."""
    rng = np.random.default_rng(seed)
    out = []
    for s in starts:
        a, b = W.audio_span(s)
        piece = clip.samples[a:b]
        if len(piece) < b - a:
            pad = rng.normal(0.0, PAD_NOISE_STD, b - a - len(piece)).astype(np.float32)
            piece = np.concatenate([piece, pad])
        out.append(piece.astype(np.float32, copy=False))
    return out


def stitch_emissions(log_probs: np.ndarray, starts: list[int], total_frames: int) -> np.ndarray:
    """Per-window CTC log-probs (W, 499, V) -> one (total_frames, V) track.

    Window k starts at emission frame start_k * 50 / 15; each window owns the frames from
    the middle of its overlap with the previous window to the middle of its overlap with the
    next one, where its context is best.
    """
    n_win, per_win, vocab = log_probs.shape
    offsets = [s * EMISSIONS_PER_SECOND // W.FPS for s in starts]
    out = np.zeros((total_frames, vocab), dtype=np.float32)
    for k in range(n_win):
        begin = 0 if k == 0 else (offsets[k] + offsets[k - 1] + per_win) // 2
        end = total_frames if k == n_win - 1 else (offsets[k + 1] + offsets[k] + per_win) // 2
        end = min(end, total_frames, offsets[k] + per_win)
        if end > begin:
            out[begin:end] = log_probs[k, begin - offsets[k]:end - offsets[k]]
    return out


def greedy_transcribe(emissions: np.ndarray, vocab: dict[str, int], blank: int,
                      delimiter: str = "|") -> list[Word]:
    """Best-path CTC decoding into timed words (used when no transcript is given)."""
    inv = {i: t for t, i in vocab.items()}
    best = emissions.argmax(axis=1)
    words: list[Word] = []
    chars: list[str] = []
    start = None
    conf: list[float] = []
    prev = blank

    def close(end_frame: int) -> None:
        nonlocal chars, start, conf
        if chars and start is not None:
            words.append(Word("".join(chars).lower(), start * FRAME_SECONDS,
                              end_frame * FRAME_SECONDS, float(np.mean(conf))))
        chars, start, conf = [], None, []

    for t, label in enumerate(best):
        label = int(label)
        if label != prev and label != blank:
            tok = inv.get(label, "")
            if tok == delimiter:
                close(t)
            elif len(tok) == 1:
                if start is None:
                    start = t
                chars.append(tok)
                conf.append(float(np.exp(emissions[t, label])))
        prev = label
    close(len(best))
    return words


class SpeechFrontEnd:
    """Holds the two pretrained models; `analyse` runs the recipe above."""

    def __init__(self, wav2vec: Wav2VecModel, bert: BertWords) -> None:
        self.wav2vec = wav2vec
        self.bert = bert

    def _align(self, emissions: np.ndarray,
               transcript: Transcript) -> tuple[list[Word], str, float | None]:
        vocab, blank, delim = self.wav2vec.vocab, self.wav2vec.blank, self.wav2vec.delimiter
        if transcript.word_timed:
            return [Word(w.text, w.start, w.end, w.confidence) for w in transcript.words], \
                "transcript", None
        problem = too_long_to_align(transcript, len(emissions))
        if problem:
            raise SpeechError(problem)
        words: list[Word] = []
        for phrase_words, a, b in alignment_spans(transcript, len(emissions)):
            timings = align_words(emissions[a:b], [w.text for w in phrase_words], vocab,
                                  frame_seconds=FRAME_SECONDS, offset=a * FRAME_SECONDS,
                                  blank=blank, delimiter=delim)
            words += [Word(t.text, t.start, t.end, t.confidence) for t in timings]
        quality = alignment_quality(words)
        return words, "aligned in phrases" if transcript.phrase_timed else "aligned", quality

    def analyse(self, clip: AudioClip, transcript: Transcript | None = None,
                progress: ProgressFn | None = None, should_stop: StopFn | None = None,
                allow_mismatch: bool = False) -> SpeechFeatures:
        def report(stage: str, fraction: float) -> None:
            if progress is not None:
                progress(stage, fraction)

        if clip.duration <= 0:
            raise AudioError(f"{clip.source} contains no audio samples")
        if clip.is_silent:
            raise AudioError(f"{clip.source} is silent (level below -80 dBFS); there is no "
                             "speech to gesture to")
        warnings = list(clip.warnings)
        num_frames = W.frames_for_duration(clip.duration)
        starts = W.window_starts(num_frames)
        report("audio features", 0.0)
        acoustics = self.wav2vec.run(
            window_audio(clip, starts), should_stop,
            lambda done: report("audio features", done / len(starts)))
        total = int(np.ceil(len(clip.samples) / FRAME_SAMPLES))
        emissions = stitch_emissions(acoustics.log_probs, starts, total)
        check(should_stop, "speech analysis")
        report("word timing", 0.0)
        if transcript is None or not transcript.words:
            words = greedy_transcribe(emissions, self.wav2vec.vocab, self.wav2vec.blank,
                                      self.wav2vec.delimiter)
            source, quality = "transcribed", None
            warnings.append("no transcript given: words were transcribed from the audio")
        else:
            words, source, quality = self._align(emissions, transcript)
            if quality is not None and quality < MISMATCH_THRESHOLD:
                msg = (f"{TRANSCRIPT_MISMATCH_NOTE} (alignment confidence "
                       f"{quality:.2f}, expected at least {MISMATCH_THRESHOLD:.2f})")
                if not allow_mismatch:
                    raise SpeechError(msg + "; check that the text belongs to this recording")
                warnings.append(msg)
        report("word features", 0.0)
        prom = word_prominence(clip.samples, clip.sample_rate, words)
        out: list[WindowSpeech] = []
        for i, s in enumerate(starts):
            check(should_stop, "speech analysis")
            t0 = s / W.FPS
            text = self.bert.window(words, t0, W.WINDOW_SECONDS, W.WINDOW)
            rel = [(w, a - t0, b - t0, p) for (w, a, b, p) in prom
                   if a >= t0 and b <= t0 + W.WINDOW_SECONDS]
            out.append(WindowSpeech(i, s, acoustics.features[i], text, rel))
            report("word features", (i + 1) / len(starts))
        return SpeechFeatures(out, words, clip.duration, num_frames, source, quality, warnings)
