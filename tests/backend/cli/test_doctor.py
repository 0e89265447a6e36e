"""`rag-gesture doctor` reports a loadable checkpoint and explains missing weights."""

from __future__ import annotations

import subprocess
import sys

from backend.cli import main
from backend.weights import locate


def test_doctor_loads_official_layout(official_checkpoint, tiny_bert_dir, tiny_wav2vec_dir,
                                      capsys):
    root = official_checkpoint.parents[3]
    assert locate(root).checkpoint == official_checkpoint
    code = main(["doctor", "--weights", str(root), "--device", "cpu", "--bert",
                 str(tiny_bert_dir), "--wav2vec", str(tiny_wav2vec_dir)])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "epoch_1.pth" in out
    assert "per_joint_scale: {'upper': 1.1" in out
    assert "respace 15,15,8,6,6 (50 DDIM steps)" in out
    assert "hands      VAE: all_encoder" in out
    assert f"speech model: {tiny_bert_dir}" in out and f"speech model: {tiny_wav2vec_dir}" in out
    assert out.strip().endswith("all good")


def test_doctor_fails_like_generate_when_a_speech_model_is_missing(
        official_checkpoint, tiny_bert_dir, tmp_path, monkeypatch, capsys):
    """generate would stop at the speech models, so doctor must not say "all good"."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    args = ["doctor", "--checkpoint", str(official_checkpoint), "--device", "cpu", "--bert",
            str(tiny_bert_dir), "--wav2vec", "nobody/missing-wav2vec"]  # in no cache
    assert main(args) == 1
    out = capsys.readouterr().out
    assert ("  problem: Wav2Vec2Processor could not be loaded from the Hugging Face cache "
            "(nobody/missing-wav2vec); download it with `rag-gesture download`") in out
    assert out.strip().splitlines()[-1] == "1 problem(s) found"
    args[-1] = str(tmp_path / "no_such_folder")
    assert main(args) == 1
    assert (f"  problem: the speech model folder {tmp_path / 'no_such_folder'} does not exist"
            in capsys.readouterr().out)
    # generate with --allow-download would fetch it on first use: a note, not a problem
    args[-1] = "nobody/missing-wav2vec"
    assert main([*args, "--allow-download"]) == 0
    out = capsys.readouterr().out
    assert ("  note: the speech model nobody/missing-wav2vec is not here yet; it is "
            "downloaded on first use (--allow-download)") in out
    assert out.strip().endswith("all good")


def test_doctor_checks_the_smplx_model_file(official_checkpoint, tiny_bert_dir,
                                            tiny_wav2vec_dir, tmp_path, capsys):
    bad = tmp_path / "SMPLX_NEUTRAL.npz"
    bad.write_bytes(b"not a zip")
    code = main(["doctor", "--checkpoint", str(official_checkpoint), "--device", "cpu",
                 "--bert", str(tiny_bert_dir), "--wav2vec", str(tiny_wav2vec_dir),
                 "--smplx-model", str(bad)])
    out = capsys.readouterr().out
    assert code == 1 and f"  problem: SMPL-X model file {bad} is not a readable" in out


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


def test_threads_must_be_positive(capsys):
    import pytest

    with pytest.raises(SystemExit) as exc:
        main(["--threads", "0", "doctor"])
    assert exc.value.code == 2
    assert "--threads: must be a whole number of at least 1, not '0'" in capsys.readouterr().err
