"""Tiny random wav2vec2-CTC and BERT models written with `save_pretrained`.

They go through exactly the `from_pretrained` path the real `facebook/wav2vec2-base-960h` and
`bert-base-cased` use. Widths stay 768 so their features fit the small RAG-Gesture test
checkpoint; depth and inner sizes are tiny. The CTC vocabulary is the 960h one.
"""

from __future__ import annotations

import json
import string
from pathlib import Path

import torch

CTC_VOCAB = ["<pad>", "<s>", "</s>", "<unk>", "|", *"ETAONIHSRDLUMWCFGYPBVK'XJQZ"]


def make_wav2vec(folder: Path, hidden: int = 768, layers: int = 1, seed: int = 0,
                 full: bool = False) -> Path:
    """Tiny by default; `full=True` uses the wav2vec2-base architecture (random weights)."""
    from transformers import (
        Wav2Vec2Config,
        Wav2Vec2CTCTokenizer,
        Wav2Vec2FeatureExtractor,
        Wav2Vec2ForCTC,
        Wav2Vec2Processor,
    )

    folder.mkdir(parents=True, exist_ok=True)
    vocab_file = folder / "vocab.json"
    vocab_file.write_text(json.dumps({c: i for i, c in enumerate(CTC_VOCAB)}))
    tok = Wav2Vec2CTCTokenizer(str(vocab_file), unk_token="<unk>", pad_token="<pad>",
                               word_delimiter_token="|")
    fe = Wav2Vec2FeatureExtractor(feature_size=1, sampling_rate=16000, padding_value=0.0,
                                  do_normalize=True, return_attention_mask=False)
    Wav2Vec2Processor(feature_extractor=fe, tokenizer=tok).save_pretrained(folder)
    torch.manual_seed(seed)
    if full:
        cfg = Wav2Vec2Config(vocab_size=len(CTC_VOCAB), pad_token_id=0)
    else:
        cfg = Wav2Vec2Config(hidden_size=hidden, num_hidden_layers=layers,
                             num_attention_heads=4, intermediate_size=64, conv_dim=(16,) * 7,
                             num_conv_pos_embeddings=16, num_conv_pos_embedding_groups=4,
                             vocab_size=len(CTC_VOCAB), pad_token_id=0)
    Wav2Vec2ForCTC(cfg).eval().save_pretrained(folder)
    return folder


BERT_WORDS = ["Hello", "world", "the", "a", "is", "this", "very", "important", "point", "I",
              "don", "t", "know", "New", "York", "play", "##ing", "##s", "un", "##believ",
              "##able", "gesture", "caf", "##é"]


def make_bert(folder: Path, hidden: int = 768, layers: int = 4, seed: int = 0,
              full: bool = False, extra_words: list[str] | tuple[str, ...] = ()) -> Path:
    """Tiny by default; `full=True` uses the BERT-base architecture (random weights).

    `extra_words` become whole-word vocabulary entries, as common words are in the real
    bert-base-cased vocabulary (otherwise they split into one piece per character).
    """
    from transformers import BertConfig, BertModel, BertTokenizerFast

    folder.mkdir(parents=True, exist_ok=True)
    chars = list(string.ascii_letters + string.digits)
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *string.punctuation, *BERT_WORDS,
             *extra_words,
             *chars, *[f"##{c}" for c in chars]]
    seen, ordered = set(), []
    for v in vocab:
        if v not in seen:
            seen.add(v)
            ordered.append(v)
    (folder / "vocab.txt").write_text("\n".join(ordered) + "\n")
    tok = BertTokenizerFast(vocab={t: i for i, t in enumerate(ordered)}, do_lower_case=False)
    tok.save_pretrained(folder)
    torch.manual_seed(seed)
    if full:  # bert-base-cased sizes; the real vocabulary has 28,996 entries
        cfg = BertConfig(vocab_size=28996)
    else:
        cfg = BertConfig(vocab_size=len(ordered), hidden_size=hidden, num_hidden_layers=layers,
                         num_attention_heads=4, intermediate_size=64,
                         max_position_embeddings=512)
    BertModel(cfg).eval().save_pretrained(folder)
    return folder
