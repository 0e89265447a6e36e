"""`rag-gesture worker` over a real subprocess: hello, generate, regenerate, cancel, errors, exit.

Everything goes through pipes exactly as the Blender add-on will use them, with the small
official-layout checkpoint and tiny random speech models (so every request sets
`allow_mismatch`). Every wait has a timeout and every process is killed in a finalizer, so a
hung worker fails a test instead of hanging the run. One worker serves most tests: reusing
it is also what the add-on does.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import queue
import shutil
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile as sf

from backend.motion.motion import Motion
from tests.support.paths import REPO_ROOT as REPO
from tests.support.speech_audio import speak

SENTENCE = ("Today I want to show you something really important. Look at this big circle, "
            "and then we go over there, because the answer is simple. ")
STARTUP = 60.0  # seconds for torch + transformers imports on a cold, busy machine
REQUEST = 60.0
# One intra-op thread, as the parity fixtures: with a busy CPU (parallel test runs), two
# OpenMP threads on two cores make the small model up to 100x slower at every barrier.
SINGLE_THREAD = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


class WorkerProcess:
    """A `rag-gesture worker` child with a thread that turns its stdout into events."""

    def __init__(self, args: list[str], log: Path, env: dict[str, str] | None = None) -> None:
        self.log_path = log
        self._log = open(log, "wb")  # closed in kill()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "backend.cli", "worker", *args], cwd=REPO,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._log,
            env={**os.environ, **SINGLE_THREAD, **(env or {})})
        self.hello: dict[str, Any] | None = None
        self.events: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self.seen: list[dict[str, Any]] = []
        self.raw_lines: list[bytes] = []
        threading.Thread(target=self._pump, daemon=True).start()

    def wait_hello(self) -> dict[str, Any]:
        """Separate from __init__ so the caller can register kill() before this can fail."""
        self.hello = self.next(STARTUP)
        return self.hello

    def _pump(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.raw_lines.append(line)
            try:
                self.events.put(json.loads(line))
            except ValueError:
                self.events.put({"type": "<not json>", "line": line.decode(errors="replace")})
        self.events.put(None)  # stdout closed

    def send(self, message: dict[str, Any] | str) -> float:
        """Write one line; returns the time it was sent."""
        assert self.proc.stdin is not None
        line = message if isinstance(message, str) else json.dumps(message)
        self.proc.stdin.write(line.encode() + b"\n")
        self.proc.stdin.flush()
        return time.monotonic()

    def next(self, timeout: float = REQUEST) -> dict[str, Any]:
        try:
            event = self.events.get(timeout=timeout)
        except queue.Empty:
            pytest.fail(f"no event from the worker within {timeout} s; log:\n{self.log()}")
        if event is None:
            pytest.fail(f"the worker closed stdout; log:\n{self.log()}")
        self.seen.append(event)
        return event

    def until(self, done: Callable[[dict[str, Any]], bool],
              timeout: float = REQUEST) -> list[dict[str, Any]]:
        """Events up to and including the first one `done` accepts."""
        deadline = time.monotonic() + timeout
        out = []
        while True:
            event = self.next(max(0.01, deadline - time.monotonic()))
            out.append(event)
            if done(event):
                return out

    def request(self, message: dict[str, Any], timeout: float = REQUEST) -> list[dict[str, Any]]:
        """Send a request; its events up to its result or error (other ids are skipped)."""
        self.send(message)
        rid = message.get("id")
        events = self.until(lambda e: e.get("id") == rid and e["type"] in ("result", "error"),
                            timeout)
        return [e for e in events if e.get("id") == rid]

    def wait_exit(self, timeout: float) -> int:
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            pytest.fail(f"the worker did not exit within {timeout} s; log:\n{self.log()}")

    def log(self) -> str:
        self._log.flush()
        return self.log_path.read_text(errors="replace")[-4000:]

    def kill(self) -> None:
        """End of input first (the worker cleans up), SIGKILL if it hangs; then the client's
        share of the cleanup: a killed worker cannot remove its result folder."""
        if self.proc.poll() is None and self.proc.stdin is not None:
            with contextlib.suppress(OSError):
                self.proc.stdin.close()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(5)
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        for stream in (self.proc.stdin, self.proc.stdout):
            if stream is not None:
                with contextlib.suppress(OSError):
                    stream.close()
        self._log.close()
        if isinstance(self.hello, dict) and self.hello.get("results_dir"):
            shutil.rmtree(self.hello["results_dir"], ignore_errors=True)


@pytest.fixture(scope="module")
def audio(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("worker_audio")
    return {"short": speak("Hello world, this is a very important point.", folder / "short.wav"),
            "long": speak(SENTENCE * 6, folder / "long.wav"),  # ~50 s: five 10-s windows
            "eof": speak(SENTENCE * 3, folder / "eof.wav")}


@pytest.fixture(scope="module")
def worker_args(official_checkpoint, tiny_bert_dir, tiny_wav2vec_dir) -> list[str]:
    return ["--checkpoint", str(official_checkpoint), "--bert", str(tiny_bert_dir),
            "--wav2vec", str(tiny_wav2vec_dir), "--device", "cpu"]


@pytest.fixture(scope="module")
def worker(worker_args, tmp_path_factory, request):
    w = WorkerProcess(worker_args, tmp_path_factory.mktemp("worker_log") / "stderr.txt")
    request.addfinalizer(w.kill)
    w.wait_hello()
    return w


@pytest.fixture
def spawn(tmp_path):
    """Start extra workers; every one is killed at the end of the test."""
    started: list[WorkerProcess] = []

    def start(args: list[str], env: dict[str, str] | None = None) -> WorkerProcess:
        w = WorkerProcess(args, tmp_path / f"stderr{len(started)}.txt", env)
        started.append(w)
        w.wait_hello()
        return w

    yield start
    for w in started:
        w.kill()


def generate(audio_path: Path, rid: str, **extra: Any) -> dict[str, Any]:
    return {"type": "generate", "id": rid, "audio": str(audio_path),
            "text": "hello world this is a very important point", "allow_mismatch": True,
            **extra}


def last(events: list[dict[str, Any]]) -> dict[str, Any]:
    assert events, "no events"
    return events[-1]


def fractions(events: list[dict[str, Any]]) -> list[float]:
    return [e["fraction"] for e in events if e["type"] == "progress"]


# --------------------------------------------------------------------------- lifecycle


def test_hello_comes_first(worker):
    h = worker.hello
    assert h["type"] == "hello" and h["v"] == 1 and h["protocol"] == 1
    assert set(h["capabilities"]) >= {"generate", "regenerate", "cancel", "shutdown", "locks",
                                      "takes", "steps"}
    assert h["pid"] == worker.proc.pid
    assert h["device"] == "cpu" and h["device_note"]
    assert h["version"] and h["torch"]
    assert worker.raw_lines[0].startswith(b"{") and b'"hello"' in worker.raw_lines[0]


def test_malformed_line_then_ping(worker):
    worker.send("this is {not json")
    err = worker.next(10)
    assert err["type"] == "error" and err["code"] == "bad_message" and err["id"] is None
    worker.send("[1, 2]")
    assert worker.next(10)["code"] == "bad_message"
    worker.send({"type": "ping", "id": "p1"})
    assert worker.next(10) == {"v": 1, "type": "pong", "id": "p1"}


def test_unknown_type(worker):
    worker.send({"type": "dance", "id": "u1"})
    err = worker.next(10)
    assert (err["type"], err["id"], err["code"]) == ("error", "u1", "unknown_type")
    assert "dance" in err["message"]


def test_bad_request_names_the_field(worker, audio):
    err = last(worker.request(generate(audio["short"], "b1", takes=0)))
    assert err["code"] == "bad_request" and "'takes'" in err["message"]
    err = last(worker.request({"type": "regenerate", "id": "b2", "audio": str(audio["short"]),
                               "motion": "/nowhere.npz", "start": 0}))
    assert err["code"] == "bad_request" and "'end'" in err["message"]


def test_missing_audio_names_the_file(worker, tmp_path):
    err = last(worker.request(generate(tmp_path / "no_such_take.wav", "a1")))
    assert err["type"] == "error" and err["code"] == "bad_audio"
    assert "no_such_take.wav" in err["message"]


# --------------------------------------------------------------------------- generate


def test_generate_takes_progress_and_model_reuse(worker, audio):
    first = worker.request(generate(audio["short"], "g1", takes=2, steps=5, seed=3))
    res = last(first)
    assert res["type"] == "result", res
    assert len(res["files"]) == 2
    duration = sf.info(str(audio["short"])).duration
    for f in res["files"]:
        path = Path(f)
        assert path.is_absolute() and path.is_file() and path.suffix == ".npz"
        m = Motion.load_npz(path)
        assert m.fps == 30.0
        assert abs(m.num_frames - math.ceil(duration * 30)) <= 1
    root = Path(res["files"][0]).parents[1]  # private folder / request folder / take
    assert root == Path(worker.hello["results_dir"])
    assert stat.S_IMODE(root.stat().st_mode) == 0o700
    assert res["info"]["takes"] == 2 and res["info"]["frames"] == m.num_frames
    a, b = (Motion.load_npz(f).poses for f in res["files"])
    assert not np.array_equal(a, b), "two takes should differ"

    fr = fractions(first)
    assert fr and all(x <= y for x, y in zip(fr, fr[1:], strict=False))
    assert 0.0 <= fr[0] and fr[-1] >= 0.99

    second = worker.request(generate(audio["short"], "g2", takes=2, steps=5, seed=3))
    res2 = last(second)
    assert res2["type"] == "result", res2
    assert len(res2["files"]) == 2 and res2["files"] != res["files"]
    assert not any(e.get("stage") == "loading models" for e in second)
    loads = {e["id"] for e in worker.seen if e.get("stage") == "loading models"}
    assert len(loads) == 1, "models must be loaded once for the worker's life"
    fr2 = fractions(second)
    assert all(x <= y for x, y in zip(fr2, fr2[1:], strict=False)) and fr2[-1] >= 0.99
    # same seed, same inputs, same device: the same motion
    np.testing.assert_array_equal(Motion.load_npz(res2["files"][0]).poses, a)
    np.testing.assert_array_equal(Motion.load_npz(res2["files"][1]).poses, b)


def test_regenerate_keeps_frames_outside_range(worker, audio, tmp_path):
    res = last(worker.request(generate(audio["short"], "r0", steps=5)))
    assert res["type"] == "result", res
    source = Motion.load_npz(res["files"][0])
    client_file = tmp_path / "edited.npz"  # the client writes the motion it wants changed
    source.save_npz(client_file)
    start, end, margin = 30, 60, 0.5
    events = worker.request({"type": "regenerate", "id": "r1", "audio": str(audio["short"]),
                             "text": "hello world this is a very important point",
                             "allow_mismatch": True, "motion": str(client_file),
                             "start": start, "end": end, "margin": margin, "takes": 2,
                             "steps": 5, "locks": ["face"], "seed": 1})
    out = last(events)
    assert out["type"] == "result", out
    assert len(out["files"]) == 2
    m = round(margin * 30)
    outside = np.r_[0:start - m, end + m:source.num_frames]
    for f in out["files"]:
        new = Motion.load_npz(f)
        assert new.num_frames == source.num_frames and new.fps == source.fps
        np.testing.assert_array_equal(new.poses[outside], source.poses[outside])
        np.testing.assert_array_equal(new.trans[outside], source.trans[outside])
        np.testing.assert_array_equal(new.expressions, source.expressions)  # face locked
        assert not np.array_equal(new.poses[start:end], source.poses[start:end])
    assert client_file.is_file(), "the worker must not delete the client's file"
    fr = fractions(events)
    assert all(x <= y for x, y in zip(fr, fr[1:], strict=False)) and fr[-1] >= 0.99


def test_regenerate_with_a_missing_motion_file(worker, audio, tmp_path):
    err = last(worker.request({"type": "regenerate", "id": "r2", "audio": str(audio["short"]),
                               "allow_mismatch": True, "motion": str(tmp_path / "gone.npz"),
                               "start": 0, "end": 10}))
    assert err["code"] == "bad_motion" and "gone.npz" in err["message"]


# --------------------------------------------------------------------------- cancel


def test_cancel_during_generate(worker, audio):
    worker.send(generate(audio["long"], "c1", takes=2, steps=50))
    # model loading (first request only) is not interruptible: cancel once real work runs
    first = worker.until(lambda e: e.get("id") == "c1" and (
        e["type"] != "progress" or e["stage"] != "loading models"))[-1]
    assert first["type"] == "progress", first
    sent = worker.send({"type": "cancel", "target": "c1"})
    events = worker.until(lambda e: e.get("id") == "c1" and e["type"] in ("result", "error"),
                          timeout=10)
    latency = time.monotonic() - sent
    end = events[-1]
    assert end["type"] == "error" and end["code"] == "cancelled", end
    print(f"cancel latency: {latency * 1000:.1f} ms")
    assert latency < 1.0
    # the worker keeps serving
    res = last(worker.request(generate(audio["short"], "c2", steps=5)))
    assert res["type"] == "result", res


def test_cancel_a_queued_request(worker, audio):
    worker.send(generate(audio["short"], "q1", steps=5))
    worker.send(generate(audio["short"], "q2", steps=5))
    worker.send({"type": "cancel", "target": "q2"})
    ends: dict[str, dict[str, Any]] = {}
    worker.until(lambda e: e["type"] in ("result", "error") and e.get("id") in ("q1", "q2")
                 and ends.setdefault(e["id"], e) is not None and len(ends) == 2)
    assert ends["q1"]["type"] == "result"
    assert ends["q2"]["type"] == "error" and ends["q2"]["code"] == "cancelled"


# --------------------------------------------------------------------------- other processes


def test_missing_weights_then_shutdown(spawn, tiny_bert_dir, tiny_wav2vec_dir, audio, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    env = {"RAG_GESTURE_HOME": str(tmp_path / "home"), "XDG_CACHE_HOME": str(tmp_path / "cache")}
    w = spawn(["--weights", str(empty), "--bert", str(tiny_bert_dir), "--wav2vec",
               str(tiny_wav2vec_dir), "--device", "cpu"], env)
    assert w.hello["weights"] is None
    err = last(w.request(generate(audio["short"], "m1", steps=5)))
    assert err["type"] == "error" and err["code"] == "missing_weights"
    assert "rag-gesture download" in err["message"]
    w.send({"type": "shutdown", "id": "s1"})
    assert w.next(10) == {"v": 1, "type": "bye", "id": "s1"}
    assert w.wait_exit(10) == 0
    assert w.events.get(timeout=5) is None, "nothing may follow bye"


def test_inputs_are_checked_before_the_models_load(spawn, tiny_bert_dir, tiny_wav2vec_dir,
                                                   audio, tmp_path):
    """A worker without weights: every bad request still gets its own sentence, because
    the checks come first; the same rule as the command line for timed words."""
    from backend.speech.audio import audio_info

    env = {"RAG_GESTURE_HOME": str(tmp_path / "home"), "XDG_CACHE_HOME": str(tmp_path / "cache")}
    w = spawn(["--weights", str(tmp_path / "none"), "--bert", str(tiny_bert_dir), "--wav2vec",
               str(tiny_wav2vec_dir), "--device", "cpu"], env)
    info = audio_info(audio["short"])
    seconds = f"{info.frames / info.samplerate:.2f} s"
    length = f"({seconds} long)"
    short = str(audio["short"])

    def refused(i: int, **fields: Any) -> dict[str, Any]:
        msg = {"type": "generate", "id": f"r{i}", "audio": short, **fields}
        return last(w.request(msg))

    err = refused(1, words=[{"word": "hi", "start": -0.5, "end": 0.2}])
    assert (err["code"], err["message"]) == ("bad_transcript", '<words>, words[0]: the word '
                                             '"hi" starts before the audio, at -0.5 s '
                                             f"{length}; fix or remove its timing, or allow a "
                                             "transcript mismatch to skip it")
    err = refused(2, words=[{"word": "hi", "start": 0.1, "end": 0.2},
                            {"word": "late", "start": 40.0, "end": 40.5}])
    assert err["code"] == "bad_transcript"
    assert err["message"].startswith('<words>, words[1]: the word "late" at 40-40.5 s is past '
                                     f"the end of the audio {length}")
    err = refused(3, phrases=[{"text": "far away", "start": 30.0, "end": 31.0}])
    assert "phrases[0]: the cue \"far away\" at 30-31 s is past the end" in err["message"]
    err = refused(4, text="?! ...")
    assert (err["code"], err["message"]) == (
        "bad_transcript", "<text>: has no words, only punctuation or symbols")
    err = last(w.request({"type": "generate", "id": "r5", "audio": str(tmp_path)}))
    assert (err["code"], err["message"]) == (
        "bad_audio", f"the audio {tmp_path} is a directory; give the recording file itself")
    err = refused(6, fps=0)
    assert err["code"] == "bad_request" and "'fps' must be a number above 0" in err["message"]
    db = tmp_path / "db"
    db.mkdir()
    (db / "db.sqlite").write_bytes(b"")
    err = refused(7, retrieval={"database": str(db), "cues": [{"kind": "iconic", "time": 99}]})
    assert err["message"] == (f"the iconic gesture cue at 99 s is outside the audio {length}; "
                              "move it inside the recording")
    err = refused(8, words=[{"word": "gone", "start": 40.0, "end": 41.0},
                            {"word": "hello", "start": 0.2, "end": 0.5}], allow_mismatch=True)
    assert err["code"] == "missing_weights"  # passed every check: only now the models


def test_closing_stdin_exits_promptly(spawn, worker_args, audio, tmp_path):
    client_folder = tmp_path / "client"  # the add-on's own folder: results go inside it
    client_folder.mkdir()
    w = spawn(worker_args, {"RAG_GESTURE_RESULTS_PARENT": str(client_folder)})
    results_root = Path(w.hello["results_dir"])
    assert results_root.is_dir() and stat.S_IMODE(results_root.stat().st_mode) == 0o700
    assert results_root.parent == client_folder
    w.send(generate(audio["eof"], "e1", steps=50, takes=2))
    w.until(lambda e: e.get("id") == "e1" and e["type"] == "progress"
            and e["stage"] != "loading models")
    assert w.proc.stdin is not None
    closed = time.monotonic()
    w.proc.stdin.close()  # what happens when Blender dies: the running request is cancelled
    assert w.wait_exit(5) == 0
    print(f"exit after EOF: {(time.monotonic() - closed) * 1000:.0f} ms")
    assert not results_root.exists(), "the private result folder is removed at exit"


# --------------------------------------------------------------------------- error mapping


def test_exceptions_map_to_codes():
    import torch

    from backend.model.checkpoint import CheckpointError
    from backend.model.config import ConfigError
    from backend.motion.motion import MotionFormatError
    from backend.pipeline.session import WeightsMissingError
    from backend.progress import Cancelled
    from backend.speech.audio import AudioError
    from backend.speech.frontend import SpeechError
    from backend.speech.pretrained import ModelMissingError
    from backend.speech.transcripts import TranscriptError
    from backend.worker.protocol import describe_exception
    from rag_gesture_shared.protocol.envelope import ERROR_CODES

    cases = [
        (torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2 GiB"), "cuda",
         "out_of_memory", "out of memory on cuda; try fewer takes or the CPU"),
        (MemoryError(), "cpu", "out_of_memory", "out of memory on cpu"),
        (WeightsMissingError("No RAG-Gesture weights found."), "cpu", "missing_weights",
         "rag-gesture download"),
        (ModelMissingError("BertModel could not be loaded"), "cpu", "missing_weights", "Bert"),
        (CheckpointError("wrong shape"), "cpu", "bad_weights", "wrong shape"),
        (ConfigError("no latent_dim"), "cpu", "bad_weights", "latent_dim"),
        (AudioError("x.wav is silent"), "cpu", "bad_audio", "silent"),
        (TranscriptError("t.srt", "has no words"), "cpu", "bad_transcript", "t.srt"),
        (SpeechError("the transcript does not seem to match the audio"), "cpu",
         "transcript_mismatch", "match"),
        (MotionFormatError("poses has 156 columns"), "cpu", "bad_motion", "156"),
        (Cancelled("stop"), "cpu", "cancelled", "cancelled"),
        (KeyError("boom"), "cpu", "internal", "KeyError"),
    ]
    for exc, device, code, words in cases:
        got, message, _ = describe_exception(exc, device)
        assert got == code and got in ERROR_CODES, (exc, got)
        assert words in message, (exc, message)
        assert "\n" not in message
