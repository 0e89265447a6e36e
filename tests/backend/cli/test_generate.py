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
    assert proc.returncode == 2  # refused before any model loads
    assert "error (bad_audio): the audio file" in proc.stderr and "does not exist" in proc.stderr
    audio = speak("Hello.", tmp_path / "hello.wav")
    proc = _run(["generate", str(audio), "--weights", str(tmp_path / "empty"), "-o",
                 str(tmp_path / "x.npz")], tmp_path)
    assert proc.returncode == 1
    assert "error (missing_weights)" in proc.stderr and "rag-gesture download" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_truncated_checkpoint_says_to_download_again(tmp_path, official_checkpoint, capsys):
    """An interrupted download of the official layout."""
    import shutil

    from backend.cli import main

    root = official_checkpoint.parents[3]
    shutil.copytree(root / "experiments", tmp_path / "w" / "experiments")
    cut = tmp_path / "w" / official_checkpoint.relative_to(root)
    cut.write_bytes(cut.read_bytes()[: cut.stat().st_size // 2])
    audio = speak("Hello.", tmp_path / "hello.wav")
    code = main(["generate", str(audio), "--weights", str(tmp_path / "w"), "-o",
                 str(tmp_path / "x.npz")])
    err = capsys.readouterr().err
    lines = [ln for ln in err.splitlines() if ln.startswith("error")]
    assert code == 1 and len(lines) == 1, err
    assert lines[0] == (f"error (bad_weights): {cut} is damaged or truncated (not a complete "
                        "PyTorch checkpoint); run `rag-gesture download` again")
    assert not (tmp_path / "x.npz").exists()


def test_ctrl_c_prints_cancelled_and_leaves_nothing(tmp_path, official_checkpoint,
                                                     tiny_bert_dir, tiny_wav2vec_dir):
    """SIGINT while the diffusion runs: one line, exit 130, no output, no temp file."""
    import signal
    import threading
    import time

    audio = speak("Hello there, this is a longer line to keep the command busy for a while.",
                  tmp_path / "line.wav")
    out = tmp_path / "out"
    out.mkdir()
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "OMP_NUM_THREADS": "1",
           "HF_HUB_OFFLINE": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "backend.cli", "generate", str(audio), "--text",
         "Hello there, this is a longer line to keep the command busy for a while.",
         "--allow-mismatch", "--takes", "4", "--checkpoint", str(official_checkpoint),
         "--bert", str(tiny_bert_dir), "--wav2vec", str(tiny_wav2vec_dir), "--device", "cpu",
         "-o", str(out / "line.npz")], cwd=REPO, env=env, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE)
    seen = bytearray()

    def pump():
        while chunk := proc.stderr.read1(4096):
            seen.extend(chunk)

    reader = threading.Thread(target=pump, daemon=True)
    reader.start()
    try:
        deadline = time.monotonic() + 240
        while b"generating" not in seen and proc.poll() is None:
            assert time.monotonic() < deadline, bytes(seen).decode(errors="replace")
            time.sleep(0.05)
        assert proc.poll() is None, bytes(seen).decode(errors="replace")
        proc.send_signal(signal.SIGINT)
        proc.wait(60)
        reader.join(10)
    finally:
        if proc.poll() is None:
            proc.kill()
    err = bytes(seen).decode()
    assert proc.returncode == 130, err
    assert err.rstrip("\n").splitlines()[-1] == "cancelled"
    assert "Traceback" not in err and "KeyboardInterrupt" not in err
    assert list(out.iterdir()) == []


def test_cue_syntax():
    import pytest

    from backend.retrieval.planner import parse_cue

    cue = parse_cue("iconic@5.5:2_scott_0_1_1/30")
    assert (cue.kind, cue.time, cue.clip) == ("iconic", 5.5, "2_scott_0_1_1/30")
    assert parse_cue("deictic@3").clip is None
    for bad in ("waving@3", "deictic", "deictic@soon"):
        with pytest.raises(ValueError, match="KIND@SECONDS"):
            parse_cue(bad)
