"""`rag-gesture generate` end to end on the small checkpoint and tiny speech models."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np

from backend.motion.motion import Motion
from backend.speech.audio import load_audio
from tests.support.paths import REPO_ROOT as REPO
from tests.support.speech_audio import speak


def _run(args: list[str], tmp_path: Path) -> subprocess.CompletedProcess:
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "OMP_NUM_THREADS": "1",
           "HF_HUB_OFFLINE": "1"}
    return subprocess.run([sys.executable, "-m", "backend.cli", *args], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=300)


def test_generate_writes_takes(tmp_path, official_checkpoint, tiny_bert_dir, tiny_wav2vec_dir):
    audio = speak("Hello there, this is the command line.", tmp_path / "line.wav")
    out = tmp_path / "out" / "line.npz"
    proc = _run(["generate", str(audio), "--text", "Hello there, this is the command line.",
                 "--takes", "2", "--steps", "10", "--seed", "4", "--allow-mismatch",
                 "--checkpoint", str(official_checkpoint), "--bert", str(tiny_bert_dir),
                 "--wav2vec", str(tiny_wav2vec_dir), "--device", "cpu", "-o", str(out)],
                tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert f"wrote {out}" in proc.stdout
    second = out.with_name("line_take2.npz")
    assert f"wrote {second}" in proc.stdout
    assert "not the official 50-step schedule" in proc.stdout
    assert "generating" in proc.stderr and "100.0%" in proc.stderr  # the progress bar
    a, b = Motion.load_npz(out), Motion.load_npz(second)
    assert a.fps == 30 and a.num_frames == int(np.ceil(load_audio(audio).duration * 30))
    assert not np.array_equal(a.poses, b.poses)


def test_generate_reports_one_sentence_errors(tmp_path, official_checkpoint, tiny_bert_dir,
                                              tiny_wav2vec_dir):
    proc = _run(["generate", str(tmp_path / "missing.wav"), "--checkpoint",
                 str(official_checkpoint), "--bert", str(tiny_bert_dir), "--wav2vec",
                 str(tiny_wav2vec_dir), "-o", str(tmp_path / "x.npz")], tmp_path)
    assert proc.returncode == 1
    assert "error (bad_audio): the audio file" in proc.stderr and "does not exist" in proc.stderr
    proc = _run(["generate", "x.wav", "--weights", str(tmp_path / "empty"), "-o",
                 str(tmp_path / "x.npz")], tmp_path)
    assert proc.returncode == 1
    assert "error (missing_weights)" in proc.stderr and "rag-gesture download" in proc.stderr


def test_cue_syntax():
    import pytest

    from backend.retrieval.planner import parse_cue

    cue = parse_cue("iconic@5.5:2_scott_0_1_1/30")
    assert (cue.kind, cue.time, cue.clip) == ("iconic", 5.5, "2_scott_0_1_1/30")
    assert parse_cue("deictic@3").clip is None
    for bad in ("waving@3", "deictic", "deictic@soon"):
        with pytest.raises(ValueError, match="KIND@SECONDS"):
            parse_cue(bad)
