"""`rag-gesture generate` refuses bad input and bad output locations with one sentence and
exit code 2 before any model loads (models are replaced by a trap that fails the test)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from backend.cli import main, outputs
from backend.pipeline import session as session_module

AUDIO_SECONDS = 3.0


@pytest.fixture
def no_models(monkeypatch):
    """Any model load fails the test: every refusal must come first."""

    def trap(*args, **kwargs):
        raise AssertionError("a model was loaded before the input was refused")

    monkeypatch.setattr(session_module, "load_official", trap)
    monkeypatch.setattr(session_module, "Wav2VecModel", trap)
    monkeypatch.setattr(session_module, "BertWords", trap)


@pytest.fixture
def audio(tmp_path) -> Path:
    path = tmp_path / "line.wav"
    t = np.arange(int(16000 * AUDIO_SECONDS)) / 16000
    sf.write(path, (0.1 * np.sin(2 * np.pi * 220 * t)).astype(np.float32), 16000)
    return path


def generate(capsys, *args: str) -> tuple[int, str, str]:
    code = main(["generate", *args])
    out = capsys.readouterr()
    return code, out.out, out.err


def refused(capsys, *args: str) -> str:
    """Run, expect exit 2 and exactly one error line; return it."""
    code, out, err = generate(capsys, *args)
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert code == 2, (out, err)
    assert len(lines) == 1 and lines[0].startswith("error"), err
    assert "Traceback" not in err and not out
    return lines[0]


@pytest.mark.parametrize(("option", "value", "expected"), [
    ("--fps", "0", "--fps must be a number above 0 to 240, got 0"),
    ("--fps", "1000", "--fps must be a number above 0 to 240"),
    ("--takes", "0", "--takes must be a whole number from 1 to 32, got 0"),
    ("--takes", "500", "--takes must be a whole number from 1 to 32, got 500"),
    ("--steps", "4", "--steps must be a whole number from 5 to 1000, got 4"),
    ("--steps", "1001", "--steps must be a whole number from 5 to 1000"),
    ("--seed", "-1", "--seed must be a whole number from 0 to"),
    ("--speaker", "nobody", "--speaker: "),
    ("--speaker", "99", "--speaker: speaker index 99 is out of range"),
    ("--guidance-schedule", "fastest", "--guidance-schedule: "),
])
def test_options_are_checked_by_the_workers_rules(no_models, capsys, audio, tmp_path, option,
                                                  value, expected):
    line = refused(capsys, str(audio), option, value, "-o", str(tmp_path / "o.npz"))
    assert expected in line and "dst_fps" not in line
    assert line.startswith("error (bad_request): ")


def test_words_are_checked_before_the_models(no_models, capsys, audio, tmp_path):
    out = ["-o", str(tmp_path / "o.npz")]
    bad_json = tmp_path / "words.json"
    bad_json.write_text('[{"word": "hello", "start": 0.1}]')
    line = refused(capsys, str(audio), "--transcript", str(bad_json), *out)
    assert line == f'error (bad_transcript): {bad_json}, entry [0]: has no "end" time'
    broken = tmp_path / "broken.json"
    broken.write_text('[{"word": "hello", "start": 0.1, "end": 0.4},')
    assert "is not valid JSON" in refused(capsys, str(audio), "--transcript", str(broken), *out)
    line = refused(capsys, str(audio), "--text", "... !? -- ,", *out)
    assert line == "error (bad_transcript): <text>: has no words, only punctuation or symbols"
    punct = tmp_path / "punct.txt"
    punct.write_text("...\n?!\n")
    assert "only punctuation" in refused(capsys, str(audio), "--transcript", str(punct), *out)
    assert "does not exist" in refused(capsys, str(audio), "--transcript",
                                       str(tmp_path / "none.srt"), *out)
    assert "is a directory" in refused(capsys, str(audio), "--transcript", str(tmp_path), *out)


def test_audio_problems_are_named(no_models, capsys, tmp_path):
    out = ["-o", str(tmp_path / "o.npz")]
    line = refused(capsys, str(tmp_path), *out)
    assert line == (f"error (bad_audio): the audio {tmp_path} is a directory; give the "
                    "recording file itself")
    assert "does not exist" in refused(capsys, str(tmp_path / "missing.wav"), *out)
    text = tmp_path / "notes.wav"
    text.write_text("not audio")
    assert "is not an audio file" in refused(capsys, str(text), *out)


def test_a_transcript_too_long_to_align_is_refused_from_its_length(no_models, capsys,
                                                                     tmp_path):
    long_audio = tmp_path / "long.wav"
    sf.write(long_audio, np.zeros(16000 * 60, np.float32), 16000)  # 60 s, only the header
    line = refused(capsys, str(long_audio), "--text", "word " * 20000, "-o",
                   str(tmp_path / "o.npz"))
    assert "too long to align in one piece (20000 words over 60 s)" in line


def test_subtitle_cue_past_the_end_names_the_cue_and_the_audio_length(no_models, capsys,
                                                                       audio, tmp_path):
    srt = tmp_path / "line.srt"
    srt.write_text("1\n00:00:00,100 --> 00:00:02,000\nHello there\n\n"
                   "2\n00:00:31,200 --> 00:00:33,000\nthis is not in the recording\n")
    line = refused(capsys, str(audio), "--transcript", str(srt), "-o", str(tmp_path / "o.npz"))
    assert line == (f'error (bad_transcript): {srt}, line 6: the cue "this is not in the '
                    'recording" at 31.2-33 s is past the end of the audio (3.00 s long); fix '
                    "or remove its timing, or allow a transcript mismatch to skip it")


def test_gesture_cue_outside_the_audio_is_refused(no_models, capsys, audio, tmp_path):
    db = tmp_path / "db"
    db.mkdir()
    (db / "db.sqlite").write_bytes(b"")
    line = refused(capsys, str(audio), "--cue", "deictic@7.5", "--db", str(db), "-o",
                   str(tmp_path / "o.npz"))
    assert line == ("error (bad_request): the deictic gesture cue at 7.5 s is outside the "
                    "audio (3.00 s long); move it inside the recording")
    assert "no gesture database at" in refused(capsys, str(audio), "--retrieval", "discourse",
                                               "--db", str(tmp_path / "none"), "-o",
                                               str(tmp_path / "o.npz"))
    assert "--db must be the gesture database folder" in refused(
        capsys, str(audio), "--retrieval", "discourse", "-o", str(tmp_path / "o.npz"))


# ------------------------------------------------------------------ the output location


def test_existing_output_is_refused_without_force(no_models, capsys, audio, tmp_path):
    first = tmp_path / "line.npz"
    first.write_bytes(b"the good take")
    line = refused(capsys, str(audio), "-o", str(first))
    assert line == (f"error: {first} already exists; pass --force to replace it, or choose "
                    "another -o")
    first.unlink()
    second = tmp_path / "line_take2.npz"  # never silently overwritten either
    second.write_bytes(b"an earlier second take")
    line = refused(capsys, str(audio), "--takes", "3", "-o", str(first))
    assert f"error: {second} already exists; pass --force to replace it" in line
    (tmp_path / "line_take3.npz").write_bytes(b"and a third")
    line = refused(capsys, str(audio), "--takes", "3", "-o", str(first))
    assert f"{second} and 1 more take file(s) already exist; pass --force" in line
    assert second.read_bytes() == b"an earlier second take"


def test_output_location_problems(no_models, capsys, audio, tmp_path, monkeypatch):
    line = refused(capsys, str(audio), "-o", str(tmp_path))
    assert line == (f"error: -o {tmp_path} is a folder; give a file name inside it, e.g. "
                    f"{tmp_path / 'line.npz'}")
    assert "must be a .npz file" in refused(capsys, str(audio), "-o", str(tmp_path / "o.bvh"))
    blocker = tmp_path / "takes"
    blocker.write_text("a file where a folder should be")
    line = refused(capsys, str(audio), "-o", str(blocker / "day1" / "line.npz"))
    assert line == (f"error: cannot write {blocker / 'day1' / 'line.npz'}: {blocker} is a "
                    "file, not a folder")

    def read_only(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    with monkeypatch.context() as m:
        m.setattr(outputs.tempfile, "mkstemp", read_only)
        line = refused(capsys, str(audio), "-o", str(tmp_path / "line.npz"))
    assert line == (f"error: cannot write {tmp_path / 'line.npz'}: the folder {tmp_path} is "
                    "not writable (Permission denied); choose another -o")

    class Usage:
        free = 1024**2

    monkeypatch.setattr(outputs.shutil, "disk_usage", lambda folder: Usage)
    line = refused(capsys, str(audio), "--takes", "4", "-o", str(tmp_path / "line.npz"))
    assert line.startswith(f"error: not enough free space in {tmp_path} for 4 take(s): about ")
    assert line.endswith("MB are needed and 1.0 MB are free")
    assert not (tmp_path / "line.npz").exists()


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0,
                    reason="root ignores permission bits")
def test_read_only_folder_by_permissions(no_models, capsys, audio, tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        assert "is not writable" in refused(capsys, str(audio), "-o", str(folder / "a.npz"))
    finally:
        folder.chmod(0o755)


# nothing half-written is left for the garbage collector to complain about later
@pytest.mark.filterwarnings("error::pytest.PytestUnraisableExceptionWarning")
def test_takes_are_written_all_or_none(tmp_path, monkeypatch):
    from backend.motion.motion import Motion
    from tests.support.faults import collect_failed_writers, disk_full, folder_files
    from tests.support.synthetic_motion import make_motion

    takes = [Motion(**make_motion(20, seed=i), fps=30.0) for i in range(3)]
    out = tmp_path / "line.npz"
    for i in range(3):
        outputs.take_path(out, i).write_bytes(f"old take {i + 1}".encode())
    disk_full(monkeypatch, after=2 * 1024)
    with pytest.raises(outputs.OutputError) as err:
        outputs.write_takes(out, takes)
    monkeypatch.undo()
    collect_failed_writers()
    assert str(err.value) == (f"cannot write {out}: No space left on device; no take file "
                              "was changed")
    assert [outputs.take_path(out, i).read_bytes() for i in range(3)] == [
        b"old take 1", b"old take 2", b"old take 3"]
    assert folder_files(tmp_path) == {"line.npz", "line_take2.npz", "line_take3.npz"}
    assert outputs.write_takes(out, takes) == [outputs.take_path(out, i) for i in range(3)]
    assert Motion.load_npz(tmp_path / "line_take3.npz").num_frames == 20


def test_json_words_with_negative_times_are_refused_like_worker_words(no_models, capsys, audio,
                                                                      tmp_path):
    words = tmp_path / "w.json"
    words.write_text(json.dumps([{"word": "hi", "start": -0.5, "end": 0.2}]))
    assert "negative time" in refused(capsys, str(audio), "--transcript", str(words), "-o",
                                      str(tmp_path / "o.npz"))


def test_force_replaces_and_says_so(tmp_path):
    out = tmp_path / "line.npz"
    for i in (0, 1, 2):  # an earlier run with three takes
        outputs.take_path(out, i).write_bytes(b"old")
    notes = outputs.check_output(out, takes=2, frames=300, force=True)
    assert notes == [f"replacing {out}", f"replacing {tmp_path / 'line_take2.npz'}",
                     "line_take3.npz (and any later take files) are from an earlier run with "
                     "more takes; they are left as they are"]
    assert outputs.check_output(tmp_path / "new" / "a.npz", takes=1, frames=300,
                                force=False) == []
    assert not (tmp_path / "new").exists()  # created only when the takes are written
