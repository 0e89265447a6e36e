"""Shared fixtures: the golden tensors and the small official-layout model."""

from __future__ import annotations

import json

import pytest
import torch

from tests.support.parity_layout import build_official_layout, parity_dir


@pytest.fixture(scope="session")
def parity_path():
    return parity_dir()


@pytest.fixture(scope="session")
def golden(parity_path):
    return torch.load(parity_path / "fixtures.pt", weights_only=True)


@pytest.fixture(scope="session")
def golden_meta(parity_path):
    return json.loads((parity_path / "fixtures.json").read_text())


@pytest.fixture(scope="session")
def official_checkpoint(parity_path, tmp_path_factory):
    return build_official_layout(parity_path, tmp_path_factory.mktemp("weights"))


@pytest.fixture(scope="session")
def small(official_checkpoint):
    """The small model loaded through the same loader as the released weights."""
    from backend.model.loading import load_official

    torch.set_num_threads(1)  # the fixtures were recorded single-threaded
    return load_official(official_checkpoint)


@pytest.fixture(scope="session")
def fixture_set(parity_path, golden, golden_meta, small):
    """The golden set with the model loaded through the official-layout loader."""
    from backend.parity.fixtures import FixtureSet

    return FixtureSet(parity_path, golden, golden_meta, small.model, small.config)


@pytest.fixture(scope="session")
def parity(fixture_set):
    """The noise-floor rule over the golden set, each computation evaluated once."""
    from tests.support.parity_support import ParityRun

    return ParityRun(fixture_set)


@pytest.fixture(scope="session")
def tiny_wav2vec_dir(tmp_path_factory):
    from tests.support.speech_models import make_wav2vec

    return make_wav2vec(tmp_path_factory.mktemp("wav2vec2"))


@pytest.fixture(scope="session")
def tiny_bert_dir(tmp_path_factory):
    from tests.support.speech_models import make_bert

    return make_bert(tmp_path_factory.mktemp("bert"))


@pytest.fixture(scope="session")
def tiny_bert(tiny_bert_dir):
    from backend.speech.bert import BertWords

    return BertWords(tiny_bert_dir)


@pytest.fixture(scope="session")
def tiny_wav2vec(tiny_wav2vec_dir):
    from backend.speech.wav2vec import Wav2VecModel

    return Wav2VecModel(tiny_wav2vec_dir)


RETRIEVAL_TEXT = "we stayed inside because it was raining and then we played a game"


@pytest.fixture(scope="session")
def beat2_database(tmp_path_factory, tiny_bert_dir):
    """A gesture database built by `rag-gesture build-db` from the synthetic BEAT2 tree."""
    from backend.cli import main
    from backend.retrieval.database import GestureDatabase
    from tests.support.beat2_synthetic import make_beat2

    root = make_beat2(tmp_path_factory.mktemp("beat2"))
    db = tmp_path_factory.mktemp("db") / "gestures"
    assert main(["build-db", "--beat2", str(root), "--db", str(db), "--bert",
                 str(tiny_bert_dir)]) == 0
    with GestureDatabase(db) as g:
        assert g.count() > 0 and g.audio_path(g.window_start(g.names()[0])[0]) is not None
    return db


@pytest.fixture(scope="session")
def retrieval_speech(tmp_path_factory):
    """Spoken RETRIEVAL_TEXT (a `because` for discourse retrieval) with word timings."""
    from rag_gesture_shared.protocol.speech import SpeechInput
    from tests.support.speech_audio import speak

    d = tmp_path_factory.mktemp("talk")
    audio = speak(RETRIEVAL_TEXT, d / "talk.wav")
    words = [{"word": w, "start": 0.3 + 0.3 * i, "end": 0.55 + 0.3 * i}
             for i, w in enumerate(RETRIEVAL_TEXT.split())]
    (d / "words.json").write_text(json.dumps(words))
    return SpeechInput(audio, transcript=d / "words.json")
