"""Speech front end: wav2vec2 features, emission stitching, word timing, windows, cancel."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from backend.progress import Cancelled
from backend.speech.audio import AudioError, audio_from_array, load_audio
from backend.speech.frontend import (
    SpeechError,
    SpeechFrontEnd,
    greedy_transcribe,
    stitch_emissions,
    window_audio,
)
from backend.speech.transcripts import parse_text, read_transcript
from backend.windows import window_starts
from tests.support.speech_audio import speak

TEXT = ("Today I want to show you something really important. Look at this big circle, "
        "and then we go over there, because the answer is simple.")


@pytest.fixture(scope="module")
def speech_clip(tmp_path_factory):
    return load_audio(speak(TEXT, tmp_path_factory.mktemp("espeak") / "talk.wav"))


@pytest.fixture(scope="module")
def frontend(tiny_wav2vec, tiny_bert):
    return SpeechFrontEnd(tiny_wav2vec, tiny_bert)


def test_wav2vec_features_equal_a_direct_model_call(tiny_wav2vec, tiny_wav2vec_dir, speech_clip):
    from transformers import AutoProcessor, Wav2Vec2Model

    window = window_audio(speech_clip, [0])[0]
    ours = tiny_wav2vec.run([window]).features[0]
    proc = AutoProcessor.from_pretrained(tiny_wav2vec_dir)
    model = Wav2Vec2Model.from_pretrained(tiny_wav2vec_dir).eval()
    inputs = proc(window, sampling_rate=16000, return_tensors="pt").input_values
    assert abs(float(inputs.mean())) < 1e-3 and abs(float(inputs.std()) - 1) < 1e-2
    with torch.no_grad():
        ref = model(inputs).last_hidden_state[0].numpy()
    assert ours.shape == (499, 768)
    np.testing.assert_allclose(ours, ref, rtol=1e-4, atol=1e-4)


def test_window_audio_pads_the_last_window():
    clip = audio_from_array(np.ones(16000 * 12, np.float32) * 0.1, 16000)
    wins = window_audio(clip, [0, 135])
    assert [len(w) for w in wins] == [160000, 160000]
    assert np.all(wins[1][: 16000 * 3] == np.float32(0.1))
    tail = wins[1][16000 * 3:]
    assert np.abs(tail).max() < 1e-4 and tail.std() > 0


def test_stitch_emissions_ownership():
    n_win, per = 3, 499
    lp = np.zeros((n_win, per, 2), np.float32)
    for k in range(n_win):
        lp[k, :, 0] = k
        lp[k, :, 1] = np.arange(per)
    starts = [0, 135, 225]  # the last window pulled back: 4 tokens of overlap
    offsets = [0, 450, 750]
    total = 750 + 420
    out = stitch_emissions(lp, starts, total)
    owner = out[:, 0].astype(int)
    b1 = (450 + 499) // 2  # middle of the overlap of windows 0 and 1
    b2 = (750 + 450 + 499) // 2
    assert (owner[:b1] == 0).all() and (owner[b1:b2] == 1).all() and (owner[b2:] == 2).all()
    for g in (0, 500, 900, 1100):  # each frame comes from its own time inside the owner
        k = owner[g]
        assert out[g, 1] == g - offsets[k]


def test_greedy_transcription_of_constructed_emissions():
    vocab = {"<pad>": 0, "|": 1, "H": 2, "I": 3, "Y": 4, "O": 5, "U": 6}
    path = [0, 2, 2, 3, 0, 1, 0, 4, 5, 6, 6, 0]
    em = np.full((len(path), len(vocab)), np.log(0.01), np.float32)
    em[np.arange(len(path)), path] = np.log(0.9)
    words = greedy_transcribe(em, vocab, blank=0)
    assert [(w.text, round(w.start, 2), round(w.end, 2)) for w in words] == [
        ("hi", 0.02, 0.10), ("you", 0.14, 0.24)]
    assert all(abs(w.confidence - 0.9) < 1e-6 for w in words)


def test_untimed_text_is_aligned_and_windows_are_built(frontend, speech_clip):
    stages = []
    feats = frontend.analyse(speech_clip, parse_text(TEXT), allow_mismatch=True,
                             progress=lambda s, f: stages.append((s, f)))
    words = [w.text for w in feats.words]
    assert words == TEXT.split()
    assert feats.timing_source == "aligned"
    starts = [w.start for w in feats.words]
    assert starts == sorted(starts)
    assert all(0 <= w.start <= w.end <= speech_clip.duration + 0.05 for w in feats.words)
    assert len(feats.windows) == len(window_starts(feats.num_frames))
    assert feats.audio_array().shape == (len(feats.windows), 499, 768)
    assert feats.text_array().shape == (len(feats.windows), 150, 768)
    assert feats.windows[0].text.sentence.split()[0] == "Today"
    assert [s for s, _ in stages][0] == "audio features" and stages[-1] == ("word features", 1.0)
    # a random CTC head cannot recognise speech: the front end must say so, not pretend
    assert feats.alignment_quality < 0.2
    assert any("does not seem to match" in w for w in feats.warnings)


def test_mismatch_is_an_error_by_default(frontend, speech_clip):
    with pytest.raises(SpeechError, match="does not seem to match the audio"):
        frontend.analyse(speech_clip, parse_text(TEXT))


def test_word_timed_transcript_is_used_as_is(frontend, speech_clip, tmp_path):
    words = [{"word": w, "start": 0.3 * i, "end": 0.3 * i + 0.25} for i, w in
             enumerate(TEXT.split()[:8])]
    path = tmp_path / "words.json"
    path.write_text(json.dumps(words))
    feats = frontend.analyse(speech_clip, read_transcript(path))
    assert feats.timing_source == "transcript"
    assert [(w.text, w.start) for w in feats.words] == [(d["word"], d["start"]) for d in words]
    prom = feats.windows[0].prominence
    assert [p[0] for p in prom] == [d["word"] for d in words]
    assert all(np.isfinite(p[3]) for p in prom)


def test_phrase_timed_transcript_aligns_inside_phrases(frontend, speech_clip, tmp_path):
    srt = tmp_path / "talk.srt"
    srt.write_text("1\n00:00:00,000 --> 00:00:03,000\nToday I want to show you\n\n"
                   "2\n00:00:03,000 --> 00:00:06,500\nsomething really important.\n")
    feats = frontend.analyse(speech_clip, read_transcript(srt), allow_mismatch=True)
    assert feats.timing_source == "aligned in phrases"
    first = feats.words[:6]
    second = feats.words[6:]
    assert all(-0.01 <= w.start and w.end <= 3.2 + 0.01 for w in first)
    assert all(w.start >= 2.8 - 0.01 for w in second)


def test_no_transcript_transcribes(frontend, speech_clip):
    feats = frontend.analyse(speech_clip, None)
    assert feats.timing_source == "transcribed"
    assert any("transcribed from the audio" in w for w in feats.warnings)


def test_silence_is_refused(frontend):
    with pytest.raises(AudioError, match="silent"):
        frontend.analyse(audio_from_array(np.zeros(32000, np.float32), 16000, "quiet.wav"),
                         parse_text("hello"))


def test_cancel_stops_between_batches(frontend, speech_clip):
    calls = {"n": 0}

    def stop():
        calls["n"] += 1
        return calls["n"] > 1

    with pytest.raises(Cancelled):
        frontend.analyse(speech_clip, parse_text(TEXT), should_stop=stop)
