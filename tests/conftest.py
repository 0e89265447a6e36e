"""Shared fixtures: the golden tensors and the small official-layout model."""

from __future__ import annotations

import json

import pytest
import torch
from parity_layout import build_official_layout, parity_dir


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
    from parity_support import ParityRun

    return ParityRun(fixture_set)


@pytest.fixture(scope="session")
def tiny_wav2vec_dir(tmp_path_factory):
    from speech_models import make_wav2vec

    return make_wav2vec(tmp_path_factory.mktemp("wav2vec2"))


@pytest.fixture(scope="session")
def tiny_bert_dir(tmp_path_factory):
    from speech_models import make_bert

    return make_bert(tmp_path_factory.mktemp("bert"))


@pytest.fixture(scope="session")
def tiny_bert(tiny_bert_dir):
    from backend.speech.bert import BertWords

    return BertWords(tiny_bert_dir)


@pytest.fixture(scope="session")
def tiny_wav2vec(tiny_wav2vec_dir):
    from backend.speech.wav2vec import Wav2VecModel

    return Wav2VecModel(tiny_wav2vec_dir)
