"""Retrieval-augmented generation end to end: build-db on a synthetic BEAT2 tree, then
generate for new speech with the discourse strategy and with an animator's cue."""

from __future__ import annotations

import json

import numpy as np
import pytest

from backend.cli import main
from backend.pipeline.engine import GenerateOptions
from backend.pipeline.session import RetrievalOptions, Session, SessionConfig
from backend.retrieval.database import GestureDatabase
from rag_gesture_shared.protocol.retrieval import Cue


@pytest.fixture(scope="module")
def session(official_checkpoint, tiny_bert_dir, tiny_wav2vec_dir):
    return Session(SessionConfig(checkpoint=official_checkpoint, bert=tiny_bert_dir,
                                 wav2vec=tiny_wav2vec_dir, device="cpu"))


def test_discourse_retrieval_plants_a_because_clip(session, beat2_database, retrieval_speech):
    opts = GenerateOptions(seed=1, steps=10)
    plain = session.generate(retrieval_speech, opts)
    rag = session.generate(retrieval_speech, opts,
                           retrieval=RetrievalOptions("discourse", beat2_database))
    inserted = rag.info["inserted"]
    assert inserted and inserted[0]["word"] == "because"
    assert inserted[0]["label"].startswith("Contingency")
    with GestureDatabase(beat2_database) as g:
        rec = g.record(inserted[0]["clip"])
    assert any(r.connective.lower() == "because" for r in rec.relations)
    assert not np.array_equal(plain.motions[0].poses, rag.motions[0].poses)
    again = session.generate(retrieval_speech, opts,
                             retrieval=RetrievalOptions("discourse", beat2_database))
    assert np.array_equal(again.motions[0].poses, rag.motions[0].poses)
    assert session.engine.inversions.computed == len({i["clip"] for i in inserted})


def test_cue_names_the_clip(session, beat2_database, retrieval_speech):
    with GestureDatabase(beat2_database) as g:
        name = g.names()[0]
    res = session.generate(retrieval_speech, GenerateOptions(seed=1, steps=10),
                           retrieval=RetrievalOptions("directed", beat2_database,
                                                      [Cue("deictic", time=1.2, clip=name)]))
    assert [(i["clip"], i["label"]) for i in res.info["inserted"]] == [(name, "deictic")]


def test_missing_database_is_one_sentence(session, retrieval_speech, tmp_path):
    with pytest.raises(ValueError, match="rag-gesture build-db"):
        session.generate(retrieval_speech, GenerateOptions(steps=10),
                         retrieval=RetrievalOptions("discourse", tmp_path / "none"))


def test_worker_protocol_retrieval_fields(tmp_path):
    from backend.worker.protocol import ProtocolError, parse_request

    base = {"v": 1, "id": "g1", "type": "generate", "audio": "talk.wav", "text": "hi"}
    req = parse_request({**base, "retrieval": {"method": "discourse", "database": "gestures",
                                               "cues": [{"kind": "deictic", "time": 2.5}]}})
    assert req.retrieval.method == "discourse" and str(req.retrieval.database) == "gestures"
    assert req.retrieval.cues == [Cue("deictic", time=2.5)]
    assert parse_request(base).retrieval is None
    for bad, field in (({"method": "magic"}, "retrieval.method"),
                       ({"method": "discourse"}, "retrieval.database"),
                       ({"database": "g", "cues": [{"kind": "wave", "time": 1}]},
                        "retrieval.cues[0]")):
        with pytest.raises(ProtocolError, match=field.replace("[", r"\[")):
            parse_request({**base, "retrieval": bad})


def test_add_clip_command(tmp_path, capsys):
    from backend.motion.motion import Motion

    rng = np.random.default_rng(0)
    n = 360  # 12 s at 30 fps
    Motion(poses=(0.1 * rng.standard_normal((n, 55, 3))).astype(np.float32),
           trans=np.zeros((n, 3), np.float32), expressions=np.zeros((n, 100), np.float32),
           fps=30.0).save_npz(tmp_path / "studio_take.npz")
    words = [{"word": w, "start": 1.0 + 0.4 * i, "end": 1.3 + 0.4 * i}
             for i, w in enumerate("look at this huge circle because it matters".split())]
    (tmp_path / "words.json").write_text(json.dumps(words))
    db = tmp_path / "db"
    args = ["add-clip", str(tmp_path / "studio_take.npz"), "--words",
            str(tmp_path / "words.json"), "--db", str(db), "--label", "iconic@2.2-3.0:circle",
            "--speaker", "katya"]
    assert main(args) == 0
    assert "added 1 window(s)" in capsys.readouterr().out
    with GestureDatabase(db) as g:
        rec = g.record(g.names()[0])
    assert rec.speaker == 7 and rec.gesture_labels[0].word == "circle"
    assert any(r.connective == "because" for r in rec.relations)  # tagged locally
    assert main(args) == 1 and "already" in capsys.readouterr().err
    assert main([*args[:-2], "--label", "wave@1"]) == 1


def test_guidance_schedule_option(session, beat2_database, retrieval_speech):
    with pytest.raises(ValueError, match="decreasing_till_25"):
        RetrievalOptions("discourse", beat2_database, guidance_schedule="fastest")
    res = session.generate(retrieval_speech, GenerateOptions(seed=1, steps=10),
                           retrieval=RetrievalOptions("discourse", beat2_database,
                                                      guidance_schedule="all_10"))
    assert res.info["guidance_schedule"] == "all_10"
