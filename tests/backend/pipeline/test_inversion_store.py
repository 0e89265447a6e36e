"""Inversions persisted beside the gesture database: keys, recovery, eviction, read-only
folders, and a warm-from-disk run that is bit-identical to the cold run."""

from __future__ import annotations

import copy
import dataclasses
import json
import logging
import os

import numpy as np
import pytest
import torch

from backend.cli import main
from backend.diffusion.schedule import Schedule
from backend.pipeline import inversion_store
from backend.pipeline.engine import GenerateOptions
from backend.pipeline.insertion import InversionCache, invert_clips, trajectory_key
from backend.pipeline.inversion_store import STORE_DIR, InversionStore, model_fingerprint
from backend.pipeline.session import RetrievalOptions, Session, SessionConfig
from rag_gesture_shared.protocol.speech import SpeechInput
from tests.backend.pipeline.test_insertion import _clip, _schedule
from tests.support.beat2_synthetic import make_beat2
from tests.support.speech_audio import speak

TEXT = "we stayed inside because it was raining and then we played a game"


def _invert(small, schedule, clip, cache=None):
    cache = cache or InversionCache()
    (traj,) = invert_clips(small.model, small.config.guidance, schedule, [clip], cache)
    return traj, cache


def test_round_trip_through_the_store(small, golden, golden_meta, tmp_path):
    schedule = _schedule(small)
    clip = _clip(golden, golden_meta)
    clip.store = InversionStore(tmp_path / STORE_DIR)
    cold, cache = _invert(small, schedule, clip)
    assert (cache.computed, cache.loaded) == (1, 0)
    files = list((tmp_path / STORE_DIR).glob("*.npy"))
    assert len(files) == 1 and np.load(files[0], allow_pickle=False).dtype == np.float32
    warm, cache = _invert(small, schedule, clip)  # a new cache: as in a new process
    assert (cache.computed, cache.loaded) == (0, 1)
    assert torch.equal(cold, warm)


def test_keys_separate_schedule_guidance_weights_and_inputs(small, golden, golden_meta):
    schedule = _schedule(small)
    clip = _clip(golden, golden_meta)
    fp = model_fingerprint(small.model)
    guidance = small.config.guidance
    key = trajectory_key(clip, schedule, guidance, fp)
    assert key == trajectory_key(_clip(golden, golden_meta), schedule, guidance, fp)
    d = small.config.diffusion
    other_schedule = Schedule.create("4,3,1,1,1", d.diffusion_steps, d.beta_scheduler)
    assert trajectory_key(clip, other_schedule, guidance, fp) != key
    weaker = dataclasses.replace(guidance, coarse_scale=1.0)
    assert trajectory_key(clip, schedule, weaker, fp) != key
    changed = copy.deepcopy(small.model)
    assert model_fingerprint(changed) == fp
    with torch.no_grad():
        next(changed.parameters()).add_(1e-3)
    other_fp = model_fingerprint(changed)
    assert other_fp != fp and trajectory_key(clip, schedule, guidance, other_fp) != key
    other = _clip(golden, golden_meta)
    other.audio = other.audio * 0.5  # e.g. other speech models or a rebuilt database
    assert trajectory_key(other, schedule, guidance, fp) != key
    assert trajectory_key(_clip(golden, golden_meta, "db/other"), schedule, guidance, fp) != key


def test_another_schedule_misses_the_store(small, golden, golden_meta, tmp_path):
    clip = _clip(golden, golden_meta)
    clip.store = InversionStore(tmp_path)
    _invert(small, _schedule(small), clip)
    d = small.config.diffusion
    short = Schedule.create("4,3,1,1,1", d.diffusion_steps, d.beta_scheduler)
    traj, cache = _invert(small, short, clip)
    assert (cache.computed, cache.loaded) == (1, 0) and traj.shape[0] == len(short)
    assert len(list(tmp_path.glob("*.npy"))) == 2


@pytest.mark.parametrize("damage", ["truncated", "garbage", "wrong_shape", "pickle"])
def test_damaged_file_is_recomputed(small, golden, golden_meta, tmp_path, caplog, damage):
    schedule = _schedule(small)
    clip = _clip(golden, golden_meta)
    clip.store = InversionStore(tmp_path)
    cold, _ = _invert(small, schedule, clip)
    (path,) = tmp_path.glob("*.npy")
    if damage == "truncated":
        path.write_bytes(path.read_bytes()[:200])
    elif damage == "garbage":
        path.write_bytes(b"not an array")
    elif damage == "wrong_shape":
        np.save(path, np.zeros((3, 4), np.float32))
    else:
        np.save(path, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with caplog.at_level(logging.WARNING, "backend.pipeline.inversion_store"):
        again, cache = _invert(small, schedule, clip)
    assert "ignoring" in caplog.text
    assert (cache.computed, cache.loaded) == (1, 0)
    assert torch.equal(cold, again)
    fixed, cache = _invert(small, schedule, clip)  # the recomputed file was written back
    assert (cache.computed, cache.loaded) == (0, 1) and torch.equal(cold, fixed)


def test_least_recently_used_files_are_evicted(tmp_path):
    arr = np.zeros((10, 10), np.float32)
    store = InversionStore(tmp_path, max_bytes=10**9)
    for i, key in enumerate("abc"):
        store.save(key, arr + i)
        os.utime(store.path(key), (1000 + i, 1000 + i))  # a oldest ... c newest
    one = store.path("a").stat().st_size
    assert store.load("a", (10, 10)) is not None  # a hit makes `a` the most recently used
    store.max_bytes = 3 * one
    store.save("d", arr)
    assert not store.path("b").exists()
    assert all(store.path(k).exists() for k in "acd")
    assert store.size() == 3 * one
    (tmp_path / ".x.tmp").write_bytes(b"left by a crash")
    os.utime(tmp_path / ".x.tmp", (0, 0))
    store.max_bytes = 0
    store.evict()
    assert not list(tmp_path.iterdir())


def test_a_full_disk_keeps_stored_files_whole(tmp_path, monkeypatch, caplog):
    from tests.support.faults import disk_full, folder_files

    store = InversionStore(tmp_path, max_bytes=10**9)
    store.save("a", np.arange(6, dtype=np.float32))
    before = store.path("a").read_bytes()
    disk_full(monkeypatch, after=40)
    with caplog.at_level(logging.WARNING, "backend.pipeline.inversion_store"):
        store.save("a", np.ones(1000, np.float32))
    monkeypatch.undo()
    assert "cannot write" in caplog.text and not store.writable
    assert store.path("a").read_bytes() == before
    assert folder_files(tmp_path) == {store.path("a").name}


def test_read_only_folder_reads_and_warns_once(
    small, golden, golden_meta, tmp_path, caplog, monkeypatch
):
    schedule = _schedule(small)
    clip = _clip(golden, golden_meta)
    clip.store = InversionStore(tmp_path)
    cold, _ = _invert(small, schedule, clip)  # filled while writable

    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(inversion_store, "atomic_write", refuse)
    ro = InversionStore(tmp_path)
    clip.store = ro
    warm, cache = _invert(small, schedule, clip)
    assert cache.loaded == 1 and torch.equal(cold, warm)
    other = _clip(golden, golden_meta, "db/other")
    other.store = ro
    with caplog.at_level(logging.WARNING, "backend.pipeline.inversion_store"):
        _invert(small, schedule, other)
        ro.save("x", np.zeros(3, np.float32))
    assert caplog.text.count("cannot write") == 1 and not ro.writable
    assert len(list(tmp_path.glob("*.npy"))) == 1


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores file permissions")
def test_read_only_folder_with_permissions(tmp_path):
    (tmp_path / "db").mkdir()
    (tmp_path / "db").chmod(0o555)
    try:
        store = InversionStore(tmp_path / "db" / STORE_DIR)
        store.save("a", np.zeros(3, np.float32))
        assert not store.writable
    finally:
        (tmp_path / "db").chmod(0o755)


# ------------------------------------------------------------------ end to end


@pytest.fixture(scope="module")
def database(tmp_path_factory, tiny_bert_dir):
    root = make_beat2(tmp_path_factory.mktemp("beat2"))
    db = tmp_path_factory.mktemp("db") / "gestures"
    assert (
        main(["build-db", "--beat2", str(root), "--db", str(db), "--bert", str(tiny_bert_dir)]) == 0
    )
    return db


@pytest.fixture(scope="module")
def talk(tmp_path_factory):
    d = tmp_path_factory.mktemp("talk")
    speak(TEXT, d / "talk.wav")
    words = [
        {"word": w, "start": 0.3 + 0.3 * i, "end": 0.55 + 0.3 * i}
        for i, w in enumerate(TEXT.split())
    ]
    (d / "words.json").write_text(json.dumps(words))
    return d


def _session(official_checkpoint, tiny_bert_dir, tiny_wav2vec_dir) -> Session:
    return Session(
        SessionConfig(
            checkpoint=official_checkpoint,
            bert=tiny_bert_dir,
            wav2vec=tiny_wav2vec_dir,
            device="cpu",
        )
    )


def test_warm_from_disk_is_bit_identical_to_cold(
    official_checkpoint, tiny_bert_dir, tiny_wav2vec_dir, database, talk
):
    source = SpeechInput(talk / "talk.wav", transcript=talk / "words.json")
    opts = GenerateOptions(seed=3, steps=10, takes=2)
    results, counts = [], []
    for persist in (True, True, False):  # cold (fills the store), warm from disk, no store
        session = _session(official_checkpoint, tiny_bert_dir, tiny_wav2vec_dir)  # new process
        res = session.generate(
            source, opts, retrieval=RetrievalOptions("discourse", database, inversion_store=persist)
        )
        inv = session.engine.inversions
        results.append(res)
        counts.append((inv.computed, inv.loaded))
    clips = len({i["clip"] for i in results[0].info["inserted"]})
    assert clips > 0 and len(list((database / STORE_DIR).glob("*.npy"))) == clips
    assert counts == [(clips, 0), (0, clips), (clips, 0)]
    cold = results[0]
    for other in results[1:]:
        assert other.info["inserted"] == cold.info["inserted"]
        for a, b in zip(cold.motions, other.motions, strict=True):
            assert np.array_equal(a.poses, b.poses)
            assert np.array_equal(a.trans, b.trans)
            assert np.array_equal(a.expressions, b.expressions)


def test_cli_flag_and_worker_field(
    official_checkpoint, tiny_bert_dir, tiny_wav2vec_dir, tmp_path, talk
):
    from backend.worker.protocol import ProtocolError, parse_request

    root = make_beat2(tmp_path / "beat2")
    db = tmp_path / "gestures"
    assert (
        main(["build-db", "--beat2", str(root), "--db", str(db), "--bert", str(tiny_bert_dir)]) == 0
    )
    args = [
        "generate",
        str(talk / "talk.wav"),
        "--transcript",
        str(talk / "words.json"),
        "--retrieval",
        "discourse",
        "--db",
        str(db),
        "--steps",
        "10",
        "--checkpoint",
        str(official_checkpoint),
        "--bert",
        str(tiny_bert_dir),
        "--wav2vec",
        str(tiny_wav2vec_dir),
        "--device",
        "cpu",
    ]
    assert main([*args, "-o", str(tmp_path / "off.npz"), "--no-inversion-store"]) == 0
    assert not (db / STORE_DIR).exists()
    assert main([*args, "-o", str(tmp_path / "on.npz")]) == 0
    assert list((db / STORE_DIR).glob("*.npy"))
    off, on = np.load(tmp_path / "off.npz"), np.load(tmp_path / "on.npz")
    assert np.array_equal(off["poses"], on["poses"])

    base = {"v": 1, "id": "g1", "type": "generate", "audio": "talk.wav", "text": "hi"}
    spec = {"method": "discourse", "database": "gestures"}
    assert parse_request({**base, "retrieval": spec}).retrieval.inversion_store
    req = parse_request({**base, "retrieval": {**spec, "inversion_store": False}})
    assert req.retrieval.inversion_store is False
    with pytest.raises(ProtocolError, match="retrieval.inversion_store"):
        parse_request({**base, "retrieval": {**spec, "inversion_store": "no"}})
