"""Job controllers the modal operators drive: plain Python, testable without timers.

A job owns one request to the worker. The operator's ``modal()`` calls ``step()`` on every
TIMER event; ``step()`` never blocks: it drains the client's events, updates the progress
(stage, fraction), and when the result arrives loads the motion files and calls ``on_done``
(the keyframe writer) exactly once, in that same call, so the write happens inside the
operator and becomes one undo step. ``cancel()`` ends the job at once; the worker is told to
stop and whatever it still sends for that request is thrown away. Every failure ends the job
with one sentence in ``state.message``; ``on_done`` is then never called, so the scene is
untouched.

``CommandJob`` runs shell-free commands one after the other (backend set-up, ``doctor``)
with the same ``step()`` interface.
"""

from __future__ import annotations

import contextlib
import functools
import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .client import CRASHED, WorkerClient, WorkerError

STARTING, RUNNING, DONE, CANCELLED, FAILED = "starting", "running", "done", "cancelled", "failed"
FINISHED = (DONE, CANCELLED, FAILED)


@dataclass
class JobState:
    status: str = STARTING
    stage: str = "starting the backend"
    fraction: float = 0.0
    message: str = ""

    @property
    def finished(self) -> bool:
        return self.status in FINISHED


def sentence(text: str) -> str:
    """A message as one sentence: capital first letter, one full stop at the end."""
    text = " ".join(str(text).split())
    if not text:
        return "Something went wrong."
    text = text[0].upper() + text[1:]
    return text if text.endswith((".", "!", "?")) else text + "."


def error_sentence(event: Mapping[str, Any]) -> str:
    """The user's sentence for a worker ``error`` event."""
    code = event.get("code")
    message = str(event.get("message") or "")
    if code == "transcript_mismatch":
        message = message.rstrip(". ") + (", or tick 'Ignore transcript mismatch' in the "
                                           "Gesture panel")
    elif code == "missing_weights" and "preferences" not in message:
        message = message.rstrip(". ") + " (the weights folder is set in the add-on preferences)"
    return sentence(message or f"the gesture backend reported an error ({code})")


MotionDict = dict[str, Any]  # poses (N,55,3), trans (N,3), expressions (N,100), fps
Writer = Callable[[list[MotionDict], dict[str, Any]], None]


def load_motion_file(path: str | os.PathLike[str]) -> MotionDict:
    """One BEAT2-layout .npz as the dict the keyframe writer takes."""
    from . import motion_arrays

    return motion_arrays.load_motion_npz(path)


def remove_result_files(files: Sequence[str]) -> None:
    """Delete a result's files and their request folder (the client may, per protocol)."""
    folders = set()
    for f in files:
        with contextlib.suppress(OSError):
            os.remove(f)
        folders.add(os.path.dirname(f))
    for d in folders:
        with contextlib.suppress(OSError):
            os.rmdir(d)


class GenerateJob:
    """One generate or regenerate request, from sending it to writing its result.

    `request` is the protocol message without ``id`` (the job assigns one). `on_done(motions,
    info)` receives one motion dict per take, in take order.
    """

    def __init__(self, client: WorkerClient, request: Mapping[str, Any], on_done: Writer, *,
                 start_timeout: float = 180.0, idle_timeout: float = 900.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.client = client
        self.request = dict(request)
        self.request_id = client.new_id(str(self.request.get("type", "req")))
        self.request["id"] = self.request_id
        self.on_done = on_done
        self.start_timeout = start_timeout
        self.idle_timeout = idle_timeout
        self.clock = clock
        self.state = JobState()
        self.sent = False
        self.motions: list[MotionDict] = []
        self.info: dict[str, Any] = {}
        self.files: list[str] = []
        self.warnings: list[str] = []
        self.crashed = False
        self._created = clock()
        self._last_event = self._created

    @property
    def kind(self) -> str:
        return str(self.request.get("type"))

    # ------------------------------------------------------------------ driving

    def step(self) -> JobState:
        """Advance without blocking; returns the state (``finished`` once it is over)."""
        if self.state.finished:
            return self.state
        try:
            self._step()
        except Exception as exc:  # never leave the operator with a traceback
            self._fail(f"the gesture job failed unexpectedly ({type(exc).__name__}: {exc})")
        return self.state

    def cancel(self) -> JobState:
        """Stop now: the scene stays as it is; the worker drops the request."""
        if not self.state.finished:
            if self.sent:
                self.client.cancel(self.request_id)
            self.state.status = CANCELLED
            self.state.message = "Cancelled; the scene was not changed."
        return self.state

    def _step(self) -> None:
        now = self.clock()
        result: dict[str, Any] | None = None
        for event in self.client.poll():
            kind = event.get("type")
            if kind == "exit" and not event.get("clean", True) and not self.sent:
                return self._fail(event.get("message") or "the gesture backend stopped")
            if event.get("id") != self.request_id:
                if kind == "result":  # an orphan (a cancelled request's late result)
                    remove_result_files(event.get("files") or [])
                continue
            self._last_event = now
            if kind == "progress":
                self.state.status = RUNNING
                self.state.stage = str(event.get("stage") or self.state.stage)
                with contextlib.suppress(TypeError, ValueError):
                    self.state.fraction = max(self.state.fraction,
                                              min(1.0, float(event.get("fraction", 0.0))))
            elif kind == "error":
                return self._fail(error_sentence(event), crashed=event.get("code") == CRASHED)
            elif kind == "result":
                result = event
        if result is not None:
            return self._finish(result)
        if not self.sent:
            self._send_when_ready(now)
        elif not self.client.alive and self.client.returncode is not None:
            # the reader thread posts the crash as an error event; wait for it briefly
            if now - self._last_event > 5.0:
                self._fail("the gesture backend stopped unexpectedly")
        elif now - self._last_event > self.idle_timeout:
            self.client.cancel(self.request_id)
            self._fail(f"the gesture backend sent nothing for {self.idle_timeout:.0f} s, so "
                       "the request was stopped")

    def _send_when_ready(self, now: float) -> None:
        if self.client.hello is None:
            if self.client.proc is not None and self.client.proc.poll() is not None:
                return  # the `exit` event with the reason arrives with the next poll
            if now - self._created > self.start_timeout:
                self._fail(f"the gesture backend did not start within {self.start_timeout:.0f} "
                           "s; its log is in " + str(self.client.log_path))
            return
        problem = self.client.check_hello()
        if problem:
            return self._fail(problem)
        try:
            self.client.send(self.request)
        except WorkerError as exc:
            return self._fail(str(exc))
        self.sent = True
        self.state.status = RUNNING
        self.state.stage = "sent"
        self._last_event = now

    def _finish(self, event: Mapping[str, Any]) -> None:
        self.files = [str(f) for f in event.get("files") or []]
        self.info = dict(event.get("info") or {})
        self.warnings = [str(w) for w in self.info.get("warnings") or []]
        try:
            self.motions = [load_motion_file(f) for f in self.files]
        except Exception as exc:
            return self._fail(f"the backend's motion file could not be read ({exc})")
        finally:
            remove_result_files(self.files)
        if not self.motions:
            return self._fail("the gesture backend returned no motion")
        self.state.stage = "writing keyframes"
        self.state.fraction = 1.0
        try:
            self.on_done(self.motions, self.info)
        except Exception as exc:
            return self._fail(f"the motion could not be written to the armature ({exc})")
        self.state.status = DONE
        self.state.stage = "done"
        self.state.message = ""

    def _fail(self, message: str, crashed: bool = False) -> None:
        self.state.status = FAILED
        self.state.message = sentence(message)
        self.crashed = crashed


# ---------------------------------------------------------------------- active job registry

_active: GenerateJob | None = None


def active_job() -> GenerateJob | None:
    return _active if _active is not None and not _active.state.finished else None


def set_active(job: GenerateJob | None) -> None:
    global _active
    _active = job


def request_cancel() -> bool:
    """Cancel the running job (the Cancel button); True when there was one."""
    job = active_job()
    if job is None:
        return False
    job.cancel()
    return True


# ---------------------------------------------------------------------- commands


@dataclass
class CommandJob:
    """Commands run one after another without a shell; output lines are collected.

    Used for "Set up backend" (venv + pip) and "Check setup" (``rag-gesture doctor``).
    """

    commands: list[list[str]]
    env: dict[str, str] | None = None
    cwd: str | None = None
    timeout: float = 3600.0
    state: JobState = field(default_factory=lambda: JobState(stage="starting"))
    lines: list[str] = field(default_factory=list)
    returncode: int | None = None
    _index: int = -1
    _proc: subprocess.Popen | None = None
    _thread: threading.Thread | None = None
    _started: float = 0.0

    def step(self) -> JobState:
        if self.state.finished:
            return self.state
        if self._proc is None or self._proc.poll() is not None:
            if self._proc is not None:
                if self._thread is not None:
                    self._thread.join(5)
                self.returncode = self._proc.returncode
                if self.returncode != 0:
                    return self._end(FAILED, f"'{shown(self.commands[self._index])}' failed "
                                     f"with exit code {self.returncode}")
            self._index += 1
            if self._index >= len(self.commands):
                return self._end(DONE, "")
            self._start(self.commands[self._index])
        elif time.monotonic() - self._started > self.timeout:
            self._proc.kill()
            return self._end(FAILED, f"'{shown(self.commands[self._index])}' took longer than "
                             f"{self.timeout:.0f} s")
        self.state.fraction = max(0, self._index) / max(1, len(self.commands))
        return self.state

    def run(self, poll: float = 0.1) -> JobState:
        """Run to the end, blocking (background mode and tests)."""
        while not self.step().finished:
            time.sleep(poll)
        return self.state

    def cancel(self) -> JobState:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.kill()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._proc.wait(5)
        return self._end(CANCELLED, "cancelled")

    def _start(self, cmd: list[str]) -> None:
        self.lines.append("$ " + shown(cmd))
        self.state.status = RUNNING
        self.state.stage = shown(cmd)
        self._started = time.monotonic()
        env = {**os.environ, "PYTHONUNBUFFERED": "1", **(self.env or {})}
        env.pop("PYTHONHOME", None)
        try:
            self._proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                          stdin=subprocess.DEVNULL, cwd=self.cwd, env=env)
        except OSError as exc:
            self._proc = None
            self._end(FAILED, f"'{cmd[0]}' cannot be run ({exc.strerror or exc})")
            return
        self._thread = threading.Thread(target=self._pump, args=(self._proc,), daemon=True)
        self._thread.start()

    def _pump(self, proc: subprocess.Popen) -> None:
        assert proc.stdout is not None
        for raw in proc.stdout:
            self.lines.append(raw.decode("utf-8", errors="replace").rstrip())
            del self.lines[:-400]

    def _end(self, status: str, message: str) -> JobState:
        self.state.status = status
        self.state.message = sentence(message) if message else ""
        self.state.fraction = 1.0 if status == DONE else self.state.fraction
        return self.state


def shown(cmd: Sequence[str]) -> str:
    """A command as a user would type it (quoted where needed)."""
    import shlex

    if sys.platform == "win32":
        return subprocess.list2cmdline(list(cmd))
    return shlex.join(cmd)


# ---------------------------------------------------------------------- backend set-up


def venv_python(venv: str | os.PathLike[str]) -> str:
    """The interpreter inside a venv folder."""
    if sys.platform == "win32":
        return str(Path(venv) / "Scripts" / "python.exe")
    return str(Path(venv) / "bin" / "python")


def setup_commands(base_python: str, venv: str, backend_source: str,
                   torch_spec: str = "torch==2.13.0", torch_index: str = "",
                   editable: bool = False) -> list[list[str]]:
    """The exact commands "Set up backend" runs (shown to the user before they run)."""
    py = venv_python(venv)
    cmds = []
    if not os.path.isfile(py):
        cmds.append([base_python, "-m", "venv", venv])
    torch = [py, "-m", "pip", "install", torch_spec]
    if torch_index:
        torch += ["--index-url", torch_index]
    cmds.append(torch)
    cmds.append([py, "-m", "pip", "install", *(["-e"] if editable else []), backend_source])
    return cmds


@functools.lru_cache(maxsize=1)
def find_base_python() -> str:
    """A Python 3.11 to create the backend venv with: python3.11 on PATH, else our own."""
    for name in ("python3.11", "python3", "python"):
        found = shutil.which(name)
        if found and _is_py311(found):
            return found
    return sys.executable


def _is_py311(python: str) -> bool:
    try:
        out = subprocess.run([python, "-c", "import sys; print(sys.version_info[:2])"],
                             capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return out.stdout.strip() == "(3, 11)"


def doctor_command(python: str, weights: str = "", checkpoint: str = "",
                   device: str = "auto") -> list[str]:
    cmd = [python, "-m", "backend.cli", "doctor", "--device", device]
    if checkpoint:
        cmd += ["--checkpoint", checkpoint]
    elif weights:
        cmd += ["--weights", weights]
    return cmd


def doctor_findings(lines: Sequence[str], returncode: int | None,
                    ignore: Sequence[str] = ()) -> list[str]:
    """The doctor's output as plain sentences: what is missing and what to do. Lines that
    mention a word of `ignore` are left out (e.g. speech models given as local folders,
    which the doctor does not know about)."""
    out: list[str] = []
    text = "\n".join(lines)
    if "No module named 'backend'" in text or "No module named backend" in text:
        return ["The backend is not installed in this interpreter: press Set up backend."]
    if "No module named 'torch'" in text and "MISSING" not in text:
        return ["PyTorch is not installed in this interpreter: press Set up backend."]
    for ln in lines:
        s = ln.strip()
        if any(word in s for word in ignore):
            continue
        if "MISSING" in s:
            out.append(f"Missing Python package: {s.split()[0]} (press Set up backend).")
        elif s.startswith("device:"):
            out.append("Device: " + s[len("device:"):].strip() + ".")
        elif s.startswith("No RAG-Gesture weights found"):
            out.append("The RAG-Gesture weights are missing: set the weights folder, or run "
                       "`rag-gesture download` with the backend interpreter.")
        elif s.startswith(("problem:", "warning:", "cannot load:")):
            out.append(sentence(s.split(":", 1)[1].strip()))
        elif s.startswith("weights:"):
            out.append("Weights: " + s[len("weights:"):].strip())
    if returncode == 0:
        out.append("All good: the backend is ready.")
    elif not out:
        tail = [ln for ln in lines if ln.strip()][-1:] or ["no output"]
        out.append(sentence(f"the check failed ({tail[0].strip()})"))
    return out
