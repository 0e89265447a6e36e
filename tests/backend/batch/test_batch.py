"""`rag-gesture batch` on a real local Ray (two actors), resume, bad rows, Ctrl-C.

The small official-layout checkpoint and tiny speech models keep each line well under a
second; speech is real (espeak-ng). Every run goes through the command line in a subprocess,
as a user would start it. The multi-node fault test is in test_batch_cluster.py.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from backend.batch.report import read_report
from backend.motion.motion import Motion
from rag_gesture_shared.atomic_file import leftover_temp_files
from tests.support.speech_audio import speak

REPO = Path(__file__).resolve().parents[1]
LINES = {
    "l1": "Hello there, this is the first line of the scene.",
    "l2": "Short one.",
    "l3": "And a third line, spoken a little more slowly than the others.",
}


def env(tmp: Path) -> dict[str, str]:
    return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(tmp),
            "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(REPO),
            "RAY_USAGE_STATS_ENABLED": "0"}


def cli(args: list[str], home: Path, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "backend.cli", *args], cwd=REPO, env=env(home),
                          capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def speech(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("batch_speech")
    return {k: speak(t, folder / f"{k}.wav") for k, t in LINES.items()}


@pytest.fixture(scope="module")
def models(official_checkpoint, tiny_bert_dir, tiny_wav2vec_dir) -> list[str]:
    return ["--checkpoint", str(official_checkpoint), "--bert", str(tiny_bert_dir),
            "--wav2vec", str(tiny_wav2vec_dir), "--device", "cpu"]


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def by_id(report: Path) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for row in read_report(report):
        out.setdefault(row["id"], []).append(row)
    return out


def done_row(rows: dict[str, list[dict]], line_id: str) -> dict:
    return next(r for r in rows[line_id] if r["status"] == "done")


def test_two_actors_match_generate_bit_for_bit(tmp_path, speech, models):
    (tmp_path / "words.txt").write_text(LINES["l2"])
    (tmp_path / "broken.json").write_text("{not json")
    manifest = write_jsonl(tmp_path / "scene.jsonl", [
        {"id": "ep1/l1", "audio": str(speech["l1"]), "text": LINES["l1"], "seed": 3,
         "takes": 2},
        {"id": "ep1/l2", "audio": str(speech["l2"]), "transcript": "words.txt", "seed": 5,
         "fps": 24},
        {"id": "ep1/l3", "audio": str(speech["l3"]), "seed": 7, "steps": 12},
        {"id": "gone", "audio": "missing.wav"},
        {"id": "badwords", "audio": str(speech["l1"]), "transcript": "broken.json"},
        {"id": "who", "audio": str(speech["l1"]), "speaker": "nobody"},
        {"id": "ep1/l1", "audio": str(speech["l2"])},
    ])
    out = tmp_path / "out"
    proc = cli(["batch", str(manifest), "--out", str(out), "--actors", "2",
                "--threads-per-actor", "1", "--steps", "10", "--allow-mismatch",
                "--format", "bvh", *models], tmp_path)
    assert proc.returncode == 1, proc.stderr  # some rows failed, the rest went on
    assert "7 lines: 3 done, 0 skipped (unchanged), 4 failed" in proc.stdout
    rows = by_id(out / "report.jsonl")
    for line_id in ("ep1/l1", "ep1/l2", "ep1/l3"):
        done = [r for r in rows[line_id] if r["status"] == "done"]
        assert len(done) == 1 and done[0]["seconds"] > 0
    assert done_row(rows, "ep1/l1")["outputs"] == ["ep1/l1.npz", "ep1/l1_take2.npz", "ep1/l1.bvh",
                                             "ep1/l1_take2.bvh"]
    errors = {k: rows[k][0]["error"] for k in ("gone", "badwords", "who")}
    assert "missing.wav does not exist" in errors["gone"]
    assert errors["badwords"].startswith("cannot read the transcript")
    assert "nobody" in errors["who"]
    dup = [r for r in rows["ep1/l1"] if r["status"] == "failed"]
    assert dup and "already used by row 1" in dup[0]["error"]
    status = json.loads((out / ".rag-gesture-batch" / "status.json").read_text())
    assert len(status["actors"]) == 2 and sum(a["lines_done"] for a in status["actors"]) == 3
    assert not leftover_temp_files(out)

    # The same lines through `rag-gesture generate`, one process each, same seed and threads.
    single = tmp_path / "single"
    runs = {"ep1/l1": ["--text", LINES["l1"], "--seed", "3", "--takes", "2"],
            "ep1/l2": ["--transcript", str(tmp_path / "words.txt"), "--seed", "5",
                       "--fps", "24"],
            "ep1/l3": ["--seed", "7", "--steps", "12"]}
    for line_id, extra in runs.items():
        target = single / f"{line_id}.npz"
        steps = [] if "--steps" in extra else ["--steps", "10"]
        proc = cli(["--threads", "1", "generate", str(speech[line_id[-2:]]), *extra, *steps,
                    "--allow-mismatch", *models, "-o", str(target)], tmp_path)
        assert proc.returncode == 0, proc.stderr
    for rel in ("ep1/l1.npz", "ep1/l1_take2.npz", "ep1/l2.npz", "ep1/l3.npz"):
        assert (out / rel).read_bytes() == (single / rel).read_bytes(), rel
    m = Motion.load_npz(out / "ep1/l2.npz")
    assert m.fps == 24
    bvh = (out / "ep1/l2.bvh").read_text().splitlines()
    assert bvh[0] == "HIERARCHY" and bvh[1] == "ROOT pelvis"
    assert f"Frames: {m.num_frames}" in bvh and "Frame Time: 0.0416666666667" in bvh
    assert len(bvh[-1].split()) == 6 + 3 * 54


def test_resume_skips_unchanged_and_redoes_changed(tmp_path, speech, models):
    audio = {k: tmp_path / f"{k}.wav" for k in LINES}
    for k, p in audio.items():
        p.write_bytes(speech[k].read_bytes())
    rows = [{"id": k, "audio": f"{k}.wav", "seed": i} for i, k in enumerate(LINES)]
    manifest = write_jsonl(tmp_path / "m.jsonl", rows)
    out = tmp_path / "out"
    base = ["batch", str(manifest), "--out", str(out), "--actors", "1", "--steps", "5",
            "--allow-mismatch", "--no-progress", *models]
    first = cli(base, tmp_path)
    assert first.returncode == 0, first.stderr
    before = {k: (out / f"{k}.npz").read_bytes() for k in LINES}

    again = cli(base, tmp_path)  # nothing changed: no Ray, no model, every line skipped
    assert again.returncode == 0, again.stderr
    assert "3 skipped (unchanged)" in again.stdout and "Ray actor" not in again.stderr
    assert "previous run's report" in again.stdout
    assert {r["status"] for r in read_report(out / "report.jsonl")} == {"skipped"}
    assert (out / "report.previous.jsonl").is_file()

    speak("Something else entirely is said here now.", audio["l2"])  # new audio bytes
    rows[2]["seed"] = 11  # new options
    write_jsonl(manifest, rows)
    third = cli(base, tmp_path)
    assert third.returncode == 0, third.stderr
    got = {r["id"]: r for r in read_report(out / "report.jsonl")}
    assert got["l1"]["status"] == "skipped"
    for k in ("l2", "l3"):
        assert got[k]["status"] == "done"
        assert "inputs changed since the last run: outputs regenerated" in got[k]["warnings"]
        assert (out / f"{k}.npz").read_bytes() != before[k]
    assert (out / "l1.npz").read_bytes() == before["l1"]

    bvh = cli([*base, "--format", "bvh"], tmp_path)  # only the export is new: no model
    assert bvh.returncode == 0, bvh.stderr
    assert "Ray actor" not in bvh.stderr
    got = {r["id"]: r for r in read_report(out / "report.jsonl")}
    assert all("motion unchanged; re-exported bvh" in got[k]["warnings"] for k in LINES)
    assert all((out / f"{k}.bvh").is_file() for k in LINES)

    ckpt = Path(models[models.index("--checkpoint") + 1])  # new weights: every line redone
    st = ckpt.stat()
    os.utime(ckpt, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))
    weights = cli([*base, "--format", "bvh"], tmp_path)
    assert weights.returncode == 0, weights.stderr
    assert {r["status"] for r in read_report(out / "report.jsonl")} == {"done"}
    assert "Ray actor" in weights.stderr

    (out / "l4.npz").write_bytes(b"the user's own file")
    rows.append({"id": "l4", "audio": "l1.wav"})
    write_jsonl(manifest, rows)
    foreign = cli([*base, "--format", "bvh"], tmp_path)
    assert foreign.returncode == 1
    row = [r for r in read_report(out / "report.jsonl") if r["id"] == "l4"][0]
    assert "l4.npz already exists and was not written by this batch" in row["error"]
    assert (out / "l4.npz").read_bytes() == b"the user's own file"


def test_ctrl_c_stops_cleanly_and_the_same_command_resumes(tmp_path, speech, models):
    long_audio = speak(" ".join(LINES.values()) * 2, tmp_path / "long.wav")
    manifest = write_jsonl(tmp_path / "m.jsonl", [
        {"id": f"line{i}", "audio": str(long_audio), "seed": i} for i in range(6)])
    out = tmp_path / "out"
    args = ["batch", str(manifest), "--out", str(out), "--actors", "1", "--steps", "300",
            "--allow-mismatch", "--no-progress", *models]
    proc = subprocess.Popen([sys.executable, "-m", "backend.cli", *args], cwd=REPO,
                            env=env(tmp_path), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    report = out / "report.jsonl"
    deadline = time.time() + 240
    while time.time() < deadline and proc.poll() is None:
        if report.is_file() and any(r["status"] == "done" for r in read_report(report)):
            break
        time.sleep(0.1)
    assert proc.poll() is None, "the batch ended before it could be interrupted"
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 130, stderr
    assert "interrupted: run the same command again to resume" in stderr
    rows = read_report(report)
    done = {r["id"] for r in rows if r["status"] == "done"}
    cancelled = {r["id"] for r in rows if r["status"] == "cancelled"}
    assert done and cancelled and done | cancelled == {f"line{i}" for i in range(6)}
    assert not leftover_temp_files(out)
    assert sorted(p.stem for p in out.glob("*.npz")) == sorted(done)

    again = cli(args, tmp_path)
    assert again.returncode == 0, again.stderr
    rows = {r["id"]: r["status"] for r in read_report(report)}
    assert {k for k, s in rows.items() if s == "skipped"} == done
    assert {k for k, s in rows.items() if s == "done"} == cancelled
    assert len(list(out.glob("*.npz"))) == 6 and not leftover_temp_files(out)


def test_problems_before_any_model_loads(tmp_path, speech, models):
    manifest = write_jsonl(tmp_path / "m.jsonl", [{"id": "a", "audio": str(speech["l1"])}])
    proc = cli(["batch", str(manifest), "--out", str(tmp_path / "o"), "--weights",
                str(tmp_path / "none")], tmp_path)
    assert proc.returncode == 1 and "No RAG-Gesture weights found" in proc.stderr
    assert "Ray actor" not in proc.stderr
    proc = cli(["batch", str(manifest), "--out", str(tmp_path / "o"), "--format", "fbx",
                *models], tmp_path)
    assert proc.returncode == 1
    assert "error: --format fbx needs --rig" in proc.stderr
    (tmp_path / "bad.csv").write_text("id,audio,speker\na,x.wav,scott\n")
    proc = cli(["batch", str(tmp_path / "bad.csv"), "--out", str(tmp_path / "o"), *models],
               tmp_path)
    assert proc.returncode == 1 and "unknown column(s) speker" in proc.stderr
    blocked = tmp_path / "file"
    blocked.write_text("")
    proc = cli(["batch", str(manifest), "--out", str(blocked / "sub"), *models], tmp_path)
    assert proc.returncode == 1 and "cannot write to the output folder" in proc.stderr
    proc = cli(["batch", str(manifest), "--out", str(tmp_path / "o"), "--format", "gif"],
               tmp_path)
    assert proc.returncode == 2 and "unknown format 'gif'" in proc.stderr


def test_manifest_csv_defaults_and_paths(tmp_path):
    from backend.batch.manifest import LineSpec, ManifestError, load_manifest

    speak("One two three.", tmp_path / "a.wav")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "t.srt").write_text("1\n00:00:00,000 --> 00:00:01,000\nOne two three\n")
    (tmp_path / "m.csv").write_text(
        "# a comment line\n"
        "id,audio,transcript,text,speaker,seed,takes,fps,cues,allow_mismatch\n"
        "x/1,a.wav,sub/t.srt,,wayne,4,2,25,,yes\n"
        ",a.wav,,\"One, two, three.\",,,,,,\n"
        "../up,a.wav,,,,,,,,\n"
        "n,a.wav,,,,1.5,,,,\n"
        "x/1_take2,a.wav,,,,,,,,\n"
        "c1,a.wav,,,,,,,deictic@0.5;iconic@1,\n"
        "c2,a.wav,,,,,,,waving@1,\n")
    defaults = LineSpec(id="", audio=Path(), seed=9, steps=20, fps=30.0)
    m = load_manifest(tmp_path / "m.csv", defaults)
    first, second = m.lines
    assert first.id == "x/1" and first.audio == tmp_path / "a.wav"
    assert first.transcript == tmp_path / "sub" / "t.srt" and first.speaker == "wayne"
    assert (first.seed, first.takes, first.fps, first.steps) == (4, 2, 25.0, 20)
    assert first.allow_mismatch and first.cues == ()
    assert second.id == "a" and second.text == "One, two, three." and second.seed == 9
    errors = {b.row: b.error for b in m.bad}
    assert "cannot be a file name" in errors[3]
    assert "seed must be a whole number" in errors[4]
    assert "would overwrite those of 'x/1'" in errors[5]
    assert "retrieval and cues need a gesture database" in errors[6]
    assert "cannot read the cue 'waving@1'" in errors[7]
    (tmp_path / "j.jsonl").write_text('{"id": "a", "audio": "a.wav"}\nnot json\n')
    with pytest.raises(ManifestError, match="line 2 is not valid JSON"):
        load_manifest(tmp_path / "j.jsonl", defaults)


def test_atomic_path_leaves_nothing_on_failure(tmp_path):
    from rag_gesture_shared.atomic_file import atomic_path

    target = tmp_path / "x.npz"
    target.write_bytes(b"old")
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_bytes(b"half")
        raise RuntimeError("killed")
    assert target.read_bytes() == b"old" and not leftover_temp_files(tmp_path)
    with atomic_path(target) as tmp, tmp.open("wb") as fh:
        np.save(fh, np.arange(3))
    assert np.load(target).tolist() == [0, 1, 2] and not leftover_temp_files(tmp_path)
    assert oct(target.stat().st_mode & 0o777) != oct(0o600)


def test_progress_bar_counts_and_eta():
    import io

    from backend.batch.report import ActorState, BatchProgress, actor_table

    stream = io.StringIO()
    bar = BatchProgress(10, stream)
    bar.work_start = time.perf_counter() - 10.0  # 2 lines generated in 10 s: 0.2 lines/s
    bar.generated = 2
    text = bar.text(done=3, failed=1, skipped=2, todo=4)
    assert "6/10" in text and "done 3" in text and "failed 1" in text and "skipped 2" in text
    assert "ETA 20s" in text
    bar.update(3, 1, 2, 4)
    bar.update(4, 1, 2, 3)  # a log file gets a plain line at most every 10 s
    assert stream.getvalue().count("\n") == 1 and "ETA" in stream.getvalue()
    assert "ETA 0s" in bar.text(8, 2, 0, 0)
    table = actor_table([ActorState("a-0", "busy", "ep1/l3", host="node1:42", lines_done=5)])
    assert "a-0" in table and "busy" in table and "ep1/l3" in table and "5 lines" in table
