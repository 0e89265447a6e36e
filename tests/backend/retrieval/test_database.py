"""The retrieval database built from a synthetic BEAT2 tree (spec §5.2)."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from backend.retrieval import beat2
from backend.retrieval.database import GestureDatabase, build_from_beat2
from backend.retrieval.records import GestureLabel, QueryPoint
from backend.retrieval.scoring import retrieve, search
from backend.speech.words import Word
from rag_gesture_shared.speakers import resolve_speaker
from tests.support.beat2_synthetic import (
    CLIPS,
    CONNECTIVE_PROMINENCE,
    CONTRAST,
    REASON,
    expected_windows,
    make_beat2,
    write_motion,
)

DB_CLIPS = [c for c, v in CLIPS.items() if v[0] in ("train", "additional")]
SCOTT = resolve_speaker("scott").index
LAWRENCE = resolve_speaker("lawrence").index


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    return make_beat2(tmp_path_factory.mktemp("beat2"))


@pytest.fixture(scope="module")
def built(dataset, tmp_path_factory):
    path = tmp_path_factory.mktemp("db")
    calls = []
    report = build_from_beat2(dataset, path, progress=lambda s, f: calls.append((s, f)))
    return path, report, calls


def test_readers(dataset):
    assert beat2.database_clips(dataset / "train_test_split.csv") == DB_CLIPS
    labels = beat2.read_sem(dataset / "sem" / "2_scott_0_1_1.txt")
    assert [g.kind for g in labels] == ["deictic", "iconic", "beat"]  # nogesture skipped
    assert labels[0] == GestureLabel("deictic", 12.5, 13.0, "there")
    motion = beat2.load_motion_15fps(dataset / "smplxflame_30" / "2_scott_0_1_1.npz")
    assert motion.fps == 15 and motion.num_frames == 750
    np.testing.assert_allclose(motion.poses[:3, 0, 0], [0.0, 0.002, 0.004], atol=1e-7)
    assert beat2.clip_windows(750) == list(range(0, 601, 75))
    assert beat2.clip_windows(149) == []
    assert beat2.window_name("2_scott_0_1_1", 150) == "2_scott_0_1_1/30"


def test_sem_comma_separated_with_header(tmp_path):
    path = tmp_path / "x.txt"
    path.write_text("name,start_time,end_time,duration,score,keywords\n"
                    "iconic_h,1.0,2.0,1.0,1,a, b\nhabit,0,1,1,1,\n")
    assert beat2.read_sem(path) == [GestureLabel("iconic", 1.0, 2.0, "a, b")]


def test_window_counts(built):
    path, report, calls = built
    assert sorted(report.added) == sorted(DB_CLIPS) and not report.failed
    total = sum(expected_windows(CLIPS[c][1]) for c in DB_CLIPS)
    assert report.windows_added == total
    with GestureDatabase(path) as db:
        assert db.count() == total
        names = db.names()
        assert "2_scott_0_5_5/0" not in names  # test split excluded
        starts = sorted(int(n.split("/")[1]) for n in names if n.startswith("2_scott_0_1_1/"))
        assert starts == [15 * k for k in range(expected_windows(50))]
        assert set(db.clip_status().values()) == {"done"}
    assert calls[0] == ("build-db", 0.0) and calls[-1] == ("build-db", 1.0)


def test_hand_checked_window(built, dataset):
    path, _, _ = built
    with GestureDatabase(path) as db:
        rec = db.record("2_scott_0_1_1/30")  # frames 150..300 = 10..20 s
        assert rec.speaker == SCOTT
        assert len(rec.words) == 20 and rec.words[0].start == pytest.approx(0.1)
        assert rec.words[-1].end == pytest.approx(9.9)
        (rel,) = rec.relations
        assert (rel.sense, rel.connective) == (REASON, "because")
        assert [rel.rel_start, rel.rel_end, rel.conn_start, rel.conn_end] == pytest.approx(
            [0.1, 4.4, 2.1, 2.4]
        )
        # the iconic label 19.5-20.5 straddles the window end: not kept
        assert [(g.kind, g.word) for g in rec.gesture_labels] == [("deictic", "there")]
        assert rec.gesture_labels[0].start == pytest.approx(2.5)
        assert len(rec.prominence) == 20
        word, s, e, p = rec.prominence[4]
        assert word == "because" and s == pytest.approx(2.1) and p == CONNECTIVE_PROMINENCE
        assert "because" in rec.transcript

        # relation starting before the window: span clipped to the window start
        (rel,) = db.record("2_scott_0_1_1/60").relations
        assert rel.connective == "but"
        assert [rel.rel_start, rel.rel_end, rel.conn_start] == pytest.approx([0.0, 2.4, 0.1])
        labels = db.record("2_scott_0_1_1/45").gesture_labels
        assert ("iconic", "ball") in [(g.kind, g.word) for g in labels]

        motion = db.window_motion("2_scott_0_1_1/30")
        assert motion.poses.shape == (150, 55, 3) and motion.trans.shape == (150, 3)
        assert motion.expressions.shape == (150, 100) and motion.fps == 15
        # 15-fps frame 150 = 30-fps frame 300
        assert motion.poses[0, 0, 0] == pytest.approx(0.300, abs=1e-6)
        assert db.window_features("2_scott_0_1_1/30") is None


def test_rerun_is_incremental(built, dataset):
    path, _, _ = built
    report = build_from_beat2(dataset, path)
    assert report.added == [] and sorted(report.skipped) == sorted(DB_CLIPS)
    assert report.windows_added == 0


def test_interrupted_build_resumes(dataset, tmp_path):
    class Boom(Exception):
        pass

    def progress(stage, fraction):
        if fraction > 0:
            raise Boom

    with pytest.raises(Boom):
        build_from_beat2(dataset, tmp_path, progress=progress)
    with GestureDatabase(tmp_path) as db:
        assert db.clip_status() == {DB_CLIPS[0]: "done"}
        assert db.count() == expected_windows(CLIPS[DB_CLIPS[0]][1])
    report = build_from_beat2(dataset, tmp_path)
    assert report.skipped == [DB_CLIPS[0]] and report.added == DB_CLIPS[1:]
    with GestureDatabase(tmp_path) as db:
        assert db.count() == sum(expected_windows(CLIPS[c][1]) for c in DB_CLIPS)


@pytest.mark.parametrize(
    ("rel_path", "content"),
    [
        ("discourse_rels/2_scott_0_2_2_whisper_relations.json", '{"sentences": [ oops'),
        ("prom/2_scott_0_2_2.prom", "x\t0.1\t0.4\twe\t1.0\t0\nx\tzero\t1.0\tword\t1.0\t0\n"),
        ("sem/2_scott_0_2_2.txt", "iconic_h\t1.0\n"),
        ("sem/2_scott_0_2_2.txt", None),  # missing
        ("smplxflame_30/2_scott_0_2_2.npz", "not a zip"),
    ],
)
def test_corrupt_file_is_reported(dataset, tmp_path, rel_path, content):
    root = tmp_path / "beat2"
    shutil.copytree(dataset, root)
    target = root / rel_path
    if content is None:
        target.unlink()
    else:
        target.write_text(content)
    report = build_from_beat2(root, tmp_path / "db")
    assert [f.clip for f in report.failed] == ["2_scott_0_2_2"]
    assert str(target) in report.messages[0]
    assert "2_scott_0_2_2" not in report.added
    assert sorted(report.added) == sorted(c for c in DB_CLIPS if c != "2_scott_0_2_2")
    with GestureDatabase(tmp_path / "db") as db:
        assert db.clip_status()["2_scott_0_2_2"].startswith("failed: ")
        assert not any(n.startswith("2_scott_0_2_2/") for n in db.names())
    # fixed file -> the next build retries the failed clip only
    shutil.copy(dataset / rel_path, target)
    report = build_from_beat2(root, tmp_path / "db")
    assert report.added == ["2_scott_0_2_2"] and not report.failed


def test_token_features_stored(dataset, tmp_path):
    def feats(words):
        return np.full((len(words) + 2, 768), float(len(words)), np.float32)

    build_from_beat2(dataset, tmp_path, token_features=feats)
    with GestureDatabase(tmp_path) as db:
        f = db.window_features("2_scott_0_1_1/30")
        assert f.shape == (22, 768)
        recs = {r.name: r for r in db.records(with_features=True)}
        assert recs["2_scott_0_1_1/30"].token_features.shape == (22, 768)
        assert all(r.token_features is None for r in db.records())


def test_user_clip(built, tmp_path):
    path, _, _ = built
    npz = tmp_path / "studio_take.npz"
    write_motion(npz, 30 * 12, seed=9)
    words = [
        Word("I", 1.0, 1.2), Word("left", 1.3, 1.6), Word("early,", 1.7, 2.0),
        Word("because", 2.2, 2.6), Word("it", 2.7, 2.8), Word("rained", 2.9, 3.3),
        Word("there", 11.0, 11.5),
    ]
    labels = [GestureLabel("deictic", 11.0, 11.5, "there")]
    work = tmp_path / "db"
    shutil.copytree(path, work)
    with GestureDatabase(work) as db:
        before = db.count()
        names = db.add_user_clip(npz, words, labels, speaker="wayne", name="studio_take")
        assert names == ["studio_take/0"]
        assert db.count() == before + 1
        rec = db.record("studio_take/0")
        assert rec.speaker == resolve_speaker("wayne").index
        assert [(r.connective, r.sense) for r in rec.relations] == [("because", REASON)]
        assert rec.gesture_labels == []  # 11.0 s lies outside the only window (0-10 s)
        assert db.window_motion("studio_take/0").num_frames == 150
        with pytest.raises(ValueError, match="already"):
            db.add_user_clip(npz, words, speaker="wayne", name="studio_take")

        q = QueryPoint("discourse", "because", REASON, 2.2, 2.6)
        (best,) = retrieve(q, db.records(), speaker=resolve_speaker("wayne").index,
                           method="discourse")
        assert best.name == "studio_take/0"

        # a short clip becomes one padded window
        short = tmp_path / "short.npz"
        write_motion(short, 30 * 4, seed=3)
        assert db.add_user_clip(short, [Word("hello", 0.5, 0.9)], speaker=0) == ["short/0"]
        assert db.window_motion("short/0").num_frames == 150


def test_queries_rank_expected_window(built):
    path, _, _ = built
    with GestureDatabase(path) as db:
        records = list(db.records())
        q = QueryPoint("discourse", "because", REASON, 2.0, 2.3, CONNECTIVE_PROMINENCE)
        ranked = search(q, records, speaker=SCOTT, method="discourse")
        assert {c.name for c in ranked} == {"2_scott_0_1_1/15", "2_scott_0_1_1/30"}
        assert ranked[0].bound.text == "because"

        q = QueryPoint("discourse", "but", CONTRAST, 1.0, 1.3)
        (best,) = retrieve(q, records, speaker=LAWRENCE, method="discourse")
        assert best.name.startswith("4_lawrence_0_3_3/")
        (best,) = retrieve(q, records, speaker=SCOTT, method="discourse")
        assert best.name.startswith("2_scott_0_1_1/")

        q = QueryPoint("gesture", "ball", "iconic", 4.0, 5.0)
        (best,) = retrieve(q, records, speaker=SCOTT, method="gesture_type")
        assert best.name == "2_scott_0_1_1/45"
        assert best.bound.text == "ball" and best.bound.start == pytest.approx(4.5)

        q = QueryPoint("gesture", "idea", "metaphoric", 1.0, 2.0)
        ranked = search(q, records, speaker=SCOTT, method="gesture_type")
        assert ranked[0].name.startswith("2_scott_0_2_2/") and ranked[0].bound.text == "idea"


# nothing half-written is left for the garbage collector to complain about later
@pytest.mark.filterwarnings("error::pytest.PytestUnraisableExceptionWarning")
def test_replacing_a_clip_on_a_full_disk_keeps_its_arrays(tmp_path, monkeypatch):
    from tests.support.faults import collect_failed_writers, disk_full, folder_files

    npz = tmp_path / "take.npz"
    write_motion(npz, 30 * 25, seed=9)  # several windows
    words = [Word("hello", 1.0, 1.4), Word("there", 12.0, 12.5)]
    with GestureDatabase(tmp_path / "db") as db:
        names = db.add_user_clip(npz, words, speaker=0, name="take")
        folder = db.arrays / "take"
        before = {n: (folder / n).read_bytes() for n in folder_files(folder)}
        assert len(before) == len(names) > 2
        one = min(len(b) for b in before.values())
        write_motion(npz, 30 * 25, seed=10)
        disk_full(monkeypatch, after=2 * one + one // 2)  # fails in the third window
        with pytest.raises(OSError, match="No space"):
            db.add_user_clip(npz, words, speaker=0, name="take", replace=True)
        monkeypatch.undo()
        collect_failed_writers()
        assert {n: (folder / n).read_bytes() for n in folder_files(folder)} == before
        assert db.names() == names


@pytest.mark.parametrize(("name", "why"), [
    ("..", "it names a folder, not a clip"),
    (".", "it names a folder, not a clip"),
    ("../escape", "it contains '/'"),
    ("a\\b", "it contains '\\\\'"),
    ("take:1", "it contains ':'"),
    ("   ", "it is empty"),
    ("take.", "ends with a dot"),
    ("x" * 101, "longer than 100 characters"),
])
def test_add_clip_refuses_names_that_are_not_plain_folder_names(tmp_path, name, why):
    npz = tmp_path / "take.npz"
    write_motion(npz, 30 * 4, seed=3)
    db_path = tmp_path / "db"
    with GestureDatabase(db_path) as db, pytest.raises(ValueError) as err:
        db.add_user_clip(npz, [Word("hello", 0.5, 0.9)], speaker=0, name=name)
    assert why in str(err.value) and "give --name" in str(err.value)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["db", "take.npz"]
    assert not (db_path / "arrays").exists()


def test_add_clip_command_refuses_dot_dot(tmp_path, capsys):
    from backend.cli import main

    npz = tmp_path / "take.npz"
    write_motion(npz, 30 * 4, seed=3)
    words = tmp_path / "w.json"
    words.write_text('[{"word": "hello", "start": 0.5, "end": 0.9}]')
    code = main(["add-clip", str(npz), "--words", str(words), "--db", str(tmp_path / "db"),
                 "--speaker", "0", "--name", ".."])
    assert code == 1
    assert capsys.readouterr().err == ("error: the clip name '..' cannot be used because it "
                                       "names a folder, not a clip; give --name with letters, "
                                       "digits, '-', '_' or '.'\n")
    assert not list((tmp_path / "db").glob("*.npz"))


def test_build_db_command_checks_its_folders_before_loading_bert(dataset, tmp_path, capsys,
                                                                 monkeypatch):
    from backend.cli import main, outputs
    from backend.speech import bert

    def trap(*args, **kwargs):
        raise AssertionError("BERT was loaded before the folders were checked")

    monkeypatch.setattr(bert, "BertWords", trap)
    assert main(["build-db", "--beat2", str(tmp_path), "--db", str(tmp_path / "db")]) == 2
    assert capsys.readouterr().err == (f"error: {tmp_path} is not a BEAT2 folder (no "
                                       "train_test_split.csv); give --beat2 the "
                                       "beat_english_v2.0.0 folder\n")
    blocker = tmp_path / "file"
    blocker.write_text("x")
    assert main(["build-db", "--beat2", str(dataset), "--db", str(blocker)]) == 2
    assert capsys.readouterr().err == f"error: --db {blocker} is a file, not a folder\n"

    def read_only(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(outputs.tempfile, "mkstemp", read_only)
    assert main(["build-db", "--beat2", str(dataset), "--db", str(tmp_path / "new" / "db")]) == 2
    assert capsys.readouterr().err == (f"error: cannot write {tmp_path / 'new' / 'db'}: the "
                                       f"folder {tmp_path} is not writable (Permission denied); "
                                       "choose another --db\n")
