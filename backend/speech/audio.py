"""Audio files -> 16 kHz mono float32, the rate wav2vec2-base-960h was trained on.

Files are decoded by soundfile (libsndfile) in blocks and resampled by soxr in streaming
mode, so a 30-minute 48 kHz stereo file never needs more memory than its 16 kHz mono result.
The official code decodes with librosa at 22,050 Hz and then resamples to 16 kHz (spec §11
#19); we resample once, directly (documented in docs/fidelity.md).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf
import soxr

TARGET_RATE = 16_000
_BLOCK_FRAMES = 1 << 18
SILENCE_RMS = 1e-4  # about -80 dBFS
CLIP_LEVEL = 0.999


class AudioError(ValueError):
    """The audio cannot be used; the message is one sentence for the user."""


def readable_formats() -> str:
    """The container formats this libsndfile build reads, for error messages."""
    return ", ".join(sorted(sf.available_formats()))


@dataclass
class AudioClip:
    """Mono float32 samples at `sample_rate`, with what was noticed while reading them."""

    samples: np.ndarray
    sample_rate: int = TARGET_RATE
    source: str = "<array>"
    original_rate: int = TARGET_RATE
    channels: int = 1
    warnings: list[str] = field(default_factory=list)

    @property
    def duration(self) -> float:
        return len(self.samples) / self.sample_rate

    @property
    def rms(self) -> float:
        if not len(self.samples):
            return 0.0
        return float(np.sqrt(np.mean(self.samples.astype(np.float64) ** 2)))

    @property
    def is_silent(self) -> bool:
        return self.rms < SILENCE_RMS

    def slice_seconds(self, start: float, end: float) -> np.ndarray:
        a = max(0, int(start * self.sample_rate))
        b = max(a, int(end * self.sample_rate))
        return self.samples[a:b]


def _clean(block: np.ndarray, stats: dict[str, int]) -> np.ndarray:
    """Downmix to mono and replace NaN/Inf (counted) so they cannot poison the features."""
    mono = block.mean(axis=1) if block.ndim == 2 else block
    bad = ~np.isfinite(mono)
    if bad.any():
        stats["nonfinite"] += int(bad.sum())
        mono = np.where(bad, 0.0, mono).astype(np.float32)
    stats["clipped"] += int((np.abs(mono) >= CLIP_LEVEL).sum())
    stats["total"] += len(mono)
    return mono.astype(np.float32, copy=False)


def _notes(stats: dict[str, int], source: str) -> list[str]:
    notes = []
    if stats["nonfinite"]:
        notes.append(f"{source}: {stats['nonfinite']} invalid samples (NaN/Inf) were set to 0")
    if stats["total"] and stats["clipped"] / stats["total"] > 0.001:
        pct = 100 * stats["clipped"] / stats["total"]
        notes.append(f"{source}: {pct:.1f}% of samples are clipped; gestures may follow "
                     "distorted loudness")
    return notes


def audio_info(path: str | Path) -> Any:
    """soundfile's header of an audio file (cheap: nothing is decoded), or AudioError with
    one sentence: missing, a folder, not audio, or no samples."""
    path = Path(path)
    if path.is_dir():
        raise AudioError(f"the audio {path} is a directory; give the recording file itself")
    if not path.is_file():
        raise AudioError(f"the audio file {path} does not exist")
    try:
        info = sf.info(str(path))
    except (RuntimeError, sf.LibsndfileError) as exc:
        raise AudioError(f"{path.name} is not an audio file this build can read "
                         f"(readable formats: {readable_formats()}); convert it to WAV or "
                         "FLAC first") from exc
    if info.frames == 0 or info.samplerate <= 0:
        raise AudioError(f"{path.name} contains no audio samples")
    return info


def load_audio(path: str | Path, target_rate: int = TARGET_RATE) -> AudioClip:
    """Decode any file soundfile reads, any rate and channel count, to mono `target_rate`."""
    path = Path(path)
    info = audio_info(path)
    stats = {"nonfinite": 0, "clipped": 0, "total": 0}
    stream = soxr.ResampleStream(info.samplerate, target_rate, 1, dtype="float32",
                                 quality="HQ") if info.samplerate != target_rate else None
    parts: list[np.ndarray] = []
    try:
        with sf.SoundFile(str(path)) as fh:
            while True:
                block = fh.read(_BLOCK_FRAMES, dtype="float32", always_2d=True)
                last = len(block) < _BLOCK_FRAMES
                mono = _clean(block, stats)
                parts.append(stream.resample_chunk(mono, last=last) if stream else mono)
                if last:
                    break
    except (RuntimeError, sf.LibsndfileError) as exc:
        raise AudioError(f"{path.name} is damaged and could not be decoded ({exc})") from exc
    samples = np.concatenate(parts) if parts else np.zeros(0, np.float32)
    if not len(samples):
        raise AudioError(f"{path.name} contains no audio samples")
    return AudioClip(samples=samples.astype(np.float32, copy=False), sample_rate=target_rate,
                     source=str(path), original_rate=info.samplerate, channels=info.channels,
                     warnings=_notes(stats, path.name))


def audio_from_array(samples: np.ndarray, sample_rate: int, source: str = "<array>",
                     target_rate: int = TARGET_RATE) -> AudioClip:
    """The same cleaning and resampling for samples already in memory ((N,) or (N, C))."""
    arr = np.asarray(samples, dtype=np.float32)
    if arr.size == 0:
        raise AudioError(f"{source} contains no audio samples")
    stats = {"nonfinite": 0, "clipped": 0, "total": 0}
    mono = _clean(arr if arr.ndim == 2 else arr.reshape(-1), stats)
    if sample_rate != target_rate:
        mono = soxr.resample(mono, sample_rate, target_rate, quality="HQ").astype(np.float32)
    return AudioClip(samples=mono, sample_rate=target_rate, source=source,
                     original_rate=sample_rate, channels=arr.shape[1] if arr.ndim == 2 else 1,
                     warnings=_notes(stats, source))
