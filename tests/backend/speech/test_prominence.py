"""Word prominence from audio (energy / F0 / duration cues) and the .prom file format."""

from __future__ import annotations

import math
import subprocess
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from backend.speech.prominence import (
    analyse_frames,
    read_prom,
    word_cues,
    word_prominence,
    write_prom,
)
from backend.speech.words import Word

SR = 16000
ESPEAK = Path("/usr/bin/espeak-ng")


def _tone(f0: float, dur: float, sr: int, harmonic: bool = True) -> np.ndarray:
    """A steady tone (fundamental + 1/k harmonics) with 5-ms ramps so onsets don't click."""
    t = np.arange(int(round(dur * sr))) / sr
    ks = range(1, 6) if harmonic else range(1, 2)
    x = sum(np.sin(2 * np.pi * f0 * k * t + k) / k for k in ks)
    x = 0.1 * x / np.max(np.abs(x))
    ramp = min(len(x) // 2, int(0.005 * sr))
    if ramp:
        env = np.linspace(0.0, 1.0, ramp)
        x[:ramp] *= env
        x[-ramp:] *= env[::-1]
    return x


def _utterance(
    specs: list[tuple[str, float, float, float]], sr: int = SR, gap: float = 0.05
) -> tuple[np.ndarray, list[Word]]:
    """specs: (text, f0 Hz, duration s, gain dB) per word, separated by `gap` s of silence."""
    parts, words, cursor = [np.zeros(int(gap * sr))], [], gap
    for text, f0, dur, gain_db in specs:
        seg = _tone(f0, dur, sr) * 10 ** (gain_db / 20)
        parts += [seg, np.zeros(int(gap * sr))]
        words.append(Word(text, cursor, cursor + len(seg) / sr))
        cursor += (len(seg) + int(gap * sr)) / sr
    return np.concatenate(parts).astype(np.float32), words


def _proms(rows: list[tuple[str, float, float, float]]) -> np.ndarray:
    return np.array([r[3] for r in rows])


# ------------------------------------------------------------------ cues -> prominence


@pytest.mark.parametrize("sr", [8000, 16000, 44100])
def test_louder_word_is_most_prominent(sr):
    specs = [("la", 150.0, 0.3, 12.0 if i == 3 else 0.0) for i in range(6)]
    x, words = _utterance(specs, sr)
    prom = _proms(word_prominence(x, sr, words))
    assert int(np.argmax(prom)) == 3
    assert prom[3] > np.delete(prom, 3).max() + 0.5
    cues = word_cues(analyse_frames(x, sr), words)
    assert cues.energy_db[3] - np.median(cues.energy_db) == pytest.approx(12.0, abs=1.0)


def test_higher_pitched_word_is_most_prominent():
    specs = [("la", 220.0 if i == 2 else 150.0, 0.3, 0.0) for i in range(6)]
    x, words = _utterance(specs)
    prom = _proms(word_prominence(x, SR, words))
    assert int(np.argmax(prom)) == 2
    assert prom[2] > np.delete(prom, 2).max() + 0.5
    cues = word_cues(analyse_frames(x, SR), words)
    assert cues.pitch_st[2] == pytest.approx(12 * math.log2(220 / 150), abs=0.3)
    assert np.abs(np.delete(cues.pitch_st, 2)).max() < 0.3


def test_lengthened_word_beats_identical_short_ones():
    specs = [("la", 150.0, 0.75 if i == 4 else 0.25, 0.0) for i in range(6)]
    x, words = _utterance(specs)
    prom = _proms(word_prominence(x, SR, words))
    others = np.delete(prom, 4)
    assert prom[4] > others.max() + 0.2
    assert np.ptp(others) < 0.05  # identical words, identical values


def test_duration_cue_counts_letters_only():
    x, _ = _utterance([("a", 150.0, 1.0, 0.0)])
    words = [Word("it's!", 0.1, 0.4), Word("123", 0.5, 0.8)]
    cues = word_cues(analyse_frames(x, SR), words)
    assert cues.sec_per_char == pytest.approx([0.3 / 3, 0.3 / 1])


# ------------------------------------------------------------------ pitch tracker


@pytest.mark.parametrize("sr", [16000, 22050])
@pytest.mark.parametrize("harmonic", [False, True], ids=["pure", "harmonic"])
@pytest.mark.parametrize("f0", [120.0, 200.0, 300.0])
def test_pitch_tracker_accuracy(f0, harmonic, sr):
    track = analyse_frames(_tone(f0, 1.0, sr, harmonic).astype(np.float32), sr)
    inner = track.f0[5:-5]  # frames whose analysis window is fully inside the tone
    voiced = inner[~np.isnan(inner)]
    assert len(voiced) >= 0.9 * len(inner)
    assert np.all(np.abs(voiced / f0 - 1) < 0.03)


def test_frame_times_are_10ms():
    track = analyse_frames(np.zeros(SR, dtype=np.float32), SR)
    assert len(track.times) == 100
    assert track.times[1] == pytest.approx(0.01)


# ------------------------------------------------------------------ degenerate input


def test_silence_gives_zero_prominence():
    words = [Word(w, 0.1 * i, 0.1 * i + 0.08) for i, w in enumerate("a quiet room".split())]
    for x in (np.zeros(SR, dtype=np.float32), np.zeros(0, dtype=np.float32)):
        rows = word_prominence(x, SR, words)
        assert [r[0] for r in rows] == ["a", "quiet", "room"]
        assert _proms(rows).tolist() == [0.0, 0.0, 0.0]


def test_unvoiced_noise_has_zero_pitch_cue_and_finite_prominence():
    rng = np.random.default_rng(0)
    x = (0.05 * rng.standard_normal(2 * SR)).astype(np.float32)
    words = [Word(f"w{i}", 0.3 * i, 0.3 * i + 0.25) for i in range(6)]
    cues = word_cues(analyse_frames(x, SR), words)
    assert np.all(cues.pitch_st == 0.0)
    prom = _proms(word_prominence(x, SR, words))
    assert np.all(np.isfinite(prom)) and np.all(prom >= 0)


def test_single_word_is_finite():
    x, words = _utterance([("hello", 150.0, 0.4, 0.0)])
    rows = word_prominence(x, SR, words)
    assert len(rows) == 1 and math.isfinite(rows[0][3]) and rows[0][3] >= 0


def test_output_follows_timed_input_words():
    x, _ = _utterance([("la", 150.0, 1.5, 0.0)])
    words = [
        Word("one", 0.10, 0.40),
        Word("untimed"),
        Word("two", 0.50, None),
        Word("blip", 0.600, 0.602),  # shorter than a frame: nearest frame is used
        Word("three", 0.70, 1.20),
        Word("late", 5.0, 5.5),  # past the end of the audio: last frame, silent -> 0
    ]
    rows = word_prominence(x, SR, words)
    timed = [w for w in words if w.timed]
    assert [(r[0], r[1], r[2]) for r in rows] == [(w.text, w.start, w.end) for w in timed]
    prom = _proms(rows)
    assert np.all(np.isfinite(prom)) and np.all(prom >= 0)
    assert prom[1] > 0  # the 2-ms word sits inside the tone
    assert prom[3] == 0.0
    assert word_prominence(x, SR, [Word("untimed")]) == []


def test_rejects_multichannel():
    with pytest.raises(ValueError, match="mono"):
        word_prominence(np.zeros((100, 2), np.float32), SR, [Word("a", 0.0, 0.001)])


# ------------------------------------------------------------------ real speech


def test_real_speech_from_espeak(tmp_path):
    if not ESPEAK.exists():
        pytest.fail(
            "espeak-ng not found at /usr/bin/espeak-ng: install it with "
            "`apt-get install espeak-ng` to run the real-speech prominence test"
        )
    wav = tmp_path / "out.wav"
    text = "this is a very important point"
    subprocess.run([str(ESPEAK), "-w", str(wav), text], check=True, capture_output=True)
    x, sr = sf.read(wav, dtype="float32", always_2d=True)
    x = x.mean(axis=1)
    dur = len(x) / sr
    names = text.split()
    step = dur / len(names)
    words = [Word(w, i * step, (i + 1) * step) for i, w in enumerate(names)]
    rows = word_prominence(x, sr, words)
    assert [r[0] for r in rows] == names
    prom = _proms(rows)
    assert np.all(np.isfinite(prom)) and np.all(prom >= 0) and prom.max() > 0
    f0 = analyse_frames(x, sr).f0
    voiced = f0[~np.isnan(f0)]
    assert len(voiced) > 10
    assert 60 < np.median(voiced) < 300  # a speaking voice, not an octave error


# ------------------------------------------------------------------ .prom files


def test_prom_round_trip(tmp_path):
    rows = [("I", 0.52, 0.76, 0.0), ("really", 0.76, 1.2, 2.345), ("don't", 1.2, 1.5, 0.5)]
    path = tmp_path / "1_wayne_0_1_1.prom"
    write_prom(path, rows, "1_wayne_0_1_1")
    lines = path.read_text().splitlines()
    assert lines[1].split("\t") == ["1_wayne_0_1_1", "0.760", "1.200", "really", "2.345", "0.000"]
    back = read_prom(path)
    assert [r[0] for r in back] == [r[0] for r in rows]
    assert np.allclose([r[1:] for r in back], [r[1:] for r in rows], atol=1e-3)


def test_read_prom_tolerates_header_and_blank_lines(tmp_path):
    path = tmp_path / "h.prom"
    path.write_text(
        "Basename\tstart\tend\tword\tprominence\tboundary\n"
        "f\t0.1\t0.3\thello\t1.5\t0.2\n\n"
        "f\t0.3\t0.6\tthere\t0.0\t1.0\n"
    )
    assert read_prom(path) == [("hello", 0.1, 0.3, 1.5), ("there", 0.3, 0.6, 0.0)]


def test_read_prom_names_malformed_line(tmp_path):
    path = tmp_path / "bad.prom"
    path.write_text(
        "f\t0.1\t0.3\thello\t1.5\t0.0\nf\t0.3\t0.6\tthere\t0.0\t0.0\nf\t0.6\tx\tyo\t1\t0\n"
    )
    with pytest.raises(ValueError, match=r"bad\.prom:3"):
        read_prom(path)
    path.write_text("f\t0.1\t0.3\thello\n")
    with pytest.raises(ValueError, match=r"bad\.prom:1"):
        read_prom(path)


def test_write_prom_rejects_tabs_in_words(tmp_path):
    with pytest.raises(ValueError):
        write_prom(tmp_path / "x.prom", [("a\tb", 0.0, 1.0, 1.0)], "x")


def test_write_prom_on_a_full_disk_keeps_the_old_file(tmp_path, monkeypatch):
    from tests.support.faults import disk_full, folder_files

    path = tmp_path / "a.prom"
    write_prom(path, [("hello", 0.1, 0.3, 1.5)], "a")
    before = path.read_bytes()
    disk_full(monkeypatch, after=20)
    with pytest.raises(OSError, match="No space"):
        write_prom(path, [("there", 0.3, 0.6, 0.5)] * 50, "a")
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert folder_files(tmp_path) == {"a.prom"}
