"""What retrieval needs per database window, stored beside its inversion: a new process
reads it instead of recomputing (bit for bit), `build-db --precompute` prepares a whole
database (resumable), and a clip without a recording is said so."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import soundfile as sf

from backend.cli import main
from backend.pipeline.engine import GenerateOptions
from backend.pipeline.inversion_store import STORE_DIR
from backend.pipeline.retrieved import ClipFactory, no_recording_warning
from backend.pipeline.session import RetrievalOptions, Session, SessionConfig
from backend.progress import Cancelled
from backend.retrieval.database import GestureDatabase
from backend.retrieval.planner import Cue
from tests.support.beat2_synthetic import make_beat2


@pytest.fixture(scope="module")
def sparse(tmp_path_factory, tiny_bert_dir):
    """The same tree with a window every 20 s (8 windows): enough to precompute quickly."""
    root = make_beat2(tmp_path_factory.mktemp("beat2_sparse"))
    db = tmp_path_factory.mktemp("db_sparse") / "gestures"
    assert main(["build-db", "--beat2", str(root), "--db", str(db), "--bert",
                 str(tiny_bert_dir), "--stride", "300"]) == 0
    return db


@pytest.fixture
def database(beat2_database, tmp_path):
    """A copy of the session's database with an empty store (other tests use the original's)."""
    copy = tmp_path / "gestures"
    shutil.copytree(beat2_database, copy, ignore=shutil.ignore_patterns(STORE_DIR))
    return copy


@pytest.fixture
def new_session(official_checkpoint, tiny_bert_dir, tiny_wav2vec_dir):
    """A fresh Session each call: a new process as far as caches go."""
    def make() -> Session:
        return Session(SessionConfig(checkpoint=official_checkpoint, bert=tiny_bert_dir,
                                     wav2vec=tiny_wav2vec_dir, device="cpu"))
    return make


def test_a_new_session_reads_materials_and_inversions_bit_for_bit(
        new_session, database, retrieval_speech, monkeypatch):
    opts = GenerateOptions(seed=3, steps=10)
    retrieval = RetrievalOptions("discourse", database)
    cold = new_session()
    first = cold.generate(retrieval_speech, opts, retrieval=retrieval)
    assert first.info["inserted"] and cold.engine.inversions.computed >= 1
    store = database / STORE_DIR
    assert list(store.glob("*.npz")) and list(store.glob("*.npy"))  # materials + inversions

    def no_compute(self, name):
        raise AssertionError(f"materials of {name} recomputed instead of read")

    monkeypatch.setattr(ClipFactory, "_compute", no_compute)
    warm = new_session()
    second = warm.generate(retrieval_speech, opts, retrieval=retrieval)
    assert warm.engine.inversions.computed == 0 and warm.engine.inversions.loaded >= 1
    assert second.info["inserted"] == first.info["inserted"]
    assert np.array_equal(second.motions[0].poses, first.motions[0].poses)
    assert np.array_equal(second.motions[0].expressions, first.motions[0].expressions)


def test_without_the_store_nothing_is_written(new_session, database, retrieval_speech):
    s = new_session()
    s.generate(retrieval_speech, GenerateOptions(seed=3, steps=10),
               retrieval=RetrievalOptions("discourse", database, inversion_store=False))
    assert not (database / STORE_DIR).exists()


def test_build_db_precompute_prepares_every_window_and_resumes(
        new_session, sparse, tmp_path, retrieval_speech, official_checkpoint, tiny_bert_dir,
        tiny_wav2vec_dir, capsys):
    database = tmp_path / "gestures"
    shutil.copytree(sparse, database)
    session = new_session()
    factory = session.clip_factory(database)
    names = factory.db.names()
    assert factory.pending(names) == names

    seen: list[float] = []  # progress after each batch; cancel once one batch is done

    with pytest.raises(Cancelled):
        factory.precompute(names, batch=3, progress=lambda _s, f: seen.append(f),
                           should_stop=lambda: bool(seen) and seen[-1] > 0)
    left = factory.pending(names)
    assert len(left) == len(names) - 3  # the finished batch stayed

    args = ["build-db", "--db", str(database), "--precompute", "--checkpoint",
            str(official_checkpoint), "--bert", str(tiny_bert_dir), "--wav2vec",
            str(tiny_wav2vec_dir), "--device", "cpu"]
    assert main(args) == 0
    assert f"precomputed {len(left)} windows (3 were already stored)" in capsys.readouterr().out
    assert main(args) == 0
    assert f"precomputed 0 windows ({len(names)} were already stored)" in \
        capsys.readouterr().out
    assert new_session().clip_factory(database).pending(names) == []
    # first use of the prepared database, official 50 steps: nothing is inverted
    fresh = new_session()
    res = fresh.generate(retrieval_speech, GenerateOptions(seed=1), retrieval=RetrievalOptions(
        "directed", database, [Cue("deictic", time=1.2, clip=names[-1])]))
    assert res.info["inserted"] and fresh.engine.inversions.computed == 0
    assert fresh.engine.inversions.loaded == 1


def test_build_db_needs_something_to_do(tmp_path, capsys):
    assert main(["build-db", "--db", str(tmp_path / "db")]) == 2
    assert "--beat2" in capsys.readouterr().err
    assert main(["build-db", "--db", str(tmp_path / "none"), "--precompute"]) == 2
    assert "no gesture database" in capsys.readouterr().err


def _studio_clip(tmp_path, seconds: float = 12.0):
    from backend.motion.motion import Motion

    rng = np.random.default_rng(0)
    n = int(seconds * 30)
    Motion(poses=(0.1 * rng.standard_normal((n, 55, 3))).astype(np.float32),
           trans=np.zeros((n, 3), np.float32), expressions=np.zeros((n, 100), np.float32),
           fps=30.0).save_npz(tmp_path / "studio_take.npz")
    words = [{"word": w, "start": 1.0 + 0.4 * i, "end": 1.3 + 0.4 * i}
             for i, w in enumerate("look at this huge circle because it matters".split())]
    (tmp_path / "words.json").write_text(json.dumps(words))
    return ["add-clip", str(tmp_path / "studio_take.npz"), "--words",
            str(tmp_path / "words.json"), "--db", str(tmp_path / "db"), "--label",
            "iconic@2.2-3.0:circle", "--name", "take1"]


def test_a_clip_without_recording_is_said_so(new_session, tmp_path, retrieval_speech, capsys):
    args = _studio_clip(tmp_path)
    assert main(args) == 0
    assert "--audio" in capsys.readouterr().err  # the note at add time
    res = new_session().generate(
        retrieval_speech, GenerateOptions(seed=1, steps=10),
        retrieval=RetrievalOptions("directed", tmp_path / "db",
                                   [Cue("iconic", time=1.2, clip="take1/0")]))
    assert res.info["inserted"][0]["has_audio"] is False
    assert no_recording_warning("take1/0") in res.info["warnings"]


def test_add_clip_takes_the_recording(new_session, tmp_path, retrieval_speech, capsys):
    args = _studio_clip(tmp_path)
    rate = 16000
    tone = (0.1 * np.sin(np.arange(12 * rate) * 2 * np.pi * 220 / rate)).astype(np.float32)
    sf.write(tmp_path / "take.flac", tone, rate)
    sf.write(tmp_path / "short.wav", tone[: 3 * rate], rate)
    (tmp_path / "broken.wav").write_bytes(b"not audio")
    assert main([*args, "--audio", str(tmp_path / "short.wav")]) == 1
    assert "lasts 3.0 s but the motion 12.0 s" in capsys.readouterr().err
    assert main([*args, "--audio", str(tmp_path / "broken.wav")]) == 1
    assert capsys.readouterr().err.startswith("error: ")
    assert not (tmp_path / "db" / "db.sqlite").exists() or GestureDatabase(
        tmp_path / "db").count() == 0
    assert main([*args, "--audio", str(tmp_path / "take.flac")]) == 0
    with GestureDatabase(tmp_path / "db") as g:
        assert g.audio_path("take1") == tmp_path / "db" / "audio" / "take1.flac"
    res = new_session().generate(
        retrieval_speech, GenerateOptions(seed=1, steps=10),
        retrieval=RetrievalOptions("directed", tmp_path / "db",
                                   [Cue("iconic", time=1.2, clip="take1/0")]))
    assert res.info["inserted"][0]["has_audio"] is True
    assert not any("no recording" in w for w in res.info["warnings"])
