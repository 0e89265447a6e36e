"""Audio decoding: formats, rates, channels, silence, clipping, NaN, empty and long files."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from backend.speech.audio import AudioError, audio_from_array, load_audio
from tests.support.speech_audio import speak


def _tone(rate: int, seconds: float, freq: float = 440.0, amp: float = 0.5) -> np.ndarray:
    t = np.arange(int(rate * seconds)) / rate
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)


@pytest.mark.parametrize("fmt,subtype,ext", [("WAV", "PCM_16", "wav"), ("FLAC", "PCM_24", "flac"),
                                             ("OGG", "VORBIS", "ogg"), ("WAV", "FLOAT", "wav")])
@pytest.mark.parametrize("rate,channels", [(44100, 2), (8000, 1), (48000, 6), (16000, 1)])
def test_formats_rates_channels_become_16k_mono(tmp_path, fmt, subtype, ext, rate, channels):
    mono = _tone(rate, 1.5)
    data = np.stack([mono] * channels, axis=1)
    path = tmp_path / f"a.{ext}"
    sf.write(path, data, rate, format=fmt, subtype=subtype)
    clip = load_audio(path)
    assert clip.sample_rate == 16000 and clip.samples.dtype == np.float32
    assert clip.samples.ndim == 1
    assert abs(len(clip.samples) - 24000) <= 2
    assert clip.original_rate == rate and clip.channels == channels
    # 440 Hz survives resampling: the spectrum peak sits at 440 Hz (+-1 bin of 1 Hz... 0.67 Hz)
    spec = np.abs(np.fft.rfft(clip.samples[2000:-2000]))
    freqs = np.fft.rfftfreq(len(clip.samples) - 4000, 1 / 16000)
    assert abs(freqs[spec.argmax()] - 440) < 2
    assert 0.3 < clip.samples.std() * np.sqrt(2) < 0.7


def test_real_speech_from_espeak(tmp_path):
    clip = load_audio(speak("Hello there, this is a test of the audio path.", tmp_path / "s.wav"))
    assert clip.original_rate == 22050
    assert 1.5 < clip.duration < 6
    assert not clip.is_silent and clip.warnings == []


def test_unreadable_file_names_formats(tmp_path):
    bad = tmp_path / "clip.mp4"
    bad.write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(100))
    with pytest.raises(AudioError) as err:
        load_audio(bad)
    assert "clip.mp4 is not an audio file" in str(err.value)
    assert "WAV" in str(err.value) and "FLAC" in str(err.value)


def test_missing_and_empty(tmp_path):
    with pytest.raises(AudioError, match="does not exist"):
        load_audio(tmp_path / "none.wav")
    empty = tmp_path / "empty.wav"
    sf.write(empty, np.zeros((0, 1), np.float32), 16000)
    with pytest.raises(AudioError, match="no audio samples"):
        load_audio(empty)


def test_silence_clipping_and_nan(tmp_path):
    silent = tmp_path / "silent.wav"
    sf.write(silent, np.zeros(16000, np.float32), 16000)
    assert load_audio(silent).is_silent
    clipped = np.clip(_tone(16000, 1.0, amp=3.0), -1, 1)
    path = tmp_path / "clip.wav"
    sf.write(path, clipped, 16000, subtype="FLOAT")
    clip = load_audio(path)
    assert any("clipped" in w for w in clip.warnings)
    arr = _tone(16000, 1.0)
    arr[100:110] = np.nan
    arr[200] = np.inf
    clip = audio_from_array(arr, 16000, "array")
    assert np.isfinite(clip.samples).all()
    assert any("11 invalid samples" in w for w in clip.warnings)


def test_long_file_streams_in_blocks(tmp_path):
    """Three minutes at 48 kHz stereo decode in blocks to the right length and content."""
    rate, seconds = 48000, 180
    path = tmp_path / "long.flac"
    with sf.SoundFile(path, "w", rate, 2, format="FLAC") as fh:
        for i in range(seconds // 10):
            block = _tone(rate, 10.0, freq=200 + 10 * i)
            fh.write(np.stack([block, block], axis=1))
    clip = load_audio(path)
    assert abs(clip.duration - seconds) < 0.01
    segment = clip.slice_seconds(95.0, 96.0)  # inside the 10th block: 290 Hz
    spec = np.abs(np.fft.rfft(segment))
    assert abs(np.fft.rfftfreq(len(segment), 1 / 16000)[spec.argmax()] - 290) < 2
