"""`rag-gesture doctor` reports a loadable checkpoint and explains missing weights."""

from __future__ import annotations

import subprocess
import sys

from backend.cli import main
from backend.weights import locate


def test_doctor_loads_official_layout(official_checkpoint, capsys):
    root = official_checkpoint.parents[3]
    assert locate(root).checkpoint == official_checkpoint
    code = main(["doctor", "--weights", str(root), "--device", "cpu"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "epoch_1.pth" in out
    assert "per_joint_scale: {'upper': 1.1" in out
    assert "respace 15,15,8,6,6 (50 DDIM steps)" in out
    assert "hands      VAE: all_encoder" in out
    assert out.strip().endswith("all good")


def test_doctor_without_weights_says_what_to_run(tmp_path, monkeypatch):
    monkeypatch.setenv("RAG_GESTURE_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    proc = subprocess.run([sys.executable, "-m", "backend.cli", "doctor", "--weights",
                           str(tmp_path / "none")], capture_output=True, text=True)
    assert proc.returncode == 1
    assert "No RAG-Gesture weights found" in proc.stdout
    assert "hf download m-hamza-mughal/rag-gesture-weights" in proc.stdout
    assert str(tmp_path / "none") in proc.stdout


def test_doctor_reports_broken_checkpoint(tmp_path, capsys):
    run = tmp_path / "experiments" / "diffusion" / "r"
    run.mkdir(parents=True)
    (run / "epoch_64.pth").write_bytes(b"not a checkpoint")
    (run / "basegesture_len150_beat.py").write_text("model = dict()\n")
    code = main(["doctor", "--weights", str(tmp_path)])
    assert code == 1
    assert "cannot load" in capsys.readouterr().out


def test_doctor_counts_threads_in_words(tmp_path, monkeypatch):
    monkeypatch.setenv("RAG_GESTURE_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    for threads, words in ((1, "; 1 CPU thread\n"), (2, "; 2 CPU threads\n")):
        proc = subprocess.run([sys.executable, "-m", "backend.cli", "--threads", str(threads),
                               "doctor", "--device", "cpu", "--weights", str(tmp_path / "none")],
                              capture_output=True, text=True)
        assert words in proc.stdout, proc.stdout
