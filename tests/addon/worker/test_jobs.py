"""The job controller and the client's plain-Python parts, with a scripted fake worker.

No subprocess here (tests/blender/ui/test_generate.py drives a real one): a fake client replays
protocol events so timeouts, protocol checks, orphan results and writer failures are exact and
fast. The worker layer imports no bpy, so this runs in any Python.
"""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

from rag_gesture_addon.worker import client as client_mod
from rag_gesture_addon.worker import jobs, setup
from rag_gesture_shared.motion_file import write_motion_npz
from rag_gesture_shared.protocol.generate import GenerateRequest
from rag_gesture_shared.protocol.speech import SpeechInput

HELLO = {"v": 1, "type": "hello", "protocol": 1, "version": "0.1.0", "device": "cpu",
         "capabilities": ["generate", "regenerate", "cancel", "shutdown"]}


class FakeClient:
    """Just enough of WorkerClient: events are queued by the test."""

    def __init__(self, hello=HELLO, alive=True) -> None:
        self.hello = hello
        self.alive = alive
        self.returncode = None
        self.proc = None
        self.sent: list[dict] = []
        self.cancelled: list[str] = []
        self.queue: list[dict] = []
        self.log_path = "/tmp/worker.log"
        self._n = 0

    def new_id(self, prefix="req"):
        self._n += 1
        return f"{prefix}-{self._n}"

    def send(self, request):
        self.sent.append(request.to_message())
        return request.id

    def cancel(self, rid):
        self.cancelled.append(rid)

    def poll(self):
        out, self.queue = self.queue, []
        return out


FakeClient.check_hello = client_mod.WorkerClient.check_hello  # the real check
fake = FakeClient
REQUEST = GenerateRequest(SpeechInput("/a.wav"))


class Clock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def motion_file(path, n=10, fps=24.0):
    rng = np.random.default_rng(0)
    write_motion_npz(path, rng.normal(0, 0.2, (n, 55, 3)), rng.normal(0, 0.1, (n, 3)),
                       rng.normal(0, 1, (n, 100)), fps)
    return str(path)


def test_progress_result_and_one_write(tmp_path):
    c = fake()
    calls = []
    job = jobs.GenerateJob(c, REQUEST,
                           lambda m, info: calls.append((m, info)))
    assert job.step().status == "running" and c.sent[0]["id"] == job.request_id
    rid = job.request_id
    folder = tmp_path / "00001"
    folder.mkdir()
    files = [motion_file(folder / f"take_{i}.npz") for i in (1, 2)]
    c.queue += [{"type": "progress", "id": rid, "stage": "generating", "fraction": 0.5},
                {"type": "progress", "id": rid, "stage": "saving", "fraction": 0.4},
                {"type": "progress", "id": "other", "stage": "x", "fraction": 0.9}]
    state = job.step()
    assert (state.stage, state.fraction) == ("saving", 0.5)  # never goes backwards
    c.queue.append({"type": "result", "id": rid, "files": files,
                    "info": {"warnings": ["the transcript did not match"]}})
    assert job.step().status == "done"
    assert len(calls) == 1 and len(calls[0][0]) == 2
    assert calls[0][0][0]["poses"].shape == (10, 55, 3) and calls[0][0][0]["fps"] == 24.0
    assert job.warnings == ["the transcript did not match"]
    assert not folder.exists(), "read result files and their folder are removed"
    assert job.step().status == "done" and len(calls) == 1


def test_worker_errors_become_one_sentence():
    c = fake()
    job = jobs.GenerateJob(c, REQUEST, lambda m, i: pytest.fail("no write"))
    job.step()
    c.queue.append({"type": "error", "id": job.request_id, "code": "transcript_mismatch",
                    "message": "the transcript does not seem to match the audio"})
    state = job.step()
    assert state.status == "failed"
    assert state.message.startswith("The transcript does not seem to match the audio")
    assert "Ignore transcript mismatch" in state.message and state.message.endswith(".")


def test_writer_failure_and_bad_files(tmp_path):
    c = fake()

    def boom(m, i):
        raise KeyError("pelvis")

    job = jobs.GenerateJob(c, REQUEST, boom)
    job.step()
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not a zip")
    c.queue.append({"type": "result", "id": job.request_id, "files": [str(bad)]})
    state = job.step()
    assert state.status == "failed" and "could not be read" in state.message
    assert not bad.exists()


def test_cancel_is_immediate_and_late_results_are_discarded(tmp_path):
    c = fake()
    job = jobs.GenerateJob(c, REQUEST, lambda m, i: pytest.fail("no write"))
    job.step()
    jobs.set_active(job)
    assert jobs.request_cancel() and jobs.active_job() is None
    assert job.state.status == "cancelled" and c.cancelled == [job.request_id]
    late = motion_file(tmp_path / "late.npz")
    c.queue.append({"type": "result", "id": job.request_id, "files": [late]})
    assert job.step().status == "cancelled"
    nxt = jobs.GenerateJob(c, REQUEST, lambda m, i: None)
    nxt.step()  # the next job meets the orphan result and deletes its files
    assert not os.path.exists(late)
    jobs.set_active(None)


def test_start_and_idle_timeouts():
    clock = Clock()
    c = fake(hello=None)
    job = jobs.GenerateJob(c, REQUEST, lambda m, i: None, start_timeout=30,
                           clock=clock)
    assert job.step().status == "starting" and not c.sent
    clock.t = 31
    assert "did not start within 30 s" in job.step().message

    c = fake()
    job = jobs.GenerateJob(c, REQUEST, lambda m, i: None, idle_timeout=60,
                           clock=clock)
    job.step()
    clock.t += 61
    state = job.step()
    assert state.status == "failed" and "sent nothing for 60 s" in state.message
    assert c.cancelled == [job.request_id]


def test_protocol_and_capability_checks():
    c = fake(hello={**HELLO, "protocol": 2})
    job = jobs.GenerateJob(c, REQUEST, lambda m, i: None)
    assert "speaks protocol 2" in job.step().message and not c.sent
    c = fake(hello={**HELLO, "capabilities": ["generate"]})
    job = jobs.GenerateJob(c, REQUEST, lambda m, i: None)
    assert "cannot regenerate, cancel, shutdown" in job.step().message


def test_crash_before_hello():
    c = fake(hello=None)
    job = jobs.GenerateJob(c, REQUEST, lambda m, i: None)
    c.queue.append({"type": "exit", "clean": False, "returncode": 1,
                    "message": "The gesture backend could not start: it exited with code 1 "
                    "(ModuleNotFoundError: No module named 'torch'); check the backend Python"})
    state = job.step()
    assert state.status == "failed" and "No module named 'torch'" in state.message


def test_exit_sentences():
    s = client_mod.describe_exit(-9, "loading\n", before_hello=False)
    assert s.startswith("The gesture backend stopped unexpectedly: it was killed (SIGKILL)")
    s = client_mod.describe_exit(1, "Traceback...\nModuleNotFoundError: No module named "
                                 "'torch'\n", before_hello=True)
    assert "could not start" in s and "No module named 'torch'" in s and s.endswith(".")


def test_worker_command_and_environment(monkeypatch):
    cmd = client_mod.worker_command("/py", ["--device", "cpu"], threads=2)
    assert cmd == ["/py", "-m", "backend.cli", "--threads", "2", "worker", "--device", "cpu"]
    monkeypatch.setenv("PYTHONHOME", "/blender/python")
    monkeypatch.setenv("PYTHONPATH", "/elsewhere")
    env = client_mod.child_environment({"X": "1"}, "/src", 2)
    assert "PYTHONHOME" not in env and env["X"] == "1" and env["OMP_NUM_THREADS"] == "2"
    assert env["PYTHONPATH"] == "/src" + os.pathsep + "/elsewhere"


@pytest.mark.skipif(sys.platform == "win32", reason="a shebang script as the interpreter")
def test_a_crashed_worker_never_gets_a_reported_folder_removed(tmp_path):
    """The child names any folder as its results_dir and dies: the client removes only its
    own folder (where it asked the worker to put results), never the reported one."""
    import json
    import stat

    victim = tmp_path / "animators_work"
    victim.mkdir()
    (victim / "shot.blend").write_bytes(b"precious")
    hello = {"v": 1, "type": "hello", "protocol": 1, "capabilities": [],
             "results_dir": str(victim)}
    fake = tmp_path / "python"
    fake.write_text(f"#!{sys.executable}\nimport os, sys\n"
                    "parent = os.environ.get('RAG_GESTURE_RESULTS_PARENT')\n"
                    "parent and open(os.path.join(parent, 'seen'), 'w')\n"
                    f"print({json.dumps(json.dumps(hello))}, flush=True)\nsys.exit(1)\n")
    fake.chmod(fake.stat().st_mode | stat.S_IXUSR)
    client = client_mod.WorkerClient(str(fake), [])
    own = client.tempdir
    assert client.wait_hello(30)["results_dir"] == str(victim)
    told = (own / "results" / "seen").is_file()  # the env var named the client's folder
    client.stop(5)
    assert client.proc.returncode == 1
    assert (victim / "shot.blend").read_bytes() == b"precious"
    assert told and not own.exists()


def test_missing_interpreter_is_a_sentence(tmp_path):
    with pytest.raises(client_mod.WorkerError, match="does not exist"):
        client_mod.WorkerClient(str(tmp_path / "nope" / "python"), [])
    with pytest.raises(client_mod.WorkerError, match="No backend Python"):
        client_mod.WorkerClient("", [])


def test_command_job_runs_commands_in_order(tmp_path):
    ok = jobs.CommandJob([[sys.executable, "-c", "print('one')"],
                          [sys.executable, "-c", "print('two')"]])
    assert ok.run().status == "done"
    assert [ln for ln in ok.lines if not ln.startswith("$")] == ["one", "two"]
    bad = jobs.CommandJob([[sys.executable, "-c", "import sys; sys.exit(3)"],
                           [sys.executable, "-c", "print('never')"]])
    state = bad.run()
    assert state.status == "failed" and "exit code 3" in state.message
    assert "never" not in bad.lines
    missing = jobs.CommandJob([[str(tmp_path / "no-such-program")]])
    assert "cannot be run" in missing.run().message


def test_setup_commands():
    cmds = setup.setup_commands("/usr/bin/python3.11", "/tmp/venv-does-not-exist", "/src",
                               "torch==2.13.0", "https://download.pytorch.org/whl/cpu")
    py = setup.venv_python("/tmp/venv-does-not-exist")
    assert cmds == [["/usr/bin/python3.11", "-m", "venv", "/tmp/venv-does-not-exist"],
                    [py, "-m", "pip", "install", "torch==2.13.0", "--index-url",
                     "https://download.pytorch.org/whl/cpu"],
                    [py, "-m", "pip", "install", "/src"]]


def test_doctor_findings_in_plain_words():
    lines = ["rag-gesture 0.1.0 on Python 3.11.7 (Linux x86_64)",
             "  torch            MISSING  (model)",
             "    -> install it: .venv/bin/pip install torch"]
    assert setup.doctor_findings(lines, 1) == [
        "Missing Python package: torch (press Set up backend)."]
    lines = ["device: CPU (as requested); 2 CPU threads",
             "No RAG-Gesture weights found (looked in /x); fetch them with ..."]
    found = setup.doctor_findings(lines, 1)
    assert found[0] == "Device: CPU (as requested); 2 CPU threads."
    assert found[1].startswith("The RAG-Gesture weights are missing")
    lines = ["device: CPU", "weights: /w/epoch_64.pth",
             "  problem: BertModel could not be loaded from the folder /b; download it",
             "1 problem(s) found"]
    assert setup.doctor_findings(lines, 1) == [
        "Device: CPU.", "Weights: /w/epoch_64.pth",
        "BertModel could not be loaded from the folder /b; download it."]
    assert setup.doctor_findings(["device: CPU", "all good"], 0) == [
        "Device: CPU.", "All good: the backend is ready."]
    assert setup.doctor_command("/venv/python", ["--device", "cpu", "--bert", "/b"]) == [
        "/venv/python", "-m", "backend.cli", "doctor", "--device", "cpu", "--bert", "/b"]
    assert setup.doctor_findings(["ModuleNotFoundError: No module named 'backend'"], 1) == [
        "The backend is not installed in this interpreter: press Set up backend."]


def test_command_output_reaches_lines_only_when_the_job_steps():
    """The reader thread only queues lines; the UI's list changes on the driving thread."""
    job = jobs.CommandJob([[sys.executable, "-c", "print('a'); print('b')"]])
    job.step()  # starts the command
    job._thread.join(30)  # everything is read and queued by now
    assert job.lines == ["$ " + jobs.shown(job.commands[0])]
    job.run()
    assert job.lines[1:] == ["a", "b"]


def test_a_failed_command_says_its_own_error_line():
    job = jobs.CommandJob([[sys.executable, "-c",
                            "import sys; print('Collecting torch'); "
                            "print('ERROR: No matching distribution found for torch==9.9'); "
                            "sys.exit(1)"]])
    assert job.run().message == "No matching distribution found for torch==9.9."
    lenient = jobs.CommandJob([[sys.executable, "-c", "print('x')"],
                               [sys.executable, "-c", "import sys; sys.exit(1)"]],
                              check_last=False)
    assert lenient.run().status == "done" and lenient.returncode == 1


def test_terminal_advice_becomes_the_button_to_press():
    msg = ("No RAG-Gesture weights found (looked in /w, /home/a/.cache/rag-gesture); fetch "
           "them with `rag-gesture download --weights /w`, or by hand with `hf download x` "
           "and pass `--weights DIR` or set RAG_GESTURE_HOME=DIR.")
    assert jobs.without_terminal(msg) == (
        "No RAG-Gesture weights found (looked in /w, /home/a/.cache/rag-gesture); press "
        "Download Weights in the add-on preferences")
    assert jobs.error_sentence({"code": "missing_weights", "message": msg}).endswith(
        "press Download Weights in the add-on preferences.")
    problem = ("the speech model bert-base-cased is missing from the Hugging Face cache /c "
               "(its config.json is not there); run `rag-gesture download`")
    assert setup.doctor_findings([f"  problem: {problem}"], 1) == [
        "The speech model bert-base-cased is missing from the Hugging Face cache /c (its "
        "config.json is not there); press Download Weights in the add-on preferences."]
    assert jobs.without_terminal("the file is broken") == "the file is broken"


def test_download_command():
    assert setup.download_command("/v/bin/python") == [
        "/v/bin/python", "-m", "backend.cli", "download", "--progress", "json"]
    assert setup.download_command("/v/bin/python", "/w e i")[-2:] == ["--weights", "/w e i"]


def test_windows_crash_codes_read_as_sentences():
    assert client_mod.how_it_ended(3221225477) == \
        "crashed (Windows status 0xC0000005: access violation)"
    assert client_mod.how_it_ended(0xC0000017) == \
        "crashed (Windows status 0xC0000017: out of memory)"
    assert client_mod.how_it_ended(0xC0000999) == "crashed (Windows status 0xC0000999)"
    assert client_mod.how_it_ended(1) == "exited with code 1"
    s = client_mod.describe_exit(0xC0000005, "", before_hello=False)
    assert s.startswith("The gesture backend stopped unexpectedly: it crashed (Windows status "
                        "0xC0000005: access violation); ")


def test_a_real_worker_starts_and_stops_without_signals(monkeypatch, tmp_path):
    """Start, hello, ping, stop: the worker ends on `shutdown` and end of input; terminate
    and kill (signals on POSIX) are never needed."""
    from tests.support.paths import REPO_ROOT

    def forbidden(self):
        raise AssertionError("stop() needed a signal")

    w = client_mod.WorkerClient(sys.executable, ["--device", "cpu", "--weights",
                                                 str(tmp_path / "none")],
                                backend_root=str(REPO_ROOT), threads=1)
    try:
        hello = w.wait_hello(120)
        assert hello["device"] == "cpu" and hello["device_fallback"] is False
        assert w.device == client_mod.DeviceState("cpu", "CPU (as requested)", False)
        w.ping()
        monkeypatch.setattr(subprocess.Popen, "terminate", forbidden)
        monkeypatch.setattr(subprocess.Popen, "kill", forbidden)
        w.stop(timeout=60)
        assert w.proc.returncode == 0 and not w.alive
        assert [e["type"] for e in w.poll()][-2:] == ["bye", "exit"]
    finally:
        monkeypatch.undo()
        w.kill()
