"""Frame-aligned BERT word features (spec §3.8) on hand-made sentences."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from backend.speech.bert import fill_frames, words_in_window
from backend.speech.pretrained import ModelMissingError
from backend.speech.words import Word


def _reference_tokens(bert, sentence):
    """Sum of the last four hidden states, computed here straight from the model."""
    enc = bert.tokenizer(sentence, return_tensors="pt")
    with torch.no_grad():
        out = bert.model(**enc, output_hidden_states=True)
    feats = sum(out.hidden_states[-4 + i] for i in range(4))[0].numpy()
    tokens = bert.tokenizer.convert_ids_to_tokens(enc["input_ids"][0])
    return feats, tokens


def test_token_matrix_is_sum_of_last_four_layers(tiny_bert):
    feats, word_ids = tiny_bert.token_features("Hello, world!")
    ref, tokens = _reference_tokens(tiny_bert, "Hello, world!")
    assert tokens == ["[CLS]", "Hello", ",", "world", "!", "[SEP]"]
    np.testing.assert_allclose(feats, ref, rtol=1e-5, atol=1e-5)
    assert word_ids == [None, 0, 1, 2, 3, None]


def test_word_piece_grouping(tiny_bert):
    sentence = "Hello, world! I don't know playing café unbelievable"
    feats, word_ids = tiny_bert.token_features(sentence)
    ref, tokens = _reference_tokens(tiny_bert, sentence)
    assert tokens[1:-1] == ["Hello", ",", "world", "!", "I", "don", "'", "t", "know", "play",
                            "##ing", "caf", "##é", "un", "##believ", "##able"]
    vecs = tiny_bert.word_vectors(sentence.split(), feats, word_ids)
    expect_rows = {0: [1, 2], 1: [3, 4], 2: [5], 3: [6, 7, 8], 4: [9], 5: [10, 11], 6: [12, 13],
                   7: [14, 15, 16]}
    for i, rows in expect_rows.items():
        np.testing.assert_allclose(vecs[i], ref[rows].mean(0), rtol=1e-5, atol=1e-4)


def test_frame_filling_overlaps_and_short_words():
    vecs = np.arange(4, dtype=np.float32)[:, None].repeat(3, axis=1) + 1
    words = [Word("a", 0.0, 1.0), Word("b", 0.8, 1.5), Word("c", 2.10, 2.12),
             Word("d", 9.9, 10.0)]
    frames = fill_frames(vecs, words, 150)
    assert frames.shape == (150, 3)
    assert (frames[0:12, 0] == 1).all()  # a: [0, 15) but b overwrites from int(0.8*15)=12
    assert (frames[12:22, 0] == 2).all()  # b: [12, 22)
    assert (frames[31:33] == 0).all()  # c: [int(31.5), int(31.8)) = [31, 31): vanishes
    assert (frames[148:150, 0] == 4).all()  # d: [148, 150)
    assert (frames[22:148] == 0).all()


def test_window_selection_and_merging():
    words = [Word("before", 0.5, 1.0), Word("don", 10.2, 10.5), Word("'t", 10.2, 10.5),
             Word("cross", 19.5, 20.5), Word("go", 11.0, 11.4), Word("untimed")]
    inside = words_in_window(words, 10.0, 10.0)
    assert [(w.text, round(w.start, 3), round(w.end, 3)) for w in inside] == [
        ("don't", 0.2, 0.5), ("go", 1.0, 1.4)]


def test_window_features(tiny_bert):
    words = [Word("Hello,", 10.2, 10.6), Word("world!", 10.6, 11.0), Word("I", 25.0, 25.2)]
    wt = tiny_bert.window(words, 10.0)
    assert wt.sentence == "Hello, world!"
    assert wt.frames.shape == (150, tiny_bert.feature_dim)
    ref, _ = _reference_tokens(tiny_bert, "Hello, world!")
    np.testing.assert_allclose(wt.frames[3], ref[[1, 2]].mean(0), rtol=1e-5, atol=1e-4)
    np.testing.assert_allclose(wt.frames[9], ref[[3, 4]].mean(0), rtol=1e-5, atol=1e-4)
    assert (wt.frames[15:] == 0).all()
    assert wt.tokens.shape == (6, tiny_bert.feature_dim)
    empty = tiny_bert.window(words, 40.0)
    assert (empty.frames == 0).all() and empty.sentence == "" and empty.tokens.shape[0] == 2


def test_over_long_window_is_kept_not_dropped(tiny_bert):
    sentence = " ".join(["gesture"] * 700)
    feats, word_ids = tiny_bert.token_features(sentence)
    assert feats.shape == (702, tiny_bert.feature_dim)
    assert np.isfinite(feats).all()
    first, _ = _reference_tokens(tiny_bert, " ".join(["gesture"] * 510))
    # tokens near the start come from the first 512-position segment
    np.testing.assert_allclose(feats[:100], first[:100], rtol=1e-4, atol=1e-4)
    vecs = tiny_bert.word_vectors(sentence.split(), feats, word_ids)
    assert vecs.shape == (700, tiny_bert.feature_dim) and (np.abs(vecs).sum(1) > 0).all()


def test_missing_model_message(tmp_path):
    from backend.speech.bert import BertWords

    with pytest.raises(ModelMissingError, match="rag-gesture download"):
        BertWords("no-such-org/no-such-bert-model")
